//! Plain data shared by every module: service and view records (owned
//! snapshots, as stored and as returned), states, the timeout sentinels, the
//! service-name rule, and the batch of statsd updates the listeners hand to
//! the state thread. No behaviour lives here beyond small helpers.

use crate::engine::adaptive::Adaptive;
use crate::jobs::{JobRecord, Source};
use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch (or a duration in milliseconds).
pub type Millis = i64;

/// `timeout` value meaning "never expires" (the default for a new service).
pub const TIMEOUT_NONE: Millis = -1;
/// `timeout` value meaning "computed from the beat history".
pub const TIMEOUT_AUTO: Millis = -2;
/// `timeout` value meaning "the adaptive model" (SPEC 19). Engine-internal:
/// the database and the API write it as -2 plus `"auto_model": "adaptive"`,
/// so Lovebeat 1.0.3 and 1.x clients see an auto timeout.
pub const TIMEOUT_ADAPTIVE: Millis = -3;
/// The `auto_model` value that marks an adaptive timeout in the database and
/// the API.
pub const AUTO_MODEL_ADAPTIVE: &str = "adaptive";
/// `last_beat` of a service that never beat.
pub const NEVER: Millis = -1;
/// Longest accepted service name.
pub const MAX_NAME_LEN: usize = 200;
/// How many beat intervals a service remembers.
pub const HISTORY_LEN: usize = 100;

/// The state of a service or a view.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize, Default, Hash)]
#[serde(rename_all = "lowercase")]
pub enum State {
    #[default]
    New,
    Ok,
    Error,
    Muted,
}

impl State {
    /// Lower-case name, as in JSON (`"ok"`).
    pub fn as_str(self) -> &'static str {
        match self {
            State::New => "new",
            State::Ok => "ok",
            State::Error => "error",
            State::Muted => "muted",
        }
    }
    /// Upper-case name, as in alerts (`"OK"`).
    pub fn upper(self) -> &'static str {
        match self {
            State::New => "NEW",
            State::Ok => "OK",
            State::Error => "ERROR",
            State::Muted => "MUTED",
        }
    }
    /// Number used by the statsd state gauges of Lovebeat 1.x.
    pub fn gauge(self) -> u8 {
        match self {
            State::New => 0,
            State::Ok => 1,
            State::Error => 2,
            State::Muted => 3,
        }
    }
}

/// Why a service name is refused.
pub const NAME_RULE: &str = "service names are 1-200 characters of a-z, 0-9, '.', '_' and '-'";

/// True when `name` is 1–200 chars of `[a-z0-9._-]`.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'))
}

/// The beat analysis of SPEC 2.4 (present with at least 10 intervals).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Analysis {
    /// 10th percentile interval, seconds (rounded half up).
    pub lower: i64,
    /// 90th percentile interval, seconds (rounded half up).
    pub upper: i64,
    /// Always 90.
    pub percentage: u32,
    /// `upper >= 5 * lower`.
    pub unstable: bool,
}

/// An owned snapshot of one service: what the database stores and what the
/// API returns.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceRecord {
    pub name: String,
    pub state: State,
    /// `NEVER` (-1) when it never beat.
    pub last_beat: Millis,
    /// Milliseconds, or `TIMEOUT_NONE` / `TIMEOUT_AUTO` / 0.
    pub timeout: Millis,
    /// 0 when not muted.
    pub muted_since: Millis,
    /// When a timed mute (`?for=`) ends by itself; 0 for none (not muted,
    /// or muted until an unmute).
    pub muted_until: Millis,
    pub last_state_change: Millis,
    /// Intervals between accepted beats, oldest first, at most `HISTORY_LEN`.
    /// Empty in API snapshots taken without details.
    pub beat_history: Vec<Millis>,
    /// Names of the views it belongs to, sorted.
    pub views: Vec<String>,
    /// Computed from the history; never stored.
    pub analysis: Option<Analysis>,
    /// The timeout it expires by, ms: `timeout` when fixed, the learned
    /// value for auto (-1 until an interval is measured), -1 for none, 0 for
    /// "always ERROR". Computed when the record is built; never stored.
    pub timeout_in_force: Millis,
    /// When it goes to ERROR if no beat comes (restart and freeze grace
    /// included), ms since the epoch; `None` when it never expires or is
    /// already in ERROR or muted. Computed; never stored.
    pub next_deadline: Option<Millis>,
    /// Schedules, runs and events (SPEC 14); `None` for a service that
    /// never used them.
    pub job: Option<Box<JobRecord>>,
    /// The adaptive model's learnt state (SPEC 19) while the timeout is
    /// adaptive, in records taken with the history (details, the database);
    /// `None` elsewhere, and a load without it rebuilds it from the history.
    pub model: Option<Box<Adaptive>>,
}

impl Default for ServiceRecord {
    /// An empty record; its computed fields say "never expires".
    fn default() -> Self {
        ServiceRecord {
            name: String::new(),
            state: State::New,
            last_beat: 0,
            timeout: 0,
            muted_since: 0,
            muted_until: 0,
            last_state_change: 0,
            beat_history: Vec::new(),
            views: Vec::new(),
            analysis: None,
            timeout_in_force: TIMEOUT_NONE,
            next_deadline: None,
            job: None,
            model: None,
        }
    }
}

/// One service, borrowed: what the database writer reads, from a
/// `ServiceRecord` or from a `ServiceSnapshot` alike.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ServiceRef<'a> {
    pub name: &'a str,
    pub state: State,
    pub last_beat: Millis,
    pub timeout: Millis,
    pub muted_since: Millis,
    /// When a timed mute ends; 0 for none.
    pub muted_until: Millis,
    pub last_state_change: Millis,
    pub beat_history: &'a [Millis],
    pub views: &'a [String],
    pub job: Option<&'a JobRecord>,
    pub model: Option<&'a Adaptive>,
}

impl<'a> From<&'a ServiceRecord> for ServiceRef<'a> {
    fn from(r: &'a ServiceRecord) -> Self {
        ServiceRef {
            name: &r.name,
            state: r.state,
            last_beat: r.last_beat,
            timeout: r.timeout,
            muted_since: r.muted_since,
            muted_until: r.muted_until,
            last_state_change: r.last_state_change,
            beat_history: &r.beat_history,
            views: &r.views,
            job: r.job.as_deref(),
            model: r.model.as_deref(),
        }
    }
}

impl From<ServiceRef<'_>> for ServiceRecord {
    fn from(r: ServiceRef<'_>) -> Self {
        ServiceRecord {
            name: r.name.to_owned(),
            state: r.state,
            last_beat: r.last_beat,
            timeout: r.timeout,
            muted_since: r.muted_since,
            muted_until: r.muted_until,
            last_state_change: r.last_state_change,
            beat_history: r.beat_history.to_vec(),
            views: r.views.to_vec(),
            analysis: None,
            timeout_in_force: TIMEOUT_NONE,
            next_deadline: None,
            job: r.job.map(|j| Box::new(j.clone())),
            model: r.model.map(|m| Box::new(m.clone())),
        }
    }
}

/// Many services packed for a save: names in one string, histories and view
/// names in shared vectors, one fixed-size row per service. At a million
/// services this is a few large allocations of about 70 bytes a service,
/// where `Vec<ServiceRecord>` would be two million small ones and 180.
/// The few services with jobs keep their `JobRecord` in a side list, the
/// few with a timed mute their `muted_until` in another.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceSnapshot {
    names: String,
    histories: Vec<Millis>,
    views: Vec<String>,
    rows: Vec<PackedService>,
    /// (row, job) for the rows that have one, in row order.
    jobs: Vec<(u32, JobRecord)>,
    /// (row, muted_until) for the rows where it is not 0, in row order.
    mutes: Vec<(u32, Millis)>,
    /// (row, model) for the adaptive rows, in row order.
    models: Vec<(u32, Adaptive)>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct PackedService {
    name_end: u32,
    history_end: u32,
    views_end: u32,
    state: State,
    last_beat: Millis,
    timeout: Millis,
    muted_since: Millis,
    last_state_change: Millis,
}

impl ServiceSnapshot {
    pub fn with_capacity(services: usize) -> Self {
        ServiceSnapshot {
            names: String::with_capacity(services * 20),
            histories: Vec::new(),
            views: Vec::new(),
            rows: Vec::with_capacity(services),
            jobs: Vec::new(),
            mutes: Vec::new(),
            models: Vec::new(),
        }
    }

    /// Appends one service.
    pub fn push(&mut self, service: ServiceRef<'_>) {
        self.push_with_views(service, service.views.iter().map(String::as_str));
    }

    /// Appends one service whose view names come from `views` (its
    /// `views` field is not used).
    pub fn push_with_views<'v>(
        &mut self,
        service: ServiceRef<'_>,
        views: impl Iterator<Item = &'v str>,
    ) {
        self.names.push_str(service.name);
        self.histories.extend_from_slice(service.beat_history);
        self.views.extend(views.map(str::to_owned));
        if let Some(job) = service.job {
            self.jobs.push((self.rows.len() as u32, job.clone()));
        }
        if let Some(model) = service.model {
            self.models.push((self.rows.len() as u32, model.clone()));
        }
        if service.muted_until != 0 {
            self.mutes
                .push((self.rows.len() as u32, service.muted_until));
        }
        self.rows.push(PackedService {
            name_end: self.names.len() as u32,
            history_end: self.histories.len() as u32,
            views_end: self.views.len() as u32,
            state: service.state,
            last_beat: service.last_beat,
            timeout: service.timeout,
            muted_since: service.muted_since,
            last_state_change: service.last_state_change,
        });
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The services in the order they were pushed.
    pub fn iter(&self) -> impl Iterator<Item = ServiceRef<'_>> + '_ {
        let mut start = (0usize, 0usize, 0usize);
        let mut jobs = self.jobs.iter().peekable();
        let mut mutes = self.mutes.iter().peekable();
        let mut models = self.models.iter().peekable();
        self.rows.iter().enumerate().map(move |(i, row)| {
            let end = (
                row.name_end as usize,
                row.history_end as usize,
                row.views_end as usize,
            );
            let service = ServiceRef {
                name: self.names.get(start.0..end.0).unwrap_or_default(),
                state: row.state,
                last_beat: row.last_beat,
                timeout: row.timeout,
                muted_since: row.muted_since,
                muted_until: mutes
                    .next_if(|(row, _)| *row as usize == i)
                    .map_or(0, |&(_, until)| until),
                last_state_change: row.last_state_change,
                beat_history: self.histories.get(start.1..end.1).unwrap_or_default(),
                views: self.views.get(start.2..end.2).unwrap_or_default(),
                job: jobs.next_if(|(row, _)| *row as usize == i).map(|(_, j)| j),
                model: models
                    .next_if(|(row, _)| *row as usize == i)
                    .map(|(_, m)| m),
            };
            start = end;
            service
        })
    }
}

impl From<&[ServiceRecord]> for ServiceSnapshot {
    fn from(records: &[ServiceRecord]) -> Self {
        let mut snapshot = ServiceSnapshot::with_capacity(records.len());
        for r in records {
            snapshot.push(ServiceRef::from(r));
        }
        snapshot
    }
}

/// An owned snapshot of one view (an "alarm" in Lovebeat 1.x).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ViewRecord {
    pub name: String,
    pub state: State,
    pub incident_number: u64,
    /// Names of member services in ERROR, sorted.
    pub failed_services: Vec<String>,
    /// The same services with why they failed, in the same order; filled
    /// while the view is in ERROR.
    pub failures: Vec<crate::jobs::Failure>,
    pub last_state_change: Millis,
    /// Names of the `[alerts.NAME]` to fire for this view (from the
    /// `[[views]]` entry that produced it). Never stored, never shown.
    pub alerts: Vec<String>,
    /// Mute, delay, maintenance and dependencies (SPEC 15); only
    /// `muted_until` and `alerted_at` are stored.
    pub alerting: crate::policy::ViewAlerting,
}

/// The health summary behind `/status`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize)]
pub struct StatusSummary {
    pub num_ok: u64,
    pub num_error: u64,
    pub has_error: bool,
    pub good: bool,
}

impl StatusSummary {
    pub fn new(num_ok: u64, num_error: u64) -> Self {
        StatusSummary {
            num_ok,
            num_error,
            has_error: num_error > 0,
            good: num_error == 0,
        }
    }
}

/// One update named by a statsd line or an HTTP beat.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Update {
    /// A beat.
    Beat,
    /// Set the timeout (ms, or `TIMEOUT_NONE` / `TIMEOUT_AUTO` / 0), no beat.
    SetTimeout(Millis),
    /// Set the timeout and beat.
    SetTimeoutAndBeat(Millis),
    /// A run starts (statsd `<name>.start:1|c`, SPEC 14.4).
    Start,
    /// A run failed (statsd `<name>.fail:1|c`).
    Fail,
    /// A run ended with this exit code (statsd `<name>.exit:<code>|g`).
    Exit(u8),
}

impl Update {
    /// `<name>.autobeat`: auto timeout and a beat.
    pub const AUTOBEAT: Update = Update::SetTimeoutAndBeat(TIMEOUT_AUTO);
}

/// A batch of updates with all names packed into one string, so a listener
/// hands the state thread many lines with two allocations.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    names: String,
    items: Vec<(u32, Update)>,
    /// Where the lines came from (UDP unless told otherwise).
    pub source: Source,
}

impl Batch {
    pub fn with_capacity(lines: usize) -> Self {
        Batch {
            names: String::with_capacity(lines * 24),
            items: Vec::with_capacity(lines),
            source: Source::Udp,
        }
    }
    /// Appends one update. The name is not validated here.
    pub fn push(&mut self, name: &str, update: Update) {
        self.names.push_str(name);
        self.items.push((self.names.len() as u32, update));
    }
    pub fn len(&self) -> usize {
        self.items.len()
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    /// The updates in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Update)> + '_ {
        let mut start = 0usize;
        self.items.iter().map(move |&(end, update)| {
            let end = end as usize;
            let name = &self.names[start..end];
            start = end;
            (name, update)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_valid_name("a"));
        assert!(is_valid_name("backup.db-1_x"));
        assert!(is_valid_name(&"a".repeat(200)));
        assert!(!is_valid_name(&"a".repeat(201)));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("Upper"));
        assert!(!is_valid_name("sp ace"));
        assert!(!is_valid_name("slash/x"));
        assert!(!is_valid_name("é"));
    }

    #[test]
    fn snapshot_round_trip() {
        let records = [
            ServiceRecord {
                name: "a.b".into(),
                state: State::Error,
                last_beat: 5,
                timeout: -2,
                muted_since: 0,
                muted_until: 9,
                last_state_change: 7,
                beat_history: vec![1000, 2000],
                views: vec!["v1".into(), "v2".into()],
                ..Default::default()
            },
            ServiceRecord {
                name: "c".into(),
                ..Default::default()
            },
            ServiceRecord {
                name: "d".into(),
                beat_history: vec![3],
                views: vec!["v3".into()],
                muted_until: crate::policy::MUTED_FOREVER,
                ..Default::default()
            },
        ];
        let snapshot = ServiceSnapshot::from(&records[..]);
        assert_eq!(snapshot.len(), 3);
        let refs: Vec<ServiceRef> = snapshot.iter().collect();
        let expected: Vec<ServiceRef> = records.iter().map(ServiceRef::from).collect();
        assert_eq!(refs, expected);
    }

    #[test]
    fn batch_round_trip() {
        let mut b = Batch::with_capacity(2);
        b.push("a.b", Update::Beat);
        b.push("c", Update::SetTimeout(5000));
        b.push("", Update::AUTOBEAT);
        let v: Vec<_> = b.iter().collect();
        assert_eq!(
            v,
            vec![
                ("a.b", Update::Beat),
                ("c", Update::SetTimeout(5000)),
                ("", Update::AUTOBEAT)
            ]
        );
        assert_eq!(b.len(), 3);
    }
}
