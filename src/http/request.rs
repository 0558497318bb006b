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
