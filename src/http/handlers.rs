//! One function per API route: check the input, ask the state thread, shape
//! the reply. Errors come back as `ApiError`; the router renders them.

use super::request::{ApiError, HttpRequest, HttpResponse};
use super::urlenc;
use crate::clock::now_ms;
use crate::counters::Counters;
use crate::json::{self, Dialect};
use crate::model::is_valid_name;
use crate::state::StateHandle;
use crate::store::Notice;
use serde_json::json;

/// `GET /version`.
pub fn version(req: &HttpRequest) -> HttpResponse {
    if req.wants_json() {
        HttpResponse::json(200, &json!({"version": crate::VERSION}))
    } else {
        HttpResponse::text(200, format!("lovebeat {}\n", crate::VERSION))
    }
}

/// The `view` (or 1.x `alarm`) query parameter; empty means "none".
fn view_param(query: &str) -> Option<String> {
    let pairs = urlenc::parse_pairs(query);
    urlenc::get(&pairs, "view")
        .or_else(|| urlenc::get(&pairs, "alarm"))
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// True for `?details=1` / `?details=true` (also `yes`, `on`, or bare).
fn details_param(query: &str) -> bool {
    let pairs = urlenc::parse_pairs(query);
    matches!(
        urlenc::get(&pairs, "details")
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("" | "1" | "true" | "yes" | "on")
    )
}

/// A service that cannot exist (bad name) reads as unknown.
fn existing_name(name: &str) -> Result<(), ApiError> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(crate::engine::EngineError::ServiceNotFound(name.to_owned()).into())
    }
}

/// `GET /api/services` (`?view=` filter).
pub fn list_services(
    req: &HttpRequest,
    state: &StateHandle,
    dialect: Dialect,
) -> Result<HttpResponse, ApiError> {
    let view = view_param(&req.query);
    let mut list = state.services(view.as_deref())?;
    Ok(HttpResponse::json(
        200,
        &json!({"services": json::services(&mut list, dialect), "now": now_ms()}),
    ))
}

/// `GET /api/services/<name>` (`?details=1`).
pub fn get_service(
    req: &HttpRequest,
    state: &StateHandle,
    name: &str,
) -> Result<HttpResponse, ApiError> {
    existing_name(name)?;
    let details = details_param(&req.query);
    let s = state.service(name, details)?;
    Ok(HttpResponse::json(
        200,
        &json!({"service": json::service(&s, Dialect::Ours, details), "now": now_ms()}),
    ))
}

/// `DELETE /api/services/<name>`.
pub fn delete_service(state: &StateHandle, name: &str) -> Result<HttpResponse, ApiError> {
    existing_name(name)?;
    state.delete_service(name)?;
    Ok(HttpResponse::empty_ok())
}

/// `GET /api/views`, `GET /api/alarms`.
pub fn list_views(state: &StateHandle, dialect: Dialect) -> Result<HttpResponse, ApiError> {
    let mut list = state.views()?;
    let key = match dialect {
        Dialect::Ours => "views",
        Dialect::V1 => "alarms",
    };
    Ok(HttpResponse::json(
        200,
        &json!({key: json::views(&mut list, dialect), "now": now_ms()}),
    ))
}

/// `GET /api/views/<name>`, `GET /api/alarms/<name>`.
pub fn get_view(
    state: &StateHandle,
    name: &str,
    dialect: Dialect,
) -> Result<HttpResponse, ApiError> {
    let (view, mut members) = state.view(name)?;
    let key = match dialect {
        Dialect::Ours => "view",
        Dialect::V1 => "alarm",
    };
    Ok(HttpResponse::json(
        200,
        &json!({
            key: json::view(&view, dialect),
            "services": json::services(&mut members, dialect),
            "now": now_ms(),
        }),
    ))
}

/// `DELETE /api/views/<name>`, `DELETE /api/alarms/<name>`.
pub fn delete_view(state: &StateHandle, name: &str) -> Result<HttpResponse, ApiError> {
    state.delete_view(name)?;
    Ok(HttpResponse::empty_ok())
}

/// `GET /metrics`: the Prometheus text of the state's stats and the
/// process counters.
pub fn metrics(state: &StateHandle, counters: &Counters) -> Result<HttpResponse, ApiError> {
    let stats = state.stats()?;
    Ok(
        HttpResponse::text(200, super::metrics::render(&stats, counters))
            .with_content_type("text/plain; version=0.0.4; charset=utf-8"),
    )
}

/// `/status`, `/api/status` (`?view=`), `/api/views/<name>/status`.
pub fn status(
    req: &HttpRequest,
    state: &StateHandle,
    view: Option<&str>,
) -> Result<HttpResponse, ApiError> {
    let from_query = view_param(&req.query);
    let view = view.map(str::to_owned).or(from_query);
    let mut summary = state.status(view.as_deref())?;
    // A database moved aside at start: nothing is known to be fine until an
    // operator acknowledges it, whatever the services say.
    let notices = state.quarantine().notices();
    if !notices.is_empty() {
        summary.good = false;
    }
    Ok(if req.wants_json() {
        let mut value = json::status_json(&summary);
        if !notices.is_empty() {
            value["quarantined"] = notices_json(&notices);
        }
        HttpResponse::json(200, &value)
    } else {
        let mut text = json::status_text(&summary);
        for notice in &notices {
            text.push_str(&format!("quarantined {}\n", notice.moved_to.display()));
        }
        HttpResponse::text(200, text)
    })
}

fn notices_json(notices: &[Notice]) -> serde_json::Value {
    notices
        .iter()
        .map(|n| json!({"file": n.moved_to.display().to_string(), "reason": n.reason, "at": n.at}))
        .collect()
}

/// `GET /api/quarantine`: databases moved aside at start and not yet
/// acknowledged.
pub fn quarantine(state: &StateHandle) -> HttpResponse {
    let notices = state.quarantine().notices();
    HttpResponse::json(200, &json!({"quarantined": notices_json(&notices)}))
}

/// `DELETE /api/quarantine`: an operator acknowledges them (the moved files
/// stay where they are); `/status` is healthy again if nothing else is
/// wrong.
pub fn acknowledge_quarantine(state: &StateHandle) -> HttpResponse {
    match state.quarantine().acknowledge() {
        Ok(notices) => HttpResponse::json(200, &json!({"acknowledged": notices_json(&notices)})),
        Err(e) => HttpResponse::json(
            500,
            &json!({"error": format!("cannot acknowledge the quarantine: {e}")}),
        ),
    }
}
