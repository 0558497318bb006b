//! Beats and timeouts (`Engine::apply`, SPEC 2), and statsd's run signals
//! (`Engine::apply_from`, SPEC 14.4), which it hands to `jobs`.

use super::service::{self, HAS_JOB};
use super::{history, Applied, Engine, EngineError};
use crate::events::Event;
use crate::jobs::{SettingsChange, Signal, SignalKind, Source};
use crate::model::{is_valid_name, Millis, Update};

impl Engine {
    /// Applies a beat and/or a timeout change to `name`, creating it when new.
    pub fn apply(
        &mut self,
        name: &str,
        update: Update,
        now: Millis,
        out: &mut Vec<Event>,
    ) -> Result<Applied, EngineError> {
        self.apply_from(name, update, Source::default(), now, out)
    }

    /// `apply`, for an update that came from `source` (run signals from
    /// statsd are recorded with it).
    pub fn apply_from(
        &mut self,
        name: &str,
        update: Update,
        source: Source,
        now: Millis,
        out: &mut Vec<Event>,
    ) -> Result<Applied, EngineError> {
        if !is_valid_name(name) {
            return Err(EngineError::InvalidName(name.to_owned()));
        }
        let (timeout, beat) = match update {
            Update::Beat => (None, true),
            Update::SetTimeout(t) => (Some(t), false),
            Update::SetTimeoutAndBeat(t) => (Some(t), true),
            Update::Start | Update::Fail | Update::Exit(_) => {
                let kind = match update {
                    Update::Start => SignalKind::Start,
                    Update::Fail => SignalKind::Fail,
                    Update::Exit(code) => SignalKind::Exit(code),
                    _ => SignalKind::Log,
                };
                let signal = Signal::new(kind, source);
                return self.job(name, &SettingsChange::default(), Some(signal), now, out);
            }
        };
        let (id, created) = match self.find(name) {
            Some(id) => (id, false),
            None => (self.create(name, now, out)?, true),
        };
        if self.svc(id).flags & HAS_JOB != 0 {
            let change = SettingsChange {
                timeout,
                ..SettingsChange::default()
            };
            let signal = beat.then(|| Signal::new(SignalKind::Success, source));
            return self.job_on(id, created, &change, signal, now, out);
        }
        let s = self.svc_mut(id);
        let mut changed = created;
        if let Some(t) = timeout {
            s.flags |= service::OWN_TIMEOUT;
            if s.timeout() != t {
                s.set_timeout(t);
                changed = true;
            }
        }
        let accepted = beat && s.beat(now);
        self.changed |= accepted;
        self.cause = if accepted {
            history::BEAT
        } else {
            history::TIMEOUT_CHANGED
        };
        let previous = self.reevaluate(id, now, out);
        let state = self.svc(id).state;
        if changed {
            self.dirty = true;
        }
        if (changed && state == previous && !created)
            || state != previous
            || (accepted && self.emit_beats)
        {
            out.push(Event::ServiceChanged {
                service: self.service_record(id, false),
                previous,
            });
        }
        Ok(Applied { beat: accepted })
    }
}
