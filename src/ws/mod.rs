//! `GET /ws` (SPEC 5): the websocket of live changes, upgraded on the HTTP
//! connection's own thread (no second port). This module owns the
//! handshake checks, the client cap, the subscription and the wait for the
//! first snapshot; `snapshot` takes snapshots once for many clients;
//! `pending` coalesces a client's changes; `session` runs one client;
//! `message` renders the JSON.
//!
//! Ordering: the subscription is registered before the snapshot is taken.
//! Both go through the state thread's one command queue, so every change
//! after the snapshot arrives as an event; a change between the two arrives
//! as an event *and* is already in the snapshot. Clients therefore treat
//! ADD/UPDATE as "upsert" and REMOVE of an unknown name as a no-op, which
//! converges on the server's state. Coalescing keeps the latest event per
//! name, so the same holds for what is written.

pub mod message;
mod origin;
mod pending;
mod session;
mod snapshot;

use crate::events::Interest;
use crate::state::StateHandle;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::WebSocket;

pub use session::End;

/// Events a client's subscription holds until its thread drains them into
/// its coalescing map (16 bytes a slot, 256 KiB allocated per client; a
/// loss means a resync, not a disconnection).
pub const CLIENT_QUEUE: usize = 16_384;
/// How long a new client waits for its first snapshot before a 503.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(15);
/// Largest frame or message accepted from a client (it only sends pongs
/// and close frames).
const MAX_INBOUND: usize = 64 * 1024;

/// Shared by every connection: the state, the shared snapshots and the
/// number of clients.
pub struct Hub {
    state: StateHandle,
    snapshots: snapshot::Snapshots,
    max_clients: usize,
    clients: Arc<AtomicUsize>,
}

/// A refusal before the upgrade: status and message for `{"error": ...}`,
/// plus extra headers.
#[derive(Debug, PartialEq)]
pub struct Refusal {
    pub status: u16,
    pub message: String,
    pub headers: Vec<(&'static str, &'static str)>,
}

impl Refusal {
    fn new(status: u16, message: impl Into<String>) -> Self {
        Refusal {
            status,
            message: message.into(),
            headers: Vec::new(),
        }
    }
    pub fn body(&self) -> serde_json::Value {
        json!({"error": self.message})
    }
}

/// Holds one of the `max_clients` places until dropped.
pub struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, SeqCst);
    }
}

/// An acceptable upgrade request: what the 101 answer says.
#[derive(Debug, PartialEq)]
pub struct Handshake {
    /// `Sec-WebSocket-Accept`.
    pub accept: String,
    /// `Sec-WebSocket-Protocol`: "lovebeat" when the client offered it (the
    /// dashboard does, next to its token), else none.
    pub protocol: Option<&'static str>,
}

/// Checks the upgrade headers (`header` looks one up, case-insensitive),
/// and with `check_origin` (an access token is configured) the Origin (see
/// `origin`); says how to answer. Without a token everything stays open as
/// in Lovebeat 1.x, so the seed's nginx block (which rewrites `Host`) keeps
/// working unchanged.
pub fn check_handshake<'a>(
    method: &str,
    header: impl Fn(&str) -> Option<&'a str>,
    check_origin: bool,
) -> Result<Handshake, Refusal> {
    if method != "GET" {
        let mut r = Refusal::new(405, "method not allowed on /ws; allowed: GET");
        r.headers.push(("Allow", "GET"));
        return Err(r);
    }
    let has = |name: &str, token: &str| {
        header(name).is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    if !has("upgrade", "websocket") || !has("connection", "upgrade") {
        let mut r = Refusal::new(
            426,
            "/ws is a websocket: connect with a websocket client \
             (Connection: Upgrade, Upgrade: websocket)",
        );
        r.headers.push(("Upgrade", "websocket"));
        return Err(r);
    }
    if header("sec-websocket-version").map(str::trim) != Some("13") {
        let mut r = Refusal::new(426, "unsupported websocket version: only 13 is spoken");
        r.headers.push(("Sec-WebSocket-Version", "13"));
        return Err(r);
    }
    let accept = match header("sec-websocket-key").map(str::trim) {
        Some(key) if !key.is_empty() => tungstenite::handshake::derive_accept_key(key.as_bytes()),
        _ => return Err(Refusal::new(400, "missing Sec-WebSocket-Key header")),
    };
    if check_origin {
        origin::check(header("origin"), header("host"), header("x-forwarded-host"))
            .map_err(|m| Refusal::new(403, m))?;
    }
    let offered = header("sec-websocket-protocol").unwrap_or("");
    let protocol = offered
        .split(',')
        .any(|p| p.trim() == crate::http::auth::SUBPROTOCOL)
        .then_some(crate::http::auth::SUBPROTOCOL);
    Ok(Handshake { accept, protocol })
}

/// Logs a refused Origin as a warning at most once a minute (a page that
/// keeps reconnecting would otherwise fill the log), else at debug level.
pub fn warn_refused_origin(message: &str) {
    static LAST: std::sync::Mutex<Option<std::time::Instant>> = std::sync::Mutex::new(None);
    let now = std::time::Instant::now();
    let due = match LAST.lock() {
        Ok(mut last) => {
            let due = last.is_none_or(|t| now.duration_since(t).as_secs() >= 60);
            if due {
                *last = Some(now);
            }
            due
        }
        Err(_) => true,
    };
    if due {
        log::warn!("websocket: {message}");
    } else {
        log::debug!("websocket: {message}");
    }
}

/// A client admitted and subscribed, ready for `run`.
pub struct Admitted {
    /// Held for as long as the client is served.
    slot: Slot,
    /// The first snapshot, shared with clients admitted at the same time.
    snapshot: Arc<str>,
    synced: session::Synced,
}

impl Hub {
    pub fn new(state: StateHandle, max_clients: usize) -> Self {
        Hub {
            snapshots: snapshot::Snapshots::new(state.clone()),
            state,
            max_clients: max_clients.max(1),
            clients: Arc::default(),
        }
    }

    /// Clients connected now.
    pub fn clients(&self) -> usize {
        self.clients.load(SeqCst)
    }

    /// Takes a place (503 naming `max_ws_clients` beyond it), subscribes and
    /// waits (≤ 15 s) for a shared snapshot, coalescing the changes that
    /// arrive meanwhile (503 saying why when there is none).
    pub fn admit(&self) -> Result<Admitted, Refusal> {
        let before = self.clients.fetch_add(1, SeqCst);
        let slot = Slot(Arc::clone(&self.clients));
        if before >= self.max_clients {
            return Err(Refusal::new(
                503,
                format!(
                    "too many websocket clients: {} connected, the limit is \
                     [limits] max_ws_clients = {}; try again later",
                    before, self.max_clients
                ),
            ));
        }
        let events = self
            .state
            .subscribe_events(Interest::Everything, CLIENT_QUEUE)
            .map_err(|e| {
                Refusal::new(
                    503,
                    format!("could not subscribe a websocket client to changes: {e}"),
                )
            })?;
        // The snapshot is shared with every client asking meanwhile; the
        // changes arriving while it is taken are coalesced, not queued.
        let mut ticket = self.snapshots.ticket();
        let mut pending = pending::Pending::default();
        let mut resync_now = false;
        let deadline = Instant::now() + SNAPSHOT_WAIT;
        let snapshot = loop {
            match ticket.wait(Duration::from_millis(20)) {
                Some(Ok(text)) => break text,
                Some(Err(why)) => {
                    return Err(Refusal::new(
                        503,
                        format!("could not take the snapshot for a websocket client: {why}"),
                    ))
                }
                None => {}
            }
            if !session::drain(&events, &mut pending) {
                return Err(Refusal::new(503, "the server is stopping"));
            }
            if pending.waiting() > pending::MAX_PENDING {
                pending.clear();
                resync_now = true;
            }
            if Instant::now() >= deadline {
                return Err(Refusal::new(
                    503,
                    format!(
                        "the snapshot for a websocket client took more than {} s; try again",
                        SNAPSHOT_WAIT.as_secs()
                    ),
                ));
            }
        };
        Ok(Admitted {
            slot,
            snapshot,
            synced: session::Synced {
                events,
                resync_now,
                pending,
                snapshots: self.snapshots.clone(),
            },
        })
    }
}

/// Runs an admitted client on `stream` (already upgraded, non-blocking)
/// until it leaves or falls behind.
pub fn run<S: std::io::Read + std::io::Write>(client: Admitted, stream: S) -> End {
    // Clients only send pongs and close frames: a small read buffer. The
    // write buffer holds at most `LOW_WATER` plus one fragment or message.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(64 * 1024)
        .max_write_buffer_size(4 << 20)
        .max_message_size(Some(MAX_INBOUND))
        .max_frame_size(Some(MAX_INBOUND));
    let ws = WebSocket::from_raw_socket(session::Counted::new(stream), Role::Server, Some(config));
    let mut session = session::Session::new(ws, client.synced);
    let end = session.run(client.snapshot);
    drop(client.slot);
    if session.resyncs > 0 {
        log::debug!(
            "websocket client was resynced {} times (it fell behind)",
            session.resyncs
        );
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(
        list: &'static [(&'static str, &'static str)],
    ) -> impl Fn(&str) -> Option<&'static str> {
        move |name| {
            list.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
        }
    }

    #[test]
    fn handshake_accepts_rfc_example() {
        let h = headers(&[
            ("Upgrade", "websocket"),
            ("Connection", "keep-alive, Upgrade"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ]);
        // RFC 6455, section 1.3.
        assert_eq!(
            check_handshake("GET", h, true),
            Ok(Handshake {
                accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".to_owned(),
                protocol: None
            })
        );
    }

    #[test]
    fn handshake_checks_origin_and_picks_our_subprotocol() {
        let browser = headers(&[
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Host", "127.0.0.1:8080"),
            ("Origin", "http://127.0.0.1:8080"),
            ("Sec-WebSocket-Protocol", "lovebeat, bearer.eHh4"),
        ]);
        let h = check_handshake("GET", browser, true).expect("accepted");
        assert_eq!(h.protocol, Some("lovebeat"), "never the token's one");
        let evil = || {
            headers(&[
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
                ("Sec-WebSocket-Version", "13"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                ("Host", "127.0.0.1:8080"),
                ("Origin", "http://evil.example"),
            ])
        };
        assert_eq!(
            check_handshake("GET", evil(), true).map_err(|r| r.status),
            Err(403)
        );
        // Without a token configured nothing is checked (as in 1.x): a
        // proxy that rewrites Host keeps working.
        assert!(check_handshake("GET", evil(), false).is_ok());
    }

    #[test]
    fn handshake_refusals() {
        let plain = headers(&[("Accept", "*/*")]);
        assert_eq!(
            check_handshake("GET", plain, true).map_err(|r| r.status),
            Err(426)
        );
        let post = headers(&[]);
        assert_eq!(
            check_handshake("POST", post, true).map_err(|r| r.status),
            Err(405)
        );
        let v8 = headers(&[
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Version", "8"),
            ("Sec-WebSocket-Key", "x"),
        ]);
        assert_eq!(
            check_handshake("GET", v8, true).map_err(|r| r.status),
            Err(426)
        );
        let nokey = headers(&[
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Version", "13"),
        ]);
        assert_eq!(
            check_handshake("GET", nokey, true).map_err(|r| r.status),
            Err(400)
        );
    }
}
