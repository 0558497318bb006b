//! Uptime Kuma's push route on our port (SPEC 17), on with
//! `[uptime_kuma] enabled = true`: `/api/push/<token>?status=&msg=&ping=`,
//! any method (Kuma's `router.all`). The push token, lower-cased, with
//! `[uptime_kuma] prefix`, names the service (created on first push, like a
//! beat); `status=up` (or none, or empty) is a success, any other status a
//! fail (Kuma: `statusString === "up" ? UP : DOWN`); `msg` is the run's
//! output. `ping` is read and range-checked as Kuma does and kept as the
//! run's duration (ms, `Signal::reported_duration`); 0 or not a number is
//! none, as Kuma's `parseFloat(...) || null`.
//!
//! The token is the credential, as in Kuma: this route does not ask for
//! `[http] auth_token` (`http::handle`). With an `auth_token` set, only a
//! push that sends it (`Authorization: Bearer`) creates a service, as for
//! healthchecks' uuids: a tokenless push to an unknown token is Kuma's
//! "not found" 404, counted in `lovebeat_peer_unknown_total`, and creates
//! nothing (else anyone could fill `max_services`). A known token, or one
//! named exactly by a `[[services]]` block, pushes without it.
//!
//! Reference (louislam/uptime-kuma): `server/routers/api-router.js`, the
//! handler of `router.all("/api/push/:pushToken", ...)`: `msg` defaults to
//! "OK", `ping` is `parseFloat(...) || null` and range-checked before the
//! monitor is looked up, success is
//! `response.json({ ok: true })`, every error `response.status(404).json({
//! ok: false, msg: e.message })`; Express's `res.json` sends
//! `application/json; charset=utf-8`.

use super::request::{ApiError, HttpRequest, HttpResponse};
use super::urlenc;
use crate::config::UptimeKuma;
use crate::counters::Counters;
use crate::jobs::{reported_ms, Body, Signal, SignalKind, Source};
use crate::model::{is_valid_name, Millis};
use crate::state::StateHandle;
use std::sync::Arc;

/// Express's `res.json` content type.
const CT_EXPRESS_JSON: &str = "application/json; charset=utf-8";

/// api-router.js: `throw new Error("Monitor not found or not active.")`.
const NOT_FOUND_MSG: &str = "Monitor not found or not active.";

/// api-router.js (2.x): the range check of `ping`.
const BAD_PING_MSG: &str = "Invalid ping value. Must be between 0 and 100000000000 ms.";

/// The largest `ping` Kuma takes, in ms.
const MAX_PING_MS: f64 = 100_000_000_000.0;

fn json(status: u16, body: &str) -> HttpResponse {
    HttpResponse {
        status,
        content_type: CT_EXPRESS_JSON,
        headers: Vec::new(),
        body: body.as_bytes().to_vec(),
    }
}

/// api-router.js: `response.json({ ok: true })`.
fn ok() -> HttpResponse {
    json(200, r#"{"ok":true}"#)
}

/// api-router.js: `response.status(404).json({ ok: false, msg: e.message })`.
fn error(msg: &str) -> HttpResponse {
    // Key order as Kuma writes the object: `ok` first.
    let msg = serde_json::Value::from(msg);
    json(404, &format!(r#"{{"ok":false,"msg":{msg}}}"#))
}

/// Kuma's answer to a token no monitor has.
pub fn not_found() -> HttpResponse {
    error(NOT_FOUND_MSG)
}

/// JavaScript's `parseFloat`: the longest leading part (after white space)
/// that is a number; `None` for NaN. `Infinity` is taken as JS does.
pub fn parse_float(text: &str) -> Option<f64> {
    let t = text.trim_start();
    let t = &t[..t.len().min(64)];
    for (sign, rest) in [(-1.0, t.strip_prefix('-')), (1.0, t.strip_prefix('+'))] {
        if rest.is_some_and(|r| r.starts_with("Infinity")) {
            return Some(sign * f64::INFINITY);
        }
    }
    if t.starts_with("Infinity") {
        return Some(f64::INFINITY);
    }
    // Only digits, signs, dots and exponents can be part of the number;
    // Rust's parser also takes "inf"/"nan", which JS does not.
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E')))
        .unwrap_or(t.len());
    (1..=end)
        .rev()
        .find_map(|n| t.get(..n).and_then(|p| p.parse::<f64>().ok()))
}

/// The push token of `/api/push/<token>` (Express's `:pushToken`: one
/// non-empty segment, one trailing slash allowed), percent-decoded.
pub fn token(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/api/push/")?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() || rest.contains('/') {
        return None;
    }
    String::from_utf8(urlenc::percent_decode(rest, false)).ok()
}

/// What a push says: its kind, message and `ping` (ms), or Kuma's error.
type Push = (SignalKind, Option<String>, Option<Millis>);

/// What a push says, or Kuma's error message.
pub fn read_query(query: &str) -> Result<Push, &'static str> {
    let pairs = urlenc::parse_pairs(query);
    // `request.query.status || "up"`: absent or empty is up.
    let kind = match urlenc::get(&pairs, "status") {
        None | Some("") | Some("up") => SignalKind::Success,
        Some(_) => SignalKind::Fail,
    };
    // `parseFloat(request.query.ping) || null`, then the range check.
    let mut ping = None;
    if let Some(p) = urlenc::get(&pairs, "ping").and_then(parse_float) {
        if p != 0.0 && !(0.0..=MAX_PING_MS).contains(&p) {
            return Err(BAD_PING_MSG);
        }
        ping = (p != 0.0).then(|| reported_ms(p)).flatten();
    }
    let msg = urlenc::get(&pairs, "msg")
        .filter(|m| !m.is_empty())
        .map(str::to_owned);
    Ok((kind, msg, ping))
}

/// Answers a request to `/api/push/...` (the router sends them here only
/// when `[uptime_kuma] enabled`) as Kuma does (our JSON error only when
/// the state thread cannot answer). Nothing changes on an error.
pub fn answer(
    req: &HttpRequest,
    state: &StateHandle,
    settings: &UptimeKuma,
    counters: &Counters,
) -> HttpResponse {
    let Some(token) = token(&req.path) else {
        return not_found();
    };
    // Kuma checks `ping` before it looks the monitor up.
    let (kind, msg, ping) = match read_query(&req.query) {
        Ok(read) => read,
        Err(msg) => return error(msg),
    };
    let name = format!("{}{}", settings.prefix, token.to_lowercase());
    if !is_valid_name(&name) {
        // No monitor can have a token that makes no service name.
        return not_found();
    }
    let body = msg.map(|m| {
        let bytes = m.as_bytes();
        let keep = bytes.len().min(req.max_body_bytes);
        Body {
            bytes: Arc::from(&bytes[..keep]),
            truncated: bytes.len() > keep,
        }
    });
    let signal = Signal {
        kind,
        rid: None,
        source: Source::Http(req.remote_addr),
        body,
        reported_duration: ping,
    };
    match state.peer_signal(&name, signal, req.token_granted) {
        Ok(Some(_)) => ok(),
        Ok(None) => {
            Counters::add(&counters.peer_unknown, 1);
            not_found()
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        assert_eq!(token("/api/push/AbC123").as_deref(), Some("AbC123"));
        assert_eq!(token("/api/push/AbC123/").as_deref(), Some("AbC123"));
        assert_eq!(token("/api/push/a%2Db").as_deref(), Some("a-b"));
        assert_eq!(token("/api/push/"), None);
        assert_eq!(token("/api/push/a/b"), None);
        assert_eq!(token("/api/pushx"), None);
    }

    #[test]
    fn queries() {
        let ok = |q: &str| read_query(q).map(|(k, m, _)| (k, m.unwrap_or_default()));
        assert_eq!(ok(""), Ok((SignalKind::Success, String::new())));
        assert_eq!(
            ok("status=up&msg=OK"),
            Ok((SignalKind::Success, "OK".into()))
        );
        assert_eq!(ok("status="), Ok((SignalKind::Success, String::new())));
        assert_eq!(
            ok("status=down&msg=disk+full"),
            Ok((SignalKind::Fail, "disk full".into()))
        );
        assert_eq!(ok("status=UP"), Ok((SignalKind::Fail, String::new())));
        assert!(ok("ping=12.5").is_ok() && ok("ping=abc").is_ok() && ok("ping=0").is_ok());
        assert_eq!(ok("ping=-1"), Err(BAD_PING_MSG));
        assert_eq!(ok("ping=1e12"), Err(BAD_PING_MSG));
        let ping = |q: &str| read_query(q).map(|(_, _, p)| p);
        assert_eq!(ping("status=up&ping=12.5"), Ok(Some(13)));
        assert_eq!(ping("ping=250ms"), Ok(Some(250)));
        assert_eq!(ping("ping=0"), Ok(None));
        assert_eq!(ping("ping=abc"), Ok(None));
        assert_eq!(ping(""), Ok(None));
    }

    #[test]
    fn parse_float_is_javascripts() {
        assert_eq!(parse_float("12.5ms"), Some(12.5));
        assert_eq!(parse_float("  -3"), Some(-3.0));
        assert_eq!(parse_float("1e3x"), Some(1000.0));
        assert_eq!(parse_float("abc"), None);
        assert_eq!(parse_float("inf"), None);
        assert_eq!(parse_float("Infinity"), Some(f64::INFINITY));
        assert_eq!(parse_float(""), None);
    }

    #[test]
    fn answers_are_kumas_own() {
        let r = ok();
        assert_eq!(
            (r.status, r.body.as_slice(), r.content_type),
            (200, &br#"{"ok":true}"#[..], CT_EXPRESS_JSON)
        );
        let r = not_found();
        assert_eq!(
            (r.status, String::from_utf8_lossy(&r.body).into_owned()),
            (
                404,
                r#"{"ok":false,"msg":"Monitor not found or not active."}"#.to_owned()
            )
        );
    }
}
