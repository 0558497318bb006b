//! When a service goes to ERROR and why (SPEC 2, 14.1–14.2): the deadline
//! of a period (`last_beat + timeout + grace`), of a schedule
//! (`next_fire(after) + grace`) and of an open run (`running_since +
//! max_runtime`), with the restart grace and the freeze shift.

use super::job::Job;
use super::service::{Service, HAS_JOB};
use super::Engine;
use crate::jobs::Reason;
use crate::model::{Millis, State, TIMEOUT_NONE};

impl Engine {
    /// When `s` (id `id`) goes to ERROR if nothing arrives, and why; `None`
    /// when it never does.
    pub(super) fn deadline(&self, id: u32, s: &Service) -> Option<(Millis, Reason)> {
        self.deadline_with(s, self.job_of(id, s))
    }

    /// The job state of `s` (id `id`), if it has one.
    fn job_of(&self, id: u32, s: &Service) -> Option<&Job> {
        match s.flags & HAS_JOB {
            0 => None,
            _ => self.jobs.get(&id).map(|j| &**j),
        }
    }

    /// `deadline`, with the job state already at hand.
    fn deadline_with(&self, s: &Service, job: Option<&Job>) -> Option<(Millis, Reason)> {
        let Some(job) = job else {
            return s
                .effective_timeout()
                .map(|t| (self.expiry_after(s, t), Reason::Missed));
        };
        let eff = &job.effective;
        if let Some(since) = job.running_since() {
            let limit = eff.max_runtime.or(eff.schedule.as_ref().map(|_| eff.grace));
            if let Some(limit) = limit {
                let at = since.saturating_add(limit);
                return Some((self.unwatched.shift(at, since), Reason::TooLong));
            }
        }
        match &eff.schedule {
            Some(parsed) => {
                // Counted from the last success, but never from before the
                // schedule was set.
                let after = s.last_beat.max(job.schedule_since.unwrap_or(s.last_beat));
                let fire = parsed.schedule.next_fire(after)?;
                let mut at = fire.saturating_add(eff.grace);
                if s.grace {
                    // Restart grace: one whole fire after the start.
                    if let Some(first) = parsed.schedule.next_fire(self.config.started_at) {
                        at = at.max(first.saturating_add(eff.grace));
                    }
                }
                Some((self.unwatched.shift(at, after), Reason::Missed))
            }
            None => s.effective_timeout().map(|t| {
                let at = self.expiry_after(s, t.saturating_add(eff.grace));
                (at, Reason::Missed)
            }),
        }
    }

    /// When `s` expires with `timeout` in force (restart and freeze grace
    /// included).
    pub(super) fn expiry_after(&self, s: &Service, timeout: Millis) -> Millis {
        let mut at = s.last_beat.saturating_add(timeout);
        if s.grace {
            at = at.max(self.config.started_at.saturating_add(timeout));
        }
        // The deadline was set by the beat (or the start) one timeout before.
        self.unwatched.shift(at, at.saturating_sub(timeout))
    }

    /// The state `s` should be in at `now`, the reason when ERROR, and
    /// the deadline to schedule when OK.
    pub(super) fn evaluate(
        &self,
        id: u32,
        s: &Service,
        now: Millis,
    ) -> (State, Option<Reason>, Option<Millis>) {
        if s.muted_since != 0 {
            return (State::Muted, None, None);
        }
        let job = self.job_of(id, s);
        if let Some(failure) = job.and_then(|j| j.failure) {
            return (State::Error, Some(failure), None);
        }
        let scheduled = job.is_some_and(|j| j.effective.schedule.is_some());
        if s.timeout() == 0 && !scheduled {
            return (State::Error, Some(Reason::Always), None);
        }
        match self.deadline_with(s, job) {
            Some((at, reason)) if now >= at => (State::Error, Some(reason), None),
            Some((at, _)) => (State::Ok, None, Some(at)),
            None => (State::Ok, None, None),
        }
    }

    /// The timeout in force and the next deadline as the API shows them
    /// (see `ServiceRecord`): computed only when a record is built. A
    /// scheduled service's timeout in force is its longest gap plus grace.
    pub(super) fn deadline_of(&self, id: u32, s: &Service) -> (Millis, Option<Millis>) {
        let schedule_timeout = match s.flags & HAS_JOB {
            0 => None,
            _ => self.jobs.get(&id).and_then(|j| j.schedule_timeout()),
        };
        let timeout = match schedule_timeout {
            Some(t) => t,
            None => match s.effective_timeout() {
                Some(t) => t,
                None => return (TIMEOUT_NONE, None),
            },
        };
        let live = matches!(s.state, State::Ok | State::New)
            && (timeout > 0 || schedule_timeout.is_some());
        let next = if live {
            self.deadline(id, s).map(|(at, _)| at)
        } else {
            None
        };
        (timeout, next)
    }
}
