//! Read-only views of the engine: snapshots of services and views for the
//! API and the database, the status summary and the per-state counts.

use super::service::HAS_JOB;
use super::{auto, Engine, EngineError, Service};
use crate::jobs::JobRecord;
use crate::model::{ServiceRecord, ServiceRef, ServiceSnapshot, State, StatusSummary, ViewRecord};

impl Engine {
    // ----- snapshots -----------------------------------------------------

    /// A snapshot of one service. `history` copies the beat history (API
    /// details, the database); `analysis` computes it (the API).
    pub(super) fn record_of(
        &self,
        id: u32,
        s: &Service,
        history: bool,
        analysis: bool,
    ) -> ServiceRecord {
        let mut views: Vec<String> = s.views.iter().map(|&v| self.view(v).name.clone()).collect();
        views.sort_unstable();
        let (timeout_in_force, next_deadline) = self.deadline_of(id, s);
        ServiceRecord {
            name: self.names.get(s.name).to_owned(),
            state: s.state,
            last_beat: s.last_beat,
            timeout: s.timeout(),
            muted_since: s.muted_since,
            muted_until: self.mute_ends.get(id),
            last_state_change: s.last_state_change,
            beat_history: if history {
                s.history().to_vec()
            } else {
                Vec::new()
            },
            views,
            analysis: if analysis {
                auto::analysis(s.history())
            } else {
                None
            },
            timeout_in_force,
            next_deadline,
            job: self.job_record(id, s, history).map(Box::new),
            model: if history {
                s.model().map(|m| Box::new(m.clone()))
            } else {
                None
            },
        }
    }

    /// The job part of a record; `events` copies the events (details, a
    /// save).
    fn job_record(&self, id: u32, s: &Service, events: bool) -> Option<JobRecord> {
        if s.flags & HAS_JOB == 0 {
            return None;
        }
        let job = self.jobs.get(&id)?;
        Some(JobRecord {
            own: job.own.clone(),
            effective: job.effective.settings(),
            schedule_since: job.schedule_since,
            open_runs: job.open_runs.clone(),
            last_duration: job.last_duration,
            last_exit_code: job.last_exit_code,
            reason: if s.state == State::Error {
                job.reason
            } else {
                None
            },
            events: if events {
                job.events.iter().cloned().collect()
            } else {
                Vec::new()
            },
        })
    }

    pub(super) fn service_record(&self, id: u32, details: bool) -> ServiceRecord {
        self.record_of(id, self.svc(id), details, true)
    }

    pub(super) fn view_record(&self, id: u32) -> ViewRecord {
        let v = self.view(id);
        let mut failed: Vec<(&str, u32)> = v
            .failed
            .iter()
            .map(|&s| (self.names.get(self.svc(s).name), s))
            .collect();
        failed.sort_unstable();
        let failures = if v.state == State::Error {
            failed.iter().map(|&(_, s)| self.failure_of(s)).collect()
        } else {
            Vec::new()
        };
        ViewRecord {
            name: v.name.clone(),
            state: v.state,
            incident_number: v.incident_number,
            failed_services: failed.iter().map(|(n, _)| n.to_string()).collect(),
            failures,
            last_state_change: v.last_state_change,
            alerts: v
                .template
                .and_then(|t| self.config.templates.get(t))
                .map(|t| t.alerts.clone())
                .unwrap_or_default(),
            alerting: self.view_alerting(v),
        }
    }

    /// One service; `details` includes the beat history.
    pub fn service(&self, name: &str, details: bool) -> Result<ServiceRecord, EngineError> {
        self.find(name)
            .map(|id| self.service_record(id, details))
            .ok_or_else(|| EngineError::ServiceNotFound(name.to_owned()))
    }

    /// All services, or the members of one view.
    pub fn services(&self, view: Option<&str>) -> Result<Vec<ServiceRecord>, EngineError> {
        match view {
            None => Ok(self
                .services
                .iter()
                .enumerate()
                .filter(|(_, s)| s.is_some())
                .map(|(id, _)| self.service_record(id as u32, false))
                .collect()),
            Some(name) => {
                let vid = self
                    .find_view(name)
                    .ok_or_else(|| EngineError::ViewNotFound(name.to_owned()))?;
                Ok(self
                    .view(vid)
                    .members
                    .iter()
                    .map(|&id| self.service_record(id, false))
                    .collect())
            }
        }
    }

    pub fn views(&self) -> Vec<ViewRecord> {
        self.view_index
            .values()
            .map(|&id| self.view_record(id))
            .collect()
    }

    /// One view and its members.
    pub fn view_with_members(
        &self,
        name: &str,
    ) -> Result<(ViewRecord, Vec<ServiceRecord>), EngineError> {
        let id = self
            .find_view(name)
            .ok_or_else(|| EngineError::ViewNotFound(name.to_owned()))?;
        let members = self.services(Some(name))?;
        Ok((self.view_record(id), members))
    }

    /// The health summary of everything or of one view.
    pub fn status(&self, view: Option<&str>) -> Result<StatusSummary, EngineError> {
        match view {
            None => Ok(StatusSummary::new(
                (self.live - self.errors()) as u64,
                self.errors() as u64,
            )),
            Some(name) => {
                let v = self.view(
                    self.find_view(name)
                        .ok_or_else(|| EngineError::ViewNotFound(name.to_owned()))?,
                );
                let errors = v.failed.len();
                Ok(StatusSummary::new(
                    (v.members.len() - errors) as u64,
                    errors as u64,
                ))
            }
        }
    }

    pub(super) fn errors(&self) -> usize {
        self.service_counts[State::Error.gauge() as usize]
    }

    /// Services and views per state, indexed by `State::gauge()` (O(1)).
    pub fn state_counts(&self) -> ([usize; 4], [usize; 4]) {
        (self.service_counts, self.view_counts)
    }

    /// Packs up to `max` services, starting at slab position `*cursor`, into
    /// a save snapshot and advances the cursor. Returns true at the end.
    /// Lets the state thread copy a million services in small steps
    /// between commands.
    pub fn snapshot_for_save(
        &self,
        cursor: &mut usize,
        max: usize,
        out: &mut ServiceSnapshot,
    ) -> bool {
        self.walk(cursor, max, |id, s| {
            let job = self.job_record(id, s, true);
            // A scheduled service is stored with the longest gap plus grace
            // as its timeout, so 1.0.3 still watches it after a rollback.
            let timeout = match s.flags & HAS_JOB {
                0 => None,
                _ => self.jobs.get(&id).and_then(|j| j.schedule_timeout()),
            };
            let service = ServiceRef {
                name: self.names.get(s.name),
                state: s.state,
                last_beat: s.last_beat,
                timeout: timeout.unwrap_or(s.timeout()),
                muted_since: s.muted_since,
                muted_until: self.mute_ends.get(id),
                last_state_change: s.last_state_change,
                beat_history: s.history(),
                views: &[],
                job: job.as_ref(),
                model: s.model(),
            };
            let views = s.views.iter().map(|&v| self.view(v).name.as_str());
            out.push_with_views(service, views);
        })
    }

    /// Like `snapshot_for_save`, into records for a list reply (with the
    /// analysis, without histories).
    pub fn snapshot_for_api(
        &self,
        cursor: &mut usize,
        max: usize,
        out: &mut Vec<ServiceRecord>,
    ) -> bool {
        self.walk(cursor, max, |id, s| {
            out.push(self.record_of(id, s, false, true))
        })
    }

    fn walk(&self, cursor: &mut usize, max: usize, mut visit: impl FnMut(u32, &Service)) -> bool {
        let mut taken = 0;
        while *cursor < self.services.len() && taken < max {
            if let Some(s) = &self.services[*cursor] {
                visit(*cursor as u32, s);
                taken += 1;
            }
            *cursor += 1;
        }
        *cursor >= self.services.len()
    }
}
