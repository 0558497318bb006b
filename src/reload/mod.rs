//! Reloading the configuration on SIGHUP (`systemctl reload lovebeat`).
//!
//! [`Reloader::reload`] runs on the main thread: it reads the configuration
//! again from the same sources, validates it completely (the loader's
//! checks, the view templates), and when it is bad logs the error (file,
//! line, key) and keeps everything as it is. When it is good it compares it
//! with the running one ([`plan::plan`], pure) and applies what changed, in
//! this order:
//! 1. alerts: the alerter gets new `AlertSettings` on its channel (first,
//!    so the view changes the new templates cause are planned with them);
//! 2. views, `max_services`, `[[services]]` blocks, the event limits and
//!    the alert policy (`repeat`, `delay`, `depends_on`, `[[maintenance]]`):
//!    one `StateHandle::reload` (the engine recomputes every service's
//!    views, keeping state and incidents, the job settings in force from
//!    the new blocks, `Engine::set_job_config`, then the policy's,
//!    `Engine::set_policy_settings`);
//! 3. `[[notify]]`: new notify threads, the `Notifier` (shared by every
//!    clone) retargeted, the old threads end;
//! 4. `[metrics]`: the metrics thread is replaced.
//!
//! It logs one line per section and warns about changed keys that only a
//! restart applies (listen addresses, `[database]`, `[http]` auth,
//! `[eventlog]`, `max_tcp_connections`, `max_ws_clients`, `max_body_bytes`). A step that
//! fails (state thread busy, a thread that cannot start) is logged and that
//! section keeps running as before, so the next SIGHUP tries it again.

pub mod plan;
#[cfg(test)]
mod tests;

use crate::alert::AlertSettings;
use crate::config::{self, Config, Source};
use crate::counters::Counters;
use crate::metrics::{self, MetricsOptions, MetricsThread};
use crate::notify::{self, Notifier, NotifyBeat, NotifyOptions, NotifyTarget};
use crate::state::StateHandle;
use crossbeam_channel::Sender;
use std::sync::Arc;
use std::time::Duration;

/// How long a reload waits for the alerter to take its new settings.
const ALERTER_WAIT: Duration = Duration::from_secs(10);

/// The `[[notify]]` threads' options for `config`.
pub fn notify_options(config: &Config, host: &str, period: Duration) -> NotifyOptions {
    NotifyOptions {
        targets: config
            .notify
            .iter()
            .map(|n| NotifyTarget {
                url: n.lovebeat.clone(),
                token: n.token.clone(),
            })
            .collect(),
        host: host.to_owned(),
        // `.alerter` comes from the alert thread's tick, so a stuck
        // alerter stops it.
        periodic: vec![NotifyBeat::Monitor],
        period,
    }
}

/// The metrics thread's options, or `None` when `[metrics] server` is "".
pub fn metrics_options(config: &Config) -> Option<MetricsOptions> {
    (!config.metrics.server.is_empty()).then(|| MetricsOptions {
        server: config.metrics.server.clone(),
        prefix: config.metrics.prefix.clone(),
        interval: Duration::from_secs(config.metrics.interval),
    })
}

/// Everything a reload changes, owned by the main thread.
pub struct Reloader {
    pub source: Source,
    /// The configuration in force (restart-only keys as started).
    pub running: Config,
    pub state: StateHandle,
    pub counters: Arc<Counters>,
    pub alerts: Sender<AlertSettings>,
    pub notifier: Notifier,
    /// The `<host>` of our notify posts and their period.
    pub notify_host: String,
    pub notify_period: Duration,
    pub metrics: Option<MetricsThread>,
}

impl Reloader {
    /// Reads, validates and applies the configuration again.
    pub fn reload(&mut self) {
        log::info!("reload: reading the configuration again");
        let new = match load(&self.source) {
            Ok(new) => new,
            Err(error) => {
                log::error!(
                    "reload: configuration error: {error}; still running on the previous configuration"
                );
                return;
            }
        };
        let files: Vec<String> = new.files.iter().map(|f| f.display().to_string()).collect();
        log::info!(
            "reload: read {}",
            if files.is_empty() {
                "no configuration file (built-in defaults only)".to_string()
            } else {
                files.join(", ")
            }
        );
        let plan = plan::plan(&self.running, &new);
        let mut effective = plan::effective(&self.running, &new);
        if plan.alerts {
            let settings = AlertSettings::from_config(&new);
            if self.alerts.send_timeout(settings, ALERTER_WAIT).is_err() {
                log::error!(
                    "reload: the alerter did not take the new alert settings; alerts unchanged"
                );
                keep_alerts(&mut effective, &self.running);
            }
        }
        if plan.views || plan.max_services || plan.jobs || plan.policy {
            self.apply_views(&new, &plan, &mut effective);
        }
        if plan.notify {
            self.apply_notify(&mut effective);
        }
        if plan.metrics {
            self.apply_metrics(&mut effective);
        }
        if plan.applies_anything() {
            log::info!("{}", plan.summary());
        } else {
            log::info!("reload: configuration unchanged");
        }
        if !plan.restart.is_empty() {
            log::warn!(
                "reload: changed but applied only after a restart: {}",
                plan.restart.join(", ")
            );
        }
        self.running = effective;
    }

    fn apply_views(&mut self, new: &Config, plan: &plan::Plan, effective: &mut Config) {
        // Validated in `load`; compiled again here (cheap, and the error
        // case is handled, not unwrapped).
        let templates = match plan
            .views
            .then(|| crate::server::view_templates(new))
            .transpose()
        {
            Ok(templates) => templates,
            Err(error) => {
                log::error!("reload: {error}; views unchanged");
                keep_views(effective, &self.running);
                return;
            }
        };
        let jobs = plan.jobs.then(|| new.job_config());
        // From `effective`: when the alerter kept its old alerts, their
        // old `repeat` stays with them. Sent with new templates too, since
        // they follow the templates' order.
        let policy = (plan.views || plan.policy).then(|| effective.policy_settings());
        match self
            .state
            .reload(templates, new.limits.max_services, jobs, policy)
        {
            Ok(done) => {
                if !done.added.is_empty() || !done.removed.is_empty() || done.services_moved > 0 {
                    log::info!(
                        "reload: views created: {}; views removed: {}; {} service(s) changed views",
                        list(&done.added),
                        list(&done.removed),
                        done.services_moved
                    );
                }
            }
            Err(error) => {
                log::error!(
                    "reload: views, [[services]] and limits not applied ({error}); send SIGHUP again"
                );
                keep_views(effective, &self.running);
            }
        }
    }

    fn apply_notify(&mut self, effective: &mut Config) {
        let options = notify_options(effective, &self.notify_host, self.notify_period);
        match notify::spawn(options, Arc::clone(&self.counters)) {
            Ok(fresh) => self.notifier.replace_with(&fresh),
            Err(error) => {
                log::error!(
                    "reload: cannot start the notify threads ({error}); [[notify]] unchanged"
                );
                effective.notify = self.running.notify.clone();
            }
        }
    }

    fn apply_metrics(&mut self, effective: &mut Config) {
        // The old thread stops first, so two never send at once.
        self.metrics = None;
        let Some(options) = metrics_options(effective) else {
            return;
        };
        match metrics::spawn(options, Arc::clone(&self.counters), self.state.clone()) {
            Ok(thread) => self.metrics = Some(thread),
            Err(error) => {
                // Retried by the next reload: the running config says "off".
                log::error!("reload: cannot start the metrics thread ({error}); no metrics sent");
                effective.metrics.server.clear();
            }
        }
    }
}

/// Loads and validates the configuration the way start-up does.
pub fn load(source: &Source) -> Result<Config, String> {
    let config = config::load(source).map_err(|e| e.to_string())?;
    crate::server::view_templates(&config)?;
    Ok(config)
}

fn keep_views(effective: &mut Config, running: &Config) {
    effective.views = running.views.clone();
    effective.limits.max_services = running.limits.max_services;
    effective.services = running.services.clone();
    effective.limits.events_per_service = running.limits.events_per_service;
    effective.limits.event_body_memory = running.limits.event_body_memory;
    effective.limits.history_days = running.limits.history_days;
    effective.limits.history_memory = running.limits.history_memory;
    // The policy stays as it was too: the old windows, and each alert's
    // old `repeat`, so the next reload sees the difference and sends it.
    effective.maintenance = running.maintenance.clone();
    for (name, alert) in effective.alerts.iter_mut() {
        alert.repeat = running.alerts.get(name).and_then(|a| a.repeat.clone());
    }
}

fn keep_alerts(effective: &mut Config, running: &Config) {
    effective.alerts = running.alerts.clone();
    effective.mail = running.mail.clone();
    effective.mailgun = running.mailgun.clone();
    effective.slack = running.slack.clone();
    effective.telegram = running.telegram.clone();
    effective.pagerduty = running.pagerduty.clone();
    effective.opsgenie = running.opsgenie.clone();
    effective.pushover = running.pushover.clone();
    effective.matrix = running.matrix.clone();
    effective.general.public_url = running.general.public_url.clone();
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}
