//! The HTTP API (SPEC 4) on tiny_http: the listener and its worker threads,
//! reading requests off the socket (with the body limit), and handing them to
//! the socket-free router. Submodules: `router` (paths and methods),
//! `handlers` (one function per route), `beat` (beat bodies), `timeout`
//! (timeout text), `json` (reply shapes, both dialects), `urlenc`.
//!
//! Idle connections: tiny_http 0.12 runs every connection on a thread of its
//! own (an unbounded pool), so idle clients never block new ones, but it sets
//! no socket timeouts at all, so an idle keep-alive connection would live
//! forever. We set `SO_RCVTIMEO`/`SO_SNDTIMEO` on the listening socket, which
//! accepted sockets inherit (Linux, BSD): an idle or stalled connection is
//! closed after `idle_timeout`. The same option makes a blocking `accept()`
//! time out, which ends tiny_http's accept loop; so a keeper thread connects
//! to the listener more often than that, and if the accept loop ends anyway
//! (timeout, or `EMFILE`) a worker rebuilds the `tiny_http::Server` on the
//! same socket while the old one's connections are still served.

mod beat;
mod handlers;
mod json;
mod router;
mod timeout;
mod urlenc;

#[cfg(test)]
mod tests;

pub use beat::{beat_update, BeatError, BodyKind};
pub use json::Dialect;
pub use router::{route, ApiError, HttpRequest, HttpResponse, MAX_BODY};
pub use timeout::{parse_timeout, TimeoutError, MAX_TIMEOUT_SECS};

use crate::counters::Counters;
use crate::state::StateHandle;
use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Settings of the HTTP listener.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Threads answering requests (default 4).
    pub worker_threads: usize,
    /// A connection that sends nothing (or stops reading) for this long is
    /// closed (default 20 s).
    pub idle_timeout: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            worker_threads: 4,
            idle_timeout: Duration::from_secs(20),
        }
    }
}

/// Longest time a worker spends reading one request body.
const BODY_DEADLINE: Duration = Duration::from_secs(10);
/// An oversized body up to this declared length is drained (by tiny_http,
/// when the request is dropped) on a helper thread; see `reject_oversized`.
const DRAIN_MAX: usize = 16 * 1024 * 1024;
/// Helper threads draining oversized bodies, at most.
const MAX_DRAINERS: usize = 32;
/// How often a worker looks at servers replaced after an accept failure.
const POLL: Duration = Duration::from_millis(250);

/// What every worker shares.
struct Shared {
    state: StateHandle,
    #[allow(dead_code)] // read by `/metrics` (a later issue)
    counters: Arc<Counters>,
    /// A handle on the listening socket, to rebuild the server on.
    listener: TcpListener,
    servers: Mutex<Servers>,
    drainers: Arc<AtomicUsize>,
}

struct Servers {
    current: Arc<tiny_http::Server>,
    /// Servers whose accept loop ended; their open connections still send
    /// requests. Dropped after a quiet spell.
    old: Vec<(Arc<tiny_http::Server>, Instant)>,
}

/// Binds `addr` (e.g. "0.0.0.0:8080", "127.0.0.1:0", or ":8080" for all
/// interfaces) and starts the worker threads ("http-N") that answer requests,
/// plus the accept keeper ("http-keeper"). Returns the bound address.
pub fn spawn(
    addr: &str,
    state: StateHandle,
    counters: Arc<Counters>,
    opts: HttpOptions,
) -> io::Result<(SocketAddr, Vec<JoinHandle<()>>)> {
    let addr = if addr.starts_with(':') {
        format!("0.0.0.0{addr}")
    } else {
        addr.to_owned()
    };
    let idle = opts.idle_timeout.max(Duration::from_millis(100));
    let listener = inherit_timeouts(TcpListener::bind(&addr)?, idle)?;
    let local = listener.local_addr()?;
    let server = new_server(&listener)?;
    let shared = Arc::new(Shared {
        state,
        counters,
        listener,
        servers: Mutex::new(Servers {
            current: Arc::new(server),
            old: Vec::new(),
        }),
        drainers: Arc::new(AtomicUsize::new(0)),
    });
    let mut handles = Vec::new();
    for n in 0..opts.worker_threads.max(1) {
        let shared = Arc::clone(&shared);
        handles.push(
            thread::Builder::new()
                .name(format!("http-{n}"))
                .spawn(move || worker(&shared, idle))?,
        );
    }
    handles.push(
        thread::Builder::new()
            .name("http-keeper".into())
            .spawn(move || keeper(local, idle))?,
    );
    log::info!("HTTP API listening on {local}");
    Ok((local, handles))
}

fn new_server(listener: &TcpListener) -> io::Result<tiny_http::Server> {
    tiny_http::Server::from_listener(listener.try_clone()?, None)
        .map_err(|e| io::Error::other(e.to_string()))
}

/// Sets read and write timeouts on the listening socket so that accepted
/// sockets inherit them (std has no setter on listeners; a socket is a
/// socket, so we go through `TcpStream` on the same descriptor).
#[cfg(unix)]
fn inherit_timeouts(listener: TcpListener, idle: Duration) -> io::Result<TcpListener> {
    use std::os::fd::OwnedFd;
    let sock = TcpStream::from(OwnedFd::from(listener));
    sock.set_read_timeout(Some(idle))?;
    sock.set_write_timeout(Some(idle))?;
    Ok(TcpListener::from(OwnedFd::from(sock)))
}

#[cfg(not(unix))]
fn inherit_timeouts(listener: TcpListener, _idle: Duration) -> io::Result<TcpListener> {
    Ok(listener)
}

/// Connects to the listener now and then so that a blocking `accept()` never
/// runs into the inherited timeout on a quiet server.
fn keeper(local: SocketAddr, idle: Duration) {
    let mut target = local;
    if target.ip().is_unspecified() {
        target.set_ip(match target {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let every = idle / 3;
    loop {
        thread::sleep(every);
        if let Err(e) = TcpStream::connect_timeout(&target, every.max(Duration::from_secs(1))) {
            log::debug!("http keeper could not connect to {target}: {e}");
        }
    }
}

fn worker(shared: &Shared, idle: Duration) {
    loop {
        let (current, has_old) = {
            let s = shared
                .servers
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            (Arc::clone(&s.current), !s.old.is_empty())
        };
        let wait = if has_old { POLL } else { idle };
        match current.recv_timeout(wait) {
            Ok(Some(rq)) => handle(shared, rq),
            Ok(None) => {}
            Err(e) => replace_server(shared, &current, &e),
        }
        if has_old {
            serve_old(shared, idle);
        }
    }
}

/// The accept loop of `dead` ended with `e`: start a new server on the same
/// socket, keep the old one for its open connections.
fn replace_server(shared: &Shared, dead: &Arc<tiny_http::Server>, e: &io::Error) {
    let mut s = shared
        .servers
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if !Arc::ptr_eq(&s.current, dead) {
        return; // another worker did it
    }
    log::warn!("HTTP accept loop stopped ({e}); restarting it");
    match new_server(&shared.listener) {
        Ok(server) => {
            let old = std::mem::replace(&mut s.current, Arc::new(server));
            s.old.push((old, Instant::now()));
        }
        Err(e) => {
            drop(s);
            log::error!("cannot restart the HTTP server: {e}; retrying");
            thread::sleep(Duration::from_secs(1));
        }
    }
}

/// Answers whatever the replaced servers have queued, and forgets those that
/// have been quiet for longer than any connection can idle.
fn serve_old(shared: &Shared, idle: Duration) {
    let olds: Vec<Arc<tiny_http::Server>> = {
        let mut s = shared
            .servers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        s.old
            .retain(|(_, last)| last.elapsed() < idle * 2 + BODY_DEADLINE);
        s.old.iter().map(|(srv, _)| Arc::clone(srv)).collect()
    };
    for srv in olds {
        while let Ok(Some(rq)) = srv.try_recv() {
            {
                let mut s = shared
                    .servers
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                for (o, last) in s.old.iter_mut() {
                    if Arc::ptr_eq(o, &srv) {
                        *last = Instant::now();
                    }
                }
            }
            handle(shared, rq);
        }
    }
}

/// Reads one request off tiny_http, routes it and answers.
fn handle(shared: &Shared, mut rq: tiny_http::Request) {
    let url = rq.url().to_owned();
    let (path, query) = match url.split_once('?') {
        Some((p, q)) => (p.to_owned(), q.to_owned()),
        None => (url.clone(), String::new()),
    };
    let mut req = HttpRequest {
        method: rq.method().as_str().to_ascii_uppercase(),
        path,
        query,
        headers: rq
            .headers()
            .iter()
            .map(|h| {
                (
                    h.field.as_str().as_str().to_owned(),
                    h.value.as_str().to_owned(),
                )
            })
            .collect(),
        body: Vec::new(),
    };
    // Later: `GET /ws` is upgraded here, before any body is read.
    if let Some(len) = rq.body_length() {
        if len > MAX_BODY {
            return reject_oversized(shared, rq, len);
        }
    }
    let resp = match read_body(&mut rq) {
        Ok(body) => {
            req.body = body;
            let state = &shared.state;
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| route(&req, state)))
                .unwrap_or_else(|_| {
                    log::error!("HTTP handler panicked on {} {}", req.method, req.path);
                    HttpResponse::json(500, &serde_json::json!({"error": "internal error"}))
                })
        }
        Err(BodyError::TooLarge) => ApiError::BodyTooLarge.into_response(),
        Err(BodyError::Io(e)) => HttpResponse::json(
            400,
            &serde_json::json!({"error": format!("could not read the request body: {e}")}),
        ),
    };
    if let Err(e) = rq.respond(to_tiny(resp)) {
        log::debug!("HTTP reply to {} not sent: {e}", req.path);
    }
}

enum BodyError {
    TooLarge,
    Io(io::Error),
}

/// Reads the body, never more than `MAX_BODY + 1` bytes (so a chunked body
/// cannot exceed the limit either) and for at most `BODY_DEADLINE`.
fn read_body(rq: &mut tiny_http::Request) -> Result<Vec<u8>, BodyError> {
    let start = Instant::now();
    let mut body = Vec::new();
    let mut reader = rq.as_reader().take(MAX_BODY as u64 + 1);
    let mut buf = [0u8; 8192];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => body.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(BodyError::Io(e)),
        }
        if body.len() > MAX_BODY {
            return Err(BodyError::TooLarge);
        }
        if start.elapsed() > BODY_DEADLINE {
            return Err(BodyError::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                "the body took too long to arrive",
            )));
        }
    }
    Ok(body)
}

/// Answers 413 to a request whose Content-Length is over the limit, without
/// reading the body. Careful: when tiny_http drops such a request it drains
/// the unread body through a buffer of the *declared* size, allocated at
/// once. Up to `DRAIN_MAX` that happens on a helper thread (so a slow client
/// does not hold a worker); beyond, the allocation could abort the process,
/// so the connection is answered through `upgrade` and deliberately leaked.
fn reject_oversized(shared: &Shared, rq: tiny_http::Request, len: usize) {
    let resp = to_tiny(ApiError::BodyTooLarge.into_response());
    if len > DRAIN_MAX {
        log::warn!("HTTP request declaring a {len}-byte body refused; its connection is abandoned");
        let stream = rq.upgrade("close", resp);
        std::mem::forget(stream);
        return;
    }
    // `respond` drops the request, which drains the body.
    let reply = move || {
        if let Err(e) = rq.respond(resp) {
            log::debug!("413 reply not sent: {e}");
        }
    };
    if shared.drainers.fetch_add(1, Ordering::SeqCst) < MAX_DRAINERS {
        let done = DrainerSlot(Arc::clone(&shared.drainers));
        let spawned = thread::Builder::new()
            .name("http-drain".into())
            .spawn(move || {
                let _slot = done;
                reply();
            });
        if let Err(e) = spawned {
            log::debug!("no drainer thread ({e})");
        }
    } else {
        shared.drainers.fetch_sub(1, Ordering::SeqCst);
        reply();
    }
}

/// One running drainer thread; frees its slot when dropped.
struct DrainerSlot(Arc<AtomicUsize>);

impl Drop for DrainerSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Turns a response description into a tiny_http response.
fn to_tiny(resp: HttpResponse) -> tiny_http::Response<io::Cursor<Vec<u8>>> {
    let mut r = tiny_http::Response::from_data(resp.body).with_status_code(resp.status);
    let headers = std::iter::once(("Content-Type".to_owned(), resp.content_type.to_owned()))
        .chain(resp.headers);
    for (k, v) in headers {
        if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
            r.add_header(h);
        }
    }
    r
}
