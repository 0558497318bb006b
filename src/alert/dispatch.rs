//! Delivering jobs off the alerter thread: one short-lived worker thread per
//! delivery, at most `Tuning::max_concurrent` at a time (beyond that a
//! delivery is dropped, logged and counted), each attempt bounded by
//! `Tuning::attempt_timeout`, retried with backoff, every outcome logged and
//! counted in `Counters::alerts_sent` / `alert_failures`.

use super::plan::{Job, Kind};
use super::{mail, mailgun, script, slack, webhook, AlertSettings};
use crate::counters::Counters;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Timeouts, retries and the concurrency cap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tuning {
    /// Longest one attempt may take (HTTP, SMTP, script run).
    pub attempt_timeout: Duration,
    /// Pause before each retry; one more attempt than there are entries.
    pub backoff: Vec<Duration>,
    /// Deliveries in flight at most.
    pub max_concurrent: usize,
    /// How often the alerter calls its `tick` hook.
    pub tick_interval: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            attempt_timeout: Duration::from_secs(10),
            backoff: vec![Duration::from_secs(1), Duration::from_secs(4)],
            max_concurrent: 64,
            tick_interval: super::TICK_INTERVAL,
        }
    }
}

/// Why a delivery attempt failed.
#[derive(Debug)]
pub enum DeliveryError {
    /// The receiver answered with an HTTP error status.
    Status { status: u16, body: String },
    /// No usable answer: connection refused, timeout, TLS, bad URL...
    Http(String),
    /// The SMTP exchange failed; `permanent` for 5xx replies.
    Smtp { message: String, permanent: bool },
    /// The mail could not be built (bad address, ...); never retried.
    BadMessage(String),
    /// The configuration lacks something this kind needs.
    NotConfigured(String),
    /// The script could not be run, failed or was killed.
    Script(String),
}

impl DeliveryError {
    /// Worth another attempt: network trouble, timeouts, 5xx, 408 and 429.
    pub fn retryable(&self) -> bool {
        match self {
            DeliveryError::Status { status, .. } => {
                *status >= 500 || *status == 408 || *status == 429
            }
            DeliveryError::Http(_) => true,
            DeliveryError::Smtp { permanent, .. } => !permanent,
            DeliveryError::BadMessage(_)
            | DeliveryError::NotConfigured(_)
            | DeliveryError::Script(_) => false,
        }
    }
}

impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeliveryError::Status { status, body } if body.is_empty() => {
                write!(f, "the receiver answered HTTP {status}")
            }
            DeliveryError::Status { status, body } => {
                write!(f, "the receiver answered HTTP {status}: {body}")
            }
            DeliveryError::Http(m) => write!(f, "HTTP request failed: {m}"),
            DeliveryError::Smtp { message, .. } => write!(f, "SMTP failed: {message}"),
            DeliveryError::BadMessage(m) => write!(f, "cannot build the mail: {m}"),
            DeliveryError::NotConfigured(m) => f.write_str(m),
            DeliveryError::Script(m) => f.write_str(m),
        }
    }
}

/// Hands jobs to worker threads.
pub struct Dispatcher {
    shared: Arc<Shared>,
    active: Arc<AtomicUsize>,
}

/// What every worker reads.
struct Shared {
    settings: AlertSettings,
    counters: Arc<Counters>,
    agent: ureq::Agent,
}

/// Frees a concurrency slot when the worker ends, even by panic.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Dispatcher {
    pub fn new(settings: AlertSettings, counters: Arc<Counters>) -> io::Result<Dispatcher> {
        let agent = super::http::agent(settings.tuning.attempt_timeout);
        Ok(Dispatcher {
            shared: Arc::new(Shared {
                settings,
                counters,
                agent,
            }),
            active: Arc::new(AtomicUsize::new(0)),
        })
    }

    pub fn settings(&self) -> &AlertSettings {
        &self.shared.settings
    }

    pub fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    /// Starts delivering `job` on a worker thread; never blocks.
    pub fn dispatch(&self, job: Job) {
        let cap = self.shared.settings.tuning.max_concurrent;
        if self.active.fetch_add(1, Ordering::SeqCst) >= cap {
            self.active.fetch_sub(1, Ordering::SeqCst);
            self.fail(
                &job,
                &format!("{cap} deliveries are already in flight; dropped"),
            );
            return;
        }
        let slot = Slot(Arc::clone(&self.active));
        let shared = Arc::clone(&self.shared);
        let worker_job = job.clone();
        let spawned = std::thread::Builder::new()
            .name("alert-delivery".into())
            .spawn(move || {
                let _slot = slot;
                shared.deliver(&worker_job);
            });
        if let Err(e) = spawned {
            self.fail(&job, &format!("cannot start a delivery thread: {e}"));
        }
    }

    fn fail(&self, job: &Job, reason: &str) {
        Counters::add(&self.shared.counters.alert_failures, 1);
        log::error!(
            "alert {} ({} to {}) for view {} not sent: {reason}",
            job.alert,
            job.kind.name(),
            job.kind.destination(),
            job.message.view
        );
    }
}

impl Shared {
    /// Delivers with retries, then logs and counts the outcome.
    fn deliver(&self, job: &Job) {
        let tuning = &self.settings.tuning;
        let attempts = if job.kind.retried() {
            tuning.backoff.len() + 1
        } else {
            1
        };
        let mut attempt = 1;
        let result = loop {
            match self.attempt(job) {
                Ok(()) => break Ok(()),
                Err(e) if e.retryable() && attempt < attempts => {
                    let pause = tuning.backoff[attempt - 1];
                    log::warn!(
                        "alert {} ({} to {}) for view {}: attempt {attempt} of {attempts} failed ({e}); retrying in {:?}",
                        job.alert,
                        job.kind.name(),
                        job.kind.destination(),
                        job.message.view,
                        pause
                    );
                    std::thread::sleep(pause);
                    attempt += 1;
                }
                Err(e) => break Err(e),
            }
        };
        match result {
            Ok(()) => {
                Counters::add(&self.counters.alerts_sent, 1);
                log::info!(
                    "alert {} sent ({} to {}) for view {}: {} -> {}, incident {}",
                    job.alert,
                    job.kind.name(),
                    job.kind.destination(),
                    job.message.view,
                    job.message.from.upper(),
                    job.message.to.upper(),
                    job.message.incident
                );
            }
            Err(e) => {
                Counters::add(&self.counters.alert_failures, 1);
                log::error!(
                    "alert {} ({} to {}) for view {} failed after {attempt} attempt(s): {e}",
                    job.alert,
                    job.kind.name(),
                    job.kind.destination(),
                    job.message.view
                );
            }
        }
    }

    fn attempt(&self, job: &Job) -> Result<(), DeliveryError> {
        let s = &self.settings;
        let timeout = s.tuning.attempt_timeout;
        let message = &job.message;
        match &job.kind {
            Kind::Mail { to } => mail::send(&s.mail, to, message, timeout),
            Kind::Mailgun { to } => mailgun::send(&self.agent, &s.mailgun, &s.mail, to, message),
            Kind::Slack { channel } => slack::send(&self.agent, &s.slack, channel, message),
            Kind::Webhook { url } => webhook::send(&self.agent, url, message),
            Kind::Script { path } => script::run(path, message, timeout),
        }
    }
}
