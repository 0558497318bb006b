//! A service's job state (SPEC 14), kept only by services that used jobs:
//! own settings, the settings in force (resolved from own, the
//! `[[services]]` block, the defaults), open runs, the last run's outcome
//! and the event ring. The rules that use it are in `jobs` (signals and
//! settings), `job_deadline` (when it expires) and `job_events` (the ring
//! and the body budget).

use super::ServiceBlock;
use crate::cron;
use crate::jobs::{
    JobEvent, JobSettings, OpenRun, Reason, DEFAULT_SCHEDULE_GRACE_MS, MAX_OPEN_RUNS,
    MAX_PAIRING_MS,
};
use crate::model::Millis;
use std::collections::VecDeque;
use std::sync::Arc;

/// A parsed schedule and its longest gap (computed once, when parsed: the
/// stored `timeout` of a scheduled service is `longest_gap + grace`).
#[derive(Debug)]
pub(super) struct Parsed {
    pub schedule: cron::Schedule,
    pub longest_gap: Option<Millis>,
}

impl Parsed {
    pub fn parse(expression: &str, tz: &str, now: Millis) -> Result<Arc<Parsed>, String> {
        let schedule = cron::Schedule::parse(expression, tz).map_err(|e| e.to_string())?;
        let longest_gap = schedule.longest_gap(now);
        Ok(Arc::new(Parsed {
            schedule,
            longest_gap,
        }))
    }
}

/// A `[[services]]` block as the engine uses it: its schedule parsed once
/// and shared by every service it gives the schedule to.
#[derive(Debug, Default)]
pub(super) struct BlockRt {
    pub schedule: Option<Arc<Parsed>>,
    /// It gives job settings (not only a timeout): matching services get a
    /// `Job` at creation.
    pub gives_job: bool,
}

impl BlockRt {
    /// Resolves the blocks of a configuration; a block whose schedule does
    /// not parse (the configuration loader refuses those) gives none.
    pub fn build(blocks: &[ServiceBlock], now: Millis) -> Vec<BlockRt> {
        blocks
            .iter()
            .map(|b| {
                let tz = b.settings.tz.as_deref().unwrap_or("UTC");
                BlockRt {
                    schedule: b
                        .settings
                        .schedule
                        .as_deref()
                        .and_then(|e| Parsed::parse(e, tz, now).ok()),
                    gives_job: !b.settings.is_empty(),
                }
            })
            .collect()
    }
}

/// The settings in force of a job service.
#[derive(Debug, Clone, Default)]
pub(super) struct Effective {
    pub schedule: Option<Arc<Parsed>>,
    pub grace: Millis,
    pub max_runtime: Option<Millis>,
    pub min_duration: Option<Millis>,
}

impl PartialEq for Effective {
    fn eq(&self, other: &Effective) -> bool {
        self.same_schedule(other)
            && self.grace == other.grace
            && self.max_runtime == other.max_runtime
            && self.min_duration == other.min_duration
    }
}

impl Effective {
    /// Own settings win, then the block's, then the defaults. A service
    /// that set its own period (`own_period`) takes no schedule from its
    /// block. Fails only when an own schedule (or an own zone over the
    /// block's schedule) does not parse.
    pub fn resolve(
        own: &JobSettings,
        own_period: bool,
        block: Option<(&ServiceBlock, &BlockRt)>,
        own_parsed: Option<&Arc<Parsed>>,
        now: Millis,
    ) -> Result<(Effective, Option<Arc<Parsed>>), String> {
        let bs = block.map(|(b, _)| &b.settings);
        let tz = own
            .tz
            .as_deref()
            .or(bs.and_then(|b| b.tz.as_deref()))
            .unwrap_or("UTC");
        if own.schedule.is_none() && own.tz.is_some() {
            cron::validate_tz(tz).map_err(|e| e.to_string())?;
        }
        let (schedule, own_parsed) = match own.schedule.as_deref() {
            Some(expr) => {
                let parsed = match own_parsed {
                    Some(p) if p.schedule.expression() == expr && p.schedule.tz() == tz => {
                        p.clone()
                    }
                    _ => Parsed::parse(expr, tz, now)?,
                };
                (Some(parsed.clone()), Some(parsed))
            }
            None if own_period => (None, None),
            None => match block {
                Some((b, _)) if own.tz.is_some() && b.settings.schedule.is_some() => {
                    let expr = b.settings.schedule.as_deref().unwrap_or_default();
                    (Some(Parsed::parse(expr, tz, now)?), None)
                }
                Some((_, rt)) => (rt.schedule.clone(), None),
                None => (None, None),
            },
        };
        let default_grace = if schedule.is_some() {
            DEFAULT_SCHEDULE_GRACE_MS
        } else {
            0
        };
        Ok((
            Effective {
                grace: own
                    .grace
                    .or(bs.and_then(|b| b.grace))
                    .unwrap_or(default_grace),
                max_runtime: own.max_runtime.or(bs.and_then(|b| b.max_runtime)),
                min_duration: own.min_duration.or(bs.and_then(|b| b.min_duration)),
                schedule,
            },
            own_parsed,
        ))
    }

    /// The settings in force as the API shows them.
    pub fn settings(&self) -> JobSettings {
        JobSettings {
            schedule: self
                .schedule
                .as_ref()
                .map(|p| p.schedule.expression().to_owned()),
            tz: self.schedule.as_ref().map(|p| p.schedule.tz().to_owned()),
            grace: Some(self.grace),
            max_runtime: self.max_runtime,
            min_duration: self.min_duration,
        }
    }

    /// Same schedule in force (expression and zone).
    pub fn same_schedule(&self, other: &Effective) -> bool {
        match (&self.schedule, &other.schedule) {
            (None, None) => true,
            (Some(a), Some(b)) => {
                Arc::ptr_eq(a, b)
                    || (a.schedule.expression() == b.schedule.expression()
                        && a.schedule.tz() == b.schedule.tz())
            }
            _ => false,
        }
    }
}

/// The job state of one service.
#[derive(Debug, Default)]
pub(super) struct Job {
    pub own: JobSettings,
    /// `own.schedule` parsed (with the zone in force).
    pub own_parsed: Option<Arc<Parsed>>,
    /// Index of its `[[services]]` block (resolved at creation and reload).
    pub block: Option<u32>,
    pub effective: Effective,
    /// When the schedule in force was set.
    pub schedule_since: Option<Millis>,
    /// Oldest first, at most `MAX_OPEN_RUNS`.
    pub open_runs: Vec<OpenRun>,
    pub last_duration: Option<Millis>,
    pub last_exit_code: Option<u8>,
    /// A failed or too fast run: ERROR until the next success.
    pub failure: Option<Reason>,
    /// Why it is in ERROR now (set by the engine's evaluation).
    pub reason: Option<Reason>,
    /// The last `events_per_service` events, oldest first.
    pub events: VecDeque<JobEvent>,
    /// The number the next event gets.
    pub next_n: u64,
    /// Unique per `Job` ever made: tells the body FIFO's entries for a
    /// deleted service from those of a new one in the same slot.
    pub epoch: u64,
}

impl Job {
    pub fn new(epoch: u64) -> Job {
        Job {
            next_n: 1,
            epoch,
            ..Job::default()
        }
    }

    /// When the oldest open run started.
    pub fn running_since(&self) -> Option<Millis> {
        self.open_runs.first().map(|r| r.since)
    }

    /// Forgets runs started more than 72 h before `now` (never paired).
    pub fn prune_runs(&mut self, now: Millis) {
        self.open_runs
            .retain(|r| now.saturating_sub(r.since) <= MAX_PAIRING_MS);
    }

    /// Opens a run; beyond `MAX_OPEN_RUNS` the oldest is dropped.
    pub fn open(&mut self, since: Millis, rid: Option<Box<str>>) {
        if self.open_runs.len() >= MAX_OPEN_RUNS {
            self.open_runs.remove(0);
        }
        self.open_runs.push(OpenRun { since, rid });
    }

    /// Closes the run with `rid` (without one: the newest open run) and
    /// returns when it started.
    pub fn close(&mut self, rid: Option<&str>) -> Option<Millis> {
        let at = match rid {
            Some(rid) => self
                .open_runs
                .iter()
                .rposition(|r| r.rid.as_deref() == Some(rid))?,
            None => self.open_runs.len().checked_sub(1)?,
        };
        Some(self.open_runs.remove(at).since)
    }

    /// The stored `timeout` of a scheduled service (longest gap + grace),
    /// or `None` for a period service.
    pub fn schedule_timeout(&self) -> Option<Millis> {
        let parsed = self.effective.schedule.as_ref()?;
        Some(
            parsed
                .longest_gap
                .map_or(-1, |g| g.saturating_add(self.effective.grace)),
        )
    }
}
