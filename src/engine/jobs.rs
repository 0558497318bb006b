//! Jobs in the engine (SPEC 14.1–14.2): settings changes (all or nothing),
//! run signals, the `[[services]]` block of a service and its reload.
//! Deadlines are in `judge`, the event ring and body budget in
//! `job_events`, the job state itself in `job`.

use super::job::{BlockRt, Effective, Job, Parsed};
use super::service::{HAS_JOB, OWN_TIMEOUT};
use super::{history, Applied, Engine, EngineError, JobConfig};
use crate::events::Event;
use crate::jobs::{is_valid_rid, JobEvent, JobSettings, SettingsChange, Signal, RID_RULE};
use crate::model::{is_valid_name, Millis, TIMEOUT_NONE};
use std::sync::Arc;

/// A settings change worked out before anything is touched.
struct Plan {
    own: JobSettings,
    own_period: bool,
    block: Option<u32>,
    effective: Effective,
    own_parsed: Option<Arc<Parsed>>,
}

fn check_duration(what: &str, value: &Option<Option<Millis>>) -> Result<(), EngineError> {
    match value {
        Some(Some(v)) if *v < 0 => Err(EngineError::InvalidSetting(format!(
            "{what} must not be negative"
        ))),
        _ => Ok(()),
    }
}

/// The change touches job settings (not only the period).
fn has_job_fields(change: &SettingsChange) -> bool {
    change.schedule.is_some()
        || change.tz.is_some()
        || change.grace.is_some()
        || change.max_runtime.is_some()
        || change.min_duration.is_some()
}

impl Engine {
    /// Applies a settings change and/or a run signal to `name` (created
    /// when new), all or nothing: a bad schedule, zone, duration or rid
    /// changes nothing.
    pub fn job(
        &mut self,
        name: &str,
        change: &SettingsChange,
        signal: Option<Signal>,
        now: Millis,
        out: &mut Vec<Event>,
    ) -> Result<Applied, EngineError> {
        if !is_valid_name(name) {
            return Err(EngineError::InvalidName(name.to_owned()));
        }
        if change.timeout.is_some() && matches!(change.schedule, Some(Some(_))) {
            return Err(EngineError::InvalidSetting(
                "a service has either a period (timeout) or a schedule, not both: send one of them"
                    .to_owned(),
            ));
        }
        check_duration("grace", &change.grace)?;
        check_duration("max_runtime", &change.max_runtime)?;
        check_duration("min_duration", &change.min_duration)?;
        if let Some(rid) = signal.as_ref().and_then(|s| s.rid.as_deref()) {
            if !is_valid_rid(rid) {
                return Err(EngineError::InvalidSetting(RID_RULE.to_owned()));
            }
        }
        let existing = self.find(name);
        // Validate what needs parsing before creating or changing anything.
        if existing.is_none() && has_job_fields(change) {
            self.plan(None, name, change, now)?;
        }
        let (id, created) = match existing {
            Some(id) => (id, false),
            None => (self.create(name, now, out)?, true),
        };
        self.job_on(id, created, change, signal, now, out)
    }

    /// Works out the settings of `id` (or of a new service `name`) after
    /// `change`.
    fn plan(
        &self,
        id: Option<u32>,
        name: &str,
        change: &SettingsChange,
        now: Millis,
    ) -> Result<Plan, EngineError> {
        let job = id.and_then(|id| self.jobs.get(&id));
        let mut own = job.map(|j| j.own.clone()).unwrap_or_default();
        let mut own_period = id.is_some_and(|id| self.svc(id).flags & OWN_TIMEOUT != 0);
        if change.timeout.is_some() {
            own.schedule = None;
            own_period = true;
        }
        if let Some(schedule) = &change.schedule {
            own.schedule = schedule.clone();
            // `schedule=none`: back to the period, even under a block's
            // schedule.
            own_period |= schedule.is_none();
        }
        for (field, value) in [
            (&mut own.grace, change.grace),
            (&mut own.max_runtime, change.max_runtime),
            (&mut own.min_duration, change.min_duration),
        ] {
            if let Some(v) = value {
                *field = v;
            }
        }
        if let Some(tz) = &change.tz {
            own.tz = tz.clone();
        }
        let block = match job {
            Some(j) => j.block,
            None => self.block_for(name),
        };
        let pair = block.and_then(|b| {
            Some((
                self.config.jobs.blocks.get(b as usize)?,
                self.blocks.get(b as usize)?,
            ))
        });
        let (effective, own_parsed) = Effective::resolve(
            &own,
            own_period,
            pair,
            job.and_then(|j| j.own_parsed.as_ref()),
            now,
        )
        .map_err(EngineError::InvalidSetting)?;
        Ok(Plan {
            own,
            own_period,
            block,
            effective,
            own_parsed,
        })
    }

    /// The first `[[services]]` block whose pattern matches `name`.
    pub(super) fn block_for(&self, name: &str) -> Option<u32> {
        self.config
            .jobs
            .blocks
            .iter()
            .position(|b| b.pattern.is_match(name))
            .map(|b| b as u32)
    }

    /// Gives a new service its block's period and, when the block gives job
    /// settings, its job state.
    pub(super) fn attach_block(&mut self, id: u32, name: &str, now: Millis) {
        let Some(b) = self.block_for(name) else {
            return;
        };
        if let Some(t) = self.config.jobs.blocks[b as usize].timeout {
            self.svc_mut(id).set_timeout(t);
        }
        if self.blocks[b as usize].gives_job {
            self.give_job(id, Some(b));
            // Only the block's settings: nothing that can fail to parse.
            let _ = self.resolve_job(id, now);
        }
    }

    /// Makes `id` a job service (no-op if it is one).
    pub(super) fn give_job(&mut self, id: u32, block: Option<u32>) {
        if self.svc(id).flags & HAS_JOB != 0 {
            return;
        }
        self.job_epoch += 1;
        let mut job = Job::new(self.job_epoch);
        job.block = block;
        self.jobs.insert(id, Box::new(job));
        self.svc_mut(id).flags |= HAS_JOB;
    }

    /// Re-resolves the settings in force of job service `id` from its own
    /// settings and block (after a creation, a load or a reload). Returns
    /// whether they changed; keeps them (and says why) when they no longer
    /// resolve.
    pub(super) fn resolve_job(&mut self, id: u32, now: Millis) -> Result<bool, String> {
        let own_period = self.svc(id).flags & OWN_TIMEOUT != 0;
        let Some(job) = self.jobs.get(&id) else {
            return Ok(false);
        };
        let pair = job.block.and_then(|b| {
            Some((
                self.config.jobs.blocks.get(b as usize)?,
                self.blocks.get(b as usize)?,
            ))
        });
        let (effective, own_parsed) =
            Effective::resolve(&job.own, own_period, pair, job.own_parsed.as_ref(), now)?;
        let Some(job) = self.jobs.get_mut(&id) else {
            return Ok(false);
        };
        let changed = job.effective != effective;
        if !job.effective.same_schedule(&effective) || job.schedule_since.is_none() {
            job.schedule_since = effective.schedule.as_ref().map(|_| now);
        }
        job.effective = effective;
        job.own_parsed = own_parsed;
        Ok(changed)
    }

    /// Applies a (validated) change and a signal to existing service `id`.
    pub(super) fn job_on(
        &mut self,
        id: u32,
        created: bool,
        change: &SettingsChange,
        signal: Option<Signal>,
        now: Millis,
        out: &mut Vec<Event>,
    ) -> Result<Applied, EngineError> {
        let has_job = self.svc(id).flags & HAS_JOB != 0;
        let needs_job = has_job
            || has_job_fields(change)
            || signal.as_ref().is_some_and(|s| {
                !s.kind.is_success() || s.kind.exit_code().is_some() || s.body.is_some()
            });
        let plan = if needs_job && (!has_job || !change.is_empty()) {
            let name = self.names.get(self.svc(id).name).to_owned();
            Some(self.plan(Some(id), &name, change, now)?)
        } else {
            None
        };
        let mut changed = created;
        if let Some(t) = change.timeout {
            let s = self.svc_mut(id);
            s.flags |= OWN_TIMEOUT;
            if s.timeout() != t {
                s.set_timeout(t);
                changed = true;
            }
        }
        if let Some(plan) = plan {
            self.give_job(id, plan.block);
            if plan.own_period {
                self.svc_mut(id).flags |= OWN_TIMEOUT;
            }
            if let Some(job) = self.jobs.get_mut(&id) {
                changed |= job.own != plan.own || job.effective != plan.effective;
                if !job.effective.same_schedule(&plan.effective) || job.schedule_since.is_none() {
                    job.schedule_since = plan.effective.schedule.as_ref().map(|_| now);
                }
                job.own = plan.own;
                job.own_parsed = plan.own_parsed;
                job.effective = plan.effective;
            }
        }
        let mut accepted = false;
        let mut told = false;
        self.cause = history::SETTINGS_CHANGED;
        if let Some(signal) = signal {
            if signal.kind.is_success() {
                self.cause = history::RUN_SUCCEEDED;
            }
            if self.svc(id).flags & HAS_JOB != 0 {
                let (beat, closed) = self.run_signal(id, signal, now);
                accepted = beat;
                told = closed;
                self.changed = true;
            } else if signal.kind.is_success() {
                accepted = self.svc_mut(id).beat(now);
                self.changed |= accepted;
            }
        }
        let previous = self.reevaluate(id, now, out);
        let state = self.svc(id).state;
        if changed {
            self.dirty = true;
        }
        if (changed && !created) || state != previous || told || (accepted && self.emit_beats) {
            out.push(Event::ServiceChanged {
                service: self.service_record(id, false),
                previous,
            });
        }
        Ok(Applied { beat: accepted })
    }

    /// A run signal to job service `id` (SPEC 14.2). Returns (a beat was
    /// accepted, the record changed beyond the last beat and events).
    fn run_signal(&mut self, id: u32, signal: Signal, now: Millis) -> (bool, bool) {
        let Some(job) = self.jobs.get_mut(&id) else {
            return (false, false);
        };
        job.prune_runs(now);
        let kind = signal.kind;
        let mut duration = None;
        let mut success = false;
        let mut told = true;
        if kind.is_success() || kind.is_failure() {
            duration = job
                .close(signal.rid.as_deref())
                .map(|since| now.saturating_sub(since).max(0));
            if duration.is_some() {
                job.last_duration = duration;
            }
            if let Some(code) = kind.exit_code() {
                job.last_exit_code = Some(code);
            }
            if kind.is_failure() {
                job.failure = Some(crate::jobs::Reason::Failed);
            } else if job
                .effective
                .min_duration
                .is_some_and(|min| duration.is_some_and(|d| d < min))
            {
                job.failure = Some(crate::jobs::Reason::TooFast);
            } else {
                told = duration.is_some() || job.failure.is_some() || kind.exit_code().is_some();
                job.failure = None;
                success = true;
            }
        } else if kind == crate::jobs::SignalKind::Start {
            job.open(now, signal.rid.clone());
        }
        let accepted = success && self.svc_mut(id).beat(now);
        self.record_event(
            id,
            JobEvent {
                n: 0,
                ts: now,
                kind,
                rid: signal.rid,
                duration,
                source: signal.source,
                body: signal.body,
                body_dropped: false,
            },
        );
        (accepted, told)
    }

    /// The events `name` keeps, oldest first.
    pub fn events(&self, name: &str) -> Result<Vec<JobEvent>, EngineError> {
        let id = self
            .find(name)
            .ok_or_else(|| EngineError::ServiceNotFound(name.to_owned()))?;
        Ok(self
            .jobs
            .get(&id)
            .map(|j| j.events.iter().cloned().collect())
            .unwrap_or_default())
    }

    /// A new `[[services]]` and `[limits]` configuration (SIGHUP): every
    /// service's block, period (unless set for it) and settings in force
    /// are worked out again, deadlines follow. Scans all services: rare.
    pub fn set_job_config(&mut self, config: JobConfig, now: Millis, out: &mut Vec<Event>) {
        self.blocks = BlockRt::build(&config.blocks, now);
        self.history.set_limits(config.history, now);
        self.config.jobs = config;
        for id in 0..self.services.len() as u32 {
            if self.services[id as usize].is_none() {
                continue;
            }
            let name = self.names.get(self.svc(id).name).to_owned();
            let block = self.block_for(&name);
            let mut changed = false;
            let s = self.svc_mut(id);
            if s.flags & OWN_TIMEOUT == 0 {
                let t = block
                    .and_then(|b| self.config.jobs.blocks[b as usize].timeout)
                    .unwrap_or(TIMEOUT_NONE);
                let s = self.svc_mut(id);
                changed |= s.timeout() != t;
                s.set_timeout(t);
            }
            if block.is_some_and(|b| self.blocks[b as usize].gives_job) {
                self.give_job(id, block);
            }
            let keep = self.config.jobs.events_per_service;
            if let Some(job) = self.jobs.get_mut(&id) {
                job.block = block;
                while job.events.len() > keep {
                    let len = job
                        .events
                        .pop_front()
                        .and_then(|e| e.body)
                        .map(|b| b.bytes.len());
                    if let Some(len) = len {
                        self.bodies.forget(len);
                    }
                }
            }
            if self.jobs.contains_key(&id) {
                // Own settings were checked when set; a block the new
                // configuration made unusable leaves them as they were.
                changed |= self.resolve_job(id, now).unwrap_or(false);
            }
            self.cause = history::RELOADED;
            let previous = self.reevaluate(id, now, out);
            if changed || self.svc(id).state != previous {
                self.dirty = true;
                out.push(Event::ServiceChanged {
                    service: self.service_record(id, false),
                    previous,
                });
            }
        }
        self.enforce_body_budget();
    }
}
