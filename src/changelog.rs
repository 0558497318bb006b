//! The state-change log: every service and view changing state is logged at
//! info level, whether or not an alert is configured, from a thread of its
//! own ("changelog"):
//!
//! `service backup.db1 ok -> error`, `view backups ok -> error (incident 4)`
//!
//! A burst (a partition failing 5,000 services at once) must not become
//! 5,000 lines: [`Burst`] lets [`LINES_PER_WINDOW`] lines per kind (services,
//! views) through per second and counts the rest, which one line then sums
//! up per transition:
//!
//! `... and 4,980 more service state changes in the last second (4,980 ok->error)`
//!
//! Events arrive on a bounded subscription ([`QUEUE_BASE`] + 4 per view,
//! `events::Limit::Views`); the state thread never waits for this thread,
//! and what the bus could not queue is counted ([`Losses`]) and named in the
//! same summary ("N not seen: the log's queue was full"). The policy is
//! plain code with `now` as an argument.

use crate::clock::now_ms;
use crate::events::{Event, Interest, Limit, Subscription, KIND_NAMES};
use crate::model::{Millis, State};
use crate::state::StateHandle;
use crossbeam_channel::RecvTimeoutError;
use std::io;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Lines per kind (services, views) logged one by one in a window.
pub const LINES_PER_WINDOW: u32 = 20;
/// The window: one second.
pub const WINDOW_MS: Millis = 1000;
/// Change events waiting to be logged, at most this many plus 4 per view:
/// more than the lines it may print, so the summary counts every
/// transition of a burst of this size exactly.
pub const QUEUE_BASE: usize = 16_384;

/// The rate limit of one kind of line: at most `limit` lines per window of
/// `window` ms, the window starting at the first change after a quiet spell;
/// what is held back is counted per transition for the summary line.
#[derive(Debug)]
pub struct Burst {
    noun: &'static str,
    limit: u32,
    window: Millis,
    /// Start of the open window (`None` = none open).
    start: Option<Millis>,
    shown: u32,
    /// Held back in this window, per (from, to).
    held: Vec<((State, State), u64)>,
    /// Lost before we saw them (the queue was full), in this window.
    lost: u64,
}

impl Burst {
    /// `noun` names the kind in the summary ("service", "view").
    pub fn new(noun: &'static str, limit: u32, window: Millis) -> Burst {
        Burst {
            noun,
            limit,
            window,
            start: None,
            shown: 0,
            held: Vec::new(),
            lost: 0,
        }
    }

    /// When the open window ends (and its summary, if any, is due).
    pub fn deadline(&self) -> Option<Millis> {
        self.start.map(|s| s.saturating_add(self.window))
    }

    /// Closes the window when it has ended by `now`: returns its summary
    /// line when something was held back or lost. Call before [`admit`].
    ///
    /// [`admit`]: Burst::admit
    pub fn roll(&mut self, now: Millis) -> Option<String> {
        if self.deadline().is_some_and(|end| now >= end) {
            let line = self.summary();
            self.start = None;
            self.shown = 0;
            self.held.clear();
            self.lost = 0;
            return line;
        }
        None
    }

    /// A change `from -> to` at `now`: true when it is to be logged now,
    /// false when it is counted for the summary.
    pub fn admit(&mut self, from: State, to: State, now: Millis) -> bool {
        if self.start.is_none() {
            self.start = Some(now);
        }
        if self.shown < self.limit {
            self.shown += 1;
            return true;
        }
        match self.held.iter_mut().find(|(t, _)| *t == (from, to)) {
            Some((_, n)) => *n += 1,
            None => self.held.push(((from, to), 1)),
        }
        false
    }

    /// `n` changes of this kind lost before this thread saw them.
    pub fn lose(&mut self, n: u64, now: Millis) {
        if n > 0 {
            self.start.get_or_insert(now);
            self.lost += n;
        }
    }

    /// The summary of the open window, if anything was held back or lost.
    fn summary(&self) -> Option<String> {
        let held: u64 = self.held.iter().map(|(_, n)| n).sum();
        if held == 0 && self.lost == 0 {
            return None;
        }
        let mut line = String::from("... and ");
        let window = if self.window == 1000 {
            "the last second".to_string()
        } else {
            format!("the last {} ms", self.window)
        };
        if held > 0 {
            let mut by_kind = self.held.clone();
            by_kind.sort_by_key(|b| std::cmp::Reverse(b.1));
            let parts: Vec<String> = by_kind
                .iter()
                .map(|((from, to), n)| {
                    format!("{} {}->{}", thousands(*n), from.as_str(), to.as_str())
                })
                .collect();
            line.push_str(&format!(
                "{} more {} state change{} in {window} ({})",
                thousands(held),
                self.noun,
                if held == 1 { "" } else { "s" },
                parts.join(", ")
            ));
        }
        if self.lost > 0 {
            if held > 0 {
                line.push_str("; ");
            }
            line.push_str(&format!(
                "{} {} change{} in {window} not seen: the log's queue was full",
                thousands(self.lost),
                self.noun,
                if self.lost == 1 { "" } else { "s" },
            ));
        }
        Some(line)
    }
}

/// `12345` as `12,345`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The line for one state change, or `None` for an event that is none
/// (additions, removals, beats, timeout changes).
pub fn line(event: &Event) -> Option<String> {
    match event {
        Event::ServiceChanged { service, previous } if service.state != *previous => Some(format!(
            "service {} {} -> {}",
            service.name,
            previous.as_str(),
            service.state.as_str()
        )),
        Event::ViewChanged { view, previous } if view.state != *previous => {
            let incident = if view.incident_number > 0 {
                format!(" (incident {})", view.incident_number)
            } else {
                String::new()
            };
            Some(format!(
                "view {} {} -> {}{incident}",
                view.name,
                previous.as_str(),
                view.state.as_str()
            ))
        }
        _ => None,
    }
}

/// The two limits and what to do with each event; sans-IO (`now` is an
/// argument, lines are handed to `out`).
pub struct ChangeLog {
    pub services: Burst,
    pub views: Burst,
}

impl Default for ChangeLog {
    fn default() -> Self {
        ChangeLog {
            services: Burst::new("service", LINES_PER_WINDOW, WINDOW_MS),
            views: Burst::new("view", LINES_PER_WINDOW, WINDOW_MS),
        }
    }
}

impl ChangeLog {
    /// Summaries of the windows that have ended by `now`.
    pub fn roll(&mut self, now: Millis, out: &mut impl FnMut(String)) {
        for burst in [&mut self.views, &mut self.services] {
            if let Some(line) = burst.roll(now) {
                out(line);
            }
        }
    }

    /// One event: its line, now or counted for a summary.
    pub fn event(&mut self, event: &Event, now: Millis, out: &mut impl FnMut(String)) {
        // First the summaries due (also on events that are not logged, so
        // a stream of additions does not hold them back).
        self.roll(now, out);
        let (is_view, from, to) = match event {
            Event::ServiceChanged { service, previous } if service.state != *previous => {
                (false, *previous, service.state)
            }
            Event::ViewChanged { view, previous } if view.state != *previous => {
                (true, *previous, view.state)
            }
            _ => return,
        };
        let burst = if is_view {
            &mut self.views
        } else {
            &mut self.services
        };
        if burst.admit(from, to, now) {
            if let Some(line) = line(event) {
                out(line);
            }
        }
    }

    /// Losses per kind (`Losses::take`): the changed kinds go into the
    /// summaries (additions and removals are not logged anyway).
    pub fn lost(&mut self, lost: &[u64; crate::events::KINDS], now: Millis) {
        debug_assert_eq!(KIND_NAMES[1], "service_changed");
        debug_assert_eq!(KIND_NAMES[4], "view_changed");
        self.services.lose(lost[1], now);
        self.views.lose(lost[4], now);
    }

    /// The earliest moment a summary is due.
    pub fn deadline(&self) -> Option<Millis> {
        match (self.services.deadline(), self.views.deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Starts the changelog thread (subscribed before it returns, so no change
/// after this call is missed). It ends when the state thread does.
pub fn spawn(state: &StateHandle) -> io::Result<JoinHandle<()>> {
    let events = state
        .subscribe_limited(
            Interest::StateChanges,
            Limit::Views {
                base: QUEUE_BASE,
                per_view: 4,
            },
        )
        .map_err(|e| io::Error::other(e.to_string()))?;
    std::thread::Builder::new()
        .name("changelog".into())
        .spawn(move || run(&events))
}

fn run(events: &Subscription) {
    let mut log = ChangeLog::default();
    let mut out = |line: String| log::info!("{line}");
    loop {
        let next = match log.deadline() {
            Some(at) => {
                let wait = at.saturating_sub(now_ms());
                events.recv_deadline(Instant::now() + Duration::from_millis(wait as u64))
            }
            None => events.recv(),
        };
        let now = now_ms();
        log.lost(&events.take_losses(), now);
        match next {
            Ok(event) => log.event(&event, now, &mut out),
            Err(RecvTimeoutError::Timeout) => log.roll(now, &mut out),
            Err(RecvTimeoutError::Disconnected) => {
                log.roll(Millis::MAX, &mut out);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ServiceRecord, ViewRecord};

    fn svc(name: &str, from: State, to: State) -> Event {
        Event::ServiceChanged {
            service: ServiceRecord {
                name: name.into(),
                state: to,
                ..Default::default()
            },
            previous: from,
        }
    }

    fn feed(log: &mut ChangeLog, events: &[(Event, Millis)]) -> Vec<String> {
        let mut lines = Vec::new();
        for (event, now) in events {
            log.event(event, *now, &mut |l| lines.push(l));
        }
        lines
    }

    #[test]
    fn lines_name_the_change() {
        assert_eq!(
            line(&svc("backup.db1", State::Ok, State::Error)).as_deref(),
            Some("service backup.db1 ok -> error")
        );
        assert_eq!(line(&svc("a", State::Ok, State::Ok)), None);
        let view = |incident_number| Event::ViewChanged {
            view: ViewRecord {
                name: "backups".into(),
                state: State::Error,
                incident_number,
                ..Default::default()
            },
            previous: State::Ok,
        };
        assert_eq!(
            line(&view(4)).as_deref(),
            Some("view backups ok -> error (incident 4)")
        );
        assert_eq!(line(&view(0)).as_deref(), Some("view backups ok -> error"));
        let added = Event::ServiceAdded {
            service: ServiceRecord::default(),
        };
        assert_eq!(line(&added), None);
    }

    #[test]
    fn a_burst_gives_the_limit_then_one_summary_per_window() {
        let mut log = ChangeLog::default();
        let mut events: Vec<(Event, Millis)> = (0..5000)
            .map(|i| (svc(&format!("s{i}"), State::Ok, State::Error), 10_000))
            .collect();
        events.push((svc("late", State::New, State::Ok), 10_500));
        let lines = feed(&mut log, &events);
        assert_eq!(lines.len(), LINES_PER_WINDOW as usize);
        assert_eq!(lines[0], "service s0 ok -> error");
        assert_eq!(log.deadline(), Some(11_000));
        let mut summary = Vec::new();
        log.roll(10_999, &mut |l| summary.push(l));
        assert!(summary.is_empty(), "not before the window ends");
        log.roll(11_000, &mut |l| summary.push(l));
        assert_eq!(
            summary,
            ["... and 4,981 more service state changes in the last second (4,980 ok->error, 1 new->ok)"]
        );
        assert_eq!(log.deadline(), None);
        // A quiet spell: the next change is logged at once, in a new window.
        let lines = feed(&mut log, &[(svc("x", State::Error, State::Ok), 20_000)]);
        assert_eq!(lines, ["service x error -> ok"]);
        let mut summary = Vec::new();
        log.roll(21_000, &mut |l| summary.push(l));
        assert!(summary.is_empty(), "nothing held back, nothing to sum up");
    }

    #[test]
    fn the_next_event_after_the_window_brings_the_summary_first() {
        let mut log = ChangeLog::default();
        let events: Vec<(Event, Millis)> = (0..25)
            .map(|i| (svc(&format!("s{i}"), State::Ok, State::Error), 0))
            .chain([(svc("next", State::Error, State::Ok), 1500)])
            .collect();
        let lines = feed(&mut log, &events);
        assert_eq!(lines.len(), 22);
        assert_eq!(
            lines[20],
            "... and 5 more service state changes in the last second (5 ok->error)"
        );
        assert_eq!(lines[21], "service next error -> ok");
        // An event that is not logged (an addition) brings a due summary too.
        let burst: Vec<(Event, Millis)> = (0..21)
            .map(|i| (svc(&format!("t{i}"), State::Ok, State::Error), 5000))
            .collect();
        assert_eq!(feed(&mut log, &burst).len(), 20, "20 lines, one held back");
        let added = Event::ServiceAdded {
            service: ServiceRecord::default(),
        };
        let lines = feed(&mut log, &[(added, 6000)]);
        assert_eq!(
            lines,
            ["... and 1 more service state change in the last second (1 ok->error)"]
        );
    }

    #[test]
    fn views_have_their_own_budget_and_losses_are_summed_up() {
        let mut log = ChangeLog::default();
        let mut events: Vec<(Event, Millis)> = (0..100)
            .map(|i| (svc(&format!("s{i}"), State::Ok, State::Error), 0))
            .collect();
        let view = Event::ViewChanged {
            view: ViewRecord {
                name: "v".into(),
                state: State::Error,
                incident_number: 1,
                ..Default::default()
            },
            previous: State::Ok,
        };
        events.push((view, 0));
        let lines = feed(&mut log, &events);
        assert_eq!(
            lines.last().map(String::as_str),
            Some("view v ok -> error (incident 1)")
        );
        log.lost(&[7, 300, 0, 0, 1, 0, 0], 10);
        let mut summary = Vec::new();
        log.roll(1000, &mut |l| summary.push(l));
        assert_eq!(
            summary,
            [
                "... and 1 view change in the last second not seen: the log's queue was full",
                "... and 80 more service state changes in the last second (80 ok->error); \
                 300 service changes in the last second not seen: the log's queue was full",
            ]
        );
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(9950), "9,950");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
