//! SPEC 16: `telegram = "<chat id>"` with `[telegram] bot_token`,
//! `api_base`: one Bot API `sendMessage` per message.
//!
//! The request, as the Bot API documents it
//! (<https://core.telegram.org/bots/api#sendmessage>, read through
//! <https://effect-ak.github.io/tg-bot-api/send-message> and
//! <https://core.telegram.org/bots/update56kabdkb12ibuisabdubodbasbdaosd>):
//!
//! > All queries to the Telegram Bot API must be served over HTTPS and need
//! > to be presented in this form: `https://api.telegram.org/bot<token>/METHOD_NAME`
//! > ... application/json (except for uploading files)
//!
//! > sendMessage — `chat_id`: Unique identifier for the target chat or
//! > username of the target channel; `text`: Text of the message to be
//! > sent, 1-4096 characters after entities parsing; `parse_mode`: Mode
//! > for parsing entities in the message text.
//!
//! > HTML style — To use this mode, pass HTML in the parse_mode field.
//! > All `<`, `>` and `&` symbols that are not a part of a tag or an HTML
//! > entity must be replaced with the corresponding HTML entities
//! > (`&lt;`, `&gt;`, `&amp;`). ... The API currently supports only the
//! > following named HTML entities: `&lt;`, `&gt;`, `&amp;` and `&quot;`.
//!
//! So: POST `{api_base}/bot<token>/sendMessage`, JSON `{"chat_id",
//! "text", "parse_mode": "HTML"}`, every name and reason escaped. The
//! text stays within 4096 characters counted before entity parsing
//! (which only shortens it): the service list is cut and ends with
//! "… and N more". The bot token is the secret (it is in the URL path);
//! the chat id is what logs show.

use super::channel::{Channel, Ctx};
use super::plan::Message;
use super::{failure, http, DeliveryError};
use crate::model::State;

pub static CHANNEL: Channel = Channel {
    name: "telegram",
    targets: |a| super::channel::one(&a.telegram),
    send,
    shown: |t| t.to_string(),
    secrets: |ctx, _| super::channel::nonempty(&[&ctx.settings.accounts.telegram.bot_token]),
    problem: |settings, _| {
        let account = &settings.accounts.telegram;
        if account.bot_token.trim().is_empty() {
            Some("[telegram] bot_token is empty".into())
        } else if account.api_base.trim().is_empty() {
            Some("[telegram] api_base is empty".into())
        } else {
            None
        }
    },
};

/// Telegram's limit on a message text (characters after entity parsing).
pub const MAX_TEXT: usize = 4096;
/// Longest line kept for one failed service (a long reason is cut).
const MAX_LINE: usize = 300;

fn send(ctx: &Ctx, chat_id: &str, message: &Message) -> Result<(), DeliveryError> {
    let account = &ctx.settings.accounts.telegram;
    let token = account.bot_token.trim();
    if token.is_empty() {
        return Err(DeliveryError::NotConfigured(
            "telegram is set but [telegram] bot_token is empty".into(),
        ));
    }
    let url = url(&account.api_base, token);
    let body = payload(chat_id, message).to_string();
    http::post(
        ctx.agent,
        &url,
        &[
            ("Content-Type", "application/json"),
            ("User-Agent", "Lovebeat"),
        ],
        body.as_bytes(),
    )
}

/// `{api_base}/bot<token>/sendMessage`.
pub fn url(api_base: &str, token: &str) -> String {
    format!(
        "{}/bot{}/sendMessage",
        api_base.trim().trim_end_matches('/'),
        token
    )
}

/// The JSON body of `sendMessage`.
pub fn payload(chat_id: &str, message: &Message) -> serde_json::Value {
    serde_json::json!({
        "chat_id": chat_id,
        "text": text(message),
        "parse_mode": "HTML",
    })
}

/// `<`, `>` and `&` as HTML entities (Telegram's HTML style).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// Length as Telegram counts it (UTF-16 code units).
fn units(s: &str) -> usize {
    s.encode_utf16().count()
}

/// The HTML text: a bold title, what happened, the failed services with
/// their reasons (as many as fit in [`MAX_TEXT`], then "… and N more"),
/// the downtime of a recovery and the link to the view.
pub fn text(message: &Message) -> String {
    let mut head = format!(
        "<b>{}</b>\n{}\n",
        escape(&super::channel::title(message)),
        escape(&message.headline())
    );
    if let Some(down) = message.downtime() {
        head.push_str(&escape(&down));
        head.push('\n');
    }
    let mut tail = String::new();
    if let Some(link) = &message.link {
        tail.push_str(&format!(
            "\n<a href=\"{}\">{}</a>",
            escape(link),
            escape(link)
        ));
    }
    if message.failed.is_empty() {
        if message.to == State::Error {
            head.push_str("\nFailed services: none\n");
        }
        return format!("{head}{tail}").trim_end().to_string();
    }
    head.push_str("\nFailed services:\n");
    // Lines are built only while they fit (a list of thousands costs the
    // ~100 that are sent, not all of them).
    let total = message.failed.len();
    let mut used = units(&head) + units(&tail);
    let mut body = String::new();
    for (i, name) in message.failed.iter().enumerate() {
        let line = service_line(message, name);
        let left = total - i - 1;
        // Room for this line and, if any stay out, the "more" line.
        let more = if left > 0 { units(&more_line(left)) } else { 0 };
        if used + units(&line) + more > MAX_TEXT {
            body.push_str(&more_line(total - i));
            break;
        }
        used += units(&line);
        body.push_str(&line);
    }
    format!("{head}{body}{tail}").trim_end().to_string()
}

/// `• name: reason` (escaped), a reason cut at [`MAX_LINE`] characters.
fn service_line(message: &Message, name: &str) -> String {
    let line = match message.failure(name) {
        Some(f) => format!("{name}: {}", failure::describe(f)),
        None => name.to_string(),
    };
    let line = if line.chars().count() > MAX_LINE {
        let cut: String = line.chars().take(MAX_LINE - 1).collect();
        format!("{cut}…")
    } else {
        line
    };
    format!("• {}\n", escape(&line))
}

fn more_line(n: usize) -> String {
    format!("… and {n} more\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::{Failure, Reason};

    fn message(to: State, failed: &[&str]) -> Message {
        Message {
            view: "web<&>".into(),
            from: if to == State::Error {
                State::Ok
            } else {
                State::Error
            },
            to,
            incident: 4,
            failed: failed.iter().map(|s| s.to_string()).collect(),
            failures: Vec::new(),
            link: Some("http://lb.test/views/web?a=1&b=2".into()),
            reminder: 0,
            down_ms: if to == State::Ok { Some(125_000) } else { None },
            since: 0,
        }
    }

    #[test]
    fn the_request_is_sendmessage_with_html_escaped_text() {
        assert_eq!(
            url("https://api.telegram.org/", "123:AbC"),
            "https://api.telegram.org/bot123:AbC/sendMessage"
        );
        let mut m = message(State::Error, &["db<1>", "web&a"]);
        m.failures.push(Failure {
            service: "web&a".into(),
            reason: Reason::Missed,
            since: 0,
            exit_code: None,
            ran: None,
            limit: None,
            output: None,
        });
        let p = payload("-100200", &m);
        assert_eq!(p["chat_id"], "-100200");
        assert_eq!(p["parse_mode"], "HTML");
        let t = p["text"].as_str().unwrap_or_default();
        assert!(
            t.starts_with("<b>web&lt;&amp;&gt; is ERROR (incident 4)</b>\n"),
            "{t}"
        );
        assert!(t.contains("• db&lt;1&gt;\n"), "{t}");
        assert!(t.contains("• web&amp;a: "), "{t}");
        assert!(
            t.ends_with(
                "<a href=\"http://lb.test/views/web?a=1&amp;b=2\">http://lb.test/views/web?a=1&amp;b=2</a>"
            ),
            "{t}"
        );
        // Nothing unescaped outside the tags we wrote.
        let stripped = t
            .replace("<b>", "")
            .replace("</b>", "")
            .replace("</a>", "")
            .replace("<a href=", "");
        assert!(!stripped.contains('<'), "{t}");
    }

    #[test]
    fn a_recovery_says_for_how_long_and_a_reminder_its_number() {
        let t = text(&message(State::Ok, &[]));
        assert!(
            t.starts_with("<b>web&lt;&amp;&gt; is OK (incident 4)</b>"),
            "{t}"
        );
        assert!(t.contains("It was down for 2 min 5 s."), "{t}");
        assert!(!t.contains("Failed services"), "{t}");
        let mut m = message(State::Error, &["a"]);
        m.reminder = 3;
        let t = text(&m);
        assert!(t.contains("is still ERROR (incident 4, reminder 3)"), "{t}");
    }

    #[test]
    fn a_long_list_is_cut_within_4096_characters_and_says_how_many_more() {
        let names: Vec<String> = (0..2000).map(|i| format!("svc.<{i:05}>")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let t = text(&message(State::Error, &refs));
        assert!(units(&t) <= MAX_TEXT, "{}", units(&t));
        let shown = t.matches("• ").count();
        assert!(shown > 50, "{shown}");
        assert!(
            t.contains(&format!("… and {} more", 2000 - shown)),
            "{}",
            &t[t.len() - 300..]
        );
        assert!(t.ends_with("</a>"), "the link is kept");
        // Exactly at the limit nothing is cut.
        let t = text(&message(State::Error, &refs[..10]));
        assert_eq!(t.matches("• ").count(), 10);
        assert!(!t.contains("more"));
    }

    #[test]
    fn the_chat_id_is_shown_the_bot_token_is_the_secret_and_its_absence_warned() {
        let mut settings = super::super::AlertSettings::default();
        let alert = crate::config::AlertConfig {
            telegram: " -100200 ".into(),
            ..Default::default()
        };
        assert_eq!((CHANNEL.targets)(&alert), vec!["-100200"]);
        assert_eq!((CHANNEL.shown)("-100200"), "-100200");
        let p = (CHANNEL.problem)(&settings, &alert).unwrap_or_default();
        assert!(p.contains("bot_token is empty"), "{p}");
        settings.accounts.telegram.bot_token = "123:SeCrEt".into();
        assert_eq!((CHANNEL.problem)(&settings, &alert), None);
        let agent = super::super::http::agent(std::time::Duration::from_secs(1));
        let ctx = Ctx {
            agent: &agent,
            settings: &settings,
            alert: "ops",
        };
        assert_eq!((CHANNEL.secrets)(&ctx, "-100200"), vec!["123:SeCrEt"]);
    }
}
