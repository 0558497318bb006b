//! SPEC 16: `gotify = "<server URL>"`, `gotify_token`: a JSON message
//! POSTed to the server's `/message` with the application token.
//!
//! From Gotify's documentation, <https://gotify.net/docs/pushmsg> and
//! <https://gotify.net/docs/msgextras>, and its API
//! (<https://gotify.net/api-docs>, `POST /message`, "Create a message",
//! authenticated as an application):
//! - "`curl "https://push.example.de/message?token=<apptoken>" -F
//!   "title=my title" -F "message=my message" -F "priority=5"`"; the token
//!   may instead be sent in the header `X-Gotify-Key` (used here, so it
//!   never is in a URL a log could show).
//! - The message: `title`, `message` (required), `priority` (int), and
//!   `extras`, which "are only accepted in `POST /message` requests with
//!   `application/json` content-type"; `client::display` `contentType`
//!   (`text/plain`) and `client::notification` `click.url` ("Opens an URL
//!   on notification click").
//! - Priority: the Android app maps 0 to no notification, 1–3 to a quiet
//!   one, 4–7 to a normal one with sound, and 8–10 to a high-importance
//!   one that pops up. So ERROR is 8 (it must reach someone), a recovery 4
//!   (worth a normal notification, not waking anybody).

use super::channel::{self, Channel, Ctx};
use super::http;
use super::plan::Message;
use super::DeliveryError;
use crate::model::State;

pub static CHANNEL: Channel = Channel {
    name: "gotify",
    targets: |a| channel::one(&a.gotify),
    send,
    shown: channel::url_origin,
    secrets: |ctx, t| {
        let token = ctx.alert_config().map_or("", |a| a.gotify_token.as_str());
        // The server URL is not secret, but a `user:password@` in it is.
        channel::nonempty(&[token, userinfo(t)])
    },
    problem: |_, alert| {
        if !channel::is_http_url(&alert.gotify) {
            Some("gotify must be the server's URL (https://gotify.example.com)".into())
        } else if alert.gotify_token.trim().is_empty() {
            Some("gotify_token (the application's token) is empty".into())
        } else {
            None
        }
    },
};

/// Priority of a message into ERROR (high: pops up on Android).
pub const PRIORITY_ERROR: u8 = 8;
/// Priority of a recovery (normal notification).
pub const PRIORITY_RECOVERY: u8 = 4;

/// `{server}/message`, whether or not the server URL ends in `/`.
pub fn url(server: &str) -> String {
    format!("{}/message", server.trim().trim_end_matches('/'))
}

/// The JSON body: `title`, `message`, `priority`, `extras`.
pub fn payload(message: &Message) -> serde_json::Value {
    let (head, lines) = channel::summary(message);
    let mut text = head;
    for line in lines {
        text.push('\n');
        text.push_str(&line);
    }
    if let Some(link) = &message.link {
        text.push_str("\n\nView: ");
        text.push_str(link);
    }
    let priority = if message.to == State::Error {
        PRIORITY_ERROR
    } else {
        PRIORITY_RECOVERY
    };
    let mut extras = serde_json::json!({
        "client::display": {"contentType": "text/plain"},
    });
    if let Some(link) = &message.link {
        extras["client::notification"] = serde_json::json!({"click": {"url": link}});
    }
    serde_json::json!({
        "title": channel::title(message),
        "message": text,
        "priority": priority,
        "extras": extras,
    })
}

fn send(ctx: &Ctx, target: &str, message: &Message) -> Result<(), DeliveryError> {
    let token = ctx.alert_config().map_or("", |a| a.gotify_token.trim());
    if token.is_empty() {
        return Err(DeliveryError::NotConfigured(
            "gotify is set but gotify_token is empty".into(),
        ));
    }
    let body = payload(message).to_string();
    http::post(
        ctx.agent,
        &url(target),
        &[
            ("Content-Type", "application/json"),
            ("User-Agent", "Lovebeat"),
            ("X-Gotify-Key", token),
        ],
        body.as_bytes(),
    )
}

/// The `user:password` of `scheme://user:password@host/…`, or "".
fn userinfo(url: &str) -> &str {
    let rest = url.split_once("://").map_or("", |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority.rsplit_once('@').map_or("", |(user, _)| user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::tests::message;

    #[test]
    fn error_and_recovery_payloads() {
        let p = payload(&message(State::Error));
        assert_eq!(p["title"], "web is ERROR (incident 4)");
        assert_eq!(p["priority"], 8);
        let text = p["message"].as_str().unwrap_or_default();
        assert!(
            text.starts_with("View web is in ERROR. Failed services:\n- web.a: "),
            "{text}"
        );
        assert!(text.ends_with("\n\nView: http://lb/views/web"), "{text}");
        assert_eq!(
            p["extras"]["client::notification"]["click"]["url"],
            "http://lb/views/web"
        );
        assert_eq!(p["extras"]["client::display"]["contentType"], "text/plain");

        let mut ok = message(State::Ok);
        ok.link = None;
        let p = payload(&ok);
        assert_eq!(p["title"], "web is OK (incident 4)");
        assert_eq!(p["priority"], 4);
        assert_eq!(p["message"], "View web recovered.");
        assert!(p["extras"].get("client::notification").is_none(), "{p}");
    }

    #[test]
    fn url_and_userinfo() {
        assert_eq!(url("https://g.example/"), "https://g.example/message");
        assert_eq!(url("http://h:1/gotify"), "http://h:1/gotify/message");
        assert_eq!(userinfo("https://u:pw@g.example/x"), "u:pw");
        assert_eq!(userinfo("https://g.example/a@b"), "");
    }
}
