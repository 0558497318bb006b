//! Slack incoming webhook (SPEC 6): username `Lovebeat`, the alert's
//! channel, one attachment coloured `danger` (ERROR) or `good` (recovery)
//! whose title links to the view when `public_url` is set. A reminder
//! says so in its title and text; a recovery has a `Down for` field when
//! its downtime is known.

use super::http;
use super::plan::Message;
use super::DeliveryError;
use crate::config::Slack;
use crate::model::State;

pub fn payload(channel: &str, message: &Message) -> serde_json::Value {
    let (color, what) = if message.to == State::Error {
        ("danger", "is in ERROR")
    } else {
        ("good", "has recovered")
    };
    let summary = if message.reminder > 0 {
        format!(
            "Reminder {}: view {} is still in {} (incident {}, since {})",
            message.reminder,
            message.view,
            message.to.upper(),
            message.incident,
            super::failure::clock_time(message.since)
        )
    } else {
        format!(
            "View {} {what} (incident {}): '{}' -> '{}'",
            message.view,
            message.incident,
            message.from.upper(),
            message.to.upper()
        )
    };
    let title = if message.reminder > 0 {
        format!(
            "{} is still {} (reminder {})",
            message.view,
            message.to.upper(),
            message.reminder
        )
    } else {
        format!("{} is {}", message.view, message.to.upper())
    };
    let failed = if message.failed.is_empty() {
        "none".to_string()
    } else {
        message.reasons()
    };
    let mut attachment = serde_json::json!({
        "fallback": summary,
        "color": color,
        "title": title,
        "text": summary,
        "fields": [
            {"title": "View", "value": message.view, "short": true},
            {"title": "Incident number", "value": message.incident.to_string(), "short": true},
            {"title": "Failed services", "value": failed, "short": false},
        ],
    });
    if let Some(link) = &message.link {
        attachment["title_link"] = serde_json::Value::String(link.clone());
    }
    if let Some(fields) = attachment["fields"].as_array_mut() {
        if let Some(down) = message.down_ms {
            fields.push(serde_json::json!({
                "title": "Down for",
                "value": super::failure::duration(down),
                "short": true,
            }));
        }
        for f in message.failures.iter() {
            if let Some(output) = &f.output {
                fields.push(serde_json::json!({
                    "title": format!("Output of {}", f.service),
                    "value": format!("```{}```", super::failure::tail(output)),
                    "short": false,
                }));
            }
        }
    }
    serde_json::json!({
        "username": "Lovebeat",
        "channel": channel,
        "text": summary,
        "attachments": [attachment],
    })
}

pub fn send(
    agent: &ureq::Agent,
    slack: &Slack,
    channel: &str,
    message: &Message,
) -> Result<(), DeliveryError> {
    let url = slack.webhook_url.trim();
    if url.is_empty() {
        return Err(DeliveryError::NotConfigured(
            "slack_channel is set but [slack] webhook_url is empty".into(),
        ));
    }
    let body = payload(channel, message).to_string();
    http::post(
        agent,
        url,
        &[
            ("Content-Type", "application/json"),
            ("User-Agent", "Lovebeat"),
        ],
        body.as_bytes(),
    )
}
