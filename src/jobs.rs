//! The plain records of jobs (SPEC 14): what a run signal says (`Signal`),
//! the settings a service can be given (`JobSettings`, `SettingsChange`),
//! and what the engine remembers of a service's runs (`JobRecord`,
//! `OpenRun`, `JobEvent`). Like `model`, no behaviour lives here beyond
//! small helpers: the rules are in the engine, the wire forms in `http/`,
//! `statsd/`, `config/` and `store/`.

use crate::model::Millis;
use std::net::IpAddr;
use std::sync::Arc;

/// Longest run id.
pub const MAX_RID_LEN: usize = 64;
/// Open runs kept per service; a start beyond it drops the oldest.
pub const MAX_OPEN_RUNS: usize = 8;
/// A start older than this is never paired with a closing signal.
pub const MAX_PAIRING_MS: Millis = 72 * 3600 * 1000;
/// Most of a failed run's output an alert carries (its last bytes).
pub const OUTPUT_TAIL: usize = 1024;
/// Grace of a scheduled service when none is set.
pub const DEFAULT_SCHEDULE_GRACE_MS: Millis = 3600 * 1000;

/// Longest duration a client may report (Uptime Kuma's bound on `ping`,
/// about 3 years); a longer one is not kept.
pub const MAX_REPORTED_MS: f64 = 100_000_000_000.0;

/// A duration a client reported, in ms (`ms` may have a fraction): `None`
/// when it is not a number from 0 to `MAX_REPORTED_MS`.
pub fn reported_ms(ms: f64) -> Option<Millis> {
    (ms.is_finite() && (0.0..=MAX_REPORTED_MS).contains(&ms)).then(|| ms.round() as Millis)
}

/// Why a run id is refused.
pub const RID_RULE: &str = "a run id (rid) is 1-64 characters of A-Z, a-z, 0-9, '.', '_' and '-'";

/// True when `rid` is 1–64 chars of `[A-Za-z0-9._-]`.
pub fn is_valid_rid(rid: &str) -> bool {
    !rid.is_empty()
        && rid.len() <= MAX_RID_LEN
        && rid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// What a signal says about a run (SPEC 14.2).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum SignalKind {
    /// A plain beat, or `/success`: closes a run, state OK.
    Success,
    /// Opens a run.
    Start,
    /// Closes a run, state ERROR with reason `failed`.
    Fail,
    /// An exit code: 0 is a success, 1–255 a failure.
    Exit(u8),
    /// Recorded as an event, changes nothing.
    Log,
}

impl SignalKind {
    /// The event's `kind` in JSON and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::Success => "success",
            SignalKind::Start => "start",
            SignalKind::Fail => "fail",
            SignalKind::Exit(_) => "exit",
            SignalKind::Log => "log",
        }
    }

    /// The exit code it carries, if any.
    pub fn exit_code(self) -> Option<u8> {
        match self {
            SignalKind::Exit(code) => Some(code),
            _ => None,
        }
    }

    /// True when it closes a run as a success (`success`, `exit 0`).
    pub fn is_success(self) -> bool {
        matches!(self, SignalKind::Success | SignalKind::Exit(0))
    }

    /// True when it closes a run as a failure (`fail`, `exit 1-255`).
    pub fn is_failure(self) -> bool {
        matches!(self, SignalKind::Fail) || matches!(self, SignalKind::Exit(c) if c != 0)
    }
}

/// Where a signal came from.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Source {
    /// HTTP, with the client's address when known.
    Http(Option<IpAddr>),
    #[default]
    Udp,
    Tcp,
}

impl Source {
    /// `http`, `udp` or `tcp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Http(_) => "http",
            Source::Udp => "udp",
            Source::Tcp => "tcp",
        }
    }

    /// The client address (HTTP only).
    pub fn addr(self) -> Option<IpAddr> {
        match self {
            Source::Http(addr) => addr,
            _ => None,
        }
    }
}

/// A request body kept as a run's output: already cut to `[limits]
/// max_body_bytes` by whoever received it. Shared, so copies of an event
/// for the API cost no copy of the body.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Body {
    pub bytes: Arc<[u8]>,
    /// The sender sent more than was kept.
    pub truncated: bool,
}

/// One signal for a service: a run starting, ending, failing, or a log line.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Signal {
    pub kind: SignalKind,
    /// Pairs a closing signal with its start; validated (`is_valid_rid`).
    pub rid: Option<Box<str>>,
    pub source: Source,
    /// The request body (HTTP only), if one was sent.
    pub body: Option<Body>,
    /// How long the run took by the client's own measurement (ms, not
    /// negative), when it sent one: Sentry's `duration`, Kuma's `ping`,
    /// Cronitor's `metric=duration:`. On a closing signal it is the run's
    /// duration, winning over the time since a paired start (that one
    /// includes the network and retries; the client timed the job itself).
    pub reported_duration: Option<Millis>,
}

impl Signal {
    /// A signal of `kind` with no rid, no body and no reported duration.
    pub fn new(kind: SignalKind, source: Source) -> Signal {
        Signal {
            kind,
            rid: None,
            source,
            body: None,
            reported_duration: None,
        }
    }
}

/// Why a service is in ERROR (SPEC 14.2).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Reason {
    /// Its deadline passed with no success.
    Missed,
    /// A run failed (`fail` or an exit code 1–255).
    Failed,
    /// A run stayed open past `max_runtime` (or the grace of its schedule).
    TooLong,
    /// A run ended sooner than `min_duration`.
    TooFast,
    /// Its timeout is 0: always in ERROR.
    Always,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Missed => "missed",
            Reason::Failed => "failed",
            Reason::TooLong => "too_long",
            Reason::TooFast => "too_fast",
            Reason::Always => "always",
        }
    }

    pub fn parse(text: &str) -> Option<Reason> {
        Some(match text {
            "missed" => Reason::Missed,
            "failed" => Reason::Failed,
            "too_long" => Reason::TooLong,
            "too_fast" => Reason::TooFast,
            "always" => Reason::Always,
            _ => return None,
        })
    }
}

/// The job settings of a service (SPEC 14.1–14.2); `None` is "not set".
/// Durations are ms. The schedule is the expression as given; the engine
/// parses it (with `tz`, default UTC).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct JobSettings {
    pub schedule: Option<String>,
    pub tz: Option<String>,
    pub grace: Option<Millis>,
    pub max_runtime: Option<Millis>,
    pub min_duration: Option<Millis>,
}

impl JobSettings {
    pub fn is_empty(&self) -> bool {
        *self == JobSettings::default()
    }
}

/// A change of settings asked for through the API or a signal route: each
/// field `None` leaves it as it is; `Some(None)` clears it (back to the
/// `[[services]]` block's value or the default: `schedule=none` goes back
/// to the period). Applied all or nothing: an unknown zone or a bad
/// expression changes nothing.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct SettingsChange {
    /// The period (ms, or `TIMEOUT_NONE` / `TIMEOUT_AUTO` / 0), as an
    /// `Update` sets it; setting it clears the schedule.
    pub timeout: Option<Millis>,
    pub schedule: Option<Option<String>>,
    pub tz: Option<Option<String>>,
    pub grace: Option<Option<Millis>>,
    pub max_runtime: Option<Option<Millis>>,
    pub min_duration: Option<Option<Millis>>,
}

impl SettingsChange {
    pub fn is_empty(&self) -> bool {
        *self == SettingsChange::default()
    }
}

/// A run that started and has not ended.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OpenRun {
    pub since: Millis,
    pub rid: Option<Box<str>>,
}

/// One recorded signal (SPEC 14.3).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct JobEvent {
    /// The event's number: 1 for the service's first, counting up; it
    /// stays with the event (`GET .../events/<n>/body`).
    pub n: u64,
    pub ts: Millis,
    pub kind: SignalKind,
    pub rid: Option<Box<str>>,
    /// How long the run it closed took (closing signals that paired).
    pub duration: Option<Millis>,
    pub source: Source,
    /// The body; `None` when none was sent or it was dropped to keep the
    /// bodies of all services within `[limits] event_body_memory`.
    pub body: Option<Body>,
    /// A body was sent but dropped for memory.
    pub body_dropped: bool,
}

/// What the engine remembers of a service that uses jobs. Services that
/// never did carry none of this (`ServiceRecord::job` is `None`).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct JobRecord {
    /// Settings given to this service itself (API, statsd): stored, and
    /// winning over its `[[services]]` block.
    pub own: JobSettings,
    /// The settings in force (own, else the block's, else defaults):
    /// shown, never stored. `grace` is always set here.
    pub effective: JobSettings,
    /// When the schedule in force was set (the deadline counts from here
    /// until the first success).
    pub schedule_since: Option<Millis>,
    /// Open runs, oldest first (at most `MAX_OPEN_RUNS`).
    pub open_runs: Vec<OpenRun>,
    pub last_duration: Option<Millis>,
    pub last_exit_code: Option<u8>,
    /// Why it is in ERROR (`None` unless it is).
    pub reason: Option<Reason>,
    /// The last `[limits] events_per_service` events, oldest first. Empty
    /// in listings; filled for one service and for a save.
    pub events: Vec<JobEvent>,
}

impl JobRecord {
    /// When the oldest open run started.
    pub fn running_since(&self) -> Option<Millis> {
        self.open_runs.iter().map(|r| r.since).min()
    }
}

/// A failed member of a view, as alerts describe it (SPEC 15, "Messages").
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Failure {
    pub service: String,
    pub reason: Reason,
    /// When it went to ERROR.
    pub since: Millis,
    /// The exit code of the failed run, if it sent one.
    pub exit_code: Option<u8>,
    /// How long the run took (too_fast) or had run (too_long).
    pub ran: Option<Millis>,
    /// The limit it broke: `max_runtime` (too_long), `min_duration`
    /// (too_fast).
    pub limit: Option<Millis>,
    /// For a failed run, the end of its output (at most 1 KiB).
    pub output: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rids() {
        assert!(is_valid_rid("a"));
        assert!(is_valid_rid("Run-1.b_2"));
        assert!(is_valid_rid(&"x".repeat(64)));
        assert!(!is_valid_rid(&"x".repeat(65)));
        assert!(!is_valid_rid(""));
        assert!(!is_valid_rid("a b"));
        assert!(!is_valid_rid("a/b"));
        assert!(!is_valid_rid("é"));
    }

    #[test]
    fn reported_durations() {
        assert_eq!(reported_ms(0.0), Some(0));
        assert_eq!(reported_ms(1500.4), Some(1500));
        assert_eq!(reported_ms(2.5 * 1000.0), Some(2500));
        assert_eq!(reported_ms(MAX_REPORTED_MS), Some(100_000_000_000));
        assert_eq!(reported_ms(MAX_REPORTED_MS + 1.0), None);
        assert_eq!(reported_ms(-1.0), None);
        assert_eq!(reported_ms(f64::NAN), None);
        assert_eq!(reported_ms(f64::INFINITY), None);
    }

    #[test]
    fn kinds() {
        assert!(SignalKind::Exit(0).is_success());
        assert!(SignalKind::Success.is_success());
        assert!(SignalKind::Exit(3).is_failure());
        assert!(SignalKind::Fail.is_failure());
        assert!(!SignalKind::Start.is_failure() && !SignalKind::Start.is_success());
        assert!(!SignalKind::Log.is_failure() && !SignalKind::Log.is_success());
        assert_eq!(SignalKind::Exit(7).exit_code(), Some(7));
        assert_eq!(SignalKind::Exit(7).as_str(), "exit");
    }

    #[test]
    fn reasons_round_trip() {
        for r in [
            Reason::Missed,
            Reason::Failed,
            Reason::TooLong,
            Reason::TooFast,
            Reason::Always,
        ] {
            assert_eq!(Reason::parse(r.as_str()), Some(r));
        }
        assert_eq!(Reason::parse("late"), None);
    }
}
