//! Alerts (SPEC 6): mail (SMTP or Mailgun), Slack, webhooks and scripts,
//! fired when a view goes into ERROR and when it recovers.
//!
//! The alerter thread subscribes to the state thread's state changes, turns
//! each event into deliveries with the pure [`plan`](plan::plan) and hands
//! every delivery to its own short-lived worker thread (see `dispatch`), so
//! a slow or hanging receiver holds up only its own delivery. The thread
//! also calls a `tick` hook at start and every 60 s (the `[[notify]]`
//! `.alerter` heartbeat, so a stuck alerter is noticed).
//!
//! One file per kind renders and sends: `mail` (lettre, blocking SMTP),
//! `mailgun`, `slack`, `webhook` (ureq), `script`.

pub(crate) mod dispatch;
mod http;
mod mail;
mod mailgun;
pub mod plan;
mod script;
mod slack;
#[cfg(test)]
mod tests;
mod webhook;

pub use dispatch::{DeliveryError, Tuning};

use crate::config::{AlertConfig, Config, Mail, Mailgun, Slack};
use crate::counters::Counters;
use crate::events::{Event, Interest};
use crate::state::StateHandle;
use crossbeam_channel::RecvTimeoutError;
use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the alerter calls its `tick` hook (SPEC 7: every 60 s).
pub const TICK_INTERVAL: Duration = Duration::from_secs(60);
/// View events waiting for the alerter, at most. The alerter only plans and
/// spawns, so it keeps up with any realistic rate of view changes.
pub const EVENT_QUEUE: usize = 1024;

/// Everything the alerter needs from the config.
#[derive(Clone, Debug, Default)]
pub struct AlertSettings {
    /// Base of the links in alerts (`<public_url>/views/<view>`); "" = none.
    pub public_url: String,
    pub mail: Mail,
    pub mailgun: Mailgun,
    pub slack: Slack,
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
        }
        out
    }
}

/// Starts the alerter thread: subscribes to the state thread's state
/// changes and delivers the alerts they fire. `tick` is called once at
/// start and then every 60 s from this thread; it must return quickly.
pub fn spawn(
    settings: AlertSettings,
    state: &StateHandle,
    counters: Arc<Counters>,
    tick: Box<dyn FnMut() + Send>,
) -> io::Result<JoinHandle<()>> {
    let (rx, dropped) = state
        .subscribe_events(Interest::StateChanges, EVENT_QUEUE)
        .map_err(|e| io::Error::other(format!("cannot subscribe to view changes: {e}")))?;
    for problem in settings.problems() {
        log::error!("alerts: {problem}");
    }
    let dispatcher = dispatch::Dispatcher::new(settings, counters)?;
    std::thread::Builder::new()
        .name("alerter".into())
        .spawn(move || run(dispatcher, rx, dropped, tick))
}

fn run(
    dispatcher: dispatch::Dispatcher,
    rx: crossbeam_channel::Receiver<Arc<Event>>,
    dropped: Arc<AtomicU64>,
    mut tick: Box<dyn FnMut() + Send>,
) {
    let interval = dispatcher.settings().tuning.tick_interval;
    tick();
    let mut next_tick = Instant::now() + interval;
    let mut lost = 0;
    loop {
        match rx.recv_deadline(next_tick) {
            Ok(event) => {
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
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let now_lost = dropped.load(Relaxed);
        if now_lost != lost {
            log::error!(
                "alerts: {} view changes were lost because the alerter's queue was full; their alerts were not sent",
                now_lost - lost
            );
            Counters::add(&dispatcher.counters().queue_drops, now_lost - lost);
            lost = now_lost;
        }
        // Checked after every event too, so a flood of events cannot
        // starve the heartbeat.
        if Instant::now() >= next_tick {
            tick();
            next_tick = Instant::now() + interval;
        }
    }
    log::debug!("alerter stopped");
}
