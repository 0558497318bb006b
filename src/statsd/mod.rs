//! statsd ingest (SPEC 3): the line parser and the UDP and TCP listeners,
//! which hand the state thread batches of updates. This module owns the
//! statsd wire format, the listener threads and their sockets; it counts
//! lines, invalid lines, dropped batches and refused connections in
//! `Counters`, and never touches service state itself.
//!
//! - `parse`: `parse_line` / `parse_packet` (no allocation per line).
//! - `warn`: the rate-limited warning about invalid lines (one per 10 s).
//! - `udp`: `spawn_udp`, one thread reading datagrams of up to 64 KiB.
//! - `tcp`: `spawn_tcp`, an accept thread and one thread per connection,
//!   capped, with 4 KiB lines and an idle timeout.

mod parse;
mod tcp;
mod udp;
mod warn;

pub use parse::{parse_line, parse_packet, LineError, MAX_TIMEOUT_MS};
pub use tcp::{spawn_tcp, MAX_LINE_LEN, TCP_IDLE_TIMEOUT};
pub use udp::{spawn_udp, MAX_DATAGRAM};

use crate::counters::Counters;
use crate::model::Batch;
use crate::state::StateHandle;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// Rate-limited warnings repeat at most this often.
const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// Lets a warning through at most once per `WARN_INTERVAL`, counting how
/// many were held back in between. Shared between threads without a lock.
pub(crate) struct LogLimiter {
    start: Instant,
    /// Milliseconds since `start` before which nothing is logged.
    next_ms: AtomicU64,
    suppressed: AtomicU64,
}

impl LogLimiter {
    pub(crate) fn new() -> Self {
        LogLimiter {
            start: Instant::now(),
            next_ms: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(held_back)` when a message may be logged now (with the number
    /// of messages held back since the last one), else `None`.
    pub(crate) fn check(&self) -> Option<u64> {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        let next = self.next_ms.load(Relaxed);
        let interval = u64::try_from(WARN_INTERVAL.as_millis()).unwrap_or(u64::MAX);
        if now >= next
            && self
                .next_ms
                .compare_exchange(next, now.saturating_add(interval), Relaxed, Relaxed)
                .is_ok()
        {
            Some(self.suppressed.swap(0, Relaxed))
        } else {
            self.suppressed.fetch_add(1, Relaxed);
            None
        }
    }
}

/// Hands a non-empty batch to the state thread. UDP (`wait` None) never
/// waits; TCP waits up to `wait` for room, which slows down only that
/// client. A batch that still finds the queue full is dropped, counted in
/// `queue_drops` (per update) and warned about (rate-limited).
pub(crate) fn hand_over(
    batch: Batch,
    state: &StateHandle,
    counters: &Counters,
    limiter: &LogLimiter,
    source: &str,
    wait: Option<std::time::Duration>,
) {
    if batch.is_empty() {
        return;
    }
    let n = batch.len() as u64;
    let delivered = match wait {
        None => state.ingest(batch),
        Some(timeout) => state.ingest_waiting(batch, timeout),
    };
    if !delivered {
        Counters::add(&counters.queue_drops, n);
        if let Some(held_back) = limiter.check() {
            log::warn!(
                "statsd {source}: state queue full (or state thread gone), dropped {n} updates \
                 ({held_back} similar warnings suppressed); the server is overloaded"
            );
        }
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    use crate::model::{Batch, Update};
    use crate::state::{Command, StateHandle};
    use crossbeam_channel::{bounded, Receiver};
    use std::time::{Duration, Instant};

    /// A state handle whose commands land in the returned receiver.
    pub fn fake_state(cap: usize) -> (StateHandle, Receiver<Command>) {
        let (tx, rx) = bounded(cap);
        (StateHandle::new(tx), rx)
    }

    /// Collects ingested updates until `want` arrived or `timeout` passed.
    pub fn collect(
        rx: &Receiver<Command>,
        want: usize,
        timeout: Duration,
    ) -> Vec<(String, Update)> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        while out.len() < want {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            if let Ok(Command::Ingest(batch)) = rx.recv_timeout(left) {
                push_all(&mut out, &batch);
            }
        }
        out
    }

    fn push_all(out: &mut Vec<(String, Update)>, batch: &Batch) {
        out.extend(batch.iter().map(|(n, u)| (n.to_owned(), u)));
    }

    /// Polls `cond` every 5 ms until it holds or `timeout` passes.
    pub fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if cond() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_lets_first_through_then_holds_back() {
        let l = LogLimiter::new();
        assert_eq!(l.check(), Some(0));
        assert_eq!(l.check(), None);
        assert_eq!(l.check(), None);
        assert_eq!(l.suppressed.load(Relaxed), 2);
    }
}
