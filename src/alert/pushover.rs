//! SPEC 16: `pushover = "<user key>"`; `[pushover] token`, `api_base`: a
//! form POSTed to Pushover's Message API.
//!
//! From Pushover's documentation, <https://pushover.net/api>:
//! - "POST an HTTPS request to `https://api.pushover.net/1/messages.json`
//!   with the following parameters: `token` - your application's API
//!   token (required), `user` - your user/group key … (required),
//!   `message` - your message (required)"; optional `title` ("your
//!   message's title, otherwise your app's name is used"), `url` ("a
//!   supplementary URL to show with your message"), `priority` ("a value
//!   of -2, -1, 0 (default), 1, or 2"; 1 is high priority: it "bypass[es]
//!   the user's quiet hours"; 2 needs `retry`/`expire`, not used).
//! - Parameters are sent form-encoded (`application/x-www-form-urlencoded`).
//! - Limits: "messages are currently limited to 1,024 4-byte UTF-8
//!   characters, with a title of up to 250 characters. Supplementary URLs
//!   are limited to 512 characters". A longer service list is cut and says
//!   how many more; a longer URL is left out (the text still has the view).
//! - Answers: `{"status":1,…}` with HTTP 200; "If the POST request was
//!   invalid … the `status` value will be something other than 1", with a
//!   4xx status and an `errors` array (logged as the provider's text);
//!   "When the Pushover API is unavailable … return a 5xx status" (retried);
//!   429 when over the application's monthly limit.

use super::channel::{self, Channel, Ctx};
use super::http;
use super::plan::Message;
use super::DeliveryError;
use crate::model::State;

pub static CHANNEL: Channel = Channel {
    name: "pushover",
    targets: |a| channel::one(&a.pushover),
    send,
    shown: channel::tail4,
    secrets: |ctx, t| channel::nonempty(&[t, &ctx.settings.accounts.pushover.token]),
    problem: |settings, _| {
        settings
            .accounts
            .pushover
            .token
            .trim()
            .is_empty()
            .then(|| "[pushover] token (the application's API token) is empty".to_string())
    },
};

pub const MESSAGE_LIMIT: usize = 1024;
pub const TITLE_LIMIT: usize = 250;
pub const URL_LIMIT: usize = 512;

/// `{api_base}/1/messages.json`.
pub fn url(api_base: &str) -> String {
    format!("{}/1/messages.json", api_base.trim().trim_end_matches('/'))
}

/// The form's fields, in order: `token`, `user`, `title`, `message`,
/// `priority` (1 for ERROR, 0 else), `url` when set and short enough.
pub fn fields(token: &str, user: &str, message: &Message) -> Vec<(&'static str, String)> {
    let (head, lines) = channel::summary(message);
    let text = channel::fit(&head, &lines, "", MESSAGE_LIMIT, channel::chars);
    let priority = if message.to == State::Error { "1" } else { "0" };
    let mut out = vec![
        ("token", token.to_string()),
        ("user", user.to_string()),
        (
            "title",
            channel::cut(&channel::title(message), TITLE_LIMIT, channel::chars),
        ),
        ("message", text),
        ("priority", priority.to_string()),
    ];
    if let Some(link) = message
        .link
        .as_deref()
        .filter(|l| l.chars().count() <= URL_LIMIT)
    {
        out.push(("url", link.to_string()));
    }
    out
}

/// `fields` urlencoded.
pub fn form(fields: &[(&str, String)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", super::mailgun::form_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn send(ctx: &Ctx, target: &str, message: &Message) -> Result<(), DeliveryError> {
    let account = &ctx.settings.accounts.pushover;
    let token = account.token.trim();
    if token.is_empty() {
        return Err(DeliveryError::NotConfigured(
            "pushover is set but [pushover] token is empty".into(),
        ));
    }
    let body = form(&fields(token, target.trim(), message));
    http::post(
        ctx.agent,
        &url(&account.api_base),
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("User-Agent", "Lovebeat"),
        ],
        body.as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::tests::message;

    fn field<'a>(f: &'a [(&str, String)], name: &str) -> Option<&'a str> {
        f.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn error_and_recovery_fields() {
        let f = fields("appTOKEN", "userKEY", &message(State::Error));
        let names: Vec<&str> = f.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            ["token", "user", "title", "message", "priority", "url"]
        );
        assert_eq!(field(&f, "token"), Some("appTOKEN"));
        assert_eq!(field(&f, "user"), Some("userKEY"));
        assert_eq!(field(&f, "title"), Some("web is ERROR (incident 4)"));
        assert_eq!(field(&f, "priority"), Some("1"));
        assert_eq!(field(&f, "url"), Some("http://lb/views/web"));
        let text = field(&f, "message").unwrap_or_default();
        assert!(text.contains("\n- web.a: "), "{text}");
        let mut ok = message(State::Ok);
        ok.link = None;
        let f = fields("t", "u", &ok);
        assert_eq!(field(&f, "priority"), Some("0"));
        assert_eq!(field(&f, "title"), Some("web is OK (incident 4)"));
        assert_eq!(field(&f, "url"), None);
        assert_eq!(
            form(&f[..3]),
            "token=t&user=u&title=web+is+OK+%28incident+4%29"
        );
    }

    #[test]
    fn limits_are_kept() {
        let mut m = message(State::Error);
        m.view = "v".repeat(300);
        m.failures.clear();
        m.failed = (0..200).map(|i| format!("svc-{i:03}")).collect();
        let f = fields("t", "u", &m);
        let title = field(&f, "title").unwrap_or_default();
        assert_eq!(title.chars().count(), TITLE_LIMIT);
        assert!(title.ends_with('…'));
        let text = field(&f, "message").unwrap_or_default();
        assert!(text.chars().count() <= MESSAGE_LIMIT, "{}", text.len());
        let shown = text.matches("\n- svc-").count();
        assert!(shown > 10, "{text}");
        assert!(
            text.ends_with(&format!("\n…and {} more", 200 - shown)),
            "{text}"
        );
        m.link = Some(format!("http://lb/{}", "x".repeat(600)));
        assert_eq!(field(&fields("t", "u", &m), "url"), None);
    }
}
