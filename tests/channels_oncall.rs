//! SPEC 16's on-call channels against a real HTTP receiver on 127.0.0.1
//! (`[pagerduty] api_base`, `[opsgenie] api_base` and the Teams workflow
//! URL pointed at it): PagerDuty's trigger, reminder and resolve on one
//! dedup_key, Opsgenie's create and close by alias, the Teams Adaptive
//! Card; a refused event is not retried, a rate-limited one is, and no key
//! or secret URL reaches the log.

mod common;
#[path = "support/receiver.rs"]
mod receiver;

use common::{wait_until, Server, TempDir, BIN};
use receiver::{Received, Receiver};
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
const ROUTING_KEY: &str = "R0utingKeyFromPagerDutyAbCd";
const GENIE_KEY: &str = "eb243592-faa2-4ba2-a551-1afdf565c889";
const TEAMS_PATH: &str = "/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=S3cretSig";
const CLOSE_PATH: &str = "/v2/alerts/lovebeat%3Aweb%3A1/close?identifierType=alias";

fn config(rx: &Receiver, extra: &str) -> String {
    format!(
        "[general]\npublic_url = \"http://lb.test\"\n\
         [pagerduty]\napi_base = \"{base}\"\n\
         [opsgenie]\napi_base = \"{base}/\"\n\
         [[views]]\nname = \"web\"\npattern = \"web.*\"\nalerts = [\"oncall\"]\n\
         [alerts.oncall]\npagerduty = \"{ROUTING_KEY}\"\nopsgenie = \"{GENIE_KEY}\"\nteams = \"{teams}\"\n{extra}",
        base = rx.url(""),
        teams = rx.url(TEAMS_PATH),
    )
}

fn fail(server: &Server, name: &str) {
    let r = server.post(&format!("/api/services/{name}?timeout=0"));
    assert_eq!(r.status, 200, "{}", r.text());
}

fn recover(server: &Server, name: &str) {
    let r = server.post(&format!("/api/services/{name}?timeout=none"));
    assert_eq!(r.status, 200, "{}", r.text());
}

fn wait_for(server: &Server, what: &str, mut ok: impl FnMut() -> bool) {
    assert!(
        wait_until(WAIT, &mut ok),
        "never got {what}; log:\n{}",
        server.log_text()
    );
}

fn json_post(r: &Received) -> serde_json::Value {
    assert_eq!(r.method, "POST");
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    r.json()
}

#[test]
fn pagerduty_opsgenie_and_teams_get_their_documented_requests_on_error_reminder_and_recovery() {
    let rx = Receiver::start(Box::new(|_, _| 202));
    let dir = TempDir::new("chan-oncall");
    let server = Server::start(dir.path(), &config(&rx, "repeat = \"1s\"\n"));
    fail(&server, "web.a");
    // The first message and one reminder.
    wait_for(&server, "two triggers", || {
        rx.requests("/v2/enqueue").len() >= 2
            && rx.requests("/v2/alerts").len() >= 2
            && rx.requests(TEAMS_PATH).len() >= 2
    });

    // PagerDuty: trigger, then the reminder on the same dedup_key.
    let pd = rx.requests("/v2/enqueue");
    let first = json_post(&pd[0]);
    assert_eq!(first["routing_key"], ROUTING_KEY);
    assert_eq!(first["event_action"], "trigger");
    assert_eq!(first["dedup_key"], "lovebeat:web:1");
    assert_eq!(first["client"], "Lovebeat");
    assert_eq!(first["client_url"], "http://lb.test/views/web");
    assert_eq!(first["links"][0]["href"], "http://lb.test/views/web");
    let p = &first["payload"];
    assert_eq!(
        p["summary"],
        "web is ERROR (incident 1): web.a: always in ERROR (timeout 0)"
    );
    assert_eq!(p["source"], "lovebeat");
    assert_eq!(p["severity"], "critical");
    assert_eq!(p["component"], "web");
    assert_eq!(p["custom_details"]["failed_services"], json!(["web.a"]));
    let reminder = json_post(&pd[1]);
    assert_eq!(reminder["event_action"], "trigger");
    assert_eq!(reminder["dedup_key"], "lovebeat:web:1");
    assert_eq!(
        reminder["payload"]["summary"],
        "web is still ERROR (incident 1, reminder 1): web.a: always in ERROR (timeout 0)"
    );

    // Opsgenie: create with the key in the header, the same alias twice.
    let og = rx.requests("/v2/alerts");
    assert_eq!(
        og[0].header("Authorization"),
        Some(format!("GenieKey {GENIE_KEY}").as_str())
    );
    let create = json_post(&og[0]);
    assert_eq!(create["message"], "web is ERROR (incident 1)");
    assert_eq!(create["alias"], "lovebeat:web:1");
    assert_eq!(create["priority"], "P1");
    assert_eq!(create["source"], "lovebeat");
    assert_eq!(create["entity"], "web");
    assert_eq!(create["details"]["link"], "http://lb.test/views/web");
    let description = create["description"].as_str().unwrap_or_default();
    assert!(
        description.contains("web.a: always in ERROR (timeout 0)")
            && description.contains("View: http://lb.test/views/web"),
        "{description}"
    );
    assert_eq!(json_post(&og[1])["alias"], "lovebeat:web:1");

    // Teams: one Adaptive Card.
    let card = json_post(&rx.requests(TEAMS_PATH)[0]);
    assert_eq!(card["type"], "message");
    let a = &card["attachments"][0];
    assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
    let c = &a["content"];
    assert_eq!(c["type"], "AdaptiveCard");
    assert_eq!(c["version"], "1.4");
    assert_eq!(
        c["$schema"],
        "http://adaptivecards.io/schemas/adaptive-card.json"
    );
    assert_eq!(c["body"][0]["text"], "web is ERROR (incident 1)");
    assert_eq!(c["body"][0]["color"], "Attention");
    assert_eq!(
        c["body"][2]["facts"][1],
        json!({"title": "web.a", "value": "always in ERROR (timeout 0)"})
    );
    assert_eq!(c["actions"][0]["type"], "Action.OpenUrl");
    assert_eq!(c["actions"][0]["url"], "http://lb.test/views/web");

    // Recovery: resolve, close by alias, a green card.
    recover(&server, "web.a");
    wait_for(&server, "the recovery", || {
        let resolved = rx
            .requests("/v2/enqueue")
            .last()
            .is_some_and(|r| r.json()["event_action"] == "resolve");
        let green = rx
            .requests(TEAMS_PATH)
            .last()
            .is_some_and(|r| r.json()["attachments"][0]["content"]["body"][0]["color"] == "Good");
        resolved && green && !rx.requests(CLOSE_PATH).is_empty()
    });
    let resolve = json_post(rx.requests("/v2/enqueue").last().expect("resolve"));
    assert_eq!(
        resolve,
        json!({"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": "lovebeat:web:1"})
    );
    let close = &rx.requests(CLOSE_PATH)[0];
    assert_eq!(
        close.header("Authorization"),
        Some(format!("GenieKey {GENIE_KEY}").as_str())
    );
    let close = json_post(close);
    assert_eq!(close["source"], "lovebeat");
    let note = close["note"].as_str().unwrap_or_default();
    assert!(
        note.starts_with("web is OK (incident 1). It was down for"),
        "{note}"
    );
    let green = json_post(rx.requests(TEAMS_PATH).last().expect("card"));
    let c = &green["attachments"][0]["content"];
    assert_eq!(c["body"][0]["text"], "web is OK (incident 1)");
    assert_eq!(c["body"][2]["facts"][1]["title"], "Down for");

    let log = server.log_text();
    for secret in [ROUTING_KEY, GENIE_KEY, "S3cretSig"] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
    assert!(log.contains("(pagerduty to …AbCd)"), "{log}");
    assert!(log.contains("(opsgenie to …c889)"), "{log}");
    assert!(
        log.contains(&format!("(teams to http://{}/…)", rx.addr)),
        "{log}"
    );
}

#[test]
fn a_refused_event_is_not_retried_a_rate_limited_one_is_and_errors_hide_the_keys() {
    // PagerDuty refuses the event (400);
    // Opsgenie is rate-limited once; the Teams workflow is gone (404).
    let rx = Receiver::start(Box::new(|path, n| match path {
        "/v2/enqueue" => 400,
        "/v2/alerts" if n == 1 => 429,
        "/v2/alerts" => 202,
        _ => 404,
    }));
    let dir = TempDir::new("chan-oncall-err");
    let server = Server::start(dir.path(), &config(&rx, ""));
    fail(&server, "web.a");
    wait_for(&server, "the given-up PagerDuty event", || {
        server
            .log_text()
            .contains("alert oncall (pagerduty to …AbCd) for view web failed after 1 attempt(s)")
    });
    assert_eq!(rx.requests("/v2/enqueue").len(), 1, "a 400 is not retried");
    wait_for(&server, "the Opsgenie retry", || {
        server
            .log_text()
            .contains("alert oncall sent (opsgenie to …c889)")
    });
    assert_eq!(rx.requests("/v2/alerts").len(), 2, "a 429 is retried");
    wait_for(&server, "the given-up Teams card", || {
        server.log_text().contains(&format!(
            "alert oncall (teams to http://{}/…) for view web failed after 1 attempt(s)",
            rx.addr
        ))
    });
    let log = server.log_text();
    for secret in [ROUTING_KEY, GENIE_KEY, "S3cretSig"] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
}

#[test]
fn test_alert_triggers_each_channel_once_and_prints_no_secret() {
    let rx = Receiver::start(Box::new(|_, _| 202));
    let dir = TempDir::new("chan-oncall-test");
    let file = dir.path().join("lovebeat.toml");
    std::fs::write(
        &file,
        format!("{}{}", common::base_config(dir.path()), config(&rx, "")),
    )
    .expect("write config");
    let out = Command::new(BIN)
        .arg("-config")
        .arg(&file)
        .arg("-test-alert")
        .arg("oncall")
        .stdin(Stdio::null())
        .output()
        .expect("run lovebeat -test-alert");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_eq!(
        stdout,
        format!(
            "pagerduty …AbCd sent\nopsgenie …c889 sent\nteams http://{}/… sent\n",
            rx.addr
        )
    );
    for secret in [ROUTING_KEY, GENIE_KEY, "S3cretSig"] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret));
    }
    let pd = rx.requests("/v2/enqueue");
    assert_eq!(pd.len(), 1);
    let e = pd[0].json();
    assert_eq!(e["event_action"], "trigger");
    assert_eq!(e["dedup_key"], "lovebeat:lovebeat-test:0");
    assert_eq!(
        rx.requests("/v2/alerts")[0].json()["alias"],
        "lovebeat:lovebeat-test:0"
    );
    assert_eq!(rx.requests(TEAMS_PATH).len(), 1);
}
