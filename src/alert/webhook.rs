//! Generic webhook (SPEC 6): a JSON POST with Lovebeat's headers.

use super::failure;
use super::http;
use super::plan::Message;
use super::DeliveryError;

/// `{"name", "from_state", "to_state", "incident_number", "failed_services",
/// "failures", "reminder"}` with upper-case states, plus `down_ms` on a
/// recovery whose downtime is known; `reminder` is 0 for the first message
/// (and a recovery), n for the n-th reminder; `failures` lists
/// `{"service", "reason", "since", "exit_code", "output"}` (SPEC 15), with
/// `exit_code` and `output` (the last 1 KiB of a failed run's) only where
/// known.
pub fn payload(message: &Message) -> serde_json::Value {
    let failures: Vec<serde_json::Value> = message
        .failures
        .iter()
        .map(|f| {
            let mut entry = serde_json::json!({
                "service": f.service,
                "reason": f.reason.as_str(),
                "since": f.since,
                "description": failure::describe(f),
            });
            if let Some(code) = f.exit_code {
                entry["exit_code"] = code.into();
            }
            if let Some(output) = &f.output {
                entry["output"] = failure::tail(output).into();
            }
            entry
        })
        .collect();
    let mut body = serde_json::json!({
        "name": message.view,
        "from_state": message.from.upper(),
        "to_state": message.to.upper(),
        "incident_number": message.incident,
        "failed_services": message.failed,
        "failures": failures,
        "reminder": message.reminder,
    });
    if let Some(down) = message.down_ms {
        body["down_ms"] = down.into();
    }
    body
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
