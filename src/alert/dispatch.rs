//! Delivering jobs off the alerter thread: one short-lived worker thread per
//! delivery, at most `Tuning::max_concurrent` at a time; beyond that a
//! delivery waits (in order) for a free slot, and the deliveries of one
//! [`Lane`] (a view's alert to one destination) run one after the other, so
//! a receiver gets a view's ERROR before its recovery. Only beyond
//! `Tuning::max_waiting` waiting deliveries is one dropped, logged and
//! counted. Each attempt is bounded by `Tuning::attempt_timeout`, retried
//! with backoff; every outcome is logged, counted in
//! `Counters::alerts_sent` / `alert_failures` and recorded in the
//! [`History`]. [`send_now`] runs the same attempts and retries on the
//! caller's thread (`lovebeat -test-alert`).

use super::channel::{Ctx, CHANNELS};
use super::history::{Delivery, History, Outcome};
use super::plan::{Job, Kind};
use super::{mail, mailgun, script, slack, webhook, AlertSettings};
use crate::clock::now_ms;
use crate::counters::Counters;
use crossbeam_channel::{unbounded, Receiver, Sender};
use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

/// Deliveries waiting to start, at most (by default): 64 per view of a
/// thousand views, each view in ERROR and back. A waiting delivery holds
/// its message (the view's failed member names) shared by all kinds.
pub const MAX_WAITING: usize = 65_536;

/// Timeouts, retries and the concurrency cap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tuning {
    /// Longest one attempt may take (HTTP, SMTP, script run).
    pub attempt_timeout: Duration,
    /// Pause before each retry; one more attempt than there are entries.
    pub backoff: Vec<Duration>,
    /// Deliveries in flight at most.
    pub max_concurrent: usize,
    /// Deliveries waiting to start at most (beyond the cap, or behind an
    /// earlier delivery of the same lane); beyond, one is dropped.
    pub max_waiting: usize,
    /// How often the alerter calls its `tick` hook.
    pub tick_interval: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            attempt_timeout: Duration::from_secs(10),
            backoff: vec![Duration::from_secs(1), Duration::from_secs(4)],
            max_concurrent: 64,
            max_waiting: MAX_WAITING,
            tick_interval: super::TICK_INTERVAL,
        }
    }
}

/// Why a delivery attempt failed.
#[derive(Debug)]
pub enum DeliveryError {
    /// The receiver answered with an HTTP error status.
    Status {
        status: u16,
        body: String,
        /// The receiver's `Retry-After` (seconds form), when it sent one.
        retry_after: Option<Duration>,
    },
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

impl DeliveryError {
    /// The same error with every secret in its texts replaced by `***`
    /// (a URL with a token in an HTTP error, a key echoed by a receiver).
    pub fn scrubbed(self, secrets: &[String]) -> DeliveryError {
        let clean = |text: String| scrub(&text, secrets);
        match self {
            DeliveryError::Status {
                status,
                body,
                retry_after,
            } => DeliveryError::Status {
                status,
                body: clean(body),
                retry_after,
            },
            DeliveryError::Http(m) => DeliveryError::Http(clean(m)),
            DeliveryError::Smtp { message, permanent } => DeliveryError::Smtp {
                message: clean(message),
                permanent,
            },
            DeliveryError::BadMessage(m) => DeliveryError::BadMessage(clean(m)),
            DeliveryError::NotConfigured(m) => DeliveryError::NotConfigured(clean(m)),
            DeliveryError::Script(m) => DeliveryError::Script(clean(m)),
        }
    }

    /// How long the receiver asked us to wait before the next attempt.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            DeliveryError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// `text` with each of `secrets` (and its percent-encoded form) replaced
/// by `***`.
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(secret.as_str(), "***");
        let encoded = percent_encode(secret);
        if encoded != *secret {
            out = out.replace(encoded.as_str(), "***");
        }
    }
    out
}

/// Every byte but unreserved ones as `%XX` (how a secret appears in a URL).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeliveryError::Status { status, body, .. } if body.is_empty() => {
                write!(f, "the receiver answered HTTP {status}")
            }
            DeliveryError::Status { status, body, .. } => {
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

/// True unless the receiver asked for a wait longer than one attempt's
/// budget (`attempt_timeout`, 10 s): such a wait is not honoured by
/// sleeping a worker; the delivery fails now, logged with the answer.
fn within_budget(e: &DeliveryError, tuning: &Tuning) -> bool {
    e.retry_after()
        .is_none_or(|wait| wait <= tuning.attempt_timeout)
}

/// Where order matters: the deliveries of one view's transitions by one
/// alert kind to one destination reach it one after the other, in order.
pub type Lane = (String, String, Kind);

fn lane(job: &Job) -> Lane {
    (
        job.message.view.clone(),
        job.alert.clone(),
        job.kind.clone(),
    )
}

/// Hands jobs to worker threads; owned by the alerter thread, which calls
/// [`finished`](Dispatcher::finished) with each lane that comes back on
/// [`done`](Dispatcher::done).
pub struct Dispatcher {
    shared: Arc<Shared>,
    /// Deliveries running now (≤ `max_concurrent`).
    in_flight: usize,
    /// Lanes with a delivery running.
    busy: HashSet<Lane>,
    /// Deliveries not started yet, oldest first (≤ `max_waiting`).
    waiting: VecDeque<Job>,
    done_tx: Sender<Lane>,
    done_rx: Receiver<Lane>,
}

/// What every worker reads.
struct Shared {
    settings: AlertSettings,
    counters: Arc<Counters>,
    agent: ureq::Agent,
    history: History,
}

/// Reports a worker's end to the alerter thread, even by panic (and when
/// the worker could not be started: the closure holding it is dropped).
struct Slot {
    lane: Option<Lane>,
    done: Sender<Lane>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(lane) = self.lane.take() {
            // Unbounded, and the alerter holds a receiver: never fails
            // while it runs; after it ended nobody needs to know.
            let _ = self.done.send(lane);
        }
    }
}

impl Dispatcher {
    pub fn new(
        settings: AlertSettings,
        counters: Arc<Counters>,
        history: History,
    ) -> io::Result<Dispatcher> {
        // Unbounded, but never holds more than `max_concurrent` lanes: one
        // message per running worker.
        let (done_tx, done_rx) = unbounded();
        Ok(Dispatcher {
            shared: Arc::new(Shared::new(settings, counters, history)),
            in_flight: 0,
            busy: HashSet::new(),
            waiting: VecDeque::new(),
            done_tx,
            done_rx,
        })
    }

    /// New settings (a config reload) for the deliveries started from now
    /// on; running ones finish with the settings they started with (each
    /// worker holds its own `Arc`). The tuning is kept.
    pub fn set_settings(&mut self, mut settings: AlertSettings) {
        settings.tuning = self.shared.settings.tuning.clone();
        self.shared = Arc::new(Shared {
            settings,
            counters: Arc::clone(&self.shared.counters),
            agent: self.shared.agent.clone(),
            history: self.shared.history.clone(),
        });
    }

    pub fn settings(&self) -> &AlertSettings {
        &self.shared.settings
    }

    pub fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    /// The lanes of finished deliveries: hand each to `finished`.
    pub fn done(&self) -> &Receiver<Lane> {
        &self.done_rx
    }

    /// Deliveries running / waiting now.
    #[cfg(test)]
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    #[cfg(test)]
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Starts delivering `job` on a worker thread, or queues it behind the
    /// cap or behind an earlier delivery of its lane; never blocks. Only
    /// beyond `max_waiting` queued deliveries is one dropped (logged,
    /// counted).
    pub fn dispatch(&mut self, job: Job) {
        let max = self.shared.settings.tuning.max_waiting;
        if self.waiting.len() >= max {
            self.fail(
                &job,
                &format!("{max} deliveries are already waiting; dropped"),
            );
            return;
        }
        self.waiting.push_back(job);
        self.pump();
    }

    /// A delivery of `lane` ended: starts what waited for it.
    pub fn finished(&mut self, lane: Lane) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.busy.remove(&lane);
        self.pump();
    }

    /// Starts waiting deliveries, oldest first, while there is room and
    /// their lane is free (a later delivery of a busy lane stays behind
    /// the earlier one).
    fn pump(&mut self) {
        let cap = self.shared.settings.tuning.max_concurrent;
        let mut i = 0;
        while i < self.waiting.len() && self.in_flight < cap {
            if self.busy.contains(&lane(&self.waiting[i])) {
                i += 1;
            } else if let Some(job) = self.waiting.remove(i) {
                self.start(job);
            }
        }
    }

    fn start(&mut self, job: Job) {
        let lane = lane(&job);
        self.in_flight += 1;
        self.busy.insert(lane.clone());
        let slot = Slot {
            lane: Some(lane),
            done: self.done_tx.clone(),
        };
        let shared = Arc::clone(&self.shared);
        let worker_job = job.clone();
        let spawned = std::thread::Builder::new()
            .name("alert-delivery".into())
            .spawn(move || {
                let _slot = slot;
                shared.deliver(&worker_job);
            });
        if let Err(e) = spawned {
            // The slot was dropped with the closure: the lane comes back.
            self.fail(&job, &format!("cannot start a delivery thread: {e}"));
        }
    }

    /// A delivery that is never attempted: logged, counted, recorded as
    /// dropped.
    fn fail(&self, job: &Job, reason: &str) {
        Counters::add(&self.shared.counters.alert_failures, 1);
        log::error!(
            "alert {} ({} to {}) for view {} not sent: {reason}",
            job.alert,
            job.kind.name(),
            job.kind.destination(),
            job.message.view
        );
        self.shared
            .history
            .push(record(job, 0, Outcome::Dropped, Some(reason.to_string())));
    }
}

/// The history record of `job`, ended now.
fn record(job: &Job, attempt: u32, result: Outcome, error: Option<String>) -> Delivery {
    Delivery {
        time: now_ms(),
        view: job.message.view.clone(),
        incident: job.message.incident,
        alert: job.alert.clone(),
        kind: job.kind.name(),
        destination: job.kind.destination(),
        attempt,
        result,
        error,
        reminder: job.message.reminder,
    }
}

/// What one delivery came to, after its retries.
#[derive(Debug)]
pub struct Attempted {
    /// Attempts made (≥ 1).
    pub attempts: u32,
    pub result: Result<(), DeliveryError>,
}

/// Delivers each job in turn on this thread, with the same attempts,
/// retries, logs and counters as the alerter's workers; returns each
/// outcome in order. For `lovebeat -test-alert`.
pub fn send_now(settings: AlertSettings, jobs: &[Job]) -> Vec<Attempted> {
    let shared = Shared::new(settings, Arc::default(), History::with_capacity(1));
    jobs.iter().map(|job| shared.deliver(job)).collect()
}

impl Shared {
    fn new(settings: AlertSettings, counters: Arc<Counters>, history: History) -> Shared {
        let agent = super::http::agent(settings.tuning.attempt_timeout);
        Shared {
            settings,
            counters,
            agent,
            history,
        }
    }

    /// Delivers with retries, then logs, counts and records the outcome.
    fn deliver(&self, job: &Job) -> Attempted {
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
                Err(e) if e.retryable() && attempt < attempts && within_budget(&e, tuning) => {
                    // A receiver's Retry-After (429, 503) wins over our
                    // backoff when longer; one beyond the budget ends the
                    // retries (see `within_budget`).
                    let pause =
                        tuning.backoff[attempt - 1].max(e.retry_after().unwrap_or_default());
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
        let attempts = u32::try_from(attempt).unwrap_or(u32::MAX);
        match &result {
            Ok(()) => {
                Counters::add(&self.counters.alerts_sent, 1);
                self.history
                    .push(record(job, attempts, Outcome::Sent, None));
                log::info!(
                    "alert {} sent ({} to {}) for view {}: {} -> {}, incident {}{}",
                    job.alert,
                    job.kind.name(),
                    job.kind.destination(),
                    job.message.view,
                    job.message.from.upper(),
                    job.message.to.upper(),
                    job.message.incident,
                    match job.message.reminder {
                        0 => String::new(),
                        n => format!(", reminder {n}"),
                    }
                );
            }
            Err(e) => {
                Counters::add(&self.counters.alert_failures, 1);
                self.history
                    .push(record(job, attempts, Outcome::Failed, Some(e.to_string())));
                log::error!(
                    "alert {} ({} to {}) for view {} failed after {attempt} attempt(s): {e}",
                    job.alert,
                    job.kind.name(),
                    job.kind.destination(),
                    job.message.view
                );
            }
        }
        Attempted { attempts, result }
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
            Kind::Channel { index, target } => {
                let Some(channel) = CHANNELS.get(*index) else {
                    return Err(DeliveryError::NotConfigured(format!(
                        "no alert channel number {index}"
                    )));
                };
                let ctx = Ctx {
                    agent: &self.agent,
                    settings: s,
                    alert: &job.alert,
                };
                (channel.send)(&ctx, target, message)
                    .map_err(|e| e.scrubbed(&(channel.secrets)(&ctx, target)))
            }
        }
    }
}
