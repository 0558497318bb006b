//! Loading a database at start-up (`Engine::load`) and the report of what
//! was loaded and what was skipped, for the caller to log.

use super::service::OWN_TIMEOUT;
use super::view::View;
use super::Engine;
use crate::jobs::{JobRecord, Reason, MAX_OPEN_RUNS};
use crate::model::{
    is_valid_name, Millis, ServiceRecord, State, ViewRecord, NEVER, TIMEOUT_ADAPTIVE, TIMEOUT_NONE,
};

impl Engine {
    /// Loads a database at start-up. Services that were not in ERROR get the
    /// restart grace; views keep their incident numbers. Returns what was
    /// loaded and what was skipped (for the caller to log).
    pub fn load(
        &mut self,
        services: Vec<ServiceRecord>,
        views: Vec<ViewRecord>,
        now: Millis,
    ) -> LoadReport {
        let mut report = LoadReport::default();
        let mut sink = Vec::new();
        for record in views {
            self.policy_load_view(&record, now);
            if let Some(vid) = self.find_view(&record.name) {
                // A fixed view (created before the load) keeps what the
                // database knows of it; a duplicate line changes nothing.
                let view = self.view_mut(vid);
                if view.members.is_empty() && view.incident_number == 0 && view.state == State::New
                {
                    view.state = record.state;
                    view.incident_number = record.incident_number;
                    view.last_state_change = record.last_state_change;
                    self.view_counts[State::New.gauge() as usize] -= 1;
                    self.view_counts[record.state.gauge() as usize] += 1;
                }
                continue;
            }
            let mut view = View::new(record.name.clone());
            view.state = record.state;
            self.view_counts[view.state.gauge() as usize] += 1;
            view.incident_number = record.incident_number;
            view.last_state_change = record.last_state_change;
            self.views.push(Some(view));
            self.view_index
                .insert(record.name, (self.views.len() - 1) as u32);
        }
        for record in services {
            let reason = if !is_valid_name(&record.name) {
                Some(SkipReason::InvalidName)
            } else if self.find(&record.name).is_some() {
                Some(SkipReason::Duplicate)
            } else if self.live >= self.config.max_services {
                Some(SkipReason::OverMaxServices {
                    max: self.config.max_services,
                })
            } else {
                None
            };
            if let Some(reason) = reason {
                report.skipped.push(Skipped {
                    name: record.name,
                    reason,
                });
                continue;
            }
            let Ok(id) = self.create(&record.name, now, &mut sink) else {
                // Only the name arena is left to refuse (over 4 GiB of names).
                report.skipped.push(Skipped {
                    name: record.name,
                    reason: SkipReason::OverMaxServices { max: self.live },
                });
                continue;
            };
            report.services += 1;
            let s = self.svc_mut(id);
            // Anything before the epoch is "never" (-1); keeps the clock
            // arithmetic far from overflow whatever the file says.
            s.last_beat = record.last_beat.max(NEVER);
            // -3 (adaptive), -2, -1, 0 and positive are timeouts; other
            // negatives mean none.
            let stored_timeout = if record.timeout >= TIMEOUT_ADAPTIVE {
                record.timeout
            } else {
                TIMEOUT_NONE
            };
            s.muted_since = record.muted_since.max(0);
            if s.muted_since != 0 && record.muted_until > 0 {
                // Ends at the first tick if it ended while we were down.
                self.mute_ends.set(id, record.muted_until);
            }
            let s = self.svc_mut(id);
            s.last_state_change = record.last_state_change;
            // The history first: an adaptive model is rebuilt by replaying
            // it up to `last_beat`.
            s.set_history(record.beat_history);
            s.set_timeout(stored_timeout);
            s.grace = record.state != State::Error;
            // Start from the stored state so a real change is recorded as one.
            s.state = match record.state {
                State::New => State::Ok,
                other => other,
            };
            self.restore_job(
                id,
                &record.name,
                stored_timeout,
                record.job,
                now,
                &mut report,
            );
            let state = self.svc(id).state;
            self.service_counts[State::New.gauge() as usize] -= 1;
            self.service_counts[state.gauge() as usize] += 1;
            if state == State::Error {
                for &vid in self.svc(id).views.clone().iter() {
                    self.view_mut(vid).failed.insert(id);
                }
            }
        }
        // Views take the state of their members (a stored view state may be
        // stale); then every service is re-evaluated as of now.
        for vid in 0..self.views.len() as u32 {
            if self.views[vid as usize].is_some() && !self.view(vid).members.is_empty() {
                self.update_view_state(vid, now, &mut sink);
            }
        }
        self.cause = super::history::LOADED;
        for id in 0..self.services.len() as u32 {
            if self.services[id as usize].is_some() {
                self.reevaluate(id, now, &mut sink);
            }
        }
        self.enforce_body_budget();
        self.dirty = false;
        report
    }

    /// Restores what a record says of a service's jobs. The stored
    /// `timeout` is the service's own period unless it is the block's (the
    /// database does not say); while a schedule is stored, or the job
    /// service's block gives one, it is ignored (it is the longest gap plus
    /// grace, for 1.0.3). A schedule that no
    /// longer parses leaves a period service with that stored timeout, and
    /// is reported.
    fn restore_job(
        &mut self,
        id: u32,
        name: &str,
        timeout: Millis,
        record: Option<Box<JobRecord>>,
        now: Millis,
        report: &mut LoadReport,
    ) {
        let block = self.block_for(name);
        let block_timeout = block.and_then(|b| self.config.jobs.blocks[b as usize].timeout);
        // A schedule of its own, or its block's (a job service stored with
        // a block's schedule has longest gap + grace as its timeout too).
        let block_schedule = block.is_some_and(|b| self.blocks[b as usize].schedule.is_some());
        let scheduled = record
            .as_ref()
            .is_some_and(|r| r.own.schedule.is_some() || block_schedule);
        let s = self.svc_mut(id);
        if scheduled {
            s.set_timeout(block_timeout.unwrap_or(TIMEOUT_NONE));
        } else if timeout != TIMEOUT_NONE && Some(timeout) != block_timeout {
            s.flags |= OWN_TIMEOUT;
        }
        let Some(record) = record else {
            return;
        };
        let record = *record;
        self.give_job(id, block);
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        job.block = block;
        job.own = record.own;
        if let Err(why) = self.resolve_job(id, now) {
            self.fix_unresolvable(id, name, timeout, why, now, report);
        }
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        if job.effective.schedule.is_some() {
            job.schedule_since = record.schedule_since.or(job.schedule_since);
        }
        job.open_runs = record.open_runs;
        job.open_runs.truncate(MAX_OPEN_RUNS);
        job.last_duration = record.last_duration;
        job.last_exit_code = record.last_exit_code;
        job.failure = record
            .reason
            .filter(|r| matches!(r, Reason::Failed | Reason::TooFast));
        let keep = self.config.jobs.events_per_service;
        let skip = record.events.len().saturating_sub(keep);
        for event in record.events.into_iter().skip(skip) {
            self.restore_event(id, event);
        }
    }

    /// When the own settings of a loaded job no longer resolve (a schedule
    /// or zone this version refuses): keep it as a period service.
    fn fix_unresolvable(
        &mut self,
        id: u32,
        name: &str,
        timeout: Millis,
        why: String,
        now: Millis,
        report: &mut LoadReport,
    ) {
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        let why = format!(
            "schedule '{}' (tz {}): {why}; kept as a period service",
            job.own.schedule.as_deref().unwrap_or_default(),
            job.own.tz.as_deref().unwrap_or("UTC")
        );
        job.own.schedule = None;
        job.own.tz = None;
        let s = self.svc_mut(id);
        s.set_timeout(timeout);
        s.flags |= OWN_TIMEOUT;
        let _ = self.resolve_job(id, now);
        report.bad_schedules.push(BadSchedule {
            name: name.to_owned(),
            why,
        });
    }
}

/// What `Engine::load` did with a database.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Services loaded.
    pub services: usize,
    /// Services not loaded, in file order, with the reason.
    pub skipped: Vec<Skipped>,
    /// Services loaded whose stored schedule no longer parses: they were
    /// kept as period services.
    pub bad_schedules: Vec<BadSchedule>,
}

/// A loaded service whose schedule was dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadSchedule {
    pub name: String,
    pub why: String,
}

/// One service `Engine::load` left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub name: String,
    pub reason: SkipReason,
}

/// Why `Engine::load` left a service out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// The name breaks the service-name rule (an old or hand-edited file).
    InvalidName,
    /// A second line for a name already loaded (the first one wins).
    Duplicate,
    /// `[limits] max_services` was reached.
    OverMaxServices { max: usize },
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::InvalidName => write!(f, "invalid name: {}", crate::model::NAME_RULE),
            SkipReason::Duplicate => write!(f, "duplicate name; the first one was loaded"),
            SkipReason::OverMaxServices { max } => write!(
                f,
                "over [limits] max_services = {max}; raise it to load every service"
            ),
        }
    }
}
