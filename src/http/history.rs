//! `GET /api/services/<name>/history` and `GET /api/views/<name>/history`
//! (SPEC 18): the query (`since`, `until`: ms since the epoch, both
//! optional) checked here, the answer built on the state thread
//! (`history::HistoryReply`) and sent as it is.

use super::request::{ApiError, HttpRequest, HttpResponse, CT_JSON};
use super::urlenc;
use crate::history::Kind;
use crate::model::Millis;
use crate::state::StateHandle;

/// The window asked for: `since` and `until` when given. Other keys are
/// ignored; a value that is no integer, a repeated key or `since > until`
/// is refused.
pub fn window(query: &str) -> Result<(Option<Millis>, Option<Millis>), ApiError> {
    let mut since = None;
    let mut until = None;
    for (key, value) in urlenc::parse_pairs(query) {
        let slot = match key.as_str() {
            "since" => &mut since,
            "until" => &mut until,
            _ => continue,
        };
        if slot.is_some() {
            return Err(ApiError::BadRequest(format!("{key} is given twice")));
        }
        let ms: Millis = value.parse().map_err(|_| {
            ApiError::BadRequest(format!(
                "{key} must be a time in milliseconds since the epoch, like 1764000000000 \
                 (got {:?})",
                value.chars().take(40).collect::<String>()
            ))
        })?;
        *slot = Some(ms);
    }
    if let (Some(s), Some(u)) = (since, until) {
        if s > u {
            return Err(ApiError::BadRequest(format!(
                "since ({s}) is after until ({u})"
            )));
        }
    }
    Ok((since, until))
}

/// The history of a service or a view as JSON.
pub fn history(
    req: &HttpRequest,
    state: &StateHandle,
    kind: Kind,
    name: &str,
) -> Result<HttpResponse, ApiError> {
    let (since, until) = window(&req.query)?;
    let reply = match kind {
        Kind::Service => state.service_history(name, since, until)?,
        Kind::View => state.view_history(name, since, until)?,
    };
    // Compact: up to `MAX_CHANGES` changes, no need to pretty-print them.
    let mut body = serde_json::to_vec(&reply).map_err(|_| ApiError::Unavailable)?;
    body.push(b'\n');
    Ok(HttpResponse {
        status: 200,
        content_type: CT_JSON,
        headers: Vec::new(),
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_checked() {
        assert_eq!(window("").ok(), Some((None, None)));
        assert_eq!(window("since=5&x=y").ok(), Some((Some(5), None)));
        assert_eq!(window("since=5&until=5").ok(), Some((Some(5), Some(5))));
        for bad in [
            "since=abc",
            "until=1.5",
            "since=9&until=3",
            "since=1&since=2",
            "until=",
        ] {
            assert!(
                matches!(window(bad), Err(ApiError::BadRequest(_))),
                "{bad} was accepted"
            );
        }
    }
}
