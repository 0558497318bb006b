//! SPEC 16: `discord = "<webhook URL>"`: one embed POSTed to a channel's
//! webhook.
//!
//! From Discord's documentation, "Execute Webhook"
//! (<https://discord.com/developers/docs/resources/webhook#execute-webhook>)
//! and the Embed Object (<https://discord.com/developers/docs/resources/message#embed-object>):
//! - "`POST /webhooks/{webhook.id}/{webhook.token}`", JSON params
//!   `username` ("override the default username of the webhook"),
//!   `embeds` ("array of up to 10 embed objects"), `allowed_mentions`;
//!   one of `content`, `embeds`, … is required. The token is in the URL,
//!   so the whole URL is a secret (shown as its origin).
//! - Embed: `title`, `description`, `url` ("url of embed"), `color`
//!   ("color code of the embed", an integer).
//! - Embed limits: "title 256 characters", "description 4096 characters",
//!   "the combined sum of characters in all title, description, … fields
//!   … must not exceed 6000 characters" — the service list is cut to fit
//!   and says how many more.
//! - `allowed_mentions` `{"parse": []}` "suppress[es] all mentions", so a
//!   service named `@everyone` pings nobody.
//! - Answers 204 No Content (without `?wait=true`); 429 with `Retry-After`
//!   when rate limited (retried by the dispatcher).

use super::channel::{self, Channel, Ctx};
use super::http;
use super::plan::Message;
use super::DeliveryError;
use crate::model::State;

pub static CHANNEL: Channel = Channel {
    name: "discord",
    targets: |a| channel::one(&a.discord),
    send,
    shown: channel::url_origin,
    secrets: |_, t| channel::url_secrets(t),
    problem: |_, alert| {
        (!channel::is_http_url(&alert.discord)).then(|| {
            "discord must be a webhook URL (https://discord.com/api/webhooks/…)".to_string()
        })
    },
};

pub const TITLE_LIMIT: usize = 256;
pub const DESCRIPTION_LIMIT: usize = 4096;
/// Red (Slack's "danger" red, 0xE01E5A) for ERROR.
pub const RED: u32 = 0xE0_1E_5A;
/// Green (0x2EB67D) for a recovery.
pub const GREEN: u32 = 0x2E_B6_7D;

/// The webhook's JSON: `username`, one embed, no mentions.
pub fn payload(message: &Message) -> serde_json::Value {
    let (head, lines) = channel::summary(message);
    let description = channel::fit(&head, &lines, "", DESCRIPTION_LIMIT, channel::chars);
    let color = if message.to == State::Error {
        RED
    } else {
        GREEN
    };
    let mut embed = serde_json::json!({
        "title": channel::cut(&channel::title(message), TITLE_LIMIT, channel::chars),
        "description": description,
        "color": color,
    });
    if let Some(link) = &message.link {
        embed["url"] = serde_json::Value::String(link.clone());
    }
    serde_json::json!({
        "username": "Lovebeat",
        "embeds": [embed],
        "allowed_mentions": {"parse": []},
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::tests::message;

    #[test]
    fn error_and_recovery_embeds() {
        let p = payload(&message(State::Error));
        assert_eq!(p["username"], "Lovebeat");
        assert_eq!(p["allowed_mentions"], serde_json::json!({"parse": []}));
        let embeds = p["embeds"].as_array().cloned().unwrap_or_default();
        assert_eq!(embeds.len(), 1);
        let e = &embeds[0];
        assert_eq!(e["title"], "web is ERROR (incident 4)");
        assert_eq!(e["color"], 0xE01E5A);
        assert_eq!(e["url"], "http://lb/views/web");
        let d = e["description"].as_str().unwrap_or_default();
        assert!(
            d.starts_with("View web is in ERROR. Failed services:\n- web.a: "),
            "{d}"
        );

        let mut ok = message(State::Ok);
        ok.link = None;
        ok.down_ms = Some(90_000);
        let e = &payload(&ok)["embeds"][0];
        assert_eq!(e["title"], "web is OK (incident 4)");
        assert_eq!(e["color"], 0x2EB67D);
        assert_eq!(
            e["description"],
            "View web recovered after 1 min 30 s down."
        );
        assert!(e.get("url").is_none(), "{e}");
    }

    #[test]
    fn a_reminder_says_so() {
        let mut m = message(State::Error);
        m.reminder = 2;
        let e = &payload(&m)["embeds"][0];
        assert_eq!(e["title"], "web is still ERROR (incident 4, reminder 2)");
        let d = e["description"].as_str().unwrap_or_default();
        assert!(
            d.starts_with("Reminder 2: view web is still in ERROR (since "),
            "{d}"
        );
    }

    #[test]
    fn embed_limits_are_kept() {
        let mut m = message(State::Error);
        m.view = "é".repeat(400);
        m.failures.clear();
        m.failed = (0..1000).map(|i| format!("db.replica-{i:04}")).collect();
        let e = &payload(&m)["embeds"][0];
        let title = e["title"].as_str().unwrap_or_default();
        assert_eq!(title.chars().count(), TITLE_LIMIT);
        let d = e["description"].as_str().unwrap_or_default();
        assert!(d.chars().count() <= DESCRIPTION_LIMIT);
        // Title and description stay within the 6000 of a whole embed.
        assert!(title.chars().count() + d.chars().count() <= 6000);
        let shown = d.matches("\n- db.replica-").count();
        assert!(shown > 100, "{shown}");
        assert!(d.ends_with(&format!("\n…and {} more", 1000 - shown)), "{d}");
    }
}
