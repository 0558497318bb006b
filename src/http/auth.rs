//! The optional access token (`[http] auth_token`, `auth_read`): which
//! requests need it, where it may come from, and the constant-time
//! comparison. Pure functions; `http::handle` asks [`Auth::check`] once per
//! request, before routing (`/ws` and `/metrics` included).
//!
//! - No token configured: everything is open.
//! - A token: every method other than GET/HEAD (the API's POST and DELETE)
//!   needs `Authorization: Bearer <token>`.
//! - `auth_read` as well: GET/HEAD need it too (the API, `/status`,
//!   `/version`, `/metrics`, `/ws`), except the dashboard's page and assets
//!   (`/`, `/services`, `/views/<name>`, `/static/<file>`), which must load
//!   to ask for the token, and the public status page (`/status-page`,
//!   SPEC 18). Badges (`/badge/<file>`) are reads like the API's, unless
//!   `[http] public_badges` opens them.
//!
//! Browsers cannot set headers on `new WebSocket(...)`, so `/ws` also takes
//! the token as an offered subprotocol `bearer.<base64url(token)>` (no
//! padding; base64url's alphabet is valid in a subprotocol name whatever
//! the token holds). A `?token=` query parameter was not used: URLs end up
//! in proxy access logs and browser history, subprotocols do not.

use super::request::HttpRequest;

/// The configured token, if any, and whether reads need it. Its `Debug`
/// output never shows the token.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Auth {
    token: Option<Vec<u8>>,
    /// `bearer.<base64url(token)>`: what a browser offers on `/ws`.
    subprotocol: Option<Vec<u8>>,
    read: bool,
    /// `[http] public_badges`: `/badge/<file>` needs no token.
    public_badges: bool,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("read", &self.read)
            .field("public_badges", &self.public_badges)
            .finish()
    }
}

/// What a request needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// The dashboard's page and assets: never a token.
    Nothing,
    /// GET/HEAD: the token only with `auth_read`.
    Read,
    /// Everything else (POST, DELETE, ...): the token whenever one is set.
    Write,
}

/// Why a request was refused (answered 401).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Denied {
    /// No credentials at all.
    Missing,
    /// An `Authorization` header that is not `Bearer <token>`.
    Malformed,
    /// Credentials that do not match.
    Wrong,
}

impl Denied {
    pub fn message(&self, need: Need) -> String {
        let what = if need == Need::Write {
            "changes"
        } else {
            "this request"
        };
        match self {
            Denied::Missing => format!(
                "an access token is required for {what}: send `Authorization: Bearer <token>` \
                 ([http] auth_token)"
            ),
            Denied::Malformed => {
                "malformed Authorization header: expected `Bearer <token>`".to_owned()
            }
            Denied::Wrong => "the access token is not valid".to_owned(),
        }
    }

    /// The `WWW-Authenticate` value (RFC 6750).
    pub fn challenge(&self) -> &'static str {
        match self {
            Denied::Missing => "Bearer realm=\"lovebeat\"",
            Denied::Malformed => "Bearer realm=\"lovebeat\", error=\"invalid_request\"",
            Denied::Wrong => "Bearer realm=\"lovebeat\", error=\"invalid_token\"",
        }
    }
}

/// The prefix of the websocket subprotocol that carries the token.
pub const SUBPROTOCOL_PREFIX: &str = "bearer.";
/// The subprotocol the server selects for the dashboard's websocket.
pub const SUBPROTOCOL: &str = "lovebeat";

impl Auth {
    /// `token` "" = no token (everything open, `read` ignored).
    pub fn new(token: &str, read: bool) -> Auth {
        if token.is_empty() {
            return Auth::default();
        }
        let sub = format!(
            "{SUBPROTOCOL_PREFIX}{}",
            crate::base64::url_unpadded(token.as_bytes())
        );
        Auth {
            token: Some(token.as_bytes().to_vec()),
            subprotocol: Some(sub.into_bytes()),
            read,
            public_badges: false,
        }
    }

    /// The same, with `/badge/<file>` open to all when `public` (SPEC 18).
    pub fn with_public_badges(mut self, public: bool) -> Auth {
        self.public_badges = public;
        self
    }

    /// Whether a token is configured.
    pub fn enabled(&self) -> bool {
        self.token.is_some()
    }

    /// Whether `req` may do what only the token allows (SPEC 17: a peer's
    /// ping creating a service): no token is configured, or `req` sends it
    /// (`Authorization: Bearer`, compared in constant time).
    pub fn grants(&self, req: &HttpRequest) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        req.header("authorization")
            .and_then(bearer)
            .is_some_and(|given| ct_eq(given.as_bytes(), token))
    }

    /// Lets `req` through, or says why not.
    pub fn check(&self, req: &HttpRequest) -> Result<(), Denied> {
        let Some(token) = &self.token else {
            return Ok(());
        };
        let needed = match need(&req.method, &req.path) {
            Need::Nothing => false,
            Need::Read => self.read && !(self.public_badges && is_badge(&req.path)),
            Need::Write => true,
        };
        if !needed {
            return Ok(());
        }
        let header = req.header("authorization");
        if let Some(value) = header {
            let given = bearer(value).ok_or(Denied::Malformed)?;
            return if ct_eq(given.as_bytes(), token) {
                Ok(())
            } else {
                Err(Denied::Wrong)
            };
        }
        if req.path == "/ws" {
            if let Some(offered) = req.header("sec-websocket-protocol") {
                return self.check_subprotocols(offered);
            }
        }
        Err(Denied::Missing)
    }

    /// `/ws`: one of the offered subprotocols must be `bearer.<...>` with
    /// the right token. Every offered value is compared.
    fn check_subprotocols(&self, offered: &str) -> Result<(), Denied> {
        let Some(expected) = &self.subprotocol else {
            return Ok(());
        };
        let mut any = false;
        let mut ok = false;
        for p in offered.split(',').map(str::trim) {
            if p.starts_with(SUBPROTOCOL_PREFIX) {
                any = true;
                ok |= ct_eq(p.as_bytes(), expected);
            }
        }
        match (any, ok) {
            (_, true) => Ok(()),
            (true, false) => Err(Denied::Wrong),
            (false, _) => Err(Denied::Missing),
        }
    }
}

/// What `method` on `path` needs. The dashboard's page routes and assets
/// need nothing when read; any other read is `Read`; anything that is not
/// a read is `Write` (the API's POST and DELETE; other methods are refused
/// with 405 by the router anyway).
pub fn need(method: &str, path: &str) -> Need {
    if !matches!(method, "GET" | "HEAD") {
        return Need::Write;
    }
    let trimmed = match path.strip_suffix('/') {
        Some(p) if !p.is_empty() => p,
        _ => path,
    };
    let segments: Vec<&str> = trimmed.split('/').skip(1).collect();
    match segments.as_slice() {
        [""] | ["services"] | ["views" | "services", _] | ["static", _] | ["status-page"] => {
            Need::Nothing
        }
        _ => Need::Read,
    }
}

/// `/badge/<file>`: what `[http] public_badges` opens.
fn is_badge(path: &str) -> bool {
    path.strip_prefix("/badge/")
        .is_some_and(|file| !file.is_empty() && !file.contains('/'))
}

/// The token of an `Authorization: Bearer <token>` value (scheme
/// case-insensitive, RFC 7235), or None when the value is not of that form.
pub fn bearer(value: &str) -> Option<&str> {
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = rest.trim_start();
    if token.is_empty() || token.contains(char::is_whitespace) {
        return None;
    }
    Some(token)
}

/// Compares two byte strings in time that depends only on their lengths,
/// never on where they differ: every byte pair is XORed into one
/// accumulator, with no early exit. A length mismatch makes the result
/// false but still walks the longer input (reading zeros past the end of
/// the shorter one), so the content is not revealed either.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().max(b.len());
    // Non-zero when the lengths differ.
    let mut diff = (a.len() ^ b.len()) as u64;
    for i in 0..n {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= u64::from(x ^ y);
    }
    // Keep the optimiser from turning the loop into an early-exit compare.
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
