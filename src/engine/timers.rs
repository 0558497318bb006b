//! The expiry schedule: a min-heap of (deadline, service) with lazy
//! rescheduling. Each service remembers the one deadline it has in the heap;
//! a beat that moves the deadline later pushes nothing (the old entry is
//! re-armed when it pops), a deadline that moves earlier pushes a new entry
//! and the old one is recognised as stale when it pops. So the cost is per
//! expiry, never per service per tick, and the heap holds about one entry per
//! service.

use crate::model::Millis;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// "Nothing scheduled" as a service's remembered deadline.
pub const UNSCHEDULED: Millis = Millis::MAX;

#[derive(Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Millis, u32)>>,
}

impl Timers {
    /// Schedules `id` at `deadline` if that is earlier than what `scheduled`
    /// (the service's remembered deadline) says; updates `scheduled`.
    pub fn schedule(&mut self, id: u32, deadline: Millis, scheduled: &mut Millis) {
        if deadline < *scheduled {
            self.heap.push(Reverse((deadline, id)));
            *scheduled = deadline;
        }
    }

    /// The earliest deadline in the heap (possibly a stale one: waking for it
    /// is harmless).
    pub fn next_deadline(&self) -> Option<Millis> {
        self.heap.peek().map(|Reverse((d, _))| *d)
    }

    /// Pops the next entry due at `now`, if any.
    pub fn pop_due(&mut self, now: Millis) -> Option<(Millis, u32)> {
        match self.heap.peek() {
            Some(Reverse((deadline, _))) if *deadline <= now => {
                self.heap.pop().map(|Reverse(entry)| entry)
            }
            _ => None,
        }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Rebuilds the heap from the live deadlines (drops stale entries).
    pub fn rebuild(&mut self, live: impl Iterator<Item = (Millis, u32)>) {
        self.heap = live.map(Reverse).collect();
    }
}
