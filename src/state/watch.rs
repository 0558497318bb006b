//! Notices time the state thread was not watching: the process was stopped
//! (SIGSTOP, a stalled host) or the VM suspended. Sans-IO: the thread
//! passes in both clocks each time it looks at them, and says when it means
//! to look next (its planned wake-up); coming back much later than planned
//! gives an unwatched window for `Engine::note_unwatched`.
//!
//! Two clocks, because they fail differently: a stopped process sees the
//! monotonic clock run on past its planned wake-up; a suspended VM may see
//! the monotonic clock stand still while the wall clock (which the engine's
//! deadlines use) jumps forward on resume. Being late on either counts. A
//! wall clock stepped forward by hand or by NTP looks the same and is
//! treated the same (the beats did not really get older); one stepped back
//! only makes deadlines later, which needs nothing.
//!
//! While the thread is busy it is expected back at once, so a freeze in the
//! middle of a command is caught too; the one command that may legitimately
//! block for long (a save on request, waiting for the disk) is `excuse`d.

use crate::model::Millis;
use std::time::{Duration, Instant};

/// Coming back this much later than planned is a freeze. Far above what
/// load alone does to a runnable thread: even with all 1,024 HTTP connection
/// threads runnable on 2 cores, Linux's scheduler runs each within about
/// 1,024 × 3 ms / 2 ≈ 1.5 s, and a sleeping thread that wakes gets the CPU
/// far sooner; the state thread's own steps are bounded to milliseconds.
/// A false alarm would only move some deadlines by the gap (a dead service
/// caught seconds later, never a false or lost alert).
pub const FREEZE_THRESHOLD: Duration = Duration::from_secs(2);

/// The window goes on this long after the thaw: beats queued meanwhile
/// (kernel UDP buffers, waiting HTTP connections, the command queue) are
/// read before any moved deadline can fire.
pub const SETTLE_MS: Millis = 1_000;

pub struct Watch {
    /// When the thread last looked at the clocks.
    seen: (Instant, Millis),
    /// When it means to look again (None: no plan, e.g. sleeping until a
    /// command with nothing scheduled).
    due: Option<(Instant, Millis)>,
}

impl Watch {
    pub fn new(mono: Instant, wall: Millis) -> Watch {
        Watch {
            seen: (mono, wall),
            due: Some((mono, wall)),
        }
    }

    /// The thread is going to sleep until `wake` (or a command, whichever
    /// comes first); None means no wake-up is planned.
    pub fn sleep_until(&mut self, wake: Option<Instant>) {
        let (mono, wall) = self.seen;
        self.due = wake.map(|at| {
            let at = at.max(mono);
            let ms = Millis::try_from(at.duration_since(mono).as_millis()).unwrap_or(Millis::MAX);
            (at, wall.saturating_add(ms))
        });
    }

    /// The thread looks at the clocks. Returns the unwatched window
    /// `(from, to]` in wall-clock ms when it is much later than planned on
    /// either clock: from the last moment it looked, to now plus the settle
    /// time. Afterwards the thread is expected back at once (busy).
    pub fn observe(&mut self, mono: Instant, wall: Millis) -> Option<(Millis, Millis)> {
        let window = self.due.and_then(|(due_mono, due_wall)| {
            let late_mono = mono.saturating_duration_since(due_mono);
            let late_wall = Duration::from_millis(u64::try_from(wall - due_wall).unwrap_or(0));
            (late_mono.max(late_wall) > FREEZE_THRESHOLD).then(|| {
                let from = self.seen.1;
                (from, wall.max(from).saturating_add(SETTLE_MS))
            })
        });
        self.seen = (mono, wall);
        self.due = Some(self.seen);
        window
    }

    /// The thread chose to wait (a save on request): restart the watch
    /// without calling the wait a freeze.
    pub fn excuse(&mut self, mono: Instant, wall: Millis) {
        self.seen = (mono, wall);
        self.due = Some(self.seen);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W0: Millis = 1_700_000_000_000;

    fn at(base: Instant, ms: u64) -> Instant {
        base + Duration::from_millis(ms)
    }

    #[test]
    fn waking_on_time_or_early_is_no_freeze() {
        let t = Instant::now();
        let mut w = Watch::new(t, W0);
        w.sleep_until(Some(at(t, 5_000)));
        assert_eq!(w.observe(at(t, 300), W0 + 300), None, "a command came");
        w.sleep_until(Some(at(t, 5_000)));
        assert_eq!(w.observe(at(t, 5_010), W0 + 5_010), None, "on time");
        w.sleep_until(Some(at(t, 9_000)));
        // Late by exactly the threshold: load, not a freeze.
        assert_eq!(w.observe(at(t, 11_000), W0 + 11_000), None);
    }

    #[test]
    fn waking_much_later_than_planned_is_a_freeze() {
        let t = Instant::now();
        let mut w = Watch::new(t, W0);
        w.observe(at(t, 1_000), W0 + 1_000);
        w.sleep_until(Some(at(t, 1_200)));
        // Stopped; woken 15 s later on both clocks.
        let window = w.observe(at(t, 16_200), W0 + 16_200);
        assert_eq!(window, Some((W0 + 1_000, W0 + 16_200 + SETTLE_MS)));
        // And the next turn, on time, is normal again.
        w.sleep_until(Some(at(t, 16_300)));
        assert_eq!(w.observe(at(t, 16_300), W0 + 16_300), None);
    }

    #[test]
    fn a_late_command_wake_up_is_a_freeze_too() {
        // The first thing after the thaw may be a queued command, not the
        // timeout: lateness is against the plan, whatever woke the thread.
        let t = Instant::now();
        let mut w = Watch::new(t, W0);
        w.sleep_until(Some(at(t, 100)));
        assert!(w.observe(at(t, 12_000), W0 + 12_000).is_some());
    }

    #[test]
    fn a_suspended_vm_shows_on_the_wall_clock() {
        // The monotonic clock stood still; the wall clock jumped 20 s.
        let t = Instant::now();
        let mut w = Watch::new(t, W0);
        w.sleep_until(Some(at(t, 500)));
        let window = w.observe(at(t, 500), W0 + 20_500);
        assert_eq!(window, Some((W0, W0 + 20_500 + SETTLE_MS)));
    }

    #[test]
    fn a_wall_clock_stepped_back_is_no_freeze() {
        let t = Instant::now();
        let mut w = Watch::new(t, W0);
        w.sleep_until(Some(at(t, 500)));
        assert_eq!(w.observe(at(t, 500), W0 - 60_000), None);
    }

    #[test]
    fn a_long_sleep_with_nothing_due_is_no_freeze() {
        let t = Instant::now();
        let mut w = Watch::new(t, W0);
        w.sleep_until(Some(at(t, 60_000)));
        assert_eq!(w.observe(at(t, 59_000), W0 + 59_000), None);
        w.sleep_until(None);
        assert_eq!(w.observe(at(t, 600_000), W0 + 600_000), None);
    }

    #[test]
    fn busy_means_back_at_once_unless_excused() {
        let t = Instant::now();
        let mut w = Watch::new(t, W0);
        w.observe(at(t, 0), W0);
        // A command took 50 ms: fine.
        assert_eq!(w.observe(at(t, 50), W0 + 50), None);
        // Stopped in the middle of a command for 10 s.
        assert_eq!(
            w.observe(at(t, 10_050), W0 + 10_050),
            Some((W0 + 50, W0 + 10_050 + SETTLE_MS))
        );
        // A save on request waited 30 s for the disk: excused.
        w.excuse(at(t, 40_050), W0 + 40_050);
        assert_eq!(w.observe(at(t, 40_060), W0 + 40_060), None);
    }
}
