//! The engine's side of the alert policy (SPEC 15): it owns the
//! [`Policy`](crate::policy::Policy) so view states, mutes and alert marks
//! change, load and save together; these are the calls the state thread
//! makes about it.

use super::Engine;
use crate::events::Event;
use crate::model::Millis;
use crate::policy::{window::Window, PolicySettings};

impl Engine {
    /// New policy settings (start-up and every reload): delays and
    /// dependencies of the `[[views]]` entries, `repeat` of the alerts,
    /// the config's maintenance windows.
    pub fn set_policy_settings(
        &mut self,
        settings: PolicySettings,
        now: Millis,
        out: &mut Vec<Event>,
    ) {
        self.policy.set_settings(settings, now);
        self.flush_policy(now, out);
    }

    /// The maintenance windows made through the API (for saving).
    pub fn api_windows(&self) -> Vec<Window> {
        self.policy.api_windows().to_vec()
    }

    /// Turns what the policy decided into events. (Filled in with the
    /// policy's rules.)
    fn flush_policy(&mut self, _now: Millis, _out: &mut Vec<Event>) {}
}
