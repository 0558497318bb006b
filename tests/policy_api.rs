//! The HTTP API of the alert policy (SPEC 15) against the real binary on
//! 127.0.0.1: timed mutes of services (`?for=`, ending by themselves and
//! surviving a restart), mutes of views, maintenance windows
//! (`POST/GET/DELETE /api/maintenance`) and what a view shows of them, and
//! a muted view's alert held until its mute ends (webhook receiver).

mod common;
#[path = "support/receiver.rs"]
mod receiver;

use common::{raw_request, wait_until, Server, TempDir};
use receiver::Receiver;
use serde_json::Value;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

fn views_config(extra: &str) -> String {
    format!("[[views]]\nname = \"web\"\npattern = \"web.*\"\n{extra}")
}

fn view(server: &Server, name: &str) -> Value {
    server.json(&format!("/api/views/{name}"))["view"].clone()
}

fn post_json(server: &Server, path: &str, body: &str) -> common::Response {
    server.request(
        "POST",
        path,
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

fn error_of(r: &common::Response) -> String {
    r.json()["error"].as_str().unwrap_or_default().to_owned()
}

/// A beat with no timeout: OK and never expiring.
fn beat(server: &Server, name: &str) {
    let r = server.post(&format!("/api/services/{name}?timeout=none"));
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn a_timed_service_mute_ends_by_itself() {
    let dir = TempDir::new("policy-mute-for");
    let server = Server::start(dir.path(), "");
    // In ERROR at once (timeout 0): muted, then ERROR again when it ends.
    let r = server.post("/api/services/job?timeout=0");
    assert_eq!(r.status, 200, "{}", r.text());
    let r = server.post("/api/services/job/mute?for=2s");
    assert_eq!(r.status, 200, "{}", r.text());
    let until = r.json()["muted_until"].as_i64().expect("muted_until");
    let s = server.service("job").expect("exists");
    assert_eq!(s["state"], "muted", "{s}");
    assert_eq!(s["muted_until"], until, "{s}");
    assert!(
        wait_until(WAIT, || server.service("job").expect("exists")["state"]
            == "error"),
        "the mute never ended: {}",
        server.service("job").expect("exists")
    );
    let s = server.service("job").expect("exists");
    assert!(s["muted_until"].is_null(), "{s}");
    assert_eq!(s["muted_since"], 0, "{s}");

    // Bad values name `for`; nothing changes.
    for bad in ["0", "abc", "367d", "-1", "none", "1.5h"] {
        let r = server.post(&format!("/api/services/job/mute?for={bad}"));
        assert_eq!(r.status, 400, "for={bad}: {}", r.text());
        assert!(error_of(&r).contains("`for`"), "{}", r.text());
    }
    assert_eq!(server.service("job").expect("exists")["state"], "error");
    let r = server.post("/api/services/nobody/mute?for=1h");
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(server.service("nobody").is_none(), "a mute creates nothing");

    // A plain mute is until an unmute, and its reply is `{}` as before.
    let r = server.post("/api/services/job/mute");
    assert_eq!((r.status, r.json()), (200, serde_json::json!({})));
    let s = server.service("job").expect("exists");
    assert_eq!(s["state"], "muted");
    assert!(s["muted_until"].is_null(), "{s}");
    let r = server.post("/api/services/job/unmute");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(server.service("job").expect("exists")["state"], "error");
}

#[test]
fn a_timed_service_mute_survives_a_restart() {
    let dir = TempDir::new("policy-mute-restart");
    let server = Server::start(dir.path(), "");
    beat(&server, "job");
    let r = server.post("/api/services/job/mute?for=1h");
    assert_eq!(r.status, 200, "{}", r.text());
    let until = r.json()["muted_until"].as_i64().expect("muted_until");
    assert!(server.stop().success());

    let server = Server::start(dir.path(), "");
    let s = server.service("job").expect("kept");
    assert_eq!(s["state"], "muted", "{s}");
    assert_eq!(s["muted_until"], until, "{s}");
}

#[test]
fn a_view_is_muted_and_unmuted() {
    let dir = TempDir::new("policy-view-mute");
    let server = Server::start(dir.path(), &views_config(""));
    beat(&server, "web.a");
    let v = view(&server, "web");
    assert_eq!(
        (v["muted"].clone(), v["muted_until"].clone()),
        (false.into(), Value::Null)
    );

    // What `curl -X POST` sends: no body, no Content-Length, no type.
    let raw = format!(
        "POST /api/views/web/mute HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        server.http
    );
    let r = raw_request(server.http, raw.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), serde_json::json!({}));
    let v = view(&server, "web");
    assert_eq!(v["muted"], true, "{v}");
    assert!(v["muted_until"].is_null(), "until an unmute: {v}");
    // Its members are still evaluated, and are not muted themselves.
    assert_eq!(server.service("web.a").expect("exists")["state"], "ok");

    let r = server.post("/api/views/web/mute?for=1h");
    assert_eq!(r.status, 200, "{}", r.text());
    let until = r.json()["muted_until"].as_i64().expect("muted_until");
    let v = view(&server, "web");
    assert_eq!(
        (v["muted"].clone(), v["muted_until"].clone()),
        (true.into(), until.into())
    );
    // The list and the 1.x dialect: the list shows it; 1.x keys unchanged.
    let list = server.json("/api/views")["views"].clone();
    assert_eq!(list[0]["muted_until"], until, "{list}");
    let alarm = server.json("/api/alarms/web")["alarm"].clone();
    assert!(alarm.get("muted").is_none(), "{alarm}");

    let r = server.post("/api/views/web/unmute");
    assert_eq!(r.status, 200, "{}", r.text());
    let v = view(&server, "web");
    assert_eq!(
        (v["muted"].clone(), v["muted_until"].clone()),
        (false.into(), Value::Null)
    );

    let r = server.post("/api/views/web/mute?for=2s");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        wait_until(WAIT, || view(&server, "web")["muted"] == false),
        "the view's mute never ended: {}",
        view(&server, "web")
    );

    for path in [
        "/api/views/nope/mute",
        "/api/views/nope/unmute",
        "/api/views/nope/mute?for=1h",
    ] {
        let r = server.post(path);
        assert_eq!(r.status, 404, "{path}: {}", r.text());
        assert!(error_of(&r).contains("nope"), "{}", r.text());
    }
    let r = server.post("/api/views/web/mute?for=soon");
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(error_of(&r).contains("`for`"), "{}", r.text());
    assert_eq!(
        view(&server, "web")["muted"],
        false,
        "a refused mute changes nothing"
    );
    let r = server.get("/api/views/web/mute");
    assert_eq!(r.status, 405, "{}", r.text());
}

#[test]
fn maintenance_windows_over_the_api() {
    let dir = TempDir::new("policy-maintenance");
    let server = Server::start(dir.path(), &views_config(""));
    beat(&server, "web.a");
    let list = server.json("/api/maintenance");
    assert_eq!(list["maintenance"], serde_json::json!([]), "{list}");

    // `duration` alone: from now.
    let r = post_json(
        &server,
        "/api/maintenance",
        r#"{"views": ["web"], "duration": "1h", "comment": "db upgrade"}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_str().expect("id").to_owned();
    let list = server.json("/api/maintenance")["maintenance"].clone();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    let w = &list[0];
    assert_eq!(w["id"], id.as_str());
    assert_eq!(w["origin"], "api");
    assert_eq!(w["views"], serde_json::json!(["web"]));
    assert!(w["from"].is_string() && w["until"].is_string(), "{w}");
    let open_until = w["open_until"].as_i64().expect("open now");
    assert!(
        w["next_start"].is_null(),
        "a one-off never opens again: {w}"
    );
    // The view held by it says until when.
    assert!(
        wait_until(WAIT, || view(&server, "web")["maintenance_until"]
            == open_until),
        "{}",
        view(&server, "web")
    );

    // A recurring one, with seconds for its duration: shut now, opens later.
    let r = post_json(
        &server,
        "/api/maintenance",
        r#"{"views": ["other.*"], "schedule": "0 3 * * *", "duration": 600, "tz": "Europe/Paris"}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let id2 = r.json()["id"].as_str().expect("id").to_owned();
    assert_ne!(id, id2);
    let list = server.json("/api/maintenance")["maintenance"].clone();
    let w = list
        .as_array()
        .and_then(|l| l.iter().find(|w| w["id"] == id2.as_str()))
        .expect("listed");
    assert_eq!(w["schedule"], "0 3 * * *");
    assert_eq!(w["duration"], 600_000);
    assert_eq!(w["tz"], "Europe/Paris");
    assert!(w["next_start"].is_i64() || w["open_until"].is_i64(), "{w}");

    // Refused: the message names what is wrong; nothing is added.
    let bad: [(&str, &str); 7] = [
        (
            r#"{"views": ["web"], "duration": "1h", "colour": "red"}"#,
            "colour",
        ),
        (r#"{"duration": "1h"}"#, "views"),
        (r#"{"views": [], "duration": "1h"}"#, "views"),
        (
            r#"{"views": ["web"], "schedule": "not cron", "duration": "1h"}"#,
            "schedule",
        ),
        (r#"{"views": ["web"], "duration": "forever"}"#, "duration"),
        (
            r#"{"views": ["web"], "from": "yesterday", "duration": "1h"}"#,
            "from",
        ),
        ("{not json", "not a maintenance window"),
    ];
    for (body, names) in bad {
        let r = post_json(&server, "/api/maintenance", body);
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        assert!(error_of(&r).contains(names), "{body}: {}", r.text());
    }
    let big = format!(
        r#"{{"views": ["web"], "duration": "1h", "comment": "{}"}}"#,
        "x".repeat(20_000)
    );
    let r = post_json(&server, "/api/maintenance", &big);
    assert_eq!(r.status, 413, "{}", r.text());
    let list = server.json("/api/maintenance")["maintenance"].clone();
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");

    // Deleted: the view is out of maintenance at once.
    let r = server.request("DELETE", &format!("/api/maintenance/{id}"), &[], b"");
    assert_eq!(
        (r.status, r.json()),
        (200, serde_json::json!({})),
        "{}",
        r.text()
    );
    assert!(view(&server, "web")["maintenance_until"].is_null());
    let r = server.request("DELETE", &format!("/api/maintenance/{id}"), &[], b"");
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(error_of(&r).contains(&id), "{}", r.text());
    let list = server.json("/api/maintenance")["maintenance"].clone();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    let r = server.request("PUT", "/api/maintenance", &[], b"");
    assert_eq!(r.status, 405, "{}", r.text());
}

#[test]
fn a_config_window_is_listed_and_cannot_be_deleted() {
    let dir = TempDir::new("policy-maintenance-config");
    let server = Server::start(
        dir.path(),
        &views_config(
            "[[maintenance]]\nviews = [\"web\"]\nschedule = \"0 3 * * *\"\nduration = \"1h\"\ntz = \"UTC\"\n",
        ),
    );
    let list = server.json("/api/maintenance")["maintenance"].clone();
    let w = &list[0];
    assert_eq!(w["origin"], "config", "{list}");
    assert_eq!(w["duration"], 3_600_000, "{w}");
    let id = w["id"].as_str().expect("id").to_owned();
    let r = server.request("DELETE", &format!("/api/maintenance/{id}"), &[], b"");
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(error_of(&r).contains("config"), "{}", r.text());
    let list = server.json("/api/maintenance")["maintenance"].clone();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
}

#[test]
fn a_muted_view_alerts_only_when_its_mute_ends() {
    let rx = Receiver::start(Box::new(|_, _| 200));
    let dir = TempDir::new("policy-mute-alert");
    let server = Server::start(
        dir.path(),
        &format!(
            "{}alerts = [\"ops\"]\n[alerts.ops]\nwebhook = \"{}\"\n",
            views_config(""),
            rx.url("/hook")
        ),
    );
    beat(&server, "web.ok"); // NEW -> OK: nothing to send
    let r = server.post("/api/views/web/mute?for=3s");
    assert_eq!(r.status, 200, "{}", r.text());
    let r = server.post("/api/services/web.a?timeout=0");
    assert_eq!(r.status, 200, "{}", r.text());
    // Read the receiver first, then the view: a delivery seen while the
    // view still says muted went out during the mute.
    let sent_early = std::cell::Cell::new(false);
    let delivered = wait_until(WAIT, || {
        let got = rx.requests("/hook").len();
        if got > 0 && view(&server, "web")["muted"] == true {
            sent_early.set(true);
        }
        got > 0
    });
    assert!(
        !sent_early.get(),
        "an alert went out while the view was muted"
    );
    assert!(
        delivered,
        "no alert after the mute ended; log:\n{}",
        server.log_text()
    );
    let hook = &rx.requests("/hook")[0];
    let body = hook.json();
    assert_eq!(body["name"], "web", "{body}");
    assert_eq!(body["to_state"], "ERROR", "{body}");
    assert_eq!(
        body["failed_services"],
        serde_json::json!(["web.a"]),
        "{body}"
    );
}

#[test]
fn the_policy_routes_need_the_token_for_changes() {
    const TOKEN: &str = "policy-token-0123456789abcdef";
    let dir = TempDir::new("policy-auth");
    let http = "[http]\nlisten = \"127.0.0.1:0\"\n";
    let config = format!(
        "{}{}",
        common::base_config(dir.path()).replace(
            http,
            &format!("{http}auth_token = \"{TOKEN}\"\nauth_read = false\n")
        ),
        views_config("")
    );
    let server = Server::start_with_config(dir.path(), &config);
    let auth = format!("Bearer {TOKEN}");
    let with = [("Authorization", auth.as_str())];
    let r = server.request("POST", "/api/services/web.a?timeout=none", &with, b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let body = br#"{"views": ["web"], "duration": "1h"}"#;
    for (method, path, body) in [
        ("POST", "/api/views/web/mute?for=1h", &b""[..]),
        ("POST", "/api/services/web.a/mute?for=1h", b""),
        ("POST", "/api/maintenance", body),
        ("DELETE", "/api/maintenance/x", b""),
    ] {
        let r = server.request(method, path, &[], body);
        assert_eq!(r.status, 401, "{method} {path}: {}", r.text());
    }
    // Nothing changed; reads are open (auth_read = false).
    assert_eq!(view(&server, "web")["muted"], false);
    assert_eq!(server.service("web.a").expect("exists")["state"], "ok");
    assert_eq!(
        server.json("/api/maintenance")["maintenance"],
        serde_json::json!([])
    );
    let r = server.request("POST", "/api/views/web/mute?for=1h", &with, b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(view(&server, "web")["muted"], true);
    let r = server.request("POST", "/api/maintenance", &with, body);
    assert_eq!(r.status, 201, "{}", r.text());
}
