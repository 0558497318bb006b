//! The alert policy (SPEC 15): when a view's alerts go out. Repeat
//! (reminders), delay (anti-flap), timed mutes of views, maintenance
//! windows and dependencies, as plain code: the engine tells it about view
//! transitions with `now`, and it hands back [`AlertNotice`]s (what to send,
//! through which `[alerts.NAME]`) and its next deadline. No clock, no IO.
//!
//! The engine owns one [`Policy`] (so view states, mutes and alert marks
//! live, load and save in one place) and turns its notices into
//! `Event::Alert`s for the alerter, which only renders and delivers.
//!
//! Types shared with the config, the store and the API live here:
//! [`PolicySettings`] (what the config says), [`window::Window`]
//! (maintenance windows, from the config or `POST /api/maintenance`),
//! [`ViewAlerting`] (what a view shows: pending, muted, in maintenance,
//! suppressed by).

mod rules;
#[cfg(test)]
mod tests;
pub mod window;

pub use rules::{Decision, DeleteWindowError, Policy, ViewInfo, Views};

use crate::model::{Millis, State, ViewRecord};
use std::collections::HashMap;

/// A mute that lasts until an unmute: `muted_until` of a plain
/// `POST .../mute`.
pub const MUTED_FOREVER: Millis = Millis::MAX;

/// The alert policy of one `[[views]]` entry (template): every view it
/// produces shares it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemplatePolicy {
    /// `delay`: alerts go out only after the view has been in ERROR this
    /// long (ms); 0 = at once.
    pub delay: Millis,
    /// `depends_on`: names of views whose ERROR holds this view's alerts.
    pub depends_on: Vec<String>,
}

/// What the configuration says about alert policy.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PolicySettings {
    /// Per `[[views]]` entry, in the engine's template order (the index of
    /// `ViewTemplate`s).
    pub templates: Vec<TemplatePolicy>,
    /// `[alerts.NAME] repeat`, ms, for the alerts that set it.
    pub repeat: HashMap<String, Millis>,
    /// `[[maintenance]]` windows of the config (ids `config-1`, `config-2`,
    /// ... in file order).
    pub windows: Vec<window::Window>,
}

/// How a view's alerts stand, as the API and the dashboard show it.
/// Computed; only `muted_until` and `alerted_at` are stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ViewAlerting {
    /// 0 = not muted; [`MUTED_FOREVER`] = until unmuted; else the moment
    /// the mute ends by itself.
    pub muted_until: Millis,
    /// When the first alert of the current incident went out; 0 = not
    /// (yet) sent. Stored, so a restart neither repeats nor forgets it.
    pub alerted_at: Millis,
    /// In ERROR, waiting for its `delay` to pass: alerts go at this moment.
    pub pending_until: Option<Millis>,
    /// In a maintenance window now, which ends at this moment.
    pub maintenance_until: Option<Millis>,
    /// Views it depends on that are in ERROR now, sorted.
    pub suppressed_by: Vec<String>,
}

/// One message to send: the first ERROR message of an incident, a
/// reminder, or a recovery.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertNotice {
    /// The view as it is when the message goes (state, incident, failed
    /// services and their failures).
    pub view: ViewRecord,
    /// The state the message says the view came from: the state before
    /// ERROR for the first message, ERROR for reminders and recoveries.
    pub previous: State,
    /// 0 for the first message of an incident and for recoveries; n for
    /// the n-th reminder.
    pub reminder: u32,
    /// On recovery: how long the view was in ERROR (ms).
    pub down_ms: Option<Millis>,
    /// The `[alerts.NAME]` to send it through (a reminder goes only
    /// through the alerts whose `repeat` is due).
    pub alerts: Vec<String>,
}
