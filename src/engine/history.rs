//! The engine's side of the history of state changes (SPEC 18): the words
//! of a change's reason, recording it where the state changes (called
//! from `reevaluate` and `update_view_state`, never through a queue), and
//! the answers of `/api/{services,views}/<name>/history`.

use super::service::HAS_JOB;
use super::{Engine, EngineError};
use crate::alert::failure::{describe, duration};
use crate::history::{Change, HistoryLimits, HistoryReply, Kind, Subject, Timeline};
use crate::jobs::Reason;
use crate::model::{Millis, State};
use std::borrow::Cow;

/// A change out of ERROR with no more precise cause.
pub(super) const RECOVERED: &str = "recovered";
pub(super) const BEAT: &str = "beat";
pub(super) const RUN_SUCCEEDED: &str = "run succeeded";
pub(super) const SETTINGS_CHANGED: &str = "settings changed";
pub(super) const TIMEOUT_CHANGED: &str = "timeout changed";
pub(super) const RELOADED: &str = "configuration reloaded";
pub(super) const LOADED: &str = "re-evaluated at start";

impl Engine {
    /// `[limits] history_days` and `history_memory`; the oldest changes
    /// beyond them go at once.
    pub fn set_history_limits(&mut self, limits: HistoryLimits, now: Millis) {
        self.history.set_limits(limits, now);
    }

    /// Bytes counted against `history_memory`.
    pub fn history_bytes(&self) -> usize {
        self.history.used()
    }

    /// Changes dropped by the history's limits since start, all subjects.
    pub fn history_dropped(&self) -> u64 {
        self.history.dropped_total()
    }

    /// Every subject with a history of its own (for a save).
    pub fn history_subjects(&self) -> impl Iterator<Item = (Kind, &str, &Subject)> + '_ {
        self.history.iter()
    }

    /// The histories, shared, for a save.
    pub fn history_snapshot(&self) -> Vec<crate::history::Saved> {
        self.history.snapshot()
    }

    /// Forgets the histories of services and views that do not exist (at
    /// start, after `load`: those the database had but did not load).
    pub fn drop_orphan_history(&mut self) {
        let gone: Vec<(Kind, String)> = self
            .history
            .iter()
            .filter(|&(kind, name, _)| match kind {
                Kind::Service => self.find(name).is_none(),
                Kind::View => self.find_view(name).is_none(),
            })
            .map(|(kind, name, _)| (kind, name.to_owned()))
            .collect();
        for (kind, name) in gone {
            self.history.forget(kind, &name);
        }
    }

    /// Puts back the histories read from the database (before `load`
    /// re-evaluates, so what changed while down follows them).
    pub fn restore_history(&mut self, subjects: Vec<(Kind, String, Subject)>, now: Millis) {
        self.history.restore(subjects, now);
    }

    /// Records that service `id` went from `previous` (in force since
    /// `since`) to its current state at `now`; `reason` is the engine's
    /// when it is ERROR.
    pub(super) fn record_service_change(
        &mut self,
        id: u32,
        since: Millis,
        previous: State,
        reason: Option<Reason>,
        now: Millis,
    ) {
        let state = self.svc(id).state;
        let why: Cow<'static, str> = match (previous, state) {
            (_, State::Muted) => "muted".into(),
            (State::Muted, State::Error) => {
                format!("unmuted; {}", self.error_words(id, reason)).into()
            }
            (State::Muted, _) => "unmuted".into(),
            (_, State::Error) => self.error_words(id, reason).into(),
            _ => self.cause.into(),
        };
        let name = self.names.get(self.svc(id).name);
        let change = Change {
            at: now,
            from: previous,
            to: state,
            reason: why,
        };
        self.history.record(Kind::Service, name, since, change);
    }

    /// Why service `id` is in ERROR, in words: `no beat for 1 min`,
    /// `failed with exit code 3`, `ran 2 h 10 min, limit 2 h`.
    fn error_words(&self, id: u32, reason: Option<Reason>) -> String {
        let s = self.svc(id);
        let scheduled = s.flags & HAS_JOB != 0
            && self
                .jobs
                .get(&id)
                .is_some_and(|j| j.effective.schedule.is_some());
        match reason {
            Some(Reason::Missed) if scheduled => "missed its schedule".to_string(),
            Some(Reason::Missed) => match self.deadline_of(id, s).0 {
                t if t > 0 => format!("no beat for {}", duration(t)),
                _ => "missed".to_string(),
            },
            Some(r) => {
                let mut failure = self.failure_of(id);
                failure.reason = r;
                describe(&failure)
            }
            None => "error".to_string(),
        }
    }

    /// Records that view `vid` went from `previous` (since `since`) to its
    /// current state at `now`.
    pub(super) fn record_view_change(
        &mut self,
        vid: u32,
        since: Millis,
        previous: State,
        now: Millis,
    ) {
        let v = self.view(vid);
        let why: Cow<'static, str> = if v.state == State::Error {
            // Into ERROR is one failing member (more only when a reload
            // regroups them).
            let mut failed: Vec<&str> = v
                .failed
                .iter()
                .take(4)
                .map(|&s| self.names.get(self.svc(s).name))
                .collect();
            failed.sort_unstable();
            match (v.failed.len(), failed.first()) {
                (1, Some(name)) => format!("{name} failed").into(),
                (n, Some(name)) => format!("{name} and {} more failed", n - 1).into(),
                _ => "a service failed".into(),
            }
        } else {
            "no service failing".into()
        };
        let change = Change {
            at: now,
            from: previous,
            to: v.state,
            reason: why,
        };
        let name = v.name.clone();
        self.history.record(Kind::View, &name, since, change);
    }

    /// The history of service `name` over `since..=until` as of `now`.
    pub fn service_history(
        &self,
        name: &str,
        since: Millis,
        until: Millis,
        now: Millis,
    ) -> Result<HistoryReply, EngineError> {
        self.subject_history(Kind::Service, name, since, until, now)
    }

    /// The history of view `name` over `since..=until` as of `now`.
    pub fn view_history(
        &self,
        name: &str,
        since: Millis,
        until: Millis,
        now: Millis,
    ) -> Result<HistoryReply, EngineError> {
        self.subject_history(Kind::View, name, since, until, now)
    }

    /// The history of the service or view `name`: its recorded changes,
    /// or, with none recorded, its state unchanged since it entered it.
    fn subject_history(
        &self,
        kind: Kind,
        name: &str,
        since: Millis,
        until: Millis,
        now: Millis,
    ) -> Result<HistoryReply, EngineError> {
        let (state, entered) = match kind {
            Kind::Service => {
                let id = self
                    .find(name)
                    .ok_or_else(|| EngineError::ServiceNotFound(name.to_owned()))?;
                let s = self.svc(id);
                (s.state, s.last_state_change)
            }
            Kind::View => {
                let vid = self
                    .find_view(name)
                    .ok_or_else(|| EngineError::ViewNotFound(name.to_owned()))?;
                let v = self.view(vid);
                (v.state, v.last_state_change)
            }
        };
        Ok(match self.history.get(kind, name) {
            Some(subject) => subject.timeline(),
            None => Timeline::unchanged(state, entered),
        }
        .reply(name, since, until, now))
    }
}
