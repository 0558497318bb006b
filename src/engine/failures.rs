//! Why a service failed, as the alerts of its views tell it (SPEC 15,
//! "Messages"): built only for views in ERROR, one record per failed
//! member, from what the service keeps (its reason, its last run, the
//! output of the run that failed).

use super::Engine;
use crate::jobs::{Failure, Reason, OUTPUT_TAIL};

impl Engine {
    /// The failure record of service `id` (in ERROR).
    pub(super) fn failure_of(&self, id: u32) -> Failure {
        let s = self.svc(id);
        let plain_reason = if s.timeout() == 0 {
            Reason::Always
        } else {
            Reason::Missed
        };
        let mut failure = Failure {
            service: self.names.get(s.name).to_owned(),
            reason: plain_reason,
            since: s.last_state_change,
            exit_code: None,
            ran: None,
            limit: None,
            output: None,
        };
        let Some(job) = self.jobs.get(&id) else {
            return failure;
        };
        failure.reason = job.reason.or(job.failure).unwrap_or(plain_reason);
        match failure.reason {
            Reason::Failed => {
                failure.exit_code = job.last_exit_code.filter(|&c| c != 0);
                // The output of the signal that failed the run.
                failure.output = job
                    .events
                    .iter()
                    .rev()
                    .find(|e| e.kind.is_failure())
                    .and_then(|e| e.body.as_ref())
                    .map(|b| {
                        let start = b.bytes.len().saturating_sub(OUTPUT_TAIL);
                        String::from_utf8_lossy(&b.bytes[start..]).into_owned()
                    });
            }
            Reason::TooLong => {
                failure.ran = job
                    .running_since()
                    .map(|since| s.last_state_change.saturating_sub(since));
                failure.limit = job.effective.max_runtime.or(Some(job.effective.grace));
            }
            Reason::TooFast => {
                failure.ran = job.last_duration;
                failure.limit = job.effective.min_duration;
            }
            Reason::Missed | Reason::Always => {}
        }
        failure
    }
}
