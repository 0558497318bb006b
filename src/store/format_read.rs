//! Reading the database file: the gzip stream checked and inflated a line
//! at a time (bounded), each line by its kind: `SERV` (`ServiceIn`, with
//! the job, model and policy keys), `ALARM`/`VIEW` (`ViewIn`), `MAINT`,
//! `HIST`; what is damage (`Corrupt`) and what is skipped and counted.
//! Writing is `format.rs`'.

use super::super::histlines::{self, HIST};
use super::super::jobkeys::JobIn;
use super::super::modelkey;
use super::super::policykeys::{self, MAINT};
use super::super::{Database, StoreError};
use crate::model::{
    Millis, ServiceRecord, State, ViewRecord, AUTO_MODEL_ADAPTIVE, NEVER, TIMEOUT_ADAPTIVE,
    TIMEOUT_AUTO, TIMEOUT_NONE,
};
use flate2::read::MultiGzDecoder;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::io::{self, BufRead, BufReader, Read};

/// Longest line accepted when reading. A real line is a few KiB at most (a
/// 200-character name, 100 history values, the view names); anything longer
/// is damage, and refusing it bounds the memory a broken file can take.
const MAX_LINE: u64 = 16 * 1024 * 1024;

/// The two bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// A service line as read: every field but `name` may be missing or `null`,
/// unknown keys are ignored.
#[derive(Deserialize)]
struct ServiceIn<'a> {
    name: String,
    #[serde(default)]
    last_beat: Option<Millis>,
    #[serde(default)]
    beat_history: Option<Vec<Millis>>,
    #[serde(default)]
    timeout: Option<Millis>,
    /// Any JSON: only the string "adaptive" means something.
    #[serde(default, borrow)]
    auto_model: Option<&'a RawValue>,
    #[serde(default, borrow)]
    auto_model_state: Option<&'a RawValue>,
    #[serde(default, borrow)]
    state: Option<Cow<'a, str>>,
    #[serde(default)]
    muted_since: Option<Millis>,
    #[serde(default)]
    last_state_change: Option<Millis>,
    /// Some 1.x development versions called it `in_views`.
    #[serde(default, alias = "in_views")]
    in_alarms: Option<Vec<String>>,
    #[serde(default, borrow)]
    muted_until: Option<&'a RawValue>,
    // The job keys (SPEC 14.4), each read on its own by `JobIn`.
    #[serde(default, borrow)]
    schedule: Option<&'a RawValue>,
    #[serde(default, borrow)]
    tz: Option<&'a RawValue>,
    #[serde(default, borrow)]
    grace: Option<&'a RawValue>,
    #[serde(default, borrow)]
    max_runtime: Option<&'a RawValue>,
    #[serde(default, borrow)]
    min_duration: Option<&'a RawValue>,
    #[serde(default, borrow)]
    schedule_since: Option<&'a RawValue>,
    #[serde(default, borrow)]
    open_runs: Option<&'a RawValue>,
    #[serde(default, borrow)]
    last_duration: Option<&'a RawValue>,
    #[serde(default, borrow)]
    last_exit_code: Option<&'a RawValue>,
    #[serde(default, borrow)]
    reason: Option<&'a RawValue>,
    #[serde(default, borrow)]
    events: Option<&'a RawValue>,
}

/// A view line as read (`ALARM` from 1.x, or `VIEW`).
#[derive(Deserialize)]
struct ViewIn<'a> {
    name: String,
    #[serde(default, borrow)]
    state: Option<Cow<'a, str>>,
    /// Any JSON number: we write a u64, 1.x wrote an int.
    #[serde(default, alias = "incident_number")]
    incident_nbr: Option<serde_json::Number>,
    #[serde(default)]
    failed_services: Option<Vec<String>>,
    #[serde(default)]
    last_state_change: Option<Millis>,
    #[serde(default, borrow)]
    muted_until: Option<&'a RawValue>,
    #[serde(default, borrow)]
    alerted_at: Option<&'a RawValue>,
}

/// A state as stored. Unknown values (older 1.x versions had `paused` and
/// `warning`) load as `new`: the engine evaluates every service at start-up
/// anyway, so nothing is lost and the file stays loadable.
fn parse_state(text: Option<&str>) -> State {
    match text {
        Some(s) if s.eq_ignore_ascii_case("ok") => State::Ok,
        Some(s) if s.eq_ignore_ascii_case("error") => State::Error,
        Some(s) if s.eq_ignore_ascii_case("muted") => State::Muted,
        _ => State::New,
    }
}

/// Reads a database written by Lovebeat 1.x or by [`encode`](super::encode), streaming
/// (one line in memory at a time).
///
/// Anything that is not a complete, valid gzip stream (plain text, an empty
/// file, a stream cut short, a bad checksum) is `Corrupt`, as is a
/// `SERV`/`ALARM`/`VIEW` line whose JSON cannot be read: a partial load would
/// silently lose services. `MAINT` lines that do not make a window are
/// skipped and counted in `policy_key_problems`. Blank lines are ignored;
/// text lines of other kinds are skipped and counted in `skipped_lines`;
/// binary lines are `Corrupt`.
pub fn decode<R: Read>(input: R) -> Result<Database, StoreError> {
    let mut raw = BufReader::new(input);
    let head = raw.fill_buf().map_err(|e| corrupt(0, read_error(&e)))?;
    if head.is_empty() {
        return Err(corrupt(0, "the file is empty (0 bytes)".to_string()));
    }
    if head.len() < 2 || head[..2] != GZIP_MAGIC {
        return Err(corrupt(
            0,
            "not a gzip file (a Lovebeat database is gzip-compressed text)".to_string(),
        ));
    }
    let mut reader = BufReader::with_capacity(64 * 1024, MultiGzDecoder::new(raw));
    let mut db = Database::default();
    let mut maint = policykeys::MaintReader::default();
    let mut buf = Vec::with_capacity(1024);
    let mut line_no = 0usize;
    loop {
        buf.clear();
        line_no += 1;
        let n = (&mut reader)
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| corrupt(line_no, read_error(&e)))?;
        if n == 0 {
            break;
        }
        if buf.len() as u64 > MAX_LINE {
            return Err(corrupt(
                line_no,
                format!("line is longer than {} MiB", MAX_LINE / (1024 * 1024)),
            ));
        }
        let line = trim_end(&buf);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let (kind, json) = match line.iter().position(|&b| b == b'\t') {
            Some(tab) => (&line[..tab], &line[tab + 1..]),
            None => (line, &line[line.len()..]),
        };
        match kind {
            b"SERV" => db.services.push(service_from(
                json,
                line_no,
                &mut db.job_key_problems,
                &mut db.policy_key_problems,
                &mut db.model_key_problems,
            )?),
            b"ALARM" | b"VIEW" => {
                db.views
                    .push(view_from(json, line_no, &mut db.policy_key_problems)?)
            }
            MAINT => maint.read(
                json,
                line_no,
                &mut db.maintenance,
                &mut db.policy_key_problems,
            ),
            HIST => {
                histlines::read_history(json, line_no, &mut db.history, &mut db.history_problems)
            }
            _ if is_binary(line) => {
                return Err(corrupt(
                    line_no,
                    "binary data where a text line was expected".to_string(),
                ))
            }
            _ => db.skipped_lines += 1,
        }
    }
    Ok(db)
}

fn service_from(
    json: &[u8],
    line: usize,
    problems: &mut super::super::KeyProblems,
    policy_problems: &mut super::super::KeyProblems,
    model_problems: &mut super::super::KeyProblems,
) -> Result<ServiceRecord, StoreError> {
    let s: ServiceIn = serde_json::from_slice(json)
        .map_err(|e| corrupt(line, format!("invalid SERV record: {e}")))?;
    let job = JobIn {
        schedule: s.schedule,
        tz: s.tz,
        grace: s.grace,
        max_runtime: s.max_runtime,
        min_duration: s.min_duration,
        schedule_since: s.schedule_since,
        open_runs: s.open_runs,
        last_duration: s.last_duration,
        last_exit_code: s.last_exit_code,
        reason: s.reason,
        events: s.events,
    }
    .into_record(&s.name, problems)
    .map(Box::new);
    let adaptive = s
        .auto_model
        .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
        .is_some_and(|m| m == AUTO_MODEL_ADAPTIVE);
    let timeout = match s.timeout {
        Some(TIMEOUT_AUTO) if adaptive => TIMEOUT_ADAPTIVE,
        // Our internal -3 is not a value of the file: none, as any other
        // negative below auto.
        Some(t) if t < TIMEOUT_AUTO => TIMEOUT_NONE,
        Some(t) => t,
        None => TIMEOUT_NONE,
    };
    let muted_until = policykeys::muted_until(s.muted_until, "service", &s.name, policy_problems);
    let last_beat = s.last_beat.unwrap_or(NEVER);
    let model = modelkey::read(
        s.auto_model_state,
        &s.name,
        timeout,
        last_beat,
        model_problems,
    );
    Ok(ServiceRecord {
        state: parse_state(s.state.as_deref()),
        name: s.name,
        last_beat,
        timeout,
        muted_since: s.muted_since.unwrap_or(0),
        muted_until,
        last_state_change: s.last_state_change.unwrap_or(0),
        beat_history: s.beat_history.unwrap_or_default(),
        views: s.in_alarms.unwrap_or_default(),
        analysis: None,
        timeout_in_force: TIMEOUT_NONE,
        next_deadline: None,
        job,
        model,
    })
}

fn view_from(
    json: &[u8],
    line: usize,
    problems: &mut super::super::KeyProblems,
) -> Result<ViewRecord, StoreError> {
    let v: ViewIn = serde_json::from_slice(json)
        .map_err(|e| corrupt(line, format!("invalid ALARM/VIEW record: {e}")))?;
    let state = parse_state(v.state.as_deref());
    let last_state_change = v.last_state_change.unwrap_or(0);
    let alerting = crate::policy::ViewAlerting {
        muted_until: policykeys::muted_until(v.muted_until, "view", &v.name, problems),
        alerted_at: policykeys::alerted_at(
            v.alerted_at,
            state,
            last_state_change,
            &v.name,
            problems,
        ),
        ..Default::default()
    };
    Ok(ViewRecord {
        state,
        name: v.name,
        incident_number: v.incident_nbr.map(|n| n.as_u64().unwrap_or(0)).unwrap_or(0),
        failures: Vec::new(),
        failed_services: v.failed_services.unwrap_or_default(),
        last_state_change,
        // Alerts come from the config, never from the file.
        alerts: Vec::new(),
        alerting,
    })
}

/// True for a line no text format would contain: invalid UTF-8 or control
/// characters other than tab. Such a line is damage, not an unknown kind.
fn is_binary(line: &[u8]) -> bool {
    line.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
        || std::str::from_utf8(line).is_err()
}

/// Strips a trailing `\n` and `\r` (files edited on Windows).
fn trim_end(mut line: &[u8]) -> &[u8] {
    while let [rest @ .., b'\n' | b'\r'] = line {
        line = rest;
    }
    line
}

fn corrupt(line: usize, reason: String) -> StoreError {
    StoreError::Corrupt { line, reason }
}

/// What a failed read means for the user.
fn read_error(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => {
            "the compressed data ends early (the file is truncated)".to_string()
        }
        _ => format!("cannot decompress: {e}"),
    }
}
