//! The channel table (SPEC 16): every alert channel beyond SPEC 6's five
//! kinds is one file under `src/alert/` exporting a [`Channel`], and one
//! line in [`CHANNELS`]. Planning (`plan::jobs`), delivery (`dispatch`),
//! logs, the history and `-test-alert` go through the table; a channel
//! only says which targets an `[alerts.NAME]` gives it, how to send one
//! message to one target, how a target may be shown, and which strings
//! are secrets.
//!
//! # Adding a channel
//!
//! 1. Its keys: per alert in `config::AlertConfig`, account-wide in a
//!    table of `config/channels.rs` (added to `ChannelAccounts`).
//! 2. A file `src/alert/<name>.rs` with `pub static CHANNEL: Channel`,
//!    quoting at its top the provider's documentation of the request.
//! 3. One line in [`CHANNELS`] (and `mod <name>;` in `alert/mod.rs`).
//!
//! What every channel gets for free: off the state thread, 10 s per
//! attempt, retries with backoff for network trouble, 5xx, 408 and 429
//! (a `Retry-After` within the budget is honoured), no retry for other
//! 4xx (logged with the provider's text), counted failures, the delivery
//! history, and its secrets scrubbed from every error text (`redact`).

use super::plan::Message;
use super::{
    discord, gotify, matrix, ntfy, opsgenie, pagerduty, pushover, teams, telegram, template,
    AlertSettings, DeliveryError,
};
use crate::config::AlertConfig;

/// What a channel's `send` may use.
pub struct Ctx<'a> {
    /// The shared HTTP client (10 s per request, no redirects, error
    /// statuses as answers).
    pub agent: &'a ureq::Agent,
    pub settings: &'a AlertSettings,
    /// The `[alerts.NAME]` this delivery comes from.
    pub alert: &'a str,
}

impl Ctx<'_> {
    /// The `[alerts.NAME]` table of this delivery.
    pub fn alert_config(&self) -> Option<&AlertConfig> {
        self.settings.alerts.get(self.alert)
    }
}

/// One alert channel.
pub struct Channel {
    /// Short name for logs, the history and `-test-alert` ("ntfy").
    pub name: &'static str,
    /// The targets an `[alerts.NAME]` gives this channel (none when its
    /// key is unset).
    pub targets: fn(&AlertConfig) -> Vec<String>,
    /// Sends one message to one target.
    pub send: fn(&Ctx, &str, &Message) -> Result<(), DeliveryError>,
    /// The target as logs and the API may show it: no secret in it.
    pub shown: fn(&str) -> String,
    /// The strings no log line, reply or error may contain for a delivery
    /// to `target` (tokens, keys, secret URLs).
    pub secrets: fn(&Ctx, &str) -> Vec<String>,
    /// What is missing in the settings for an alert using it (start-up
    /// warnings; `None` when nothing).
    pub problem: fn(&AlertSettings, &AlertConfig) -> Option<String>,
}

/// Every SPEC 16 channel, in the order deliveries of one alert are
/// planned.
pub static CHANNELS: &[&Channel] = &[
    &ntfy::CHANNEL,
    &telegram::CHANNEL,
    &pagerduty::CHANNEL,
    &opsgenie::CHANNEL,
    &discord::CHANNEL,
    &teams::CHANNEL,
    &pushover::CHANNEL,
    &gotify::CHANNEL,
    &matrix::CHANNEL,
    &template::CHANNEL,
];

/// The targets of one string key: the trimmed value, when set.
pub fn one(value: &str) -> Vec<String> {
    let v = value.trim();
    if v.is_empty() {
        Vec::new()
    } else {
        vec![v.to_string()]
    }
}

/// A URL as logs may show it: scheme and host, the rest (paths and
/// queries that hold tokens) hidden. `https://discord.com/…`.
pub fn url_origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let hidden = rest.len() > authority.len();
    // Drop `user:password@`.
    let host = authority.rsplit('@').next().unwrap_or_default();
    match (scheme.is_empty(), hidden) {
        (true, _) => "…".to_string(),
        (false, true) => format!("{scheme}://{host}/…"),
        (false, false) => format!("{scheme}://{host}"),
    }
}

/// A key or token as logs may show it: its last 4 characters.
pub fn tail4(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() <= 8 {
        return "…".to_string();
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("…{tail}")
}

/// A secret URL and its path with query (`/api/webhooks/1/token`, the
/// part that holds the secret), as `secrets` lists them: a receiver may
/// echo either.
pub fn url_secrets(url: &str) -> Vec<String> {
    let url = url.trim();
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.find(['/', '?', '#']).map_or("", |i| &rest[i..]);
    let path = if path.len() > 1 { path } else { "" };
    let mut out = nonempty(&[url, path]);
    // A provider may echo one segment or one query value only: those long
    // enough to be a token (16+ characters) count on their own too.
    out.extend(
        path.split(['/', '?', '&', '=', '#'])
            .filter(|part| part.len() >= 16)
            .map(str::to_string),
    );
    out
}

/// `secrets` without empty strings (a secret "" would scrub everything).
pub fn nonempty(secrets: &[&str]) -> Vec<String> {
    secrets
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// A short title for the channels that have one (push notifications,
/// embeds): `web is ERROR (incident 4)`, `web is still ERROR (incident 4,
/// reminder 2)`, `web is OK (incident 4)`.
pub fn title(message: &Message) -> String {
    if message.reminder > 0 {
        format!(
            "{} is still {} (incident {}, reminder {})",
            message.view,
            message.to.upper(),
            message.incident,
            message.reminder
        )
    } else {
        format!(
            "{} is {} (incident {})",
            message.view,
            message.to.upper(),
            message.incident
        )
    }
}

/// The lines of a short text body: what happened (a reminder says which,
/// a recovery for how long the view was down), then one line per failed
/// service with its reason. The link is left to the caller (most channels
/// have a field for it).
pub fn summary(message: &Message) -> (String, Vec<String>) {
    use crate::model::State;
    let head = if message.to != State::Error {
        match message.down_ms {
            Some(ms) => format!(
                "View {} recovered after {} down.",
                message.view,
                super::failure::duration(ms)
            ),
            None => format!("View {} recovered.", message.view),
        }
    } else {
        let listed = if message.failed.is_empty() {
            ""
        } else {
            " Failed services:"
        };
        if message.reminder > 0 {
            format!(
                "Reminder {}: view {} is still in ERROR (since {}).{listed}",
                message.reminder,
                message.view,
                super::failure::clock_time(message.since)
            )
        } else {
            format!("View {} is in ERROR.{listed}", message.view)
        }
    };
    let lines = message
        .failed
        .iter()
        .map(|name| match message.failure(name) {
            Some(f) => format!("- {name}: {}", super::failure::describe(f)),
            None => format!("- {name}"),
        })
        .collect();
    (head, lines)
}

/// `head`, as many of `lines` as fit, `…and N more` for the rest, then
/// `tail` (when not empty), one per line, in at most `limit` as `len`
/// counts it (characters or bytes, as the provider does). A head and tail
/// too long on their own are cut, ending in `…`.
pub fn fit(
    head: &str,
    lines: &[String],
    tail: &str,
    limit: usize,
    len: fn(&str) -> usize,
) -> String {
    let more = |n: usize| format!("\n…and {n} more");
    let tail_part = if tail.is_empty() {
        String::new()
    } else {
        format!("\n\n{tail}")
    };
    let base = len(head) + len(&tail_part);
    // The most lines that fit with the `…and N more` their cut needs.
    let mut used = base;
    let mut best = None;
    for k in 0..=lines.len() {
        if k > 0 {
            used += 1 + len(&lines[k - 1]);
        }
        let extra = if k < lines.len() {
            len(&more(lines.len() - k))
        } else {
            0
        };
        if used + extra <= limit {
            best = Some(k);
        }
    }
    let mut out = head.to_string();
    let k = best.unwrap_or(0);
    for line in &lines[..k] {
        out.push('\n');
        out.push_str(line);
    }
    if k < lines.len() {
        out.push_str(&more(lines.len() - k));
    }
    out.push_str(&tail_part);
    cut(&out, limit, len)
}

/// `text` cut to at most `limit` as `len` counts it (`len` adds up over
/// the characters: [`chars`] or [`bytes`]), ending in `…` when cut.
pub fn cut(text: &str, limit: usize, len: fn(&str) -> usize) -> String {
    if len(text) <= limit {
        return text.to_string();
    }
    let budget = limit.saturating_sub(len("…"));
    let mut used = 0;
    let mut out = String::new();
    let mut buf = [0u8; 4];
    for c in text.chars() {
        let l = len(c.encode_utf8(&mut buf));
        if used + l > budget {
            break;
        }
        used += l;
        out.push(c);
    }
    out.push('…');
    out
}

/// Length in characters (Unicode scalar values), as most providers count.
pub fn chars(text: &str) -> usize {
    text.chars().count()
}

/// Length in bytes of UTF-8.
pub fn bytes(text: &str) -> usize {
    text.len()
}

/// Whether `url` is an `http://` or `https://` URL with a host.
pub fn is_http_url(url: &str) -> bool {
    let url = url.trim();
    ["http://", "https://"].iter().any(|scheme| {
        url.get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
            && url.len() > scheme.len()
    })
}

/// One key per view incident, the same for its first message, reminders
/// and recovery: `lovebeat:<view>:<incident>` (PagerDuty's `dedup_key`,
/// Opsgenie's alias), so a resolve needs no memory of what was sent.
pub fn incident_key(message: &Message) -> String {
    format!("lovebeat:{}:{}", message.view, message.incident)
}

/// `text` cut to at most `max` characters, ending in `…` when cut.
pub fn clip(text: &str, max: usize) -> String {
    cut(text, max, |s| s.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_forms_hide_secrets() {
        assert_eq!(
            url_origin("https://discord.com/api/webhooks/123/abcDEF"),
            "https://discord.com/…"
        );
        assert_eq!(url_origin("https://u:p@ntfy.sh"), "https://ntfy.sh");
        assert_eq!(
            url_origin("http://127.0.0.1:9?token=x"),
            "http://127.0.0.1:9/…"
        );
        assert_eq!(url_origin("garbage"), "…");
        assert_eq!(tail4("R0ut1ngKeyFromPagerDuty"), "…Duty");
        assert_eq!(tail4("short"), "…");
        assert_eq!(
            url_secrets("https://d.com/api/webhooks/1/tok?wait=1"),
            [
                "https://d.com/api/webhooks/1/tok?wait=1",
                "/api/webhooks/1/tok?wait=1"
            ]
        );
        assert_eq!(url_secrets("https://ntfy.sh/"), ["https://ntfy.sh/"]);
        assert!(is_http_url(" HTTPS://ntfy.sh/x") && is_http_url("http://h"));
        assert!(!is_http_url("ntfy.sh/x") && !is_http_url("https://") && !is_http_url(""));
    }

    #[test]
    fn fit_keeps_what_fits_and_counts_the_rest() {
        let lines: Vec<String> = ["a", "b", "c"]
            .map(|c| format!("- {}", c.repeat(13)))
            .to_vec();
        let full = format!("H\n{}\n\nT", lines.join("\n"));
        assert_eq!(full.chars().count(), 52);
        assert_eq!(fit("H", &lines, "T", 52, chars), full);
        assert_eq!(
            fit("H", &lines, "T", 51, chars),
            format!("H\n{}\n{}\n…and 1 more\n\nT", lines[0], lines[1])
        );
        assert_eq!(
            fit("H", &lines, "T", 47, chars),
            format!("H\n{}\n…and 2 more\n\nT", lines[0])
        );
        // In bytes "…" counts 3: 47 bytes for two lines and the count.
        assert_eq!(
            fit("H", &lines, "", 47, bytes),
            format!("H\n{}\n{}\n…and 1 more", lines[0], lines[1])
        );
        assert_eq!(
            fit("H", &lines, "", 46, bytes),
            format!("H\n{}\n…and 2 more", lines[0])
        );
        // A head too long on its own is cut.
        assert_eq!(fit("Headline", &[], "", 5, chars), "Head…");
        assert_eq!(cut("ééé", 5, bytes), "é…");
    }

    #[test]
    fn channel_names_are_unique() {
        let mut names: Vec<&str> = CHANNELS.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CHANNELS.len());
    }
}

#[cfg(test)]
mod redaction_tests {
    use super::super::dispatch::{scrub, DeliveryError};
    use std::time::Duration;

    #[test]
    fn secrets_are_scrubbed_from_every_error_text_also_percent_encoded() {
        let secrets = vec!["bot123:ABC/def".to_string(), String::new()];
        assert_eq!(
            scrub("POST http://x/bot123:ABC/def/sendMessage failed", &secrets),
            "POST http://x/***/sendMessage failed"
        );
        assert_eq!(
            scrub("GET /x?t=bot123%3AABC%2Fdef", &secrets),
            "GET /x?t=***",
            "the form a URL carries"
        );
        let e = DeliveryError::Status {
            status: 401,
            body: "bad token bot123:ABC/def".into(),
            retry_after: Some(Duration::from_secs(3)),
        }
        .scrubbed(&secrets);
        assert_eq!(
            e.to_string(),
            "the receiver answered HTTP 401: bad token ***"
        );
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
    }
}
