//! The routes of the alert policy (SPEC 15): timed mutes of services
//! (`?for=`), mutes of views, and maintenance windows
//! (`POST/GET /api/maintenance`, `DELETE /api/maintenance/<id>`). Checks
//! the input, asks the state thread, shapes the reply; the rules
//! themselves live in `policy`.

use super::request::{ApiError, HttpRequest, HttpResponse};
use super::timeout::{parse_timeout, shorten, TimeoutError};
use super::urlenc;
use crate::engine::EngineError;
use crate::model::{is_valid_name, Millis};
use crate::policy::window::{Origin, Window, WindowSpec};
use crate::policy::DeleteWindowError;
use crate::state::StateHandle;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The longest `?for=`: 366 days, in ms.
pub const MAX_MUTE_FOR: Millis = 366 * 86_400_000;
/// Largest body of `POST /api/maintenance`.
pub const MAX_WINDOW_BODY: usize = 16 * 1024;

const FOR_RULE: &str = "a duration like 90s, 15m, 2h or 1d, or whole seconds; \
     more than 0 and at most 366 days";

/// The `for` query parameter: `None` when absent (a mute until an unmute).
pub fn for_param(query: &str) -> Result<Option<Millis>, ApiError> {
    let pairs = urlenc::parse_pairs(query);
    let Some(text) = urlenc::get(&pairs, "for") else {
        return Ok(None);
    };
    let bad = || ApiError::BadRequest(format!("invalid `for` {:?}: {FOR_RULE}", shorten(text)));
    // The timeout forms, without its words (`none`, `auto`) and sentinels.
    if !text.trim().bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(bad());
    }
    match parse_timeout(text) {
        Ok(ms) if ms > 0 && ms <= MAX_MUTE_FOR => Ok(Some(ms)),
        Ok(_) | Err(TimeoutError::Malformed(_) | TimeoutError::TooLong(_)) => Err(bad()),
    }
}

/// The reply of a mute: `{}`, or `{"muted_until": ms}` for a timed one.
fn mute_reply(until: Option<Millis>) -> HttpResponse {
    match until {
        Some(until) => HttpResponse::json(200, &json!({ "muted_until": until })),
        None => HttpResponse::empty_ok(),
    }
}

/// `POST /api/services/<name>/mute[?for=]` and `/unmute`.
pub fn mute_service(
    req: &HttpRequest,
    state: &StateHandle,
    name: &str,
    muted: bool,
) -> Result<HttpResponse, ApiError> {
    if !is_valid_name(name) {
        return Err(EngineError::ServiceNotFound(name.to_owned()).into());
    }
    let for_ms = if muted { for_param(&req.query)? } else { None };
    match for_ms {
        Some(ms) => Ok(mute_reply(Some(state.mute_for(name, ms)?))),
        None => {
            state.mute(name, muted)?;
            Ok(mute_reply(None))
        }
    }
}

/// `POST /api/views/<name>/mute[?for=]` and `/unmute`.
pub fn mute_view(
    req: &HttpRequest,
    state: &StateHandle,
    name: &str,
    muted: bool,
) -> Result<HttpResponse, ApiError> {
    let for_ms = if muted { for_param(&req.query)? } else { None };
    let until = state.mute_view(name, muted, for_ms)?;
    Ok(mute_reply(for_ms.map(|_| until)))
}

/// The JSON body of `POST /api/maintenance`: the keys of `[[maintenance]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowBody {
    views: Vec<String>,
    schedule: Option<String>,
    /// Text (`"2h"`) or whole seconds.
    duration: Option<Value>,
    tz: Option<String>,
    from: Option<String>,
    until: Option<String>,
    /// Accepted for the caller's own notes; not kept.
    comment: Option<String>,
}

/// `duration` of a window body, in ms (the window checks its range).
fn window_duration(v: &Value) -> Result<Millis, ApiError> {
    let bad = || {
        ApiError::BadRequest(format!(
            "invalid `duration` {}: a duration like \"90s\", \"15m\", \"2h\", \"1d\" or whole seconds",
            shorten(&v.to_string())
        ))
    };
    match v {
        Value::String(s) if s.trim().bytes().all(|b| b.is_ascii_alphanumeric()) => {
            match parse_timeout(s) {
                Ok(ms) if ms >= 0 => Ok(ms),
                _ => Err(bad()),
            }
        }
        Value::Number(n) => n
            .as_u64()
            .and_then(|secs| secs.checked_mul(1000))
            .and_then(|ms| Millis::try_from(ms).ok())
            .ok_or_else(bad),
        _ => Err(bad()),
    }
}

/// Parses the body of `POST /api/maintenance` into a window spec.
pub fn window_spec(body: &[u8]) -> Result<WindowSpec, ApiError> {
    let example = r#"send e.g. {"views": ["db.*"], "duration": "2h"}"#;
    let parsed: WindowBody = serde_json::from_slice(body).map_err(|e| {
        ApiError::BadRequest(format!(
            "the request body is not a maintenance window ({e}); {example}"
        ))
    })?;
    Ok(WindowSpec {
        views: parsed.views,
        schedule: parsed.schedule,
        duration: parsed.duration.as_ref().map(window_duration).transpose()?,
        tz: parsed.tz,
        from: parsed.from,
        until: parsed.until,
        comment: parsed.comment,
    })
}

/// `POST /api/maintenance`: 201 `{"id": ...}`.
pub fn add_window(req: &HttpRequest, state: &StateHandle) -> Result<HttpResponse, ApiError> {
    if req.body.len() > MAX_WINDOW_BODY {
        return Ok(HttpResponse::json(
            413,
            &json!({"error": format!(
                "request body too large: a maintenance window is at most {MAX_WINDOW_BODY} bytes"
            )}),
        ));
    }
    let spec = window_spec(&req.body)?;
    let id = state
        .add_window(spec)?
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(HttpResponse::json(201, &json!({ "id": id })))
}

/// One window as `GET /api/maintenance` shows it at `now`.
pub fn window_json(w: &Window, now: Millis) -> Value {
    let spec = w.spec();
    let mut o = Map::new();
    o.insert("id".into(), json!(w.id));
    let origin = match w.origin {
        Origin::Config => "config",
        Origin::Api => "api",
    };
    o.insert("origin".into(), json!(origin));
    o.insert("views".into(), json!(spec.views));
    let optional = [
        ("schedule", spec.schedule.map(Value::from)),
        ("duration", spec.duration.map(Value::from)),
        ("tz", spec.tz.map(Value::from)),
        ("from", spec.from.map(Value::from)),
        ("until", spec.until.map(Value::from)),
        ("comment", spec.comment.map(Value::from)),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            o.insert(key.into(), value);
        }
    }
    let open_until = w.open_until(now);
    // Open: the next opening after it closes (it is shut at that moment).
    let next_start = w.next_edge(open_until.unwrap_or(now));
    o.insert("open_until".into(), json!(open_until));
    o.insert("next_start".into(), json!(next_start));
    Value::Object(o)
}

/// `GET /api/maintenance`: the config's windows, then the API's.
pub fn list_windows(state: &StateHandle) -> Result<HttpResponse, ApiError> {
    let (windows, now) = state.windows()?;
    let list: Vec<Value> = windows.iter().map(|w| window_json(w, now)).collect();
    Ok(HttpResponse::json(
        200,
        &json!({"maintenance": list, "now": now}),
    ))
}

/// `DELETE /api/maintenance/<id>`: 404 unknown, 409 from the config.
pub fn delete_window(state: &StateHandle, id: &str) -> Result<HttpResponse, ApiError> {
    match state.delete_window(id)? {
        Ok(()) => Ok(HttpResponse::empty_ok()),
        Err(e @ DeleteWindowError::NotFound(_)) => Err(ApiError::Missing(e.to_string())),
        Err(e @ DeleteWindowError::FromConfig(_)) => {
            Ok(HttpResponse::json(409, &json!({"error": e.to_string()})))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn for_accepts_durations_and_refuses_the_rest() {
        assert_eq!(for_param("").ok(), Some(None));
        assert_eq!(for_param("for=2h").ok(), Some(Some(7_200_000)));
        assert_eq!(for_param("for=90").ok(), Some(Some(90_000)));
        assert_eq!(for_param("for=1d").ok(), Some(Some(86_400_000)));
        assert_eq!(for_param("for=366d").ok(), Some(Some(MAX_MUTE_FOR)));
        for bad in [
            "0", "367d", "-1", "none", "auto", "adaptive", "", "2x", "1.5h", "-2",
        ] {
            let e = for_param(&format!("for={bad}")).expect_err(bad);
            assert_eq!(e.status(), 400, "{bad}");
            assert!(e.to_string().contains("`for`"), "{e}");
        }
    }

    #[test]
    fn window_bodies() {
        let spec =
            window_spec(br#"{"views": ["db.*"], "duration": "2h", "comment": "x"}"#).expect("ok");
        assert_eq!(spec.views, vec!["db.*".to_string()]);
        assert_eq!(spec.duration, Some(7_200_000));
        let spec = window_spec(
            br#"{"views": ["a"], "duration": 60, "schedule": "0 2 * * *", "tz": "UTC"}"#,
        )
        .expect("ok");
        assert_eq!(spec.duration, Some(60_000));
        assert_eq!(spec.schedule.as_deref(), Some("0 2 * * *"));
        for bad in [
            &br#"{"views": ["a"], "duration": "2h", "colour": 1}"#[..],
            br#"{"duration": "2h"}"#,
            br#"{"views": ["a"], "duration": -5}"#,
            br#"{"views": ["a"], "duration": "none"}"#,
            br#"{"views": ["a"], "duration": 1.5}"#,
            br#"{"views": "a"}"#,
            b"not json",
            b"",
        ] {
            let e = window_spec(bad).expect_err("refused");
            assert_eq!(e.status(), 400, "{e}");
        }
    }
}
