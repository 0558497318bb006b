//! SPEC 16: `pagerduty = "<routing key>"` — PagerDuty's Events API v2
//! (`[pagerduty] api_base`, default `https://events.pagerduty.com`). The
//! short texts every channel shares (`title`, `incident_key`, `clip`) are
//! in `channel`.
//!
//! The request, per PagerDuty's documentation
//! (<https://developer.pagerduty.com/docs/events-api-v2/trigger-events/>,
//! <https://v2.developer.pagerduty.com/docs/send-an-event-events-api-v2>):
//!
//! > POST https://events.pagerduty.com/v2/enqueue … `routing_key` (required)
//! > the 32 character Integration Key … `event_action` (required) the type
//! > of event: `trigger`, `acknowledge` or `resolve` … `dedup_key`
//! > deduplication key for correlating triggers and resolves; maximum 255
//! > characters … `payload.summary` (required) a brief text summary of the
//! > event … maximum length is 1024 characters … `payload.source`
//! > (required) the unique location of the affected system …
//! > `payload.severity` (required) `critical`, `error`, `warning` or `info`
//! > … `payload.component`, `payload.group`, `payload.class`,
//! > `payload.custom_details` … `client`, `client_url`, `links` (`href`,
//! > `text`).
//! > Resolve: "`routing_key`, `event_action`: `resolve`, `dedup_key`" —
//! > the payload is only required for a trigger.
//! > Responses: 202 `{"status": "success", "message": "Event processed",
//! > "dedup_key": …}`; 400 "Event object is invalid"; 429 rate limited.
//!
//! A view's first message and its reminders are `trigger`s with one
//! `dedup_key` per view incident (`lovebeat:<view>:<incident>`), so a
//! reminder lands on the open PagerDuty incident and the recovery's
//! `resolve` closes it. A 400 is not retried, a 429 or 5xx is (dispatch).

use super::channel::{self, clip, incident_key, title, Channel, Ctx};
use super::plan::Message;
use super::{http, AlertSettings, DeliveryError};
use crate::config::AlertConfig;
use crate::model::State;
use serde_json::json;

pub static CHANNEL: Channel = Channel {
    name: "pagerduty",
    targets: |a| channel::one(&a.pagerduty),
    send,
    shown: channel::tail4,
    secrets: |_, t| channel::nonempty(&[t]),
    problem,
};

/// PagerDuty's limit on `payload.summary`.
const SUMMARY_LIMIT: usize = 1024;
/// PagerDuty's limit on `dedup_key`.
const DEDUP_LIMIT: usize = 255;

/// The one-line summary: the title, then the failed services with their
/// reasons (ERROR) or the downtime (recovery).
fn summary(message: &Message) -> String {
    let mut out = title(message);
    if message.to == State::Error {
        if !message.failed.is_empty() {
            out.push_str(": ");
            out.push_str(&message.reasons().replace('\n', "; "));
        }
    } else if let Some(down) = message.downtime() {
        out.push_str(". ");
        out.push_str(&down);
    }
    clip(&out, SUMMARY_LIMIT)
}

/// The Events API v2 body for `message`: a `trigger` on ERROR (first
/// message and reminders), a `resolve` otherwise.
pub fn event(routing_key: &str, message: &Message) -> serde_json::Value {
    let dedup_key = clip(&incident_key(message), DEDUP_LIMIT);
    if message.to != State::Error {
        return json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": dedup_key,
        });
    }
    let mut body = json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "client": "Lovebeat",
        "payload": {
            "summary": summary(message),
            "source": "lovebeat",
            "severity": "critical",
            "component": message.view,
            "group": "lovebeat",
            "class": "view",
            "custom_details": {
                "view": message.view,
                "incident": message.incident,
                "failed_services": message.failed,
                "reasons": message.reasons(),
                "reminder": message.reminder,
            },
        },
    });
    if let Some(link) = &message.link {
        body["client_url"] = link.clone().into();
        body["links"] =
            json!([{"href": link, "text": format!("View {} in Lovebeat", message.view)}]);
    }
    body
}

/// `{api_base}/v2/enqueue`.
pub fn url(api_base: &str) -> String {
    format!("{}/v2/enqueue", api_base.trim().trim_end_matches('/'))
}

fn send(ctx: &Ctx, target: &str, message: &Message) -> Result<(), DeliveryError> {
    let base = &ctx.settings.accounts.pagerduty.api_base;
    if base.trim().is_empty() {
        return Err(DeliveryError::NotConfigured(
            "[pagerduty] api_base is empty".into(),
        ));
    }
    let body = event(target, message).to_string();
    http::post(
        ctx.agent,
        &url(base),
        &[
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
            ("User-Agent", "Lovebeat"),
        ],
        body.as_bytes(),
    )
}

fn problem(settings: &AlertSettings, _alert: &AlertConfig) -> Option<String> {
    settings
        .accounts
        .pagerduty
        .api_base
        .trim()
        .is_empty()
        .then(|| "[pagerduty] api_base is empty".to_string())
}

#[cfg(test)]
mod tests {
    use super::super::tests::message;
    use super::*;

    #[test]
    fn a_view_in_error_triggers_with_one_dedup_key_per_incident() {
        let mut m = message(State::Error);
        m.link = Some("http://lb.example/views/web".into());
        let e = event("R0UTINGKEY", &m);
        assert_eq!(e["routing_key"], "R0UTINGKEY");
        assert_eq!(e["event_action"], "trigger");
        assert_eq!(e["dedup_key"], "lovebeat:web:4");
        assert_eq!(e["client"], "Lovebeat");
        assert_eq!(e["client_url"], "http://lb.example/views/web");
        assert_eq!(e["links"][0]["href"], "http://lb.example/views/web");
        let p = &e["payload"];
        assert_eq!(p["severity"], "critical");
        assert_eq!(p["source"], "lovebeat");
        assert_eq!(p["component"], "web");
        let s = p["summary"].as_str().unwrap_or_default();
        assert!(
            s.starts_with("web is ERROR (incident 4): web.a: failed with exit code 3; web.b"),
            "{s}"
        );
        assert_eq!(p["custom_details"]["incident"], 4);

        let r = event(
            "R0UTINGKEY",
            &Message {
                reminder: 2,
                ..m.clone()
            },
        );
        assert_eq!(r["event_action"], "trigger");
        assert_eq!(
            r["dedup_key"], "lovebeat:web:4",
            "reminders hit the same incident"
        );
        assert!(r["payload"]["summary"]
            .as_str()
            .unwrap_or_default()
            .starts_with("web is still ERROR (incident 4, reminder 2)"));

        let no_link = event(
            "k",
            &Message {
                link: None,
                ..message(State::Error)
            },
        );
        assert!(no_link.get("client_url").is_none() && no_link.get("links").is_none());
    }

    #[test]
    fn a_recovery_resolves_the_same_key_with_nothing_else() {
        let e = event("R0UTINGKEY", &message(State::Ok));
        assert_eq!(
            e,
            json!({"routing_key": "R0UTINGKEY", "event_action": "resolve", "dedup_key": "lovebeat:web:4"})
        );
    }

    #[test]
    fn the_summary_keeps_within_pagerdutys_limit() {
        let mut m = message(State::Error);
        m.failed = (0..500).map(|i| format!("web.service-{i}")).collect();
        let s = event("k", &m)["payload"]["summary"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert_eq!(s.chars().count(), SUMMARY_LIMIT);
        assert!(s.ends_with('…'));
        assert_eq!(clip("åbc", 3), "åbc");
        assert_eq!(clip("åbcd", 3), "åb…");
    }

    #[test]
    fn the_url_and_the_problem() {
        assert_eq!(
            url("https://events.pagerduty.com/"),
            "https://events.pagerduty.com/v2/enqueue"
        );
        let mut s = AlertSettings::default();
        assert_eq!(problem(&s, &AlertConfig::default()), None);
        s.accounts.pagerduty.api_base = " ".into();
        assert_eq!(
            problem(&s, &AlertConfig::default()).as_deref(),
            Some("[pagerduty] api_base is empty")
        );
    }
}
