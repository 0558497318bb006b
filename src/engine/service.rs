//! One service as the engine holds it: compact (72 bytes; its name is in
//! the engine's arena), with the beat history boxed so services that never beat twice
//! carry no history allocation.

use super::names::NameRef;
use super::timers::UNSCHEDULED;
use super::{auto, RATE_LIMIT_MS};
use crate::model::{Millis, State, HISTORY_LEN, NEVER, TIMEOUT_AUTO, TIMEOUT_NONE};

pub(super) struct Service {
    /// The name, in the engine's `Names` arena.
    pub name: NameRef,
    pub last_beat: Millis,
    /// ms, or TIMEOUT_NONE / TIMEOUT_AUTO / 0.
    pub timeout: Millis,
    /// 0 when not muted.
    pub muted_since: Millis,
    pub last_state_change: Millis,
    /// The deadline this service has in the timer heap, or UNSCHEDULED.
    pub scheduled: Millis,
    /// Intervals between accepted beats, oldest first. Boxed on purpose:
    /// 8 bytes instead of 24 for the many services that never beat twice.
    #[allow(clippy::box_collection)]
    history: Option<Box<Vec<Millis>>>,
    /// Ids of the views it belongs to.
    pub views: Box<[u32]>,
    pub state: State,
    /// Loaded at start-up and not in ERROR then: may not expire before one
    /// timeout after the start.
    pub grace: bool,
    /// `HAS_JOB`, `OWN_TIMEOUT` (in what was padding: no bigger).
    pub flags: u8,
}

/// The service has a `Job` in the engine's `jobs` (SPEC 14).
pub(super) const HAS_JOB: u8 = 1;
/// Its period was set for it (API, statsd, the database), not given by a
/// `[[services]]` block.
pub(super) const OWN_TIMEOUT: u8 = 2;

// A plain service stays as small as before jobs (SPEC 14.3).
const _: () = assert!(std::mem::size_of::<Service>() == 72);

impl Service {
    pub fn new(name: NameRef, now: Millis, views: Box<[u32]>) -> Service {
        Service {
            name,
            last_beat: NEVER,
            timeout: TIMEOUT_NONE,
            muted_since: 0,
            last_state_change: now,
            scheduled: UNSCHEDULED,
            history: None,
            views,
            state: State::New,
            grace: false,
            flags: 0,
        }
    }

    pub fn history(&self) -> &[Millis] {
        self.history.as_deref().map(Vec::as_slice).unwrap_or(&[])
    }

    /// Replaces the history (keeps the newest `HISTORY_LEN`, in order).
    pub fn set_history(&mut self, mut history: Vec<Millis>) {
        if history.is_empty() {
            self.history = None;
            return;
        }
        if history.len() > HISTORY_LEN {
            history.drain(..history.len() - HISTORY_LEN);
        }
        self.history = Some(Box::new(history));
    }

    /// Records a beat at `now` unless it comes within the rate limit of the
    /// previous accepted one. Returns whether it was accepted.
    pub fn beat(&mut self, now: Millis) -> bool {
        if self.last_beat != NEVER {
            let interval = now.saturating_sub(self.last_beat);
            if (0..RATE_LIMIT_MS).contains(&interval) {
                return false;
            }
            // A clock that went backwards gives no interval, but the beat
            // still counts.
            if interval > 0 {
                let history = self.history.get_or_insert_with(|| Box::new(Vec::new()));
                if history.len() == HISTORY_LEN {
                    history.remove(0);
                }
                history.push(interval);
            }
        }
        self.last_beat = now;
        self.grace = false;
        true
    }

    /// The timeout in force in ms, or None when the service never expires
    /// (no timeout, or auto without a measured interval). 0 means "always".
    pub fn effective_timeout(&self) -> Option<Millis> {
        match self.timeout {
            TIMEOUT_AUTO => {
                let history = self.history();
                (!history.is_empty()).then(|| auto::auto_timeout(history))
            }
            t if t >= 0 => Some(t),
            _ => None,
        }
    }
}
