//! The HTTP API (SPEC 4) on tiny_http: the listener and its worker threads,
//! reading requests off the socket (with the body limit), checking the
//! access token (`auth`, once, before any routing), and handing them to
//! the socket-free router. Every reply carries `X-Content-Type-Options:
//! nosniff`, and `Cache-Control: no-store` unless it set its own (the
//! dashboard's page and assets do). Submodules: `request` (the request,
//! reply and error types), `router` (the route table, `/metrics` and `/ws`
//! included),
//! `auth` (the optional access token),
//! `handlers` (one function per route), `dashboard` (the embedded web
//! page and its assets), `beat` (beat bodies), `timeout`
//! (timeout text), `jobs` (the run signal and event routes of SPEC 14.4),
//! `settings` (job settings from query, form or JSON), `metrics`
//! (`/metrics`), `urlenc`, `badge`, `status_page` and `uptime_strip`
//! (SPEC 18's badges and public status page). A run's output (a signal's
//! body) is read only up to `max_body_bytes` (`body`: `body_limit`,
//! `read_body`) and the rest drained. The JSON shapes are
//! in `crate::json`, shared with `ws` and `eventlog`.
//!
//! Connections: our tiny_http fork (see `vendor/tiny_http/PATCHED.md`) runs
//! every connection on a thread of its own, so idle clients never block new
//! ones; each accepted socket (one descriptor) gets a read/write timeout, so
//! an idle or stalled connection is closed after `idle_timeout`; a request
//! head must come within `head_limits`; at the connection cap (`fds` keeps
//! it within the open-file limit) the longest idle connection makes room;
//! accept errors such as EMFILE are survived.

pub mod auth;
mod badge;
mod beat;
mod body;
mod dashboard;
mod fds;
mod fresh;
mod handlers;
mod history;
pub(crate) mod jobs;
mod metrics;
mod peer_cronitor;
mod peer_healthchecks;
mod peer_kuma;
mod peer_sentry;
mod peer_sentry_answers;
mod peer_sentry_envelope;
mod policy;
mod request;
mod router;
pub(crate) mod settings;
mod status_page;
mod timeout;
mod uptime_strip;
mod urlenc;

#[cfg(test)]
mod jobs_socket_tests;
#[cfg(test)]
mod jobs_tests;
#[cfg(test)]
mod tests;

pub use crate::json::Dialect;
pub use beat::{beat_update, BeatError, BodyKind};
pub use fds::raise_nofile_limit;
pub use jobs::parse_signal;
pub use request::DEFAULT_MAX_BODY_BYTES;
pub use request::{ApiError, HttpRequest, HttpResponse, MAX_BODY};
pub use router::{endpoint, route, Endpoint};
pub use settings::{from_query as job_settings_from_query, parse_duration};
pub use timeout::{parse_timeout, TimeoutError, MAX_TIMEOUT_SECS};

use crate::counters::Counters;
use crate::state::StateHandle;
use body::{body_limit, read_body, reject_oversized, BodyError};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Settings of the HTTP listener.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Connections served at once; more are closed on accept (default 1024).
    pub max_connections: usize,
    /// A connection that sends nothing (or stops reading) for this long is
    /// closed (default 20 s).
    pub idle_timeout: Duration,
    /// Websocket clients at once (`[limits] max_ws_clients`, default 64);
    /// more are refused with 503.
    pub max_ws_clients: usize,
    /// `[http] auth_token` / `auth_read` (default: no token, all open).
    pub auth: auth::Auth,
    /// A request head must arrive within 10 s of its first byte and be at
    /// most 16 KiB (request line: 8 KiB).
    pub head_limits: tiny_http::HeadLimits,
    /// `[limits] max_body_bytes` (default 10,000): how much of a run's
    /// output (the body of a signal) is read and kept; the rest is
    /// drained unread into nothing.
    pub max_body_bytes: usize,
    /// The alerter's finished deliveries, for `GET /api/alerts/history`.
    pub alert_history: crate::alert::History,
    /// `[healthchecks]` (SPEC 17): `None` = its `/ping/` routes are off.
    pub healthchecks: Option<crate::config::Healthchecks>,
    /// `[uptime_kuma]` (SPEC 17): `None` (or not enabled) = `/api/push/` off.
    pub uptime_kuma: Option<crate::config::UptimeKuma>,
    /// `[cronitor]` (SPEC 17): `None` = its `/p/` route is off.
    pub cronitor: Option<crate::config::Cronitor>,
    /// `[sentry]` (SPEC 17): `None` = its cron route is off.
    pub sentry: Option<crate::config::Sentry>,
    /// `[status_page]` (SPEC 18): `None` = `/status-page` is off.
    pub status_page: Option<crate::config::StatusPage>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            max_connections: 1024,
            idle_timeout: Duration::from_secs(20),
            max_ws_clients: 64,
            auth: auth::Auth::default(),
            head_limits: tiny_http::HeadLimits::default(),
            max_body_bytes: request::DEFAULT_MAX_BODY_BYTES,
            alert_history: crate::alert::History::default(),
            healthchecks: None,
            uptime_kuma: None,
            cronitor: None,
            sentry: None,
            status_page: None,
        }
    }
}

/// What every connection shares.
struct Shared {
    state: StateHandle,
    counters: Arc<Counters>,
    ws: crate::ws::Hub,
    auth: auth::Auth,
    max_body_bytes: usize,
    alert_history: crate::alert::History,
    healthchecks: Option<Arc<crate::config::Healthchecks>>,
    uptime_kuma: Option<Arc<crate::config::UptimeKuma>>,
    cronitor: Option<Arc<crate::config::Cronitor>>,
    sentry: Option<Arc<crate::config::Sentry>>,
    status_page: Option<Arc<status_page::Published>>,
    badges: Arc<badge::ViewStates>,
}

/// Binds `addr` (e.g. "[::]:8080" for every interface, IPv4 and IPv6, see
/// `crate::net`; "127.0.0.1:0"; or ":8080", the same as "[::]:8080") and
/// serves it for the life of the process: every connection
/// is answered on its own thread (tiny_http's), so a slow client holds only
/// itself up. Returns the bound address.
pub fn spawn(
    addr: &str,
    state: StateHandle,
    counters: Arc<Counters>,
    opts: HttpOptions,
) -> io::Result<(SocketAddr, Vec<JoinHandle<()>>)> {
    let addr = if addr.starts_with(':') {
        format!("[::]{addr}")
    } else {
        addr.to_owned()
    };
    let listener = crate::net::bind_tcp(&addr)?;
    let local = listener.local_addr()?;
    fds::defer_accept(&listener, 10);
    let idle = opts.idle_timeout.max(Duration::from_millis(100));
    let ws = crate::ws::Hub::new(state.clone(), opts.max_ws_clients);
    let shared = Arc::new(Shared {
        state,
        counters,
        ws,
        auth: opts.auth,
        max_body_bytes: opts.max_body_bytes,
        alert_history: opts.alert_history,
        healthchecks: opts.healthchecks.map(Arc::new),
        uptime_kuma: opts.uptime_kuma.filter(|k| k.enabled).map(Arc::new),
        cronitor: opts.cronitor.map(Arc::new),
        sentry: opts.sentry.map(Arc::new),
        status_page: opts
            .status_page
            .map(|c| Arc::new(status_page::Published::new(c))),
        badges: Arc::default(),
    });
    let max_connections = fds::connection_cap(opts.max_connections.max(1));
    if max_connections < opts.max_connections {
        log::warn!(
            "HTTP: at most {max_connections} connections (not {}): the open-file limit is low",
            opts.max_connections
        );
    }
    let handler = tiny_http::ConnectionHandler {
        handle: Arc::new(move |rq| handle(&shared, rq)),
        max_connections,
        open: Arc::default(),
        limits: opts.head_limits,
    };
    let server =
        tiny_http::Server::from_listener_with_handler(listener, None, Some(idle), Some(handler))
            .map_err(|e| io::Error::other(e.to_string()))?;
    // Dropping the server would stop its accept loop; it serves until exit.
    Box::leak(Box::new(server));
    Ok((local, Vec::new()))
}

/// Reads one request off tiny_http, routes it and answers.
fn handle(shared: &Shared, mut rq: tiny_http::Request) {
    let (path, query) = match rq.url().split_once('?') {
        Some((p, q)) => (p.to_owned(), q.to_owned()),
        None => (rq.url().to_owned(), String::new()),
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
        body_truncated: false,
        max_body_bytes: shared.max_body_bytes,
        remote_addr: rq.remote_addr().map(|a| a.ip()),
        healthchecks: shared.healthchecks.clone(),
        uptime_kuma: shared.uptime_kuma.clone(),
        cronitor: shared.cronitor.clone(),
        sentry: shared.sentry.clone(),
        token_granted: false,
        status_page: shared.status_page.clone(),
        badges: Arc::clone(&shared.badges),
    };
    let endpoint = router::endpoint(&req);
    // Only the routes whose first ping creates a service ask (off the beat
    // path): healthchecks' uuids and Kuma's push tokens.
    if matches!(
        endpoint,
        router::Endpoint::Healthchecks | router::Endpoint::UptimeKuma
    ) {
        req.token_granted = shared.auth.grants(&req);
    }
    // `Ping-Body-Limit` on every reply of a route that takes a run's output.
    let limit_header = endpoint
        .takes_output()
        .then(|| router::body_limit_header(shared.max_body_bytes));
    // A peer's route carries its own credential (SPEC 17): no token asked.
    let own_key = matches!(
        endpoint,
        router::Endpoint::Healthchecks
            | router::Endpoint::UptimeKuma
            | router::Endpoint::Cronitor
            | router::Endpoint::Sentry
    );
    let checked = if own_key {
        Ok(())
    } else {
        shared.auth.check(&req)
    };
    if let Err(denied) = checked {
        let need = auth::need(&req.method, &req.path);
        log::debug!("HTTP {} {} refused: {denied:?}", req.method, req.path);
        let mut resp = HttpResponse::json(401, &serde_json::json!({"error": denied.message(need)}));
        resp.headers
            .push(("WWW-Authenticate".into(), denied.challenge().into()));
        resp.headers.extend(limit_header);
        if let Err(e) = rq.respond(to_tiny(resp)) {
            log::debug!("401 reply not sent: {e}");
        }
        return;
    }
    // `/ws` takes the connection over before any body is read; `/metrics`
    // has none to read.
    match endpoint {
        router::Endpoint::Websocket => return serve_ws(shared, rq, &req),
        router::Endpoint::Metrics => {
            let resp = router::answer(&req, endpoint, &shared.state, &shared.counters);
            if let Err(e) = rq.respond(to_tiny(resp)) {
                log::debug!("HTTP reply to /metrics not sent: {e}");
            }
            return;
        }
        // Answered from the alerter's ring, not the state thread.
        router::Endpoint::AlertHistory => {
            let resp = HttpResponse::json(200, &shared.alert_history.to_json());
            if let Err(e) = rq.respond(to_tiny(resp)) {
                log::debug!("HTTP reply to /api/alerts/history not sent: {e}");
            }
            return;
        }
        _ => {}
    }
    // tiny_http reads a Content-Length it cannot parse as "no body"; such a
    // request must not go through as an empty one.
    let declared = req.header("content-length").map(str::trim);
    if declared.is_some_and(|v| v.parse::<u64>().is_err()) {
        let mut resp = HttpResponse::json(
            400,
            &serde_json::json!({"error": "invalid Content-Length header"}),
        );
        resp.headers.extend(limit_header);
        let _ = rq.respond(to_tiny(resp));
        return;
    }
    let limit = body_limit(&endpoint, &req);
    // Sentry's routes refuse as Relay does (axum's 413, CORS headers).
    let too_large = || match endpoint {
        router::Endpoint::Sentry => peer_sentry::with_cors(peer_sentry::too_large()),
        _ => ApiError::BodyTooLarge.into_response(),
    };
    if let Some(len) = rq.body_length() {
        if len > limit.max && !limit.truncate {
            return reject_oversized(rq, len, too_large(), limit_header);
        }
    }
    let resp = match read_body(&mut rq, limit) {
        Ok((body, truncated)) => {
            req.body = body;
            req.body_truncated = truncated;
            let state = &shared.state;
            let counters = &shared.counters;
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                router::answer(&req, endpoint, state, counters)
            }))
            .unwrap_or_else(|_| {
                log::error!("HTTP handler panicked on {} {}", req.method, req.path);
                HttpResponse::json(500, &serde_json::json!({"error": "internal error"}))
            })
        }
        Err(e) => {
            let mut resp = match e {
                BodyError::TooLarge => too_large(),
                BodyError::Io(e) => HttpResponse::json(
                    400,
                    &serde_json::json!({"error": format!("could not read the request body: {e}")}),
                ),
            };
            // `answer` adds it to the replies it makes.
            resp.headers.extend(limit_header);
            resp
        }
    };
    if let Err(e) = rq.respond(to_tiny(resp)) {
        log::debug!("HTTP reply to {} not sent: {e}", req.path);
    }
}

/// `/ws`: checks the handshake, takes a client place and the snapshot, then
/// upgrades and runs the websocket on this connection's thread until the
/// client leaves. The socket goes non-blocking: the idle timeout tiny_http
/// set for HTTP requests no longer applies; the session pings and times out
/// on its own.
fn serve_ws(shared: &Shared, rq: tiny_http::Request, req: &HttpRequest) {
    let refuse = |rq: tiny_http::Request, r: crate::ws::Refusal| {
        let mut resp = HttpResponse::json(r.status, &r.body());
        for (k, v) in &r.headers {
            resp.headers.push(((*k).to_owned(), (*v).to_owned()));
        }
        if let Err(e) = rq.respond(to_tiny(resp)) {
            log::debug!("websocket refusal not sent: {e}");
        }
    };
    let handshake = match crate::ws::check_handshake(
        &req.method,
        |name| req.header(name),
        shared.auth.enabled(),
    ) {
        Ok(handshake) => handshake,
        Err(r) => {
            if r.status == 403 {
                crate::ws::warn_refused_origin(&r.message);
            }
            return refuse(rq, r);
        }
    };
    let Some(tcp) = rq.tcp_stream().and_then(|t| t.try_clone().ok()) else {
        let r = crate::ws::Refusal {
            status: 500,
            message: "websocket needs a TCP connection".into(),
            headers: Vec::new(),
        };
        return refuse(rq, r);
    };
    let client = match shared.ws.admit() {
        Ok(client) => client,
        Err(r) => return refuse(rq, r),
    };
    let mut resp = tiny_http::Response::empty(101);
    let accept = handshake.accept.as_bytes();
    if let Ok(h) = tiny_http::Header::from_bytes(&b"Sec-WebSocket-Accept"[..], accept) {
        resp.add_header(h);
    }
    if let Some(protocol) = handshake.protocol {
        let name = &b"Sec-WebSocket-Protocol"[..];
        if let Ok(h) = tiny_http::Header::from_bytes(name, protocol.as_bytes()) {
            resp.add_header(h);
        }
    }
    let peer = rq.remote_addr().copied();
    let stream = rq.upgrade("websocket", resp);
    if let Err(e) = tcp.set_nonblocking(true) {
        log::warn!("websocket from {peer:?} dropped: cannot make its socket non-blocking: {e}");
        return;
    }
    log::debug!(
        "websocket client {peer:?} connected ({} now)",
        shared.ws.clients()
    );
    let end = crate::ws::run(client, stream);
    match end {
        crate::ws::End::TooSlow(why) => {
            log::info!("websocket client {peer:?} disconnected, too slow: {why}")
        }
        crate::ws::End::Protocol(why) => {
            log::info!("websocket client {peer:?} disconnected, protocol error: {why}")
        }
        other => log::debug!("websocket client {peer:?} ended: {other:?}"),
    }
    let _ = tcp.shutdown(std::net::Shutdown::Both);
}

/// Turns a response description into a tiny_http response, adding the
/// headers every reply carries: `X-Content-Type-Options: nosniff`, and
/// `Cache-Control: no-store` unless the reply has its own (API replies are
/// never cached; the dashboard's files say `no-cache` with an ETag).
fn to_tiny(resp: HttpResponse) -> tiny_http::Response<io::Cursor<Vec<u8>>> {
    let mut r = tiny_http::Response::from_data(resp.body).with_status_code(resp.status);
    let has_cache_control = resp
        .headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("cache-control"));
    let common = [
        Some(("X-Content-Type-Options", "nosniff")),
        (!has_cache_control).then_some(("Cache-Control", "no-store")),
    ];
    // Header by header from borrowed text: no String per name and value.
    // An empty content type is none (a peer's answer with no body).
    let content_type =
        (!resp.content_type.is_empty()).then_some(("Content-Type", resp.content_type));
    let fixed = content_type.into_iter().chain(common.into_iter().flatten());
    let extra = resp.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    for (k, v) in fixed.chain(extra) {
        if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
            r.add_header(h);
        }
    }
    r
}
