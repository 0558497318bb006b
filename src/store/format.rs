//! The bytes of the database file: Lovebeat 1.x's gzip-compressed text, one
//! `SERV\t{json}` line per service and one `ALARM\t{json}` line per view,
//! read and written with 1.x's key names. No files or threads here. The
//! job keys of SPEC 14 follow 1.x's keys on a `SERV` line (`jobkeys`). An
//! adaptive timeout (SPEC 19) is written as 1.x's auto, `"timeout": -2`,
//! plus `"auto_model": "adaptive"`; a -2 without it is auto. The alert
//! policy's keys and `MAINT` lines (SPEC 15) are `policykeys`'.

use super::histlines::{self, HIST};
use super::jobkeys::{write_job_keys, JobIn};
use super::policykeys::{self, MAINT};
use super::{Database, StoreError};
use crate::jobs::JobRecord;
use crate::model::{
    Millis, ServiceRecord, ServiceSnapshot, State, ViewRecord, AUTO_MODEL_ADAPTIVE, NEVER,
    TIMEOUT_ADAPTIVE, TIMEOUT_AUTO, TIMEOUT_NONE,
};
use crate::policy::window::Window;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::io::{self, BufRead, BufReader, Read, Write};

/// Longest line accepted when reading. A real line is a few KiB at most (a
/// 200-character name, 100 history values, the view names); anything longer
/// is damage, and refusing it bounds the memory a broken file can take.
const MAX_LINE: u64 = 16 * 1024 * 1024;

/// The two bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Buffer between the JSON serializer and the compressor.
const WRITE_BUFFER: usize = 256 * 1024;

/// A service line as 1.x writes it (the order of the fields is 1.x's).
/// Written by `write_service` (byte for byte what serde_json makes of this
/// struct, which the tests check): a save of 100k services spends most of
/// its time here, and the generic serializer compiled without optimisation
/// (the debug build the tests run) made a save take about a second on a
/// loaded host, long enough to break the 1 s promise of SPEC 8.
#[cfg_attr(test, derive(Serialize))]
pub(super) struct ServiceOut<'a> {
    name: &'a str,
    last_beat: Millis,
    #[cfg_attr(test, serde(skip_serializing_if = "<[Millis]>::is_empty"))]
    beat_history: &'a [Millis],
    timeout: Millis,
    /// `Some("adaptive")` for an adaptive timeout (written as -2).
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    auto_model: Option<&'static str>,
    state: &'static str,
    muted_since: Millis,
    last_state_change: Millis,
    #[cfg_attr(test, serde(skip_serializing_if = "<[String]>::is_empty"))]
    in_alarms: &'a [String],
    /// A timed mute's end (SPEC 15), after 1.x's keys; 0 is not written.
    #[cfg_attr(test, serde(skip_serializing_if = "is_zero"))]
    muted_until: Millis,
    /// The job keys (SPEC 14.4), after 1.x's; `None` writes exactly 1.x's
    /// line.
    #[cfg_attr(
        test,
        serde(
            flatten,
            serialize_with = "ser_job",
            skip_serializing_if = "Option::is_none"
        )
    )]
    job: Option<&'a JobRecord>,
}

#[cfg(test)]
fn is_zero(n: &Millis) -> bool {
    *n == 0
}

#[cfg(test)]
fn ser_job<S: serde::Serializer>(job: &Option<&JobRecord>, s: S) -> Result<S::Ok, S::Error> {
    match job {
        Some(job) => super::jobkeys::JobOut::from(*job).serialize(s),
        None => s.serialize_none(),
    }
}

/// A view ("alarm") line as 1.x writes it, except that `failed_services` is
/// always an array (1.x writes `null`; both load in 1.x), then the alert
/// policy's keys (`policykeys`).
#[derive(Serialize)]
struct ViewOut<'a> {
    name: &'a str,
    state: &'static str,
    incident_nbr: u64,
    failed_services: &'a [String],
    last_state_change: Millis,
    #[serde(skip_serializing_if = "Option::is_none")]
    muted_until: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alerted_at: Option<Millis>,
}

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

/// Writes `services`, `views`, then the `maintenance` windows made through
/// the API as Lovebeat 1.x's gzip text to `out` (fast compression: a save
/// of a million services must stay quick). The gzip stream is finished and
/// `out` flushed before returning.
pub fn encode<W: Write>(
    services: &ServiceSnapshot,
    views: &[ViewRecord],
    maintenance: &[Window],
    out: W,
) -> io::Result<()> {
    encode_with_history(services, views, maintenance, &[], out)
}

/// `encode`, then a `HIST` line per subject of `history` (SPEC 18).
pub fn encode_with_history<W: Write>(
    services: &ServiceSnapshot,
    views: &[ViewRecord],
    maintenance: &[Window],
    history: &[crate::history::Saved],
    out: W,
) -> io::Result<()> {
    let gz = GzEncoder::new(out, Compression::fast());
    let mut w = io::BufWriter::with_capacity(WRITE_BUFFER, gz);
    let mut line_buf = Vec::with_capacity(512);
    for s in services.iter() {
        let adaptive = s.timeout == TIMEOUT_ADAPTIVE;
        let line = ServiceOut {
            name: s.name,
            last_beat: s.last_beat,
            beat_history: s.beat_history,
            timeout: if adaptive { TIMEOUT_AUTO } else { s.timeout },
            auto_model: adaptive.then_some(AUTO_MODEL_ADAPTIVE),
            state: s.state.as_str(),
            muted_since: s.muted_since,
            last_state_change: s.last_state_change,
            in_alarms: s.views,
            muted_until: s.muted_until,
            job: s.job,
        };
        line_buf.clear();
        line_buf.extend_from_slice(b"SERV\t");
        write_service(&mut line_buf, &line);
        line_buf.push(b'\n');
        w.write_all(&line_buf)?;
    }
    for v in views {
        w.write_all(b"ALARM\t")?;
        let line = ViewOut {
            name: &v.name,
            state: v.state.as_str(),
            incident_nbr: v.incident_number,
            failed_services: &v.failed_services,
            last_state_change: v.last_state_change,
            muted_until: (v.alerting.muted_until != 0).then_some(v.alerting.muted_until),
            alerted_at: (v.state == State::Error).then_some(v.alerting.alerted_at),
        };
        serde_json::to_writer(&mut w, &line)?;
        w.write_all(b"\n")?;
    }
    policykeys::write_windows(&mut w, maintenance)?;
    histlines::write_history(&mut w, history)?;
    let gz = w.into_inner().map_err(|e| e.into_error())?;
    let mut out = gz.finish()?;
    out.flush()
}

/// Appends `s` as JSON, exactly as serde_json writes it.
pub(super) fn write_service(out: &mut Vec<u8>, s: &ServiceOut<'_>) {
    out.extend_from_slice(b"{\"name\":");
    write_str(out, s.name);
    out.extend_from_slice(b",\"last_beat\":");
    write_int(out, s.last_beat);
    if !s.beat_history.is_empty() {
        out.extend_from_slice(b",\"beat_history\":[");
        for (i, &beat) in s.beat_history.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_int(out, beat);
        }
        out.push(b']');
    }
    out.extend_from_slice(b",\"timeout\":");
    write_int(out, s.timeout);
    if let Some(model) = s.auto_model {
        out.extend_from_slice(b",\"auto_model\":");
        write_str(out, model);
    }
    out.extend_from_slice(b",\"state\":");
    write_str(out, s.state);
    out.extend_from_slice(b",\"muted_since\":");
    write_int(out, s.muted_since);
    out.extend_from_slice(b",\"last_state_change\":");
    write_int(out, s.last_state_change);
    if !s.in_alarms.is_empty() {
        out.extend_from_slice(b",\"in_alarms\":[");
        for (i, view) in s.in_alarms.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, view);
        }
        out.push(b']');
    }
    if s.muted_until != 0 {
        out.extend_from_slice(b",\"muted_until\":");
        write_int(out, s.muted_until);
    }
    if let Some(job) = s.job {
        write_job_keys(out, job);
    }
    out.push(b'}');
}

/// A JSON string: as is when nothing needs escaping (service names never
/// do), else by serde_json.
fn write_str(out: &mut Vec<u8>, text: &str) {
    if text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    } else {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
}

fn write_int(out: &mut Vec<u8>, n: i64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[at..]);
}

/// Reads a database written by Lovebeat 1.x or by [`encode`], streaming
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
    problems: &mut super::KeyProblems,
    policy_problems: &mut super::KeyProblems,
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
    Ok(ServiceRecord {
        state: parse_state(s.state.as_deref()),
        name: s.name,
        last_beat: s.last_beat.unwrap_or(NEVER),
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
    })
}

fn view_from(
    json: &[u8],
    line: usize,
    problems: &mut super::KeyProblems,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_service_lines_are_byte_for_byte_serde_json() {
        let views = ["web".to_string(), "a \"quoted\"\\ view\n\u{1}é".to_string()];
        let history = [i64::MIN, -1, 0, 7, 1_000, i64::MAX];
        let job = JobRecord {
            own: crate::jobs::JobSettings {
                schedule: Some("*/5 * * * *".into()),
                tz: Some("a \"zone\"\n".into()),
                grace: Some(0),
                ..Default::default()
            },
            last_exit_code: Some(7),
            ..JobRecord::default()
        };
        for job in [None, Some(&job)] {
            for name in ["svc.a", "ünïcode \"name\" with \\ and \t", ""] {
                for (beat_history, in_alarms) in [
                    (&history[..], &views[..]),
                    (&[][..], &[][..]),
                    (&history[2..3], &views[..1]),
                ] {
                    for n in [i64::MIN, -42, -1, 0, 9, 10, 1_700_000_000_123, i64::MAX] {
                        let line = ServiceOut {
                            name,
                            last_beat: n,
                            beat_history,
                            timeout: n.wrapping_add(1),
                            auto_model: (n % 2 == 0).then_some(AUTO_MODEL_ADAPTIVE),
                            state: "muted",
                            muted_since: n.wrapping_abs().wrapping_neg(),
                            last_state_change: n / 3,
                            in_alarms,
                            muted_until: [0, n, crate::policy::MUTED_FOREVER][n as usize % 3],
                            job,
                        };
                        let mut ours = Vec::new();
                        write_service(&mut ours, &line);
                        let theirs = serde_json::to_vec(&line).unwrap_or_default();
                        assert_eq!(
                            String::from_utf8_lossy(&ours),
                            String::from_utf8_lossy(&theirs)
                        );
                    }
                }
            }
        }
    }
}
