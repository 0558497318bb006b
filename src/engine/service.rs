//! One service as the engine holds it: compact (72 bytes; its name is in
//! the engine's arena), with the beat history boxed so services that never beat twice
//! carry no history allocation. An adaptive service (SPEC 19) keeps its
//! model in that box too, so plain services do not grow.

use super::adaptive::Adaptive;
use super::names::NameRef;
use super::timers::UNSCHEDULED;
use super::{auto, RATE_LIMIT_MS};
use crate::model::{
    Millis, State, HISTORY_LEN, NEVER, TIMEOUT_ADAPTIVE, TIMEOUT_AUTO, TIMEOUT_NONE,
};

pub(super) struct Service {
    /// The name, in the engine's `Names` arena.
    pub name: NameRef,
    pub last_beat: Millis,
    /// ms, or TIMEOUT_NONE / TIMEOUT_AUTO / TIMEOUT_ADAPTIVE / 0. Set it
    /// with `set_timeout`, which keeps the adaptive model in step.
    timeout: Millis,
    /// 0 when not muted.
    pub muted_since: Millis,
    pub last_state_change: Millis,
    /// The deadline this service has in the timer heap, or UNSCHEDULED.
    pub scheduled: Millis,
    /// Intervals between accepted beats, oldest first, and the adaptive
    /// model when the timeout is adaptive. Boxed on purpose: 8 bytes for
    /// the many services that never beat twice.
    history: Option<Box<History>>,
    /// Ids of the views it belongs to.
    pub views: Box<[u32]>,
    pub state: State,
    /// Loaded at start-up and not in ERROR then: may not expire before one
    /// timeout after the start.
    pub grace: bool,
    /// `HAS_JOB`, `OWN_TIMEOUT` (in what was padding: no bigger).
    pub flags: u8,
}

/// What a service keeps out of line: its beat intervals and, only while its
/// timeout is adaptive, the model (boxed again: auto services do not pay
/// its 232 bytes).
#[derive(Default)]
struct History {
    intervals: Vec<Millis>,
    model: Option<Box<Adaptive>>,
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
        self.history
            .as_deref()
            .map(|h| h.intervals.as_slice())
            .unwrap_or(&[])
    }

    pub fn timeout(&self) -> Millis {
        self.timeout
    }

    /// Sets the timeout; becoming adaptive builds the model from the beat
    /// history, leaving adaptive drops it.
    pub fn set_timeout(&mut self, timeout: Millis) {
        let was = self.timeout;
        self.timeout = timeout;
        if (was == TIMEOUT_ADAPTIVE) != (timeout == TIMEOUT_ADAPTIVE) {
            self.rebuild_model();
        }
    }

    /// The adaptive model, when the timeout is adaptive.
    pub fn model(&self) -> Option<&Adaptive> {
        self.history.as_deref().and_then(|h| h.model.as_deref())
    }

    /// Puts back a stored model (SPEC 19) in place of the one rebuilt from
    /// the history, when the timeout is adaptive and the model ends at
    /// `last_beat` (else it belongs to another past and is not used).
    /// Returns whether it was used.
    pub fn restore_model(&mut self, model: Box<Adaptive>) -> bool {
        let fits = self.timeout == TIMEOUT_ADAPTIVE
            && model.last_beat() == (self.last_beat != NEVER).then_some(self.last_beat);
        match self.history.as_mut() {
            Some(h) if fits && h.model.is_some() => {
                h.model = Some(model);
                true
            }
            _ => false,
        }
    }

    /// Replaces the history (keeps the newest `HISTORY_LEN`, in order) and
    /// rebuilds the adaptive model from it.
    pub fn set_history(&mut self, mut history: Vec<Millis>) {
        if history.len() > HISTORY_LEN {
            history.drain(..history.len() - HISTORY_LEN);
        }
        self.history = (!history.is_empty()).then(|| {
            Box::new(History {
                intervals: history,
                model: None,
            })
        });
        self.rebuild_model();
    }

    /// Builds the adaptive model by replaying the history (oldest first,
    /// ending at `last_beat`) when the timeout is adaptive; drops it
    /// otherwise.
    fn rebuild_model(&mut self) {
        let model = (self.timeout == TIMEOUT_ADAPTIVE).then(|| {
            let mut model = Box::new(Adaptive::new());
            if self.last_beat != NEVER {
                let intervals = self.history();
                let span = intervals
                    .iter()
                    .fold(0 as Millis, |a, &i| a.saturating_add(i));
                let mut at = self.last_beat.saturating_sub(span);
                model.observe(at);
                for &i in intervals {
                    at = at.saturating_add(i);
                    model.observe(at);
                }
            }
            model
        });
        match (&mut self.history, model) {
            (Some(h), model) => {
                h.model = model;
                if h.model.is_none() && h.intervals.is_empty() {
                    self.history = None;
                }
            }
            (None, Some(model)) => {
                self.history = Some(Box::new(History {
                    intervals: Vec::new(),
                    model: Some(model),
                }))
            }
            (None, None) => {}
        }
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
                let history = &mut self.history.get_or_insert_with(Box::default).intervals;
                if history.len() == HISTORY_LEN {
                    history.remove(0);
                }
                history.push(interval);
            }
        }
        if let Some(model) = self.history.as_mut().and_then(|h| h.model.as_mut()) {
            model.observe(now);
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
            TIMEOUT_ADAPTIVE => self.model().and_then(Adaptive::timeout),
            t if t >= 0 => Some(t),
            _ => None,
        }
    }
}
