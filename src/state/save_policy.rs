//! When the state thread saves (SPEC 8), as a sans-IO policy: every method
//! takes `now`, so each rule is a fast unit test. The thread feeds it what
//! happened (a change, a save started, a save's outcome from the saver's
//! reply) and asks it whether a save is due and when to look again.
//!
//! The rules: a change other than a beat is saved within
//! [`DIRTY_SAVE_DELAY`]; every `interval` a save happens if anything (a
//! beat) changed since the last one; a failed save is tried again
//! [`SAVE_RETRY_DELAY`] later (and again while it fails); a change after a
//! failure is saved at the sooner of its own delay and the retry.

use std::time::{Duration, Instant};

/// A change other than a beat is saved within this delay (SPEC 8: 1 s,
/// leaving room for the snapshot and the write).
pub const DIRTY_SAVE_DELAY: Duration = Duration::from_millis(300);
/// A failed save is tried again this much later (and again, while it fails).
pub const SAVE_RETRY_DELAY: Duration = Duration::from_secs(5);

/// What [`SavePolicy::due`] says to do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    /// Nothing before [`SavePolicy::deadline`].
    No,
    /// A change (or a retry) must be saved now.
    Save,
    /// The periodic save: save if anything changed since the last save,
    /// else call [`SavePolicy::skipped`].
    IfChanged,
}

#[derive(Debug)]
pub struct SavePolicy {
    interval: Duration,
    next_periodic: Instant,
    /// When the change (or retry) not saved yet must be saved.
    due_at: Option<Instant>,
}

impl SavePolicy {
    pub fn new(now: Instant, interval: Duration) -> Self {
        SavePolicy {
            interval,
            next_periodic: later(now, interval),
            due_at: None,
        }
    }

    /// A change other than a beat: due `DIRTY_SAVE_DELAY` from now, or
    /// sooner if a save was already due sooner (never later: a planned
    /// retry must not hold back a new change's save).
    pub fn changed(&mut self, now: Instant) {
        self.due_sooner(later(now, DIRTY_SAVE_DELAY));
    }

    /// The saver could not take a snapshot (its queue was full): try again
    /// soon, like a new change.
    pub fn postponed(&mut self, now: Instant) {
        self.changed(now);
    }

    /// Whether a save is due at `now`.
    pub fn due(&self, now: Instant) -> Due {
        if self.due_at.is_some_and(|at| now >= at) {
            Due::Save
        } else if now >= self.next_periodic {
            Due::IfChanged
        } else {
            Due::No
        }
    }

    /// A save (snapshot) starts now: it covers every change so far.
    pub fn started(&mut self, now: Instant) {
        self.due_at = None;
        self.next_periodic = later(now, self.interval);
    }

    /// The periodic save found nothing changed: the next one is an
    /// `interval` later.
    pub fn skipped(&mut self, now: Instant) {
        self.next_periodic = later(now, self.interval);
    }

    /// The saver answered for the last save. After a failure (disk full, a
    /// vanished directory) another try is due `SAVE_RETRY_DELAY` later, or
    /// sooner if a change is waiting: a change is never left unsaved just
    /// because nothing else changes afterwards.
    pub fn finished(&mut self, now: Instant, ok: bool) {
        if !ok {
            self.due_sooner(later(now, SAVE_RETRY_DELAY));
        }
    }

    /// The next moment `due` can change its answer.
    pub fn deadline(&self) -> Instant {
        self.due_at
            .map_or(self.next_periodic, |at| at.min(self.next_periodic))
    }

    fn due_sooner(&mut self, at: Instant) {
        self.due_at = Some(self.due_at.map_or(at, |planned| planned.min(at)));
    }
}

/// `now + d`, or a year from now if that does not fit an `Instant`.
fn later(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(365 * 86_400)))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_secs(60);

    fn ms(t: Instant, ms: u64) -> Instant {
        t + Duration::from_millis(ms)
    }

    #[test]
    fn a_quiet_server_only_has_periodic_checks() {
        let t = Instant::now();
        let mut p = SavePolicy::new(t, INTERVAL);
        assert_eq!(p.due(t), Due::No);
        assert_eq!(p.deadline(), t + INTERVAL);
        assert_eq!(p.due(ms(t, 59_999)), Due::No);
        assert_eq!(p.due(t + INTERVAL), Due::IfChanged);
        // Nothing changed: the next check is an interval later.
        p.skipped(t + INTERVAL);
        assert_eq!(p.due(t + INTERVAL), Due::No);
        assert_eq!(p.deadline(), t + 2 * INTERVAL);
    }

    #[test]
    fn a_change_is_due_within_the_dirty_delay() {
        let t = Instant::now();
        let mut p = SavePolicy::new(t, INTERVAL);
        p.changed(ms(t, 1_000));
        assert_eq!(p.deadline(), ms(t, 1_300));
        assert_eq!(p.due(ms(t, 1_299)), Due::No);
        assert_eq!(p.due(ms(t, 1_300)), Due::Save);
        // A later change does not push the save back.
        p.changed(ms(t, 1_200));
        assert_eq!(p.deadline(), ms(t, 1_300));
        p.started(ms(t, 1_300));
        assert_eq!(p.due(ms(t, 1_300)), Due::No);
        // Starting a save also restarts the periodic interval.
        assert_eq!(p.deadline(), ms(t, 1_300) + INTERVAL);
    }

    #[test]
    fn a_failed_save_is_retried_while_it_fails() {
        let t = Instant::now();
        let mut p = SavePolicy::new(t, INTERVAL);
        p.changed(t);
        p.started(ms(t, 300));
        p.finished(ms(t, 400), false);
        assert_eq!(p.deadline(), ms(t, 5_400));
        assert_eq!(p.due(ms(t, 5_399)), Due::No);
        assert_eq!(p.due(ms(t, 5_400)), Due::Save);
        p.started(ms(t, 5_400));
        p.finished(ms(t, 5_500), false);
        assert_eq!(p.due(ms(t, 10_500)), Due::Save, "and again");
        p.started(ms(t, 10_500));
        p.finished(ms(t, 10_600), true);
        assert_eq!(p.due(ms(t, 20_000)), Due::No, "no retry after a success");
    }

    #[test]
    fn a_change_after_a_failure_is_saved_at_the_sooner_of_both() {
        let t = Instant::now();
        let mut p = SavePolicy::new(t, INTERVAL);
        p.started(t);
        p.finished(ms(t, 100), false); // retry at 5_100
        p.changed(ms(t, 1_000));
        assert_eq!(p.deadline(), ms(t, 1_300), "the change is not held back");
        // A failure while a change is waiting keeps the change's moment.
        let mut p = SavePolicy::new(t, INTERVAL);
        p.changed(ms(t, 1_000));
        p.finished(ms(t, 1_100), false);
        assert_eq!(p.deadline(), ms(t, 1_300));
    }

    #[test]
    fn a_postponed_save_is_due_again_soon() {
        let t = Instant::now();
        let mut p = SavePolicy::new(t, INTERVAL);
        p.changed(t);
        p.started(ms(t, 300));
        p.postponed(ms(t, 310));
        assert_eq!(p.due(ms(t, 610)), Due::Save);
    }

    #[test]
    fn a_successful_save_changes_nothing_else() {
        let t = Instant::now();
        let mut p = SavePolicy::new(t, INTERVAL);
        p.started(t);
        p.changed(ms(t, 50)); // a change during the write
        p.finished(ms(t, 100), true);
        assert_eq!(p.due(ms(t, 350)), Due::Save, "the newer change still goes");
    }

    #[test]
    fn a_huge_interval_does_not_overflow() {
        let t = Instant::now();
        let p = SavePolicy::new(t, Duration::MAX);
        assert_eq!(p.due(t), Due::No);
        assert!(p.deadline() > t);
    }
}
