//! The state thread's commands of the alert policy (SPEC 15): timed mutes
//! of services, mutes of views, maintenance windows. `PolicyCommand` rides
//! in `Command::Policy`; `apply` runs it on the engine (the thread then
//! publishes the events and notes the change, as for every command), and
//! the `StateHandle` methods here are how the HTTP API asks for them.

use super::{Command, Reply, StateError, StateHandle};
use crate::engine::Engine;
use crate::events::Event;
use crate::model::Millis;
use crate::policy::window::{Window, WindowError, WindowSpec};
use crate::policy::{DeleteWindowError, MUTED_FOREVER};

/// A request about the alert policy.
pub enum PolicyCommand {
    /// Mutes a service until `for_ms` after the thread's `now`; replies
    /// with the moment the mute ends.
    MuteServiceFor {
        name: String,
        for_ms: Millis,
        reply: Reply<Millis>,
    },
    /// Mutes view `name` (`for_ms`: for that long, `None`: until an
    /// unmute) or unmutes it (`muted` false); replies with its
    /// `muted_until` (0, `MUTED_FOREVER` or the end).
    MuteView {
        name: String,
        muted: bool,
        for_ms: Option<Millis>,
        reply: Reply<Millis>,
    },
    /// The new window's id, or why its spec is refused.
    AddWindow {
        spec: WindowSpec,
        reply: Reply<Result<String, WindowError>>,
    },
    /// Every window (the config's, then the API's) and the thread's `now`.
    ListWindows { reply: Reply<(Vec<Window>, Millis)> },
    /// Deletes an API window (alerts it held go now).
    DeleteWindow {
        id: String,
        reply: Reply<Result<(), DeleteWindowError>>,
    },
}

/// Runs `command` on the engine at `now`; events go to `out`.
pub(super) fn apply(
    engine: &mut Engine,
    command: PolicyCommand,
    now: Millis,
    out: &mut Vec<Event>,
) {
    match command {
        PolicyCommand::MuteServiceFor {
            name,
            for_ms,
            reply,
        } => {
            let until = now.saturating_add(for_ms.max(1));
            let result = engine.set_muted_until(&name, true, until, now, out);
            let _ = reply.send(result.map(|()| until).map_err(StateError::from));
        }
        PolicyCommand::MuteView {
            name,
            muted,
            for_ms,
            reply,
        } => {
            let until = match (muted, for_ms) {
                (false, _) => 0,
                (true, None) => MUTED_FOREVER,
                (true, Some(ms)) => now.saturating_add(ms.max(1)),
            };
            let result = engine.set_view_muted(&name, until, now, out);
            let _ = reply.send(result.map(|()| until).map_err(StateError::from));
        }
        PolicyCommand::AddWindow { spec, reply } => {
            let _ = reply.send(Ok(engine.add_window(&spec, now)));
        }
        PolicyCommand::ListWindows { reply } => {
            let _ = reply.send(Ok((engine.windows(), now)));
        }
        PolicyCommand::DeleteWindow { id, reply } => {
            let _ = reply.send(Ok(engine.delete_window(&id, now, out)));
        }
    }
}

impl StateHandle {
    /// Mutes service `name` for `for_ms`: the mute ends by itself at the
    /// moment returned.
    pub fn mute_for(&self, name: &str, for_ms: Millis) -> Result<Millis, StateError> {
        self.ask(|reply| {
            Command::Policy(PolicyCommand::MuteServiceFor {
                name: name.to_owned(),
                for_ms,
                reply,
            })
        })
    }

    /// Mutes view `name` (for `for_ms`, or until an unmute when `None`) or
    /// unmutes it; returns its `muted_until`.
    pub fn mute_view(
        &self,
        name: &str,
        muted: bool,
        for_ms: Option<Millis>,
    ) -> Result<Millis, StateError> {
        self.ask(|reply| {
            Command::Policy(PolicyCommand::MuteView {
                name: name.to_owned(),
                muted,
                for_ms,
                reply,
            })
        })
    }

    /// Adds a maintenance window: its id, or (inner `Err`) why the spec is
    /// refused.
    pub fn add_window(&self, spec: WindowSpec) -> Result<Result<String, WindowError>, StateError> {
        self.ask(|reply| Command::Policy(PolicyCommand::AddWindow { spec, reply }))
    }

    /// Every maintenance window and the time of the answer.
    pub fn windows(&self) -> Result<(Vec<Window>, Millis), StateError> {
        self.ask(|reply| Command::Policy(PolicyCommand::ListWindows { reply }))
    }

    /// Deletes an API window; inner `Err` when unknown or from the config.
    pub fn delete_window(&self, id: &str) -> Result<Result<(), DeleteWindowError>, StateError> {
        self.ask(|reply| {
            Command::Policy(PolicyCommand::DeleteWindow {
                id: id.to_owned(),
                reply,
            })
        })
    }
}
