//! The shared HTTP client of the alert kinds (ureq, blocking, rustls) and
//! one POST with the outcome mapped to a [`DeliveryError`].

use super::DeliveryError;
use std::time::Duration;

/// Most of an error answer kept for the log.
const ERROR_BODY_LIMIT: usize = 512;

/// An agent whose every request ends within `timeout` (connect, send,
/// answer), that reports HTTP error statuses as answers, not errors.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

/// POSTs `body` with `headers`; a 2xx answer is success.
pub fn post(
    agent: &ureq::Agent,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(), DeliveryError> {
    send(agent, "POST", url, headers, body)
}

/// Sends `body` with `method` (POST, PUT, PATCH; anything else as POST)
/// and `headers`; a 2xx answer is success, an error status comes back with
/// the start of the answer and its `Retry-After`.
pub fn send(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(), DeliveryError> {
    let mut request = match method.to_ascii_uppercase().as_str() {
        "PUT" => agent.put(url),
        "PATCH" => agent.patch(url),
        _ => agent.post(url),
    };
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request
        .send(body)
        .map_err(|e| DeliveryError::Http(e.to_string()))?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(());
    }
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(retry_after_seconds);
    let text = response
        .body_mut()
        .with_config()
        .limit(ERROR_BODY_LIMIT as u64)
        .read_to_string()
        .unwrap_or_default();
    let text: String = text.trim().chars().take(ERROR_BODY_LIMIT).collect();
    Err(DeliveryError::Status {
        status,
        body: text,
        retry_after,
    })
}

/// `Retry-After` in its seconds form (the HTTP-date form is rare from
/// APIs; it is ignored and our backoff applies).
fn retry_after_seconds(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}
