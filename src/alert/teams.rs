//! SPEC 16: `teams = "<workflow webhook url>"` — a Microsoft Teams channel
//! through a Workflows (Power Automate) "Post to a channel when a webhook
//! request is received" webhook, carrying one Adaptive Card. The URL holds
//! its signature (`sig=`): it is a secret, shown as its origin only.
//!
//! The request, per Microsoft's documentation
//! (<https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using>,
//! "Send Adaptive Cards using an Incoming Webhook"; the card format:
//! <https://learn.microsoft.com/en-us/adaptive-cards/authoring-cards/getting-started>):
//!
//! > `{"type": "message", "attachments": [{"contentType":
//! > "application/vnd.microsoft.card.adaptive", "contentUrl": null,
//! > "content": {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
//! > "type": "AdaptiveCard", "version": "1.2", "body": [{"type":
//! > "TextBlock", "text": "…"}]}}]}`
//! > "Workflows support Adaptive Cards only. It doesn't support the older
//! > message card format that Office 365 Connectors use."
//! > AdaptiveCard: "body - … elements" (TextBlock, FactSet …), "actions -
//! > … rendered in an action bar at the bottom" (Action.OpenUrl).
//!
//! Version 1.4 (what the Workflows "post card" action renders; every
//! element used here exists since 1.0–1.2). A card: the title (red for
//! ERROR, green for a recovery), the headline, a FactSet of the incident,
//! the failed services with their reasons (at most [`FACTS`]) or the
//! downtime, and an "Open in Lovebeat" button when `public_url` is set.

use super::channel::{self, Channel, Ctx};
use super::channel::{clip, title};
use super::plan::Message;
use super::{http, AlertSettings, DeliveryError};
use crate::config::AlertConfig;
use crate::model::State;
use serde_json::json;

pub static CHANNEL: Channel = Channel {
    name: "teams",
    targets: |a| channel::one(&a.teams),
    send,
    shown: channel::url_origin,
    secrets: |_, t| channel::url_secrets(t),
    problem,
};

/// Most failed services listed one per line; the rest are counted.
const FACTS: usize = 25;
/// Longest reason text in a fact.
const FACT_LIMIT: usize = 500;

/// The message body posted to the workflow.
pub fn payload(message: &Message) -> serde_json::Value {
    let error = message.to == State::Error;
    let mut facts = vec![json!({"title": "Incident", "value": message.incident.to_string()})];
    if let Some(down) = message.down_ms {
        facts.push(json!({"title": "Down for", "value": super::failure::duration(down)}));
    }
    for name in message.failed.iter().take(FACTS) {
        let reason = message
            .failure(name)
            .map_or_else(|| "failed".to_string(), super::failure::describe);
        facts.push(json!({"title": name, "value": clip(&reason, FACT_LIMIT)}));
    }
    if message.failed.len() > FACTS {
        facts.push(json!({
            "title": "…",
            "value": format!("and {} more failed services", message.failed.len() - FACTS),
        }));
    }
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": [
            {
                "type": "TextBlock",
                "text": title(message),
                "size": "Medium",
                "weight": "Bolder",
                "color": if error { "Attention" } else { "Good" },
                "wrap": true,
            },
            {"type": "TextBlock", "text": message.headline(), "wrap": true},
            {"type": "FactSet", "facts": facts},
        ],
    });
    if let Some(link) = &message.link {
        card["actions"] =
            json!([{"type": "Action.OpenUrl", "title": "Open in Lovebeat", "url": link}]);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }],
    })
}

fn send(ctx: &Ctx, target: &str, message: &Message) -> Result<(), DeliveryError> {
    let body = payload(message).to_string();
    http::post(
        ctx.agent,
        target.trim(),
        &[
            ("Content-Type", "application/json"),
            ("User-Agent", "Lovebeat"),
        ],
        body.as_bytes(),
    )
}

fn problem(_settings: &AlertSettings, alert: &AlertConfig) -> Option<String> {
    let url = alert.teams.trim();
    (!url.is_empty() && !url.starts_with("https://") && !url.starts_with("http://"))
        .then(|| "teams is not an http(s) URL (the workflow's webhook URL)".to_string())
}

#[cfg(test)]
mod tests {
    use super::super::tests::message;
    use super::*;

    #[test]
    fn an_error_is_a_red_adaptive_card_with_the_reasons_and_the_link() {
        let mut m = message(State::Error);
        m.link = Some("http://lb.example/views/web".into());
        let p = payload(&m);
        assert_eq!(p["type"], "message");
        let a = &p["attachments"][0];
        assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
        let c = &a["content"];
        assert_eq!(c["type"], "AdaptiveCard");
        assert_eq!(c["version"], "1.4");
        assert_eq!(
            c["$schema"],
            "http://adaptivecards.io/schemas/adaptive-card.json"
        );
        assert_eq!(c["body"][0]["text"], "web is ERROR (incident 4)");
        assert_eq!(c["body"][0]["color"], "Attention");
        assert_eq!(
            c["body"][2]["facts"][0],
            json!({"title": "Incident", "value": "4"})
        );
        assert_eq!(
            c["body"][2]["facts"][1],
            json!({"title": "web.a", "value": "failed with exit code 3"})
        );
        assert_eq!(
            c["actions"],
            json!([{"type": "Action.OpenUrl", "title": "Open in Lovebeat", "url": "http://lb.example/views/web"}])
        );
    }

    #[test]
    fn a_recovery_is_green_with_its_downtime_and_no_button_without_a_link() {
        let mut m = message(State::Ok);
        m.down_ms = Some(3000);
        m.link = None;
        let c = payload(&m)["attachments"][0]["content"].clone();
        assert_eq!(c["body"][0]["text"], "web is OK (incident 4)");
        assert_eq!(c["body"][0]["color"], "Good");
        assert_eq!(
            c["body"][2]["facts"][1],
            json!({"title": "Down for", "value": "3 s"})
        );
        assert!(c.get("actions").is_none());
    }

    #[test]
    fn many_failed_services_are_counted_past_the_limit() {
        let mut m = message(State::Error);
        m.failed = (0..40).map(|i| format!("s{i}")).collect();
        let facts = payload(&m)["attachments"][0]["content"]["body"][2]["facts"].clone();
        let facts = facts.as_array().cloned().unwrap_or_default();
        assert_eq!(facts.len(), 1 + FACTS + 1);
        assert_eq!(facts[FACTS + 1]["value"], "and 15 more failed services");
    }

    #[test]
    fn a_url_that_is_not_http_is_a_problem() {
        let s = AlertSettings::default();
        let bad = AlertConfig {
            teams: "outlook.office.com/x".into(),
            ..Default::default()
        };
        assert!(problem(&s, &bad).is_some());
        let good = AlertConfig {
            teams: "https://x.logic.azure.com/w?sig=1".into(),
            ..Default::default()
        };
        assert_eq!(problem(&s, &good), None);
    }
}
