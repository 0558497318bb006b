//! The socket-free description of an HTTP exchange: the request as read
//! off the socket (`HttpRequest`), the reply to send (`HttpResponse`), and
//! every way a request can fail with the status it maps to (`ApiError`).

use super::beat::BeatError;
use super::timeout::TimeoutError;
use crate::engine::EngineError;
use crate::json;
use crate::model::NAME_RULE;
use crate::state::StateError;
use std::fmt;
use std::net::IpAddr;

/// Largest accepted request body (of a route that does not keep bodies as
/// a run's output, and of a JSON settings body).
pub const MAX_BODY: usize = 64 * 1024;

/// `[limits] max_body_bytes` when none is configured: the part of a run's
/// output (a signal's request body) that is kept (SPEC 14.3).
pub const DEFAULT_MAX_BODY_BYTES: usize = 10_000;

pub const CT_JSON: &str = "application/json";
pub const CT_TEXT: &str = "text/plain; charset=utf-8";
pub const CT_HTML: &str = "text/html; charset=utf-8";

/// A request, already read off the socket.
#[derive(Clone, Debug)]
pub struct HttpRequest {
    /// Upper-case method (`GET`, `POST`, ...).
    pub method: String,
    /// The path, still percent-encoded, without the query.
    pub path: String,
    /// The raw query string (after `?`), still encoded.
    pub query: String,
    /// Header names and values as received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The sender sent more body than was read (routes whose body is a
    /// run's output read at most `max_body_bytes` of it, see `http::read_body`).
    pub body_truncated: bool,
    /// The server's `[limits] max_body_bytes`: how much of a run's output
    /// is kept, and the `Ping-Body-Limit` reply header.
    pub max_body_bytes: usize,
    /// The client's address (the event's `remote_addr`).
    pub remote_addr: Option<IpAddr>,
    /// `[healthchecks]` (SPEC 17), when configured: its `/ping/` routes.
    pub healthchecks: Option<std::sync::Arc<crate::config::Healthchecks>>,
    /// `[uptime_kuma]` (SPEC 17), when enabled: its `/api/push/` route.
    pub uptime_kuma: Option<std::sync::Arc<crate::config::UptimeKuma>>,
    /// `[cronitor]` (SPEC 17), when configured: its `/p/` route.
    pub cronitor: Option<std::sync::Arc<crate::config::Cronitor>>,
    /// `[sentry]` (SPEC 17), when configured: its cron check-in route.
    pub sentry: Option<std::sync::Arc<crate::config::Sentry>>,
    /// No `[http] auth_token` is set, or this request sends it
    /// (`auth::Auth::grants`): a healthchecks uuid ping may create its
    /// service (SPEC 17). Worked out by `http::handle` for that route
    /// only; false (nothing granted) otherwise.
    pub token_granted: bool,
    /// `[status_page]` (SPEC 18), when configured: `/status-page`.
    pub status_page: Option<std::sync::Arc<super::status_page::Published>>,
    /// The views' states as the badges last read them (shared by every
    /// connection; a fresh one per request in socket-free tests).
    pub badges: std::sync::Arc<super::badge::ViewStates>,
}

impl Default for HttpRequest {
    fn default() -> Self {
        HttpRequest {
            method: String::new(),
            path: String::new(),
            query: String::new(),
            headers: Vec::new(),
            body: Vec::new(),
            body_truncated: false,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            remote_addr: None,
            healthchecks: None,
            uptime_kuma: None,
            cronitor: None,
            sentry: None,
            token_granted: false,
            status_page: None,
            badges: Default::default(),
        }
    }
}

impl HttpRequest {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True when the client asked for JSON (`Accept` mentions application/json).
    pub fn wants_json(&self) -> bool {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("accept"))
            .any(|(_, v)| v.to_ascii_lowercase().contains("application/json"))
    }
}

/// What to send back.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    pub content_type: &'static str,
    /// Extra headers (e.g. `Allow`).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A JSON reply (pretty, newline-terminated).
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        HttpResponse {
            status,
            content_type: CT_JSON,
            headers: Vec::new(),
            body: json::render(value),
        }
    }
    /// `200 {}`.
    pub fn empty_ok() -> Self {
        Self::json(200, &serde_json::json!({}))
    }
    /// The same response with another Content-Type.
    pub fn with_content_type(mut self, content_type: &'static str) -> Self {
        self.content_type = content_type;
        self
    }
    pub fn text(status: u16, text: String) -> Self {
        HttpResponse {
            status,
            content_type: CT_TEXT,
            headers: Vec::new(),
            body: text.into_bytes(),
        }
    }
    pub fn html(status: u16, html: &str) -> Self {
        HttpResponse {
            status,
            content_type: CT_HTML,
            headers: Vec::new(),
            body: html.as_bytes().to_vec(),
        }
    }
    /// Parses the body back as JSON (tests and diagnostics).
    pub fn body_json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Every way a request can fail, with the status it maps to.
#[derive(Debug)]
pub enum ApiError {
    NotFound(String),
    MethodNotAllowed {
        path: String,
        allow: &'static str,
    },
    BodyTooLarge,
    /// Anything else a client got wrong (a bad run id, exit code, event
    /// number): 400 with this message.
    BadRequest(String),
    /// 404 with this message (a missing part of something that exists).
    Missing(String),
    /// A service name in a path of a write that would create it.
    InvalidName(String),
    Beat(BeatError),
    Engine(EngineError),
    /// The state thread did not answer (busy, gone or shutting down).
    Unavailable,
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            ApiError::NotFound(_) | ApiError::Missing(_) => 404,
            ApiError::MethodNotAllowed { .. } => 405,
            ApiError::BodyTooLarge => 413,
            ApiError::InvalidName(_) | ApiError::Beat(_) | ApiError::BadRequest(_) => 400,
            ApiError::Engine(e) => match e {
                EngineError::InvalidName(_) | EngineError::InvalidSetting(_) => 400,
                EngineError::ServiceNotFound(_)
                | EngineError::ViewNotFound(_)
                | EngineError::EventNotFound { .. } => 404,
                EngineError::ViewHasMembers { .. } => 409,
                EngineError::TooManyServices { .. } => 503,
            },
            ApiError::Unavailable => 503,
        }
    }

    pub fn into_response(self) -> HttpResponse {
        let mut r = HttpResponse::json(
            self.status(),
            &serde_json::json!({"error": self.to_string()}),
        );
        if let ApiError::MethodNotAllowed { allow, .. } = self {
            r.headers.push(("Allow".into(), allow.into()));
        }
        r
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::NotFound(path) => write!(f, "no such resource: {path}"),
            ApiError::MethodNotAllowed { path, allow } => {
                write!(f, "method not allowed on {path}; allowed: {allow}")
            }
            ApiError::BodyTooLarge => {
                write!(f, "request body too large: at most {MAX_BODY} bytes")
            }
            ApiError::BadRequest(why) | ApiError::Missing(why) => f.write_str(why),
            ApiError::InvalidName(name) => {
                write!(f, "invalid service name {name:?}: {NAME_RULE}")
            }
            ApiError::Beat(e) => e.fmt(f),
            ApiError::Engine(e) => e.fmt(f),
            ApiError::Unavailable => StateError::Unavailable.fmt(f),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        ApiError::Engine(e)
    }
}
impl From<StateError> for ApiError {
    fn from(e: StateError) -> Self {
        match e {
            StateError::Engine(e) => ApiError::Engine(e),
            StateError::Unavailable => ApiError::Unavailable,
        }
    }
}
impl From<BeatError> for ApiError {
    fn from(e: BeatError) -> Self {
        ApiError::Beat(e)
    }
}
impl From<TimeoutError> for ApiError {
    fn from(e: TimeoutError) -> Self {
        ApiError::Beat(BeatError::Timeout(e))
    }
}
