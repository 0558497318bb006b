//! Process-wide counters (atomics) shared by the listeners, the state thread
//! and the saver, read by `/metrics` and the statsd metrics thread.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Counters that only ever go up, plus a few last-seen gauges.
#[derive(Debug, Default)]
pub struct Counters {
    /// Beats accepted by the engine (after the rate limit).
    pub beats: AtomicU64,
    /// statsd lines that could not be parsed or named an invalid service.
    pub invalid_lines: AtomicU64,
    /// statsd lines received (valid or not).
    pub lines: AtomicU64,
    /// Updates refused because `max_services` was reached.
    pub refused_services: AtomicU64,
    /// Times the monitor found it had not been watching (stopped process,
    /// suspended VM): deadlines inside were moved, see `state::watch`.
    pub freezes: AtomicU64,
    /// Batches or events dropped because a bounded queue was full.
    pub queue_drops: AtomicU64,
    /// TCP statsd connections refused because the cap was reached.
    pub tcp_refused: AtomicU64,
    /// Database saves that succeeded / failed.
    pub saves: AtomicU64,
    pub save_failures: AtomicU64,
    /// Duration of the last save, milliseconds.
    pub last_save_ms: AtomicU64,
    /// Alert deliveries that succeeded / failed for good (after retries).
    pub alerts_sent: AtomicU64,
    pub alert_failures: AtomicU64,
    /// `[[notify]]` posts that failed.
    pub notify_failures: AtomicU64,
    /// statsd metric lines dropped because the sender's queue was full.
    pub metrics_dropped: AtomicU64,
    /// Event log lines that could not be written.
    pub eventlog_failures: AtomicU64,
    /// Database uploads to S3 that succeeded / failed.
    pub s3_uploads: AtomicU64,
    pub s3_upload_failures: AtomicU64,
    /// healthchecks and Uptime Kuma pings refused with their 404 for naming no service,
    /// sent without the `[http] auth_token` that would have created it.
    pub peer_unknown: AtomicU64,
    /// When the process started, Unix milliseconds (set once at start).
    pub started_at_ms: AtomicU64,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Relaxed)
    }
}
