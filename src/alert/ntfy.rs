//! SPEC 16: `ntfy = "<topic URL>"` (optional `ntfy_token`): the text
//! POSTed to the topic URL, what it says in headers.
//!
//! From ntfy's documentation, <https://docs.ntfy.sh/publish/>:
//! - "Publishing messages can be done via HTTP PUT/POST … `POST /mytopic`"
//!   with the message as the body; "the topic is essentially a password"
//!   (so the topic URL is a secret here, shown as its origin).
//! - Message title: header `X-Title` (aliases `Title`, `ti`, `t`).
//! - Message priority: header `X-Priority` (aliases `Priority`, `prio`,
//!   `p`), "`max`/`urgent` … 5 … Really long vibration bursts, default
//!   notification sound with a pop-over notification", "`default` … 3".
//! - Tags & emojis: header `X-Tags` (aliases `Tags`, `tag`, `ta`), a
//!   comma-separated list; "If a tag matches an emoji short code, it'll be
//!   converted to an emoji" (`rotating_light` 🚨, `white_check_mark` ✅).
//! - Click action: header `X-Click` (alias `Click`), "the URL that will
//!   be opened when the notification is clicked".
//! - Access tokens: "`Authorization: Bearer tk_…`".
//! - Limits: a message larger than the server's `message-size-limit`
//!   (4096 bytes by default) is turned into an attachment, so the service
//!   list is cut to fit in 4096 bytes.
//! - Headers are ASCII; ntfy decodes RFC 2047 encoded words
//!   (`=?UTF-8?B?…?=`), used for a title with other characters.

use super::channel::{self, Channel, Ctx};
use super::http;
use super::plan::Message;
use super::DeliveryError;
use crate::model::State;

pub static CHANNEL: Channel = Channel {
    name: "ntfy",
    targets: |a| channel::one(&a.ntfy),
    send,
    shown: channel::url_origin,
    secrets: |ctx, t| {
        let token = ctx.alert_config().map_or("", |a| a.ntfy_token.as_str());
        let mut secrets = channel::url_secrets(t);
        secrets.extend(channel::nonempty(&[token]));
        secrets
    },
    problem: |_, alert| {
        (!channel::is_http_url(&alert.ntfy))
            .then(|| "ntfy must be a topic URL (https://ntfy.sh/<topic>)".to_string())
    },
};

/// ntfy's default `message-size-limit`, in bytes.
const BODY_LIMIT: usize = 4096;

/// The headers of one message (name, value), without the token.
pub fn headers(message: &Message) -> Vec<(&'static str, String)> {
    let error = message.to == State::Error;
    let mut out = vec![
        ("Content-Type", "text/plain; charset=utf-8".to_string()),
        ("User-Agent", "Lovebeat".to_string()),
        ("Title", header_text(&channel::title(message))),
        (
            "Priority",
            if error { "urgent" } else { "default" }.to_string(),
        ),
        (
            "Tags",
            if error {
                "rotating_light"
            } else {
                "white_check_mark"
            }
            .to_string(),
        ),
    ];
    if let Some(link) = message.link.as_deref().filter(|l| is_header_safe(l)) {
        out.push(("Click", link.to_string()));
    }
    out
}

/// The plain-text body: what happened, the failed services with their
/// reasons (as many as fit in ntfy's 4096 bytes), the link.
pub fn body(message: &Message) -> String {
    let (head, lines) = channel::summary(message);
    let tail = message
        .link
        .as_deref()
        .map(|l| format!("View: {l}"))
        .unwrap_or_default();
    channel::fit(&head, &lines, &tail, BODY_LIMIT, channel::bytes)
}

fn send(ctx: &Ctx, target: &str, message: &Message) -> Result<(), DeliveryError> {
    let mut headers = headers(message);
    let token = ctx
        .alert_config()
        .map_or("", |a| a.ntfy_token.trim())
        .to_string();
    if !token.is_empty() {
        headers.push(("Authorization", format!("Bearer {token}")));
    }
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    http::post(ctx.agent, target.trim(), &headers, body(message).as_bytes())
}

/// Printable ASCII only (what an HTTP header value may hold as is).
fn is_header_safe(text: &str) -> bool {
    text.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// `text` as a header value: as is when printable ASCII, else one RFC 2047
/// encoded word (`=?UTF-8?B?<base64>?=`), which ntfy decodes.
pub fn header_text(text: &str) -> String {
    if is_header_safe(text) {
        text.to_string()
    } else {
        format!("=?UTF-8?B?{}?=", crate::base64::standard(text.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::tests::message;

    fn header<'a>(h: &'a [(&str, String)], name: &str) -> Option<&'a str> {
        h.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn error_and_recovery_headers() {
        let h = headers(&message(State::Error));
        assert_eq!(header(&h, "Title"), Some("web is ERROR (incident 4)"));
        assert_eq!(header(&h, "Priority"), Some("urgent"));
        assert_eq!(header(&h, "Tags"), Some("rotating_light"));
        assert_eq!(header(&h, "Click"), Some("http://lb/views/web"));
        let mut ok = message(State::Ok);
        ok.link = None;
        let h = headers(&ok);
        assert_eq!(header(&h, "Title"), Some("web is OK (incident 4)"));
        assert_eq!(header(&h, "Priority"), Some("default"));
        assert_eq!(header(&h, "Tags"), Some("white_check_mark"));
        assert_eq!(header(&h, "Click"), None);
    }

    #[test]
    fn body_lists_reasons_and_link() {
        let text = body(&message(State::Error));
        assert!(
            text.starts_with("View web is in ERROR. Failed services:\n- web.a: "),
            "{text}"
        );
        assert!(text.contains("\n- web.b: "), "{text}");
        assert!(text.ends_with("\n\nView: http://lb/views/web"), "{text}");
        let mut ok = message(State::Ok);
        ok.down_ms = Some(3_900_000);
        assert_eq!(
            body(&ok),
            "View web recovered after 1 h 5 min down.\n\nView: http://lb/views/web"
        );
    }

    #[test]
    fn a_long_list_is_cut_to_4096_bytes_and_says_how_many_more() {
        let mut m = message(State::Error);
        m.failures.clear();
        m.failed = (0..2000).map(|i| format!("web.service-{i:04}")).collect();
        let text = body(&m);
        assert!(text.len() <= BODY_LIMIT, "{}", text.len());
        assert!(text.contains("- web.service-0000\n"), "{text}");
        let shown = text.matches("\n- web.service-").count();
        assert!(shown > 100, "{shown}");
        assert!(
            text.contains(&format!("\n…and {} more\n\nView: ", 2000 - shown)),
            "{text}"
        );
    }

    #[test]
    fn titles_that_are_not_ascii_are_encoded_words() {
        assert_eq!(header_text("web"), "web");
        assert_eq!(header_text("café"), "=?UTF-8?B?Y2Fmw6k=?=");
    }
}
