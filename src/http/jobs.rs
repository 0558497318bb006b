//! The job routes of SPEC 14.4: `POST /api/services/<name>` (beat and
//! settings; a body that is not settings is the run's output), the signal
//! routes `POST /api/services/<name>/start|success|fail|log|<0-255>`
//! (`?rid=`, settings by query, the body is the output), and
//! `GET /api/services/<name>/events` and `.../events/<n>/body`. The body
//! arrives already cut to `max_body_bytes` (`http::read_body`); here it
//! becomes the signal's `Body`. Bad input is a 400 and changes nothing.

use super::beat::BodyKind;
use super::request::{ApiError, HttpRequest, HttpResponse, CT_TEXT};
use super::settings;
use super::urlenc;
use crate::engine::EngineError;
use crate::jobs::{is_valid_rid, Body, SettingsChange, Signal, SignalKind, Source, RID_RULE};
use crate::json;
use crate::model::{is_valid_name, Update};
use crate::state::StateHandle;
use serde_json::json;
use std::sync::Arc;

/// The reply header that tells a client how much of its body is kept.
pub const BODY_LIMIT_HEADER: &str = "Ping-Body-Limit";

/// What the last path segment of `POST /api/services/<name>/<signal>`
/// asks for: a signal, or why it is none (400, not 404: a client that
/// sends `/256` should learn that exit codes end at 255).
pub fn parse_signal(segment: &str) -> Result<SignalKind, String> {
    Ok(match segment {
        "start" => SignalKind::Start,
        "success" => SignalKind::Success,
        "fail" => SignalKind::Fail,
        "log" => SignalKind::Log,
        s if looks_numeric(s) => {
            let code = s
                .parse::<u8>()
                .ok()
                .filter(|_| s.bytes().all(|b| b.is_ascii_digit()) && s.len() <= 3);
            match code {
                Some(code) => SignalKind::Exit(code),
                None => {
                    return Err(format!(
                    "exit code {:?} is out of range: an exit code is a whole number from 0 to 255",
                    short(s)
                ))
                }
            }
        }
        s => {
            return Err(format!(
                "unknown signal {:?}: POST /api/services/<name>/start, /success, /fail, /log \
                 or /<exit code 0-255>",
                short(s)
            ))
        }
    })
}

/// Digits, maybe signed or with a fraction: meant as an exit code.
pub fn looks_numeric(s: &str) -> bool {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

fn short(s: &str) -> String {
    s.chars().take(40).collect()
}

/// `?rid=`: absent, or valid (1-64 of `[A-Za-z0-9._-]`); anything else 400.
fn rid_param(query: &str) -> Result<Option<Box<str>>, ApiError> {
    let pairs = urlenc::parse_pairs(query);
    match urlenc::get(&pairs, "rid") {
        None => Ok(None),
        Some(rid) if is_valid_rid(rid) => Ok(Some(rid.into())),
        Some(rid) => Err(ApiError::BadRequest(format!(
            "invalid run id {:?}{}: {RID_RULE}",
            short(rid),
            if rid.chars().count() > 40 { "..." } else { "" }
        ))),
    }
}

/// The request body as a run's output: `None` when empty; cut to
/// `max_body_bytes`, flagged when more was sent.
fn output(req: &HttpRequest) -> Option<Body> {
    if req.body.is_empty() {
        return None;
    }
    let keep = req.body.len().min(req.max_body_bytes);
    Some(Body {
        bytes: Arc::from(&req.body[..keep]),
        truncated: req.body_truncated || req.body.len() > keep,
    })
}

fn source(req: &HttpRequest) -> Source {
    Source::Http(req.remote_addr)
}

/// `POST /api/services/<name>`: a beat (a success) with settings from the
/// query and a JSON or form body; any other body is the run's output. A
/// plain beat (no job settings, no rid, no output) takes today's path.
pub fn beat(req: &HttpRequest, state: &StateHandle, name: &str) -> Result<HttpResponse, ApiError> {
    if !is_valid_name(name) {
        return Err(ApiError::InvalidName(name.to_owned()));
    }
    let mut change = settings::from_query(&req.query)?;
    let rid = rid_param(&req.query)?;
    let mut beat = true;
    let mut body = None;
    match BodyKind::from_content_type(req.header("content-type")) {
        BodyKind::Json => beat = settings::from_json(&req.body, &mut change)?,
        BodyKind::Form => {
            let form = (!req.body_truncated)
                .then(|| std::str::from_utf8(&req.body).ok())
                .flatten()
                .map(urlenc::parse_pairs)
                .filter(|pairs| settings::form_has_settings(pairs));
            match form {
                Some(pairs) => settings::from_pairs(&pairs, &mut change)?,
                None => body = output(req),
            }
        }
        BodyKind::Other => body = output(req),
    }
    if !settings::has_job_settings(&change) && rid.is_none() && body.is_none() {
        // `{"beat": false}` and no timeout: nothing to change. Answer like
        // a beat would, without creating the service.
        let update = match (change.timeout, beat) {
            (None, true) => Some(Update::Beat),
            (None, false) => None,
            (Some(t), true) => Some(Update::SetTimeoutAndBeat(t)),
            (Some(t), false) => Some(Update::SetTimeout(t)),
        };
        if let Some(update) = update {
            state.update(name, update)?;
        }
        return Ok(HttpResponse::empty_ok());
    }
    let signal = (beat || body.is_some()).then(|| Signal {
        kind: SignalKind::Success,
        rid,
        source: source(req),
        body,
        reported_duration: None,
    });
    state.job(name, change, signal)?;
    Ok(HttpResponse::empty_ok())
}

/// `POST /api/services/<name>/<signal>`: the signal, with settings from
/// the query; the body (any content type) is the run's output.
pub fn signal(
    req: &HttpRequest,
    state: &StateHandle,
    name: &str,
    kind: SignalKind,
) -> Result<HttpResponse, ApiError> {
    if !is_valid_name(name) {
        return Err(ApiError::InvalidName(name.to_owned()));
    }
    let change: SettingsChange = settings::from_query(&req.query)?;
    let signal = Signal {
        kind,
        rid: rid_param(&req.query)?,
        source: source(req),
        body: output(req),
        reported_duration: None,
    };
    state.job(name, change, Some(signal))?;
    Ok(HttpResponse::empty_ok())
}

/// A service that cannot exist (bad name) reads as unknown.
fn existing_name(name: &str) -> Result<(), ApiError> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(EngineError::ServiceNotFound(name.to_owned()).into())
    }
}

/// `GET /api/services/<name>/events`: `{"events": [...], "now": ms}`,
/// newest last.
pub fn events(state: &StateHandle, name: &str) -> Result<HttpResponse, ApiError> {
    existing_name(name)?;
    let (list, now) = state.events(name)?;
    Ok(HttpResponse::json(
        200,
        &json!({"events": json::events(&list), "now": now}),
    ))
}

/// `GET /api/services/<name>/events/<n>/body`: the body as sent (cut to
/// `max_body_bytes`): text/plain when it is UTF-8, else
/// application/octet-stream. 404 when the service, the event or its body
/// is not there (dropped for memory, or never sent: the error says which).
pub fn event_body(state: &StateHandle, name: &str, n: &str) -> Result<HttpResponse, ApiError> {
    existing_name(name)?;
    let unknown = |n: usize| {
        ApiError::from(EngineError::EventNotFound {
            service: name.to_owned(),
            n,
        })
    };
    let digits = !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
    let n: usize = match n.parse() {
        Ok(n) if digits => n,
        _ => {
            return Err(ApiError::Missing(format!(
                "no event {:?} of service {name:?}: events are numbered 1, 2, 3...",
                short(n)
            )))
        }
    };
    let (list, _) = state.events(name)?;
    let event = list
        .iter()
        .find(|e| e.n == n as u64)
        .ok_or_else(|| unknown(n))?;
    let Some(body) = &event.body else {
        return Err(ApiError::Missing(if event.body_dropped {
            format!(
                "the body of event {n} of service {name:?} was dropped to keep the stored \
                 bodies within [limits] event_body_memory"
            )
        } else {
            format!("event {n} of service {name:?} has no body (none was sent)")
        }));
    };
    let content_type = if std::str::from_utf8(&body.bytes).is_ok() {
        CT_TEXT
    } else {
        "application/octet-stream"
    };
    let mut resp = HttpResponse {
        status: 200,
        content_type,
        headers: Vec::new(),
        body: body.bytes.to_vec(),
    };
    resp.headers
        .push(("Body-Truncated".into(), body.truncated.to_string()));
    Ok(resp)
}
