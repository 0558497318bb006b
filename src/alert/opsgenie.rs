//! SPEC 16: `opsgenie = "<api key>"` — Opsgenie's Alert API
//! (`[opsgenie] api_base`, default `https://api.opsgenie.com`,
//! `https://api.eu.opsgenie.com` for the EU).
//!
//! The requests, per Opsgenie's documentation
//! (<https://docs.opsgenie.com/docs/alert-api>):
//!
//! > Create Alert: POST `https://api.opsgenie.com/v2/alerts` … header
//! > `Authorization: GenieKey <apiKey>` … JSON body: `message` (mandatory,
//! > 130 characters), `alias` ("Client-defined identifier of the alert,
//! > that is also the key element of Alert De-Duplication", 512
//! > characters), `description` (15000 characters), `details` (map of
//! > key-value pairs), `entity` (512 characters), `source` (100
//! > characters), `priority` (`P1`…`P5`, default `P3`), `tags`.
//! > Close Alert: POST `https://api.opsgenie.com/v2/alerts/:identifier/close
//! > ?identifierType=alias` … JSON body: `user`, `source`, `note`.
//! > "Alert creation, deletion, and action requests are processed
//! > asynchronously … valid requests … are responded to with HTTP status
//! > 202 - Accepted."
//!
//! A view's first message and its reminders create an alert with one
//! alias per view incident (`lovebeat:<view>:<incident>`; a create with the
//! alias of an open alert is de-duplicated by Opsgenie, its count goes up);
//! the recovery closes the alert by that alias (percent-encoded in the
//! path).

use super::channel::{self, Channel, Ctx};
use super::channel::{clip, incident_key, title};
use super::plan::Message;
use super::{http, AlertSettings, DeliveryError};
use crate::config::AlertConfig;
use crate::model::State;
use serde_json::json;

pub static CHANNEL: Channel = Channel {
    name: "opsgenie",
    targets: |a| channel::one(&a.opsgenie),
    send,
    shown: channel::tail4,
    secrets: |_, t| channel::nonempty(&[t]),
    problem,
};

/// Opsgenie's limits.
const MESSAGE_LIMIT: usize = 130;
const ALIAS_LIMIT: usize = 512;
const DESCRIPTION_LIMIT: usize = 15_000;
const ENTITY_LIMIT: usize = 512;
const NOTE_LIMIT: usize = 25_000;

/// One request: where, and the JSON body.
#[derive(Debug, PartialEq)]
pub struct Request {
    pub url: String,
    pub body: serde_json::Value,
}

/// Every byte but RFC 3986's unreserved characters, percent-encoded (a
/// path segment).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Create (ERROR: first message and reminders) or close (recovery).
pub fn request(api_base: &str, message: &Message) -> Request {
    let base = api_base.trim().trim_end_matches('/');
    let alias = clip(&incident_key(message), ALIAS_LIMIT);
    if message.to != State::Error {
        let mut note = title(message);
        if let Some(down) = message.downtime() {
            note.push_str(". ");
            note.push_str(&down);
        }
        return Request {
            url: format!(
                "{base}/v2/alerts/{}/close?identifierType=alias",
                encode_segment(&alias)
            ),
            body: json!({
                "source": "lovebeat",
                "user": "Lovebeat",
                "note": clip(&note, NOTE_LIMIT),
            }),
        };
    }
    let mut details = json!({
        "view": message.view,
        "incident": message.incident.to_string(),
        "failed_services": message.failed.join(", "),
        "reminder": message.reminder.to_string(),
    });
    if let Some(link) = &message.link {
        details["link"] = link.clone().into();
    }
    Request {
        url: format!("{base}/v2/alerts"),
        body: json!({
            "message": clip(&title(message), MESSAGE_LIMIT),
            "alias": alias,
            "description": clip(&message.text(), DESCRIPTION_LIMIT),
            "source": "lovebeat",
            "entity": clip(&message.view, ENTITY_LIMIT),
            "priority": "P1",
            "tags": ["lovebeat"],
            "details": details,
        }),
    }
}

fn send(ctx: &Ctx, target: &str, message: &Message) -> Result<(), DeliveryError> {
    let base = &ctx.settings.accounts.opsgenie.api_base;
    if base.trim().is_empty() {
        return Err(DeliveryError::NotConfigured(
            "[opsgenie] api_base is empty".into(),
        ));
    }
    let r = request(base, message);
    let auth = format!("GenieKey {}", target.trim());
    http::post(
        ctx.agent,
        &r.url,
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
            ("User-Agent", "Lovebeat"),
        ],
        r.body.to_string().as_bytes(),
    )
}

fn problem(settings: &AlertSettings, _alert: &AlertConfig) -> Option<String> {
    settings
        .accounts
        .opsgenie
        .api_base
        .trim()
        .is_empty()
        .then(|| "[opsgenie] api_base is empty".to_string())
}

#[cfg(test)]
mod tests {
    use super::super::tests::message;
    use super::*;

    #[test]
    fn a_view_in_error_creates_an_alert_aliased_by_its_incident() {
        let mut m = message(State::Error);
        m.link = Some("http://lb.example/views/web".into());
        let r = request("https://api.opsgenie.com/", &m);
        assert_eq!(r.url, "https://api.opsgenie.com/v2/alerts");
        let b = &r.body;
        assert_eq!(b["message"], "web is ERROR (incident 4)");
        assert_eq!(b["alias"], "lovebeat:web:4");
        assert_eq!(b["priority"], "P1");
        assert_eq!(b["source"], "lovebeat");
        assert_eq!(b["entity"], "web");
        assert_eq!(b["details"]["link"], "http://lb.example/views/web");
        assert_eq!(b["details"]["incident"], "4", "details are strings");
        let d = b["description"].as_str().unwrap_or_default();
        assert!(d.contains("web.a: failed with exit code 3"), "{d}");
        assert!(d.contains("View: http://lb.example/views/web"), "{d}");

        let reminder = request("http://x", &Message { reminder: 3, ..m });
        assert_eq!(reminder.body["alias"], "lovebeat:web:4");
        assert_eq!(
            reminder.body["message"],
            "web is still ERROR (incident 4, reminder 3)"
        );
    }

    #[test]
    fn a_recovery_closes_the_alert_by_its_encoded_alias() {
        let mut m = message(State::Ok);
        m.down_ms = Some(7_800_000);
        m.view = "web/ä b".into();
        let r = request("http://127.0.0.1:9", &m);
        assert_eq!(
            r.url,
            "http://127.0.0.1:9/v2/alerts/lovebeat%3Aweb%2F%C3%A4%20b%3A4/close?identifierType=alias"
        );
        assert_eq!(r.body["source"], "lovebeat");
        assert_eq!(
            r.body["note"],
            "web/ä b is OK (incident 4). It was down for 2 h 10 min."
        );
    }

    #[test]
    fn long_texts_keep_within_opsgenies_limits() {
        let mut m = message(State::Error);
        m.view = "v".repeat(600);
        let b = request("http://x", &m).body;
        assert_eq!(b["message"].as_str().map(|s| s.chars().count()), Some(130));
        assert_eq!(b["alias"].as_str().map(|s| s.chars().count()), Some(512));
        assert_eq!(b["entity"].as_str().map(|s| s.chars().count()), Some(512));
    }
}
