//! lovebeat patch: what keeps one client from taking the port away.
//!
//! - `Conn`: one accepted socket, shared (one descriptor, no `dup`) by the
//!   connection's reader, writer and `Request::tcp_stream`, with its watch
//!   state: since when it is *evictable* (waiting for a request, or still
//!   receiving a request head) or `BUSY` (a request is being handled), and
//!   the deadline of the head being received.
//! - `Registry`: the connections served through a `ConnectionHandler`; at
//!   the connection cap (or out of descriptors) the accept loop closes the
//!   evictable connection that has been so the longest, so a new client is
//!   always served.
//! - `HeadLimits`: how long and how big a request head may be.
//! - `RateLog`: a warning at most every 10 s, with a count of the rest.

use std::collections::HashMap;
use std::io::{Error as IoError, ErrorKind, Result as IoResult};
use std::net::Shutdown;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::connection::Connection;

/// Limits on one request head (request line and headers).
#[derive(Clone, Copy, Debug)]
pub struct HeadLimits {
    /// The whole head must arrive within this time of its first byte.
    pub deadline: Duration,
    /// Longest head, request line included (431 beyond).
    pub max_head: usize,
    /// Longest request line (400 beyond).
    pub max_line: usize,
}

impl Default for HeadLimits {
    fn default() -> Self {
        HeadLimits {
            deadline: Duration::from_secs(10),
            max_head: 16 * 1024,
            max_line: 8 * 1024,
        }
    }
}

/// `since` of a connection handling a request.
const BUSY: u64 = 0;
/// `since` of a connection closed by `Registry::evict_oldest`.
const EVICTED: u64 = u64::MAX;

/// Nanoseconds on a process-wide monotonic clock, never 0.
pub(crate) fn now_nanos() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    let base = *BASE.get_or_init(Instant::now);
    base.elapsed().as_nanos() as u64 + 1
}

/// One accepted connection: the socket and its watch state.
pub(crate) struct Conn {
    pub(crate) io: Connection,
    /// `BUSY`, `EVICTED`, or since when (`now_nanos`) it is evictable.
    since: AtomicU64,
    /// When the head being received must be complete (0: no head started).
    head_deadline: AtomicU64,
    /// The read timeout is the head's remaining time, not `idle`.
    custom_timeout: AtomicBool,
    idle: Option<Duration>,
    pub(crate) limits: HeadLimits,
    /// The peer's address as accept gave it (saves a getpeername).
    pub(crate) peer: Option<std::net::SocketAddr>,
}

impl Conn {
    pub(crate) fn new(io: Connection, idle: Option<Duration>, limits: HeadLimits) -> Conn {
        Conn {
            io,
            since: AtomicU64::new(now_nanos()),
            head_deadline: AtomicU64::new(0),
            custom_timeout: AtomicBool::new(false),
            idle,
            limits,
            peer: None,
        }
    }

    /// Waiting for the next request: evictable from now on.
    pub(crate) fn waiting(&self) {
        self.head_deadline.store(0, Relaxed);
        let _ = self
            .since
            .fetch_update(Relaxed, Relaxed, |s| (s != EVICTED).then(now_nanos));
    }

    /// The first byte of a head arrived: the rest must follow in time.
    pub(crate) fn head_started(&self) {
        let deadline = now_nanos() + self.limits.deadline.as_nanos() as u64;
        let _ = self
            .head_deadline
            .compare_exchange(0, deadline, Relaxed, Relaxed);
    }

    /// The head is complete: the request is handled and may not be evicted.
    /// False if the connection was evicted meanwhile.
    pub(crate) fn busy(&self) -> bool {
        self.head_deadline.store(0, Relaxed);
        self.since
            .fetch_update(Relaxed, Relaxed, |s| (s != EVICTED).then_some(BUSY))
            .is_ok()
    }

    /// Called before every read of the socket: while a head is being
    /// received, a read waits at most for the head's remaining time.
    pub(crate) fn before_read(&self) -> IoResult<()> {
        let deadline = self.head_deadline.load(Relaxed);
        let Connection::Tcp(tcp) = &self.io else {
            return Ok(());
        };
        if deadline != 0 {
            let now = now_nanos();
            if now >= deadline {
                return Err(IoError::new(
                    ErrorKind::TimedOut,
                    "the request head took too long",
                ));
            }
            let left = Duration::from_nanos(deadline - now);
            let wait = self.idle.map_or(left, |idle| idle.min(left));
            tcp.set_read_timeout(Some(wait.max(Duration::from_millis(1))))?;
            self.custom_timeout.store(true, Relaxed);
        } else if self.custom_timeout.swap(false, Relaxed) {
            tcp.set_read_timeout(self.idle)?;
        }
        Ok(())
    }

    /// True while a head is being received (its deadline runs).
    pub(crate) fn in_head(&self) -> bool {
        self.head_deadline.load(Relaxed) != 0
    }

    /// Closes the connection if it is still evictable since `since`.
    fn evict(&self, since: u64) -> bool {
        if self
            .since
            .compare_exchange(since, EVICTED, Relaxed, Relaxed)
            .is_err()
        {
            return false;
        }
        let _ = self.io.shutdown(Shutdown::Both);
        true
    }
}

/// The connections served now, by id.
#[derive(Default)]
pub(crate) struct Registry {
    conns: Mutex<HashMap<u64, std::sync::Arc<Conn>>>,
    next_id: AtomicU64,
}

impl Registry {
    pub(crate) fn insert(&self, conn: std::sync::Arc<Conn>) -> u64 {
        let id = self.next_id.fetch_add(1, Relaxed);
        if let Ok(mut conns) = self.conns.lock() {
            conns.insert(id, conn);
        }
        id
    }

    pub(crate) fn remove(&self, id: u64) {
        if let Ok(mut conns) = self.conns.lock() {
            conns.remove(&id);
        }
    }

    /// Closes the connection that has been idle or receiving its head for
    /// the longest. False if every connection is handling a request.
    pub(crate) fn evict_oldest(&self) -> bool {
        let Ok(conns) = self.conns.lock() else {
            return false;
        };
        for _ in 0..4 {
            let oldest = conns
                .values()
                .filter_map(|c| {
                    let s = c.since.load(Relaxed);
                    (s != BUSY && s != EVICTED).then_some((s, c))
                })
                .min_by_key(|(s, _)| *s);
            match oldest {
                None => return false,
                Some((since, conn)) if conn.evict(since) => return true,
                Some(_) => continue, // it changed meanwhile: look again
            }
        }
        false
    }
}

/// A warning logged at most once every 10 s; the ones in between are
/// counted and their number given with the next.
pub(crate) struct RateLog {
    last: Option<Instant>,
    skipped: u64,
}

impl RateLog {
    pub(crate) const fn new() -> RateLog {
        RateLog {
            last: None,
            skipped: 0,
        }
    }

    pub(crate) fn warn(&mut self, what: std::fmt::Arguments<'_>) {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(10))
        {
            self.skipped += 1;
            return;
        }
        if self.skipped > 0 {
            log::warn!("{} ({} more like it since the last such warning)", what, self.skipped);
        } else {
            log::warn!("{}", what);
        }
        self.last = Some(now);
        self.skipped = 0;
    }
}
