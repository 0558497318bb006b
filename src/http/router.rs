//! The socket-free core of the HTTP API: a request description in, a
//! response description out. `route` matches the path and method and calls
//! the handlers; it never panics on any input.

use super::beat::BeatError;
use super::dashboard;
use super::handlers;
use super::json;
use super::timeout::TimeoutError;
use crate::engine::EngineError;
use crate::model::NAME_RULE;
use crate::state::StateError;
use crate::state::StateHandle;
use std::fmt;

/// Largest accepted request body.
pub const MAX_BODY: usize = 64 * 1024;

pub const CT_JSON: &str = "application/json";
pub const CT_TEXT: &str = "text/plain; charset=utf-8";
pub const CT_HTML: &str = "text/html; charset=utf-8";

/// A request, already read off the socket.
#[derive(Clone, Debug, Default)]
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
            ApiError::NotFound(_) => 404,
            ApiError::MethodNotAllowed { .. } => 405,
            ApiError::BodyTooLarge => 413,
            ApiError::InvalidName(_) | ApiError::Beat(_) => 400,
            ApiError::Engine(e) => match e {
                EngineError::InvalidName(_) => 400,
                EngineError::ServiceNotFound(_) | EngineError::ViewNotFound(_) => 404,
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

/// A path segment, percent-decoded. Bytes that are not UTF-8 are replaced,
/// which makes the name fail validation later (it can never match).
fn segment(raw: &str) -> String {
    String::from_utf8_lossy(&super::urlenc::percent_decode(raw, false)).into_owned()
}

/// Answers one request. Never panics.
pub fn route(req: &HttpRequest, state: &StateHandle) -> HttpResponse {
    match dispatch(req, state) {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn dispatch(req: &HttpRequest, state: &StateHandle) -> Result<HttpResponse, ApiError> {
    // HEAD is GET without a body (tiny_http drops the body for HEAD).
    let method = match req.method.as_str() {
        "HEAD" => "GET",
        m => m,
    };
    let path = req.path.as_str();
    // One trailing slash is forgiven (`/api/services/`), except on `/`.
    let trimmed = match path.strip_suffix('/') {
        Some(p) if !p.is_empty() => p,
        _ => path,
    };
    let raw: Vec<&str> = trimmed.split('/').skip(1).collect();
    let seg: Vec<String> = raw.iter().map(|s| segment(s)).collect();
    let s: Vec<&str> = seg.iter().map(String::as_str).collect();
    let not_allowed = |allow| ApiError::MethodNotAllowed {
        path: path.to_owned(),
        allow,
    };
    use json::Dialect::Ours;
    match (s.as_slice(), method) {
        ([""] | ["services"] | ["views", _], "GET") => Ok(dashboard::page(req)),
        ([""] | ["services"] | ["views", _], _) => Err(not_allowed("GET, HEAD")),
        (["static", file], "GET") => {
            dashboard::asset(req, file).ok_or_else(|| ApiError::NotFound(path.to_owned()))
        }
        (["static", _], _) => Err(not_allowed("GET, HEAD")),
        (["status"], "GET") | (["api", "status"], "GET") => handlers::status(req, state, None),
        (["status"], _) | (["api", "status"], _) => Err(not_allowed("GET, HEAD")),
        (["api", "quarantine"], "GET") => Ok(handlers::quarantine(state)),
        (["api", "quarantine"], "DELETE") => Ok(handlers::acknowledge_quarantine(state)),
        (["api", "quarantine"], _) => Err(not_allowed("GET, HEAD, DELETE")),
        (["version"], "GET") => Ok(handlers::version(req)),
        (["version"], _) => Err(not_allowed("GET, HEAD")),
        (["api", "services"], "GET") => handlers::list_services(req, state, Ours),
        (["api", "services"], _) => Err(not_allowed("GET, HEAD")),
        (["api", "services", name], "GET") => handlers::get_service(req, state, name),
        (["api", "services", name], "POST") => handlers::beat(req, state, name),
        (["api", "services", name], "DELETE") => handlers::delete_service(state, name),
        (["api", "services", _], _) => Err(not_allowed("GET, HEAD, POST, DELETE")),
        (["api", "services", name, "mute"], "POST") => handlers::mute(state, name, true),
        (["api", "services", name, "unmute"], "POST") => handlers::mute(state, name, false),
        (["api", "services", _, "mute" | "unmute"], _) => Err(not_allowed("POST")),
        (["api", "views" | "alarms"], "GET") => handlers::list_views(state, dialect_of(s[1])),
        (["api", "views" | "alarms"], _) => Err(not_allowed("GET, HEAD")),
        (["api", kind @ ("views" | "alarms"), name], "GET") => {
            handlers::get_view(state, name, dialect_of(kind))
        }
        (["api", "views" | "alarms", name], "DELETE") => handlers::delete_view(state, name),
        (["api", "views" | "alarms", _], _) => Err(not_allowed("GET, HEAD, DELETE")),
        (["api", "views" | "alarms", name, "status"], "GET") => {
            handlers::status(req, state, Some(name))
        }
        (["api", "views" | "alarms", _, "status"], _) => Err(not_allowed("GET, HEAD")),
        _ => Err(ApiError::NotFound(path.to_owned())),
    }
}

fn dialect_of(kind: &str) -> json::Dialect {
    if kind == "alarms" {
        json::Dialect::V1
    } else {
        json::Dialect::Ours
    }
}
