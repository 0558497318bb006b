//! Cronitor's telemetry route on our port (SPEC 17), on when `[cronitor]`
//! is configured: `/p/<key>/<monitor>?state=&message=&series=&status_code=`,
//! GET, POST and HEAD (Cronitor's telemetry API docs, "Sending Events").
//! The monitor key, lower-cased, with `[cronitor] prefix`, names the
//! service, created on first use ("If no monitor matches the provided key,
//! a new monitor will be created automatically"). `state=run` is a start,
//! `complete` and `ok` (and no state: a heartbeat event) a success, `fail`
//! a fail; `status_code=<1-255>` on `complete`/`fail` is that exit code;
//! `series` pairs a run's signals as `rid` does; `message` (else a POST's
//! body) is the run's output; `metric=duration:<seconds>` is the run's
//! duration as the client measured it (`Signal::reported_duration`, winning
//! over the time since a paired `run`). Other metrics (`count:`,
//! `error_count:`), `host`, `env` and `stamp` are accepted and not kept.
//!
//! The key in the URL is the credential, as there: compared in constant
//! time with `[cronitor] key`; the route does not ask for `[http]
//! auth_token` (`http::handle`).
//!
//! Answers: cronitor.link is closed source and its docs show no reply
//! bodies; its clients read none (the `cronitor` PyPI client's
//! `Monitor.ping` returns the response unread, `cronitor/monitor.py`).
//! We answer 200 with an empty text/plain body, 403 `invalid api key` for a
//! wrong key, 400 with a short reason for a query that cannot be applied,
//! 404 for a path that is not `/p/<key>/<monitor>`.

use super::auth::ct_eq;
use super::request::{ApiError, HttpRequest, HttpResponse, CT_TEXT};
use super::urlenc;
use crate::config::Cronitor;
use crate::jobs::{is_valid_rid, reported_ms, Body, Signal, SignalKind, Source};
use crate::model::{is_valid_name, Millis};
use crate::state::StateHandle;
use std::sync::Arc;

fn text(status: u16, body: &str) -> HttpResponse {
    HttpResponse {
        status,
        content_type: CT_TEXT,
        headers: Vec::new(),
        body: body.as_bytes().to_vec(),
    }
}

/// A path that is not `/p/<key>/<monitor>`.
pub fn not_found() -> HttpResponse {
    text(404, "not found")
}

/// The key and monitor of `/p/<key>/<monitor>` (one trailing slash
/// allowed), the monitor percent-decoded.
pub fn parse(path: &str) -> Option<(&str, String)> {
    let rest = path.strip_prefix("/p/")?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (key, monitor) = rest.split_once('/')?;
    if key.is_empty() || monitor.is_empty() || monitor.contains('/') {
        return None;
    }
    let monitor = String::from_utf8(urlenc::percent_decode(monitor, false)).ok()?;
    Some((key, monitor))
}

/// A telemetry event: its kind, series (the rid), message and
/// `metric=duration:` (ms).
pub struct Event {
    pub kind: SignalKind,
    pub series: Option<Box<str>>,
    pub message: Option<String>,
    pub duration: Option<Millis>,
}

/// The `duration:<seconds>` among the `metric` values, in ms; an error
/// names a duration that is not a number of seconds. The last one wins.
fn duration_metric(pairs: &[(String, String)]) -> Result<Option<Millis>, String> {
    let mut found = None;
    for (k, v) in pairs {
        let Some(secs) = v.strip_prefix("duration:").filter(|_| k == "metric") else {
            continue;
        };
        let ms = secs
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(|s| reported_ms(s * 1000.0))
            .ok_or_else(|| format!("invalid metric duration:{secs}: use a number of seconds"))?;
        found = Some(ms);
    }
    Ok(found)
}

/// What a telemetry event says, or why it cannot be applied.
pub fn read_query(query: &str) -> Result<Event, String> {
    let pairs = urlenc::parse_pairs(query);
    let get = |k: &str| urlenc::get(&pairs, k).filter(|v| !v.is_empty());
    let code = match get("status_code") {
        None => None,
        Some(c) => match c.parse::<u8>() {
            Ok(c) => Some(c),
            Err(_) => return Err(format!("invalid status_code {c:?}: use 0 to 255")),
        },
    };
    let kind = match get("state") {
        None | Some("ok") => SignalKind::Success,
        Some("run") => SignalKind::Start,
        Some("complete") => match code {
            Some(c) if c != 0 => SignalKind::Exit(c),
            _ => SignalKind::Success,
        },
        Some("fail") => match code {
            Some(c) if c != 0 => SignalKind::Exit(c),
            _ => SignalKind::Fail,
        },
        Some(s) => {
            return Err(format!(
                "invalid state {s:?}: use run, complete, fail or ok"
            ))
        }
    };
    let series = match get("series") {
        None => None,
        Some(s) if is_valid_rid(s) => Some(Box::from(s)),
        Some(s) => {
            return Err(format!(
                "invalid series {s:?}: use letters, digits, '.', '_' and '-'"
            ))
        }
    };
    Ok(Event {
        kind,
        series,
        message: get("message").map(str::to_owned),
        duration: duration_metric(&pairs)?,
    })
}

/// Answers a request to `/p/...` (the router sends them here only when
/// `[cronitor]` is configured). Nothing changes on an error.
pub fn answer(req: &HttpRequest, state: &StateHandle, settings: &Cronitor) -> HttpResponse {
    if !matches!(req.method.as_str(), "GET" | "HEAD" | "POST") {
        let mut r = text(405, "method not allowed");
        r.headers
            .push(("Allow".to_owned(), "GET, HEAD, POST".to_owned()));
        return r;
    }
    let Some((key, monitor)) = parse(&req.path) else {
        return not_found();
    };
    if !ct_eq(key.as_bytes(), settings.key.as_bytes()) {
        return text(403, "invalid api key");
    }
    let name = format!("{}{}", settings.prefix, monitor.to_lowercase());
    if !is_valid_name(&name) {
        return text(
            400,
            "invalid monitor key: use a-z, 0-9, '.', '_' and '-', at most 200 characters",
        );
    }
    let Event {
        kind,
        series: rid,
        message,
        duration,
    } = match read_query(&req.query) {
        Ok(read) => read,
        Err(why) => return text(400, &why),
    };
    let (bytes, truncated) = match &message {
        Some(m) => (m.as_bytes(), false),
        None => (req.body.as_slice(), req.body_truncated),
    };
    let body = (!bytes.is_empty()).then(|| {
        let keep = bytes.len().min(req.max_body_bytes);
        Body {
            bytes: Arc::from(&bytes[..keep]),
            truncated: truncated || bytes.len() > keep,
        }
    });
    let signal = Signal {
        kind,
        rid,
        source: Source::Http(req.remote_addr),
        body,
        reported_duration: duration,
    };
    match state.peer_signal(&name, signal, true) {
        Ok(Some(_)) => text(200, ""),
        Ok(None) => not_found(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            parse("/p/K1/nightly-job"),
            Some(("K1", "nightly-job".into()))
        );
        assert_eq!(
            parse("/p/K1/Nightly%20Job/"),
            Some(("K1", "Nightly Job".into()))
        );
        for bad in ["/p/", "/p/K1", "/p/K1/", "/p//job", "/p/K1/a/b", "/px/K1/a"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn events() {
        let kind = |q: &str| read_query(q).map(|e| e.kind);
        assert_eq!(kind(""), Ok(SignalKind::Success));
        assert_eq!(kind("state=run"), Ok(SignalKind::Start));
        assert_eq!(kind("state=complete"), Ok(SignalKind::Success));
        assert_eq!(kind("state=ok"), Ok(SignalKind::Success));
        assert_eq!(kind("state=fail"), Ok(SignalKind::Fail));
        assert_eq!(kind("state=fail&status_code=3"), Ok(SignalKind::Exit(3)));
        assert_eq!(
            kind("state=complete&status_code=0"),
            Ok(SignalKind::Success)
        );
        assert_eq!(kind("state=run&status_code=1"), Ok(SignalKind::Start));
        assert!(kind("state=pause").is_err());
        assert!(kind("state=fail&status_code=256").is_err());
        let e = read_query("state=complete&series=abc-1&message=done+ok&metric=duration:3")
            .map(|e| (e.series, e.message, e.duration));
        assert_eq!(
            e,
            Ok((Some("abc-1".into()), Some("done ok".into()), Some(3_000)))
        );
        assert!(read_query("series=a%20b").is_err());
        let duration = |q: &str| read_query(q).map(|e| e.duration);
        assert_eq!(
            duration("metric=count:4&metric=duration:1.25"),
            Ok(Some(1_250))
        );
        assert_eq!(duration("metric=count:4"), Ok(None));
        assert!(duration("metric=duration:soon").is_err());
        assert!(duration("metric=duration:-3").is_err());
    }
}
