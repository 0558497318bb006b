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
use std::time::Duration;

/// What a channel's `send` may use.
#[allow(dead_code)] // SCAFFOLD: read by the channels' `send` once built.
pub struct Ctx<'a> {
    /// The shared HTTP client (10 s per request, no redirects, error
    /// statuses as answers).
    pub agent: &'a ureq::Agent,
    pub settings: &'a AlertSettings,
    /// The `[alerts.NAME]` this delivery comes from.
    pub alert: &'a str,
    /// Longest one attempt may take.
    pub timeout: Duration,
}

#[allow(dead_code)] // SCAFFOLD: read by the channels' `send` once built.
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

/// `secrets` without empty strings (a secret "" would scrub everything).
pub fn nonempty(secrets: &[&str]) -> Vec<String> {
    secrets
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
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
