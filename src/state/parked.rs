//! Updates of known services parked for the state thread without waking
//! it (`StateHandle::update`): a fire-and-forget beat no longer costs a
//! futex wake and two thread switches each (lovebeat issue 13).
//!
//! Each update carries the moment it arrived, and is applied with it. The
//! state thread takes everything parked before every command it handles
//! (so a later request of the same client, queued behind the beat, sees
//! it), before it expires services, and while it takes parked updates at
//! all, at least every `POLL`. When a look finds nothing parked, it arms
//! the slot: the next update parked then wakes the thread (one
//! `Command::Wake`), so a lone beat (a recovery) is applied at once and a
//! stream of them at most `POLL` after it arrived. Bounded: at `CAP` a
//! sender uses the command queue as before. Off (`enabled` false) unless a
//! state thread took it, so handles without one see every update queued.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::clock::now_ms;
use crate::engine::Engine;
use crate::events::Event;
use crate::model::{Millis, Update};

/// Updates parked at most; beyond, they go through the command queue.
const CAP: usize = 4096;

/// How often the state thread looks while updates keep coming.
pub const POLL: Duration = Duration::from_millis(2);

/// One parked update: the service, the update, when it arrived.
pub type ParkedUpdate = (String, Update, Millis);

#[derive(Default)]
pub struct Parked {
    enabled: AtomicBool,
    slot: Mutex<Slot>,
}

#[derive(Default)]
struct Slot {
    updates: Vec<ParkedUpdate>,
    /// The state thread found nothing and waits to be woken.
    armed: bool,
}

/// What `park` did.
pub enum Parking {
    /// Parked; the state thread waits and must be woken.
    Wake,
    /// Parked; the state thread will look on its own.
    Quiet,
    /// Not parked (off, or full): send it as a command.
    Refused(String, Update),
}

impl Parked {
    /// A state thread takes parked updates from now on.
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::SeqCst);
    }

    pub fn park(&self, name: String, update: Update, at: Millis) -> Parking {
        if !self.enabled.load(Ordering::Relaxed) {
            return Parking::Refused(name, update);
        }
        let Ok(mut slot) = self.slot.lock() else {
            return Parking::Refused(name, update);
        };
        if slot.updates.len() >= CAP {
            return Parking::Refused(name, update);
        }
        slot.updates.push((name, update, at));
        if std::mem::take(&mut slot.armed) {
            Parking::Wake
        } else {
            Parking::Quiet
        }
    }

    /// Moves every parked update into `into` (emptied first, its buffer
    /// kept and swapped with the slot's). When there was none, arms the
    /// slot and returns false.
    pub fn take(&self, into: &mut Vec<ParkedUpdate>) -> bool {
        into.clear();
        let Ok(mut slot) = self.slot.lock() else {
            return false;
        };
        if slot.updates.is_empty() {
            slot.armed = true;
            return false;
        }
        std::mem::swap(&mut slot.updates, into);
        slot.armed = false;
        true
    }
}

/// The state thread's end: takes and applies parked updates.
pub struct Taker {
    parked: Option<Arc<Parked>>,
    updates: Vec<ParkedUpdate>,
    /// When to look again, while updates keep coming.
    poll_at: Option<Instant>,
}

impl Taker {
    pub fn new(parked: Option<Arc<Parked>>) -> Self {
        Taker {
            parked,
            updates: Vec::new(),
            poll_at: None,
        }
    }

    pub fn poll_at(&self) -> Option<Instant> {
        self.poll_at
    }

    /// Applies the parked updates, each at the moment it arrived, telling
    /// `counted` whether each was a beat; looks again in `POLL` if there
    /// were any (else the slot is armed and the next one wakes us).
    pub fn take(&mut self, engine: &mut Engine, events: &mut Vec<Event>, counted: impl Fn(bool)) {
        let Some(parked) = &self.parked else {
            return;
        };
        if !parked.take(&mut self.updates) {
            self.poll_at = None;
            return;
        }
        let now = now_ms();
        for (name, update, at) in self.updates.drain(..) {
            // Gone: as `UpdateKnown` (a delete came between).
            if engine.contains(&name) {
                if let Ok(applied) = engine.apply(&name, update, at.min(now), events) {
                    counted(applied.beat);
                }
            }
        }
        self.poll_at = Some(Instant::now() + POLL);
    }
}

#[cfg(test)]
impl Parked {
    pub fn is_empty(&self) -> bool {
        self.slot.lock().map_or(true, |s| s.updates.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parked_update_wakes_only_an_armed_thread() {
        let parked = Parked::default();
        assert!(matches!(
            parked.park("a".into(), Update::Beat, 1),
            Parking::Refused(..)
        ));
        parked.enable();
        let mut got = Vec::new();
        assert!(!parked.take(&mut got), "nothing: armed");
        assert!(matches!(
            parked.park("a".into(), Update::Beat, 5),
            Parking::Wake
        ));
        assert!(matches!(
            parked.park("b".into(), Update::Beat, 6),
            Parking::Quiet
        ));
        assert!(parked.take(&mut got));
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].0.as_str(), got[0].2), ("a", 5));
        assert!(matches!(
            parked.park("c".into(), Update::Beat, 7),
            Parking::Quiet
        ));
        for i in 0..CAP {
            parked.park(format!("s{i}"), Update::Beat, 8);
        }
        assert!(matches!(
            parked.park("d".into(), Update::Beat, 9),
            Parking::Refused(..)
        ));
    }
}
