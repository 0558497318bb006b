//! Alerts (SPEC 6, 15): mail (SMTP or Mailgun), Slack, webhooks and
//! scripts, sent when the alert policy (`crate::policy`, run by the
//! engine) says: `Event::Alert`, a first message, reminder or recovery.
//!
//! The alerter thread subscribes to the policy's messages only
//! ([`INTEREST`]; never behind a
//! flood of service changes; its queue's bound follows the number of
//! views, see [`QUEUE_BASE`]), turns each into deliveries
//! with the pure [`plan`](plan::plan) and hands every delivery to its own
//! short-lived worker thread (see `dispatch`: capped, the rest waiting in
//! order, one at a time per view and destination), so a slow or hanging
//! receiver holds up only its own deliveries. The thread
//! also calls a `tick` hook at start and every 60 s (the `[[notify]]`
//! `.alerter` heartbeat, so a stuck alerter is noticed), and takes new
//! [`AlertSettings`] from its `reload` channel (SIGHUP): they are read
//! before each event is planned, so deliveries planned after a reload use
//! them, while deliveries already running finish with the old ones
//! (deliveries still waiting for a slot are sent with the new transport
//! settings: `[mail]`, `[mailgun]`, `[slack]`).
//!
//! One file per kind renders and sends: `mail` (lettre, blocking SMTP),
//! `mailgun`, `slack`, `webhook` (ureq), `script`. Every finished delivery
//! is recorded in the shared [`History`] (`GET /api/alerts/history`);
//! `test_alert` is `lovebeat -test-alert NAME`.

pub(crate) mod channel;
mod discord;
pub(crate) mod dispatch;
pub(crate) mod failure;
mod gotify;
pub mod history;
mod http;
mod mail;
mod mailgun;
mod matrix;
mod ntfy;
mod opsgenie;
mod pagerduty;
pub mod plan;
mod pushover;
mod script;
mod slack;
mod teams;
mod telegram;
mod template;
pub mod test_alert;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_messages;
mod webhook;

pub use dispatch::{DeliveryError, Tuning};
pub use history::History;

use crate::config::{AlertConfig, ChannelAccounts, Config, Mail, Mailgun, Slack};
use crate::counters::Counters;
use crate::events::{Interest, Limit, Subscription};
use crate::state::StateHandle;
use crossbeam_channel::{select, Receiver};
use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the alerter subscribes to: the policy's messages only.
pub const INTEREST: Interest = Interest::Alerts;

/// How often the alerter calls its `tick` hook (SPEC 7: every 60 s).
pub const TICK_INTERVAL: Duration = Duration::from_secs(60);
/// View transitions waiting for the alerter, at most: this many plus
/// [`QUEUE_PER_VIEW`] per view (`events::Limit::Views`). The alerter only
/// plans and queues deliveries, so the queue fills only while its thread is
/// stalled; only view transitions are queued (never service changes), so
/// no flood of service changes can push one out.
pub const QUEUE_BASE: usize = 1024;
/// See [`QUEUE_BASE`]: room for each view to go into ERROR and back twice.
pub const QUEUE_PER_VIEW: usize = 4;

/// Everything the alerter needs from the config.
#[derive(Clone, Debug, Default)]
pub struct AlertSettings {
    /// Base of the links in alerts (`<public_url>/views/<view>`); "" = none.
    pub public_url: String,
    pub mail: Mail,
    pub mailgun: Mailgun,
    pub slack: Slack,
    /// `[telegram]`, `[pagerduty]`, `[opsgenie]`, `[pushover]`, `[matrix]`.
    pub accounts: ChannelAccounts,
    pub alerts: BTreeMap<String, AlertConfig>,
    pub tuning: Tuning,
}

impl AlertSettings {
    pub fn from_config(config: &Config) -> AlertSettings {
        AlertSettings {
            public_url: config.general.public_url.clone(),
            mail: config.mail.clone(),
            mailgun: config.mailgun.clone(),
            slack: config.slack.clone(),
            accounts: ChannelAccounts {
                telegram: config.telegram.clone(),
                pagerduty: config.pagerduty.clone(),
                opsgenie: config.opsgenie.clone(),
                pushover: config.pushover.clone(),
                matrix: config.matrix.clone(),
            },
            alerts: config.alerts.clone(),
            tuning: Tuning::default(),
        }
    }

    /// Alerts that cannot be delivered as configured (checked at start-up
    /// and logged; each such delivery also fails and is counted).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, alert) in &self.alerts {
            if !alert.slack_channel.trim().is_empty() && self.slack.webhook_url.trim().is_empty() {
                out.push(format!(
                    "alert `{name}` sets slack_channel but [slack] webhook_url is empty"
                ));
            }
            if !alert.mail.trim().is_empty()
                && !self.mailgun.domain.is_empty()
                && self.mailgun.api_key.is_empty()
            {
                out.push(format!(
                    "alert `{name}` sends mail through Mailgun but [mailgun] api_key is empty"
                ));
            }
            for channel in channel::CHANNELS {
                if (channel.targets)(alert).is_empty() {
                    continue;
                }
                if let Some(problem) = (channel.problem)(self, alert) {
                    out.push(format!("alert `{name}` ({}): {problem}", channel.name));
                }
            }
        }
        out
    }
}

/// Starts the alerter thread: subscribes to the state thread's state
/// changes and delivers the alerts they fire. `tick` is called once at
/// start and then every 60 s from this thread; it must return quickly.
/// New settings sent on `reload` replace the current ones. Every finished
/// delivery is recorded in `history`.
pub fn spawn(
    settings: AlertSettings,
    reload: Receiver<AlertSettings>,
    state: &StateHandle,
    counters: Arc<Counters>,
    history: History,
    tick: Box<dyn FnMut() + Send>,
) -> io::Result<JoinHandle<()>> {
    let events = state
        .subscribe_limited(
            INTEREST,
            Limit::Views {
                base: QUEUE_BASE,
                per_view: QUEUE_PER_VIEW,
            },
        )
        .map_err(|e| io::Error::other(format!("cannot subscribe to view changes: {e}")))?;
    for problem in settings.problems() {
        log::error!("alerts: {problem}");
    }
    let dispatcher = dispatch::Dispatcher::new(settings, counters, history)?;
    std::thread::Builder::new()
        .name("alerter".into())
        .spawn(move || run(dispatcher, events, reload, tick))
}

fn run(
    mut dispatcher: dispatch::Dispatcher,
    events: Subscription,
    mut reload: Receiver<AlertSettings>,
    mut tick: Box<dyn FnMut() + Send>,
) {
    let interval = dispatcher.settings().tuning.tick_interval;
    let done = dispatcher.done().clone();
    tick();
    let mut next_tick = Instant::now() + interval;
    loop {
        let wait = next_tick.saturating_duration_since(Instant::now());
        select! {
            recv(events.receiver()) -> event => match event {
                Ok(event) => {
                    // Settings sent before the reload's view changes are
                    // taken before those are planned.
                    while let Ok(settings) = reload.try_recv() {
                        apply_settings(&mut dispatcher, settings);
                    }
                    let mut unknown = Vec::new();
                    let jobs = plan::plan(&event, dispatcher.settings(), &mut unknown);
                    for name in unknown {
                        log::error!("alerts: alert `{name}` is not defined; nothing sent for it");
                        Counters::add(&dispatcher.counters().alert_failures, 1);
                    }
                    for job in jobs {
                        dispatcher.dispatch(job);
                    }
                }
                Err(_) => break,
            },
            recv(done) -> lane => {
                if let Ok(lane) = lane {
                    dispatcher.finished(lane);
                }
            },
            recv(reload) -> settings => match settings {
                Ok(settings) => apply_settings(&mut dispatcher, settings),
                // Nobody reloads any more (shutdown): stop listening.
                Err(_) => reload = crossbeam_channel::never(),
            },
            default(wait) => {},
        }
        report_losses(&events, dispatcher.counters());
        // Checked after every event too, so a flood of events cannot
        // starve the heartbeat.
        if Instant::now() >= next_tick {
            tick();
            next_tick = Instant::now() + interval;
        }
    }
    log::debug!("alerter stopped");
}

fn apply_settings(dispatcher: &mut dispatch::Dispatcher, settings: AlertSettings) {
    for problem in settings.problems() {
        log::error!("alerts: {problem}");
    }
    let count = settings.alerts.len();
    dispatcher.set_settings(settings);
    log::debug!("alerter: new settings, {count} alert(s) configured");
}

/// Logs and counts view transitions the bus could not queue for us.
fn report_losses(events: &Subscription, counters: &Counters) {
    let lost = events.count_lost(&counters.queue_drops);
    if lost > 0 {
        log::error!(
            "alerts: {lost} view changes were lost because the alerter's queue was full \
             (more than {QUEUE_BASE} + {QUEUE_PER_VIEW} per view waiting); their alerts were not sent"
        );
    }
}
