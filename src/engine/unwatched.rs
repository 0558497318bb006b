//! Time the monitor itself was not watching (the process was stopped, the
//! host stalled, the VM was suspended, the wall clock jumped forward): the
//! state thread detects such a gap and hands it over as a window
//! `(from, to]`; a deadline that fell inside the window is moved later by
//! the window's length, as if the clock had stopped while nobody watched.
//! Like the restart grace (SPEC 2), the missed beats are not the service's
//! fault, and a dead service is still caught: its remaining time (deadline
//! minus `from`) starts over after the window.
//!
//! Lazy, like the timer heap: nothing is rescheduled when a window is noted.
//! `Engine::expiry` asks `shift` about each deadline it computes, so a heap
//! entry that pops inside a window is simply re-armed at the moved deadline
//! (one pop and one push per service that would have expired, never a scan).
//! With no window recorded, `shift` is one branch on the beat path. Windows
//! are forgotten once no deadline they moved can still lie in the future.

use crate::model::Millis;

/// Windows kept at most (the oldest is forgotten beyond this; freezes are
/// rare, and a forgotten one only means an earlier alert, never a lost one).
const MAX_WINDOWS: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Window {
    from: Millis,
    to: Millis,
}

#[derive(Default)]
pub(super) struct Unwatched {
    /// Oldest first.
    windows: Vec<Window>,
    /// No deadline moved by the windows lies after this: once `now` passes
    /// it, the windows change nobody's state and are dropped.
    until: Millis,
}

impl Unwatched {
    /// Records that nobody watched during `(from, to]` (wall-clock ms).
    /// An empty or backwards window is ignored.
    pub fn note(&mut self, from: Millis, to: Millis) {
        if to <= from {
            return;
        }
        if self.windows.len() == MAX_WINDOWS {
            self.windows.remove(0);
        }
        self.windows.push(Window { from, to });
        // A moved deadline is at most the latest `to` plus one window's
        // length (it is moved only while it is inside a window); the sum of
        // all lengths is a safe upper bound.
        let total: Millis = self
            .windows
            .iter()
            .map(|w| w.to - w.from)
            .fold(0, Millis::saturating_add);
        self.until = self.until.max(to.saturating_add(total));
    }

    /// The deadline `at` of a service whose last beat (or, with the restart
    /// grace, the start) was `since`, moved past every window it fell into.
    /// Only deadlines that existed when the window began are moved: a beat
    /// inside or after the window sets its own, fresh deadline.
    #[inline]
    pub fn shift(&self, mut at: Millis, since: Millis) -> Millis {
        if self.windows.is_empty() {
            return at;
        }
        for w in &self.windows {
            if since <= w.from && at > w.from && at <= w.to {
                at = at.saturating_add(w.to - w.from);
            }
        }
        at
    }

    /// Forgets the windows once every deadline they moved has passed.
    pub fn prune(&mut self, now: Millis) {
        if !self.windows.is_empty() && now > self.until {
            self.windows.clear();
            self.until = 0;
        }
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_deadlines_inside_a_window_that_existed_before_it_move() {
        let mut u = Unwatched::default();
        assert_eq!(u.shift(500, 0), 500, "no window: unchanged");
        u.note(1_000, 11_000);
        assert_eq!(u.shift(1_000, 0), 1_000, "at `from`: already due then");
        assert_eq!(u.shift(1_001, 0), 11_001);
        assert_eq!(u.shift(11_000, 0), 21_000);
        assert_eq!(u.shift(11_001, 0), 11_001, "after the window");
        assert_eq!(u.shift(5_000, 2_000), 5_000, "beat inside the window");
    }

    #[test]
    fn a_moved_deadline_can_fall_into_a_later_window() {
        let mut u = Unwatched::default();
        u.note(1_000, 3_000);
        u.note(4_000, 6_000);
        // 2_500 -> 4_500 (first window) -> 6_500 (second)
        assert_eq!(u.shift(2_500, 0), 6_500);
        assert_eq!(u.shift(3_500, 0), 3_500);
    }

    #[test]
    fn empty_windows_are_ignored_and_old_ones_forgotten() {
        let mut u = Unwatched::default();
        u.note(5_000, 5_000);
        u.note(5_000, 4_000);
        assert!(u.is_empty());
        u.note(1_000, 3_000);
        u.prune(5_000);
        assert!(!u.is_empty(), "a moved deadline may still be ahead");
        u.prune(5_001);
        assert!(u.is_empty());
        for i in 0..(MAX_WINDOWS as Millis + 4) {
            u.note(i * 10, i * 10 + 5);
        }
        assert_eq!(u.windows.len(), MAX_WINDOWS);
        assert_eq!(u.shift(3, 0), 3, "the oldest were dropped");
    }
}
