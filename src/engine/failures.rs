//! Why a service failed, as the alerts of its views tell it (SPEC 15,
//! "Messages"): built only for views in ERROR, one record per failed
//! member.

use super::Engine;
use crate::jobs::{Failure, Reason};

impl Engine {
    /// The failure record of service `id` (in ERROR).
    pub(super) fn failure_of(&self, id: u32) -> Failure {
        let s = self.svc(id);
        let reason = if s.timeout == 0 {
            Reason::Always
        } else {
            Reason::Missed
        };
        Failure {
            service: self.names.get(s.name).to_owned(),
            reason,
            since: s.last_state_change,
            exit_code: None,
            ran: None,
            limit: None,
            output: None,
        }
    }
}
