//! The job keys of a `SERV` line (SPEC 14.4): a service's own settings,
//! its open runs, last run and recent events, written after 1.x's keys so
//! that Lovebeat 1.0.3 (which ignores keys it does not know) still loads
//! the file. Only the *own* settings are stored; the effective ones come
//! from the configuration at load.
//!
//! Reading is per key: a key that is malformed (wrong type, out of range,
//! an unknown reason, a bad rid or base64 body in one event) is skipped
//! and counted in [`KeyProblems`], and the service loads with the rest. A
//! bad entry of `open_runs` or `events` skips that entry only.

use crate::base64;
use crate::jobs::{
    is_valid_rid, Body, JobEvent, JobRecord, OpenRun, Reason, SignalKind, Source, MAX_OPEN_RUNS,
};
use crate::model::Millis;
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::net::IpAddr;

/// The job keys as written, in this order, each absent when unset.
#[derive(Serialize)]
pub(super) struct JobOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    schedule: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tz: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    grace: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_runtime: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_duration: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    schedule_since: Option<Millis>,
    #[serde(
        skip_serializing_if = "<[OpenRun]>::is_empty",
        serialize_with = "ser_runs"
    )]
    open_runs: &'a [OpenRun],
    #[serde(skip_serializing_if = "Option::is_none")]
    last_duration: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_exit_code: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(
        skip_serializing_if = "<[JobEvent]>::is_empty",
        serialize_with = "ser_events"
    )]
    events: &'a [JobEvent],
}

impl<'a> From<&'a JobRecord> for JobOut<'a> {
    fn from(job: &'a JobRecord) -> Self {
        JobOut {
            schedule: job.own.schedule.as_deref(),
            tz: job.own.tz.as_deref(),
            grace: job.own.grace,
            max_runtime: job.own.max_runtime,
            min_duration: job.own.min_duration,
            schedule_since: job.schedule_since,
            open_runs: &job.open_runs,
            last_duration: job.last_duration,
            last_exit_code: job.last_exit_code,
            reason: job.reason.map(Reason::as_str),
            events: &job.events,
        }
    }
}

#[derive(Serialize)]
struct RunOut<'a> {
    since: Millis,
    #[serde(skip_serializing_if = "Option::is_none")]
    rid: Option<&'a str>,
}

#[derive(Serialize)]
struct EventOut<'a> {
    n: u64,
    ts: Millis,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<Millis>,
    source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    remote_addr: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body_b64: Option<String>,
    #[serde(skip_serializing_if = "is_false")]
    body_truncated: bool,
    #[serde(skip_serializing_if = "is_false")]
    body_dropped: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn ser_runs<S: Serializer>(runs: &&[OpenRun], s: S) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(runs.len()))?;
    for run in runs.iter() {
        seq.serialize_element(&RunOut {
            since: run.since,
            rid: run.rid.as_deref(),
        })?;
    }
    seq.end()
}

fn ser_events<S: Serializer>(events: &&[JobEvent], s: S) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(events.len()))?;
    for e in events.iter() {
        seq.serialize_element(&EventOut {
            n: e.n,
            ts: e.ts,
            kind: e.kind.as_str(),
            exit_code: e.kind.exit_code(),
            rid: e.rid.as_deref(),
            duration: e.duration,
            source: e.source.as_str(),
            remote_addr: e.source.addr(),
            body_b64: e.body.as_ref().map(|b| base64::standard(&b.bytes)),
            body_truncated: e.body.as_ref().is_some_and(|b| b.truncated),
            body_dropped: e.body_dropped,
        })?;
    }
    seq.end()
}

/// Appends the job keys of `job` to a `SERV` object being written: `out`
/// ends just before the object's closing `}`; each key goes in as
/// `,"key":value`. Nothing is appended when every key is unset.
pub(super) fn write_job_keys(out: &mut Vec<u8>, job: &JobRecord) {
    let start = out.len();
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, &JobOut::from(job));
    if out.len() - start <= 2 {
        out.truncate(start); // `{}`: nothing set
    } else {
        out[start] = b',';
        out.pop(); // the inner object's `}`
    }
}

/// The job keys of a `SERV` line as read (by `format::read::ServiceIn`: serde's
/// `flatten` cannot hold raw values): kept raw, so that each one is checked
/// on its own.
pub(super) struct JobIn<'a> {
    pub schedule: Option<&'a RawValue>,
    pub tz: Option<&'a RawValue>,
    pub grace: Option<&'a RawValue>,
    pub max_runtime: Option<&'a RawValue>,
    pub min_duration: Option<&'a RawValue>,
    pub schedule_since: Option<&'a RawValue>,
    pub open_runs: Option<&'a RawValue>,
    pub last_duration: Option<&'a RawValue>,
    pub last_exit_code: Option<&'a RawValue>,
    pub reason: Option<&'a RawValue>,
    pub events: Option<&'a RawValue>,
}

/// What was skipped while reading job keys, over the whole file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyProblems {
    /// Keys (or entries of `open_runs` / `events`) skipped.
    pub count: usize,
    /// The first few, as `service "x": key grace: ...`, for the log.
    pub samples: Vec<String>,
}

/// Samples kept in [`KeyProblems`].
const MAX_SAMPLES: usize = 5;

impl KeyProblems {
    fn add(&mut self, service: &str, key: &str, why: &str) {
        self.note(|| format!("service {service:?}: key {key}: {why}"));
    }

    /// Counts one problem; `sample` says what, kept for the first few.
    pub(super) fn note(&mut self, sample: impl FnOnce() -> String) {
        self.count += 1;
        if self.samples.len() < MAX_SAMPLES {
            self.samples.push(sample());
        }
    }
}

#[derive(Deserialize)]
struct RunIn<'a> {
    since: Millis,
    #[serde(default, borrow)]
    rid: Option<std::borrow::Cow<'a, str>>,
}

#[derive(Deserialize)]
struct EventIn<'a> {
    n: u64,
    ts: Millis,
    #[serde(borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(default)]
    exit_code: Option<u8>,
    #[serde(default, borrow)]
    rid: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    duration: Option<Millis>,
    #[serde(default, borrow)]
    source: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    remote_addr: Option<IpAddr>,
    #[serde(default, borrow)]
    body_b64: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    body_truncated: bool,
    #[serde(default)]
    body_dropped: bool,
}

/// A value of type `T`, or why not. `null` counts as absent.
fn typed<'a, T: Deserialize<'a>>(raw: Option<&'a RawValue>) -> Result<Option<T>, String> {
    match raw {
        None => Ok(None),
        Some(raw) if raw.get() == "null" => Ok(None),
        Some(raw) => serde_json::from_str::<T>(raw.get())
            .map(Some)
            .map_err(|e| e.to_string()),
    }
}

fn duration(raw: Option<&RawValue>) -> Result<Option<Millis>, String> {
    match typed::<Millis>(raw)? {
        Some(ms) if ms < 0 => Err(format!("a duration cannot be negative ({ms})")),
        ms => Ok(ms),
    }
}

impl JobIn<'_> {
    /// The record these keys describe, `None` when none of them is set (a
    /// service that never used jobs). Bad keys are skipped and counted in
    /// `problems`.
    pub(super) fn into_record(
        self,
        service: &str,
        problems: &mut KeyProblems,
    ) -> Option<JobRecord> {
        let mut job = JobRecord::default();
        let mut check = |key: &str, result: Result<(), String>| {
            if let Err(why) = result {
                problems.add(service, key, &why);
            }
        };
        check(
            "schedule",
            typed(self.schedule).map(|v| job.own.schedule = v),
        );
        check("tz", typed(self.tz).map(|v| job.own.tz = v));
        check("grace", duration(self.grace).map(|v| job.own.grace = v));
        check(
            "max_runtime",
            duration(self.max_runtime).map(|v| job.own.max_runtime = v),
        );
        check(
            "min_duration",
            duration(self.min_duration).map(|v| job.own.min_duration = v),
        );
        check(
            "schedule_since",
            typed(self.schedule_since).map(|v| job.schedule_since = v),
        );
        check(
            "last_duration",
            duration(self.last_duration).map(|v| job.last_duration = v),
        );
        check(
            "last_exit_code",
            typed(self.last_exit_code).map(|v| job.last_exit_code = v),
        );
        check(
            "reason",
            typed::<std::borrow::Cow<str>>(self.reason).and_then(|v| {
                job.reason = match v {
                    None => None,
                    Some(text) => Some(
                        Reason::parse(&text).ok_or_else(|| format!("unknown reason {text:?}"))?,
                    ),
                };
                Ok(())
            }),
        );
        match typed::<Vec<&RawValue>>(self.open_runs) {
            Ok(runs) => {
                for raw in runs.unwrap_or_default() {
                    match open_run(raw) {
                        Ok(run) => job.open_runs.push(run),
                        Err(why) => problems.add(service, "open_runs", &why),
                    }
                }
                let extra = job.open_runs.len().saturating_sub(MAX_OPEN_RUNS);
                job.open_runs.drain(..extra);
            }
            Err(why) => problems.add(service, "open_runs", &why),
        }
        // Every event well-formed JSON of the right types (the usual case):
        // one pass. Else each entry on its own, so one bad entry costs
        // only itself.
        let events = match typed::<Vec<EventIn>>(self.events) {
            Ok(events) => Ok(events
                .unwrap_or_default()
                .into_iter()
                .map(event_from)
                .collect()),
            Err(_) => typed::<Vec<&RawValue>>(self.events).map(|raws| {
                raws.unwrap_or_default()
                    .into_iter()
                    .map(|raw| {
                        serde_json::from_str::<EventIn>(raw.get())
                            .map_err(|e| e.to_string())
                            .and_then(event_from)
                    })
                    .collect::<Vec<_>>()
            }),
        };
        match events {
            Ok(events) => {
                for e in events {
                    match e {
                        Ok(e) => job.events.push(e),
                        Err(why) => problems.add(service, "events", &why),
                    }
                }
            }
            Err(why) => problems.add(service, "events", &why),
        }
        (job != JobRecord::default()).then_some(job)
    }
}

fn rid(text: Option<std::borrow::Cow<'_, str>>) -> Result<Option<Box<str>>, String> {
    match text {
        None => Ok(None),
        Some(r) if is_valid_rid(&r) => Ok(Some(r.into())),
        Some(_) => Err(crate::jobs::RID_RULE.to_string()),
    }
}

fn open_run(raw: &RawValue) -> Result<OpenRun, String> {
    let run: RunIn = serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
    Ok(OpenRun {
        since: run.since,
        rid: rid(run.rid)?,
    })
}

fn event_from(e: EventIn<'_>) -> Result<JobEvent, String> {
    let kind = match &*e.kind {
        "success" => SignalKind::Success,
        "start" => SignalKind::Start,
        "fail" => SignalKind::Fail,
        "log" => SignalKind::Log,
        "exit" => SignalKind::Exit(
            e.exit_code
                .ok_or("an exit event needs an exit_code of 0-255")?,
        ),
        other => return Err(format!("unknown event kind {other:?}")),
    };
    let source = match e.source.as_deref() {
        Some("http") => Source::Http(e.remote_addr),
        Some("udp") => Source::Udp,
        Some("tcp") => Source::Tcp,
        other => return Err(format!("unknown event source {other:?}")),
    };
    if e.duration.is_some_and(|d| d < 0) {
        return Err("a duration cannot be negative".to_string());
    }
    let body = match e.body_b64 {
        None => None,
        Some(text) => Some(Body {
            bytes: base64::decode_standard(&text)
                .ok_or("body_b64 is not standard base64")?
                .into(),
            truncated: e.body_truncated,
        }),
    };
    Ok(JobEvent {
        n: e.n,
        ts: e.ts,
        kind,
        rid: rid(e.rid)?,
        duration: e.duration,
        source,
        body,
        body_dropped: e.body_dropped,
    })
}
