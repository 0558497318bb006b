//! `[eventlog]` (SPEC 7): every addition, state change and removal of a
//! service or view appended to a file as one JSON object per line, in
//! Lovebeat 1.x's shape, from a thread of its own ("eventlog"):
//!
//! `{"ts":1700000000000,"type":"service_state_changed","service_state_changed":{"service":{...},"previous":"ok","current":"error"}}`
//!
//! Types: `service_added`, `service_state_changed`, `service_removed`,
//! `alarm_added`, `alarm_state_changed`, `alarm_removed`; service and view
//! objects in 1.x's keys (`Dialect::V1`), a view under the key `alarm`.
//!
//! The file is created with the configured mode (set explicitly, so the
//! umask does not narrow it) and appended to. It is reopened on SIGHUP (a
//! message on the channel [`spawn`] returns) and, before each write, when
//! the path no longer names the open file (moved away or deleted by
//! logrotate). Events arrive on a subscription bounded by the size of the
//! state ([`QUEUE_BASE`] + [`QUEUE_PER_ITEM`] × (services + views)), so a
//! burst in which every service and view changes at once is written whole;
//! the state thread never waits for this thread. What is queued is written
//! in batches (one `write` and one check of the path per up to 4096 lines). Should events be lost all the same
//! (the writer stalled on a full or hung disk), an explicit line says how
//! many of which kind were skipped:
//!
//! `{"ts":1700000000000,"type":"events_skipped","events_skipped":{"service_state_changed":1984,"total":1984}}`
//!
//! A failed open or write, and every skipped event, is logged and counted
//! in `Counters::eventlog_failures`, never fatal; the next event tries
//! again.

use crate::clock::now_ms;
use crate::counters::Counters;
use crate::events::{Event, Interest, Limit, Subscription};
use crate::json::{service, view, Dialect};
use crate::model::Millis;
use crate::state::StateHandle;
use crossbeam_channel::{bounded, select, Receiver, Sender};
use std::fs::{File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Change events waiting to be written, at most: this many plus
/// [`QUEUE_PER_ITEM`] per service and view (`events::Limit::State`).
pub const QUEUE_BASE: usize = 65_536;
/// Two whole bursts: everything fails, everything recovers.
pub const QUEUE_PER_ITEM: usize = 2;
/// Events turned into lines per write.
const BATCH: usize = 4096;
/// The `type` of each event kind (in `Event::kind`'s order) in 1.x's names.
const KIND_TYPES: [&str; crate::events::KINDS] = [
    "service_added",
    "service_state_changed",
    "service_removed",
    "alarm_added",
    "alarm_state_changed",
    "alarm_removed",
    // Never subscribed to: the event log takes state changes only.
    "alert",
];

/// The line that says how many events of each kind were not written
/// (`None` when none were).
pub fn skipped_line(lost: &[u64; crate::events::KINDS], ts: Millis) -> Option<String> {
    let total: u64 = lost.iter().sum();
    if total == 0 {
        return None;
    }
    let mut body = String::new();
    for (kind, n) in KIND_TYPES.iter().zip(lost) {
        if *n > 0 {
            body.push_str(&format!("\"{kind}\":{n},"));
        }
    }
    Some(format!(
        "{{\"ts\":{ts},\"type\":\"events_skipped\",\"events_skipped\":{{{body}\"total\":{total}}}}}\n"
    ))
}

/// One JSON line (with its newline) for an event, or `None` for a change
/// that is not a state change (those are not logged).
pub fn line(event: &Event, ts: Millis) -> Option<String> {
    use serde_json::json;
    let (kind, body) = match event {
        Event::ServiceAdded { service: s } => (
            "service_added",
            json!({ "service": service(s, Dialect::V1, false) }),
        ),
        Event::ServiceChanged {
            service: s,
            previous,
        } if s.state != *previous => (
            "service_state_changed",
            json!({
                "service": service(s, Dialect::V1, false),
                "previous": previous.as_str(),
                "current": s.state.as_str(),
            }),
        ),
        Event::ServiceRemoved { service: s } => (
            "service_removed",
            json!({ "service": service(s, Dialect::V1, false) }),
        ),
        Event::ViewAdded { view: v } => ("alarm_added", json!({ "alarm": view(v, Dialect::V1) })),
        Event::ViewChanged { view: v, previous } if v.state != *previous => (
            "alarm_state_changed",
            json!({
                "alarm": view(v, Dialect::V1),
                "previous": previous.as_str(),
                "current": v.state.as_str(),
            }),
        ),
        Event::ViewRemoved { view: v } => {
            ("alarm_removed", json!({ "alarm": view(v, Dialect::V1) }))
        }
        _ => return None,
    };
    // Built by hand so the keys come in 1.x's order: ts, type, then the event.
    Some(format!(
        "{{\"ts\":{ts},\"type\":\"{kind}\",\"{kind}\":{body}}}\n"
    ))
}

/// Starts the event log thread. Returns the sender that asks it to reopen
/// the file (send on SIGHUP with `try_send`; one pending request is enough).
pub fn spawn(
    path: PathBuf,
    mode: u32,
    counters: Arc<Counters>,
    state: &StateHandle,
) -> io::Result<(Sender<()>, JoinHandle<()>)> {
    let events = state
        .subscribe_limited(
            Interest::StateChanges,
            Limit::State {
                base: QUEUE_BASE,
                per_item: QUEUE_PER_ITEM,
            },
        )
        .map_err(|e| io::Error::other(e.to_string()))?;
    let (reopen_tx, reopen) = bounded(1);
    let handle = std::thread::Builder::new()
        .name("eventlog".into())
        .spawn(move || {
            let mut log = Log {
                path,
                mode,
                file: None,
                counters,
            };
            log.open_logged();
            run(&mut log, &events, &reopen);
        })?;
    Ok((reopen_tx, handle))
}

fn run(log: &mut Log, events: &Subscription, reopen: &Receiver<()>) {
    let mut text = String::new();
    loop {
        select! {
            recv(events.receiver()) -> event => match event {
                Ok(event) => {
                    let ts = now_ms();
                    text.clear();
                    let mut lines = 0;
                    for event in std::iter::once(event).chain(events.try_iter().take(BATCH)) {
                        if let Some(line) = line(&event, ts) {
                            text.push_str(&line);
                            lines += 1;
                        }
                    }
                    if let Some(line) = log.skipped(events) {
                        text.push_str(&line);
                    }
                    log.write(&text, lines);
                }
                Err(_) => return,
            },
            recv(reopen) -> msg => {
                if msg.is_ok() {
                    log::info!("eventlog: reopening {}", log.path.display());
                    log.file = None;
                    log.open_logged();
                }
            },
        }
    }
}

struct Log {
    path: PathBuf,
    mode: u32,
    file: Option<File>,
    counters: Arc<Counters>,
}

impl Log {
    /// Counts (as failures) and logs events lost to a full queue, and
    /// returns the line that says so in the file.
    fn skipped(&self, events: &Subscription) -> Option<String> {
        let lost = events.take_losses();
        let line = skipped_line(&lost, now_ms())?;
        let total: u64 = lost.iter().sum();
        Counters::add(&self.counters.eventlog_failures, total);
        log::warn!("eventlog: {total} events skipped (queue full), not written: {line}");
        Some(line)
    }

    fn open_logged(&mut self) {
        match open(&self.path, self.mode) {
            Ok(file) => self.file = Some(file),
            Err(e) => {
                Counters::add(&self.counters.eventlog_failures, 1);
                log::error!(
                    "eventlog: cannot open {}: {e}; retrying at the next event",
                    self.path.display()
                );
            }
        }
    }

    /// Appends `text` (`lines` event lines): one write, one look at the
    /// path.
    fn write(&mut self, text: &str, lines: u64) {
        if text.is_empty() {
            return;
        }
        if self
            .file
            .as_ref()
            .is_some_and(|f| moved_away(&self.path, f))
        {
            log::info!(
                "eventlog: {} was moved away, opening a new file",
                self.path.display()
            );
            self.file = None;
        }
        if self.file.is_none() {
            self.open_logged();
        }
        let Some(file) = self.file.as_mut() else {
            Counters::add(&self.counters.eventlog_failures, lines);
            return;
        };
        if let Err(e) = file.write_all(text.as_bytes()) {
            Counters::add(&self.counters.eventlog_failures, lines.max(1));
            log::error!(
                "eventlog: cannot write {lines} lines to {}: {e}; reopening at the next event",
                self.path.display()
            );
            self.file = None;
        }
    }
}

/// Opens `path` for appending, creating it with exactly `mode`.
fn open(path: &Path, mode: u32) -> io::Result<File> {
    match OpenOptions::new()
        .append(true)
        .create_new(true)
        .mode(mode)
        .open(path)
    {
        Ok(file) => {
            // The umask may have taken bits away; the config is the truth.
            file.set_permissions(Permissions::from_mode(mode))?;
            Ok(file)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            OpenOptions::new().append(true).open(path)
        }
        Err(e) => Err(e),
    }
}

/// True when `path` is gone or names another file than `file`.
fn moved_away(path: &Path, file: &File) -> bool {
    match (std::fs::metadata(path), file.metadata()) {
        (Ok(p), Ok(f)) => p.dev() != f.dev() || p.ino() != f.ino(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Losses;
    use crate::model::{ServiceRecord, State, ViewRecord};

    #[test]
    fn lines_have_1x_shape() {
        let s = ServiceRecord {
            name: "a.b".into(),
            state: State::Error,
            views: vec!["v".into()],
            ..Default::default()
        };
        let text = line(
            &Event::ServiceChanged {
                service: s.clone(),
                previous: State::Ok,
            },
            42,
        )
        .unwrap();
        assert!(text.starts_with("{\"ts\":42,\"type\":\"service_state_changed\","));
        assert!(text.ends_with("}\n"));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let e = &v["service_state_changed"];
        assert_eq!(e["previous"], "ok");
        assert_eq!(e["current"], "error");
        assert_eq!(e["service"]["name"], "a.b");
        assert_eq!(e["service"]["in_alarms"], serde_json::json!(["v"]));
        let same = Event::ServiceChanged {
            service: s,
            previous: State::Error,
        };
        assert_eq!(line(&same, 1), None);

        let view = ViewRecord {
            name: "v".into(),
            incident_number: 3,
            ..Default::default()
        };
        let v: serde_json::Value =
            serde_json::from_str(&line(&Event::ViewRemoved { view }, 1).unwrap()).unwrap();
        assert_eq!(v["type"], "alarm_removed");
        assert_eq!(v["alarm_removed"]["alarm"]["incident_nbr"], 3);
    }

    #[test]
    fn skipped_events_get_a_line_naming_how_many_of_which_kind() {
        assert_eq!(skipped_line(&[0; 7], 1), None);
        let text = skipped_line(&[0, 1984, 0, 0, 2, 0, 0], 42).unwrap();
        assert!(text.ends_with("}\n"));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["ts"], 42);
        assert_eq!(v["type"], "events_skipped");
        assert_eq!(
            v["events_skipped"],
            serde_json::json!({"service_state_changed": 1984, "alarm_state_changed": 2, "total": 1986})
        );
    }

    #[test]
    fn a_whole_burst_is_written_and_losses_get_their_line() {
        let dir = std::env::temp_dir().join(format!("lovebeat-evburst-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("events.log");
        let _ = std::fs::remove_file(&path);
        let losses = Arc::new(Losses::default());
        let mut log = Log {
            path: path.clone(),
            mode: 0o644,
            file: None,
            counters: Arc::default(),
        };
        let (tx, rx) = crossbeam_channel::unbounded();
        const BURST: usize = 10_000;
        for i in 0..BURST {
            let service = ServiceRecord {
                name: format!("s{i}"),
                state: State::Error,
                ..Default::default()
            };
            let _ = tx.send(Arc::new(Event::ServiceChanged {
                service,
                previous: State::Ok,
            }));
        }
        // Three more the bus could not queue.
        let lost = Event::ServiceChanged {
            service: ServiceRecord::default(),
            previous: State::Ok,
        };
        (0..3).for_each(|_| losses.add(&lost));
        drop(tx);
        let (_reopen_tx, reopen) = bounded(1);
        run(&mut log, &Subscription::new(rx, losses), &reopen);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), BURST + 1);
        let (skipped, written): (Vec<&str>, Vec<&str>) =
            lines.iter().partition(|l| l.contains("events_skipped"));
        for (i, line) in written.iter().enumerate() {
            assert!(line.contains(&format!("\"name\":\"s{i}\"")), "{i}: {line}");
        }
        assert_eq!(skipped.len(), 1);
        assert!(skipped[0].contains("\"service_state_changed\":3,\"total\":3"));
        assert_eq!(Counters::get(&log.counters.eventlog_failures), 3);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn open_sets_the_mode_despite_the_umask_and_appends() {
        let dir = std::env::temp_dir().join(format!("lovebeat-eventlog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("events.log");
        let _ = std::fs::remove_file(&path);
        let mut f = open(&path, 0o666).unwrap();
        f.write_all(b"1\n").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o666);
        assert!(!moved_away(&path, &f));
        let mut g = open(&path, 0o600).unwrap();
        g.write_all(b"2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "1\n2\n");
        std::fs::rename(&path, dir.join("events.log.1")).unwrap();
        assert!(moved_away(&path, &f));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
