//! Generic webhook (SPEC 6): a JSON POST with Lovebeat's headers.

use super::http;
use super::plan::Message;
use super::DeliveryError;

/// `{"name", "from_state", "to_state", "incident_number", "failed_services"}`
/// with upper-case states.
pub fn payload(message: &Message) -> serde_json::Value {
    serde_json::json!({
        "name": message.view,
        "from_state": message.from.upper(),
        "to_state": message.to.upper(),
        "incident_number": message.incident,
        "failed_services": message.failed,
    })
}

pub fn send(agent: &ureq::Agent, url: &str, message: &Message) -> Result<(), DeliveryError> {
    let body = payload(message).to_string();
    http::post(
        agent,
        url,
        &[
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
            ("User-Agent", "Lovebeat"),
            ("X-Lovebeat", "1"),
        ],
        body.as_bytes(),
    )
}
