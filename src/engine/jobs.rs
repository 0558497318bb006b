//! Jobs in the engine (SPEC 14): settings, run signals and events.
//!
//! Scaffold: the engine API the wire forms call. Only the period and plain
//! successes work here; schedules, runs and events come with the engine
//! work of issue 15.

use super::{Applied, Engine, EngineError};
use crate::events::Event;
use crate::jobs::{JobEvent, SettingsChange, Signal};
use crate::model::{Millis, Update};

impl Engine {
    /// Applies a settings change and/or a run signal to `name` (created
    /// when new), all or nothing.
    pub fn job(
        &mut self,
        name: &str,
        change: &SettingsChange,
        signal: Option<Signal>,
        now: Millis,
        out: &mut Vec<Event>,
    ) -> Result<Applied, EngineError> {
        let only_timeout = SettingsChange {
            timeout: change.timeout,
            ..SettingsChange::default()
        };
        if *change != only_timeout {
            return Err(EngineError::InvalidSetting(
                "job settings are not supported yet".into(),
            ));
        }
        let beat = signal.is_some_and(|s| s.kind.is_success());
        let update = match (change.timeout, beat) {
            (Some(t), true) => Update::SetTimeoutAndBeat(t),
            (Some(t), false) => Update::SetTimeout(t),
            (None, _) => Update::Beat,
        };
        self.apply(name, update, now, out)
    }

    /// The events `name` keeps, oldest first.
    pub fn events(&self, name: &str) -> Result<Vec<JobEvent>, EngineError> {
        self.find(name)
            .map(|_| Vec::new())
            .ok_or_else(|| EngineError::ServiceNotFound(name.to_owned()))
    }
}
