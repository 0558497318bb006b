//! SPEC 15 "History" and `-test-alert`, against real HTTP receivers on
//! 127.0.0.1: `GET /api/alerts/history` lists finished deliveries newest
//! first (sent, and failed after their retries), and `lovebeat -test-alert
//! NAME` sends a test message through every kind of an alert, printing
//! each result, with exit 0 / 1 / 2.

mod common;
#[path = "support/receiver.rs"]
mod receiver;

use common::{wait_until, Server, TempDir, BIN};
use receiver::Receiver;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// Long enough for a failing delivery's three attempts (1 s + 4 s of
/// backoff), twice, on a busy machine.
const WAIT: Duration = Duration::from_secs(45);

fn history(server: &Server) -> Vec<serde_json::Value> {
    let r = server.get("/api/alerts/history");
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["history"].as_array().cloned().unwrap_or_default()
}

#[test]
fn the_history_lists_sent_and_failed_deliveries_newest_first() {
    let rx = Receiver::start(Box::new(|path, _| match path {
        "/ok" => 200,
        _ => 503,
    }));
    let dir = TempDir::new("alert-history");
    let server = Server::start(
        dir.path(),
        &format!(
            "[[views]]\nname = \"web\"\npattern = \"web.*\"\nalerts = [\"ok\", \"broken\"]\n\
             [alerts.ok]\nwebhook = \"{}\"\n[alerts.broken]\nwebhook = \"{}\"\n",
            rx.url("/ok"),
            rx.url("/broken"),
        ),
    );
    assert_eq!(history(&server), Vec::<serde_json::Value>::new());
    let post = |path: &str| {
        let r = server.post(path);
        assert_eq!(r.status, 200, "{}", r.text());
    };
    post("/api/services/web.a?timeout=0");
    assert!(
        wait_until(WAIT, || rx.requests("/ok").len() == 1),
        "log:\n{}",
        server.log_text()
    );
    post("/api/services/web.a?timeout=none");
    assert!(
        wait_until(WAIT, || history(&server).len() == 4),
        "history: {:?}\nlog:\n{}",
        history(&server),
        server.log_text()
    );
    let list = history(&server);
    let times: Vec<i64> = list
        .iter()
        .map(|r| r["time"].as_i64().unwrap_or(-1))
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]) && times.iter().all(|t| *t > 0),
        "newest first: {times:?}"
    );
    let of = |alert: &str| -> Vec<&serde_json::Value> {
        // Oldest first, for reading.
        list.iter().rev().filter(|r| r["alert"] == alert).collect()
    };
    let ok = of("ok");
    assert_eq!(ok.len(), 2, "{list:?}");
    for r in &ok {
        assert_eq!(r["result"], "sent", "{r}");
        assert_eq!(r["attempt"], 1, "{r}");
        assert_eq!(r["error"], serde_json::Value::Null, "{r}");
        assert_eq!(r["kind"], "webhook", "{r}");
        assert_eq!(r["destination"], rx.url("/ok"), "{r}");
        assert_eq!(r["view"], "web", "{r}");
        assert_eq!(r["incident"], 1, "{r}");
        assert_eq!(r["reminder"], 0, "{r}");
    }
    let broken = of("broken");
    assert_eq!(broken.len(), 2, "{list:?}");
    for r in &broken {
        assert_eq!(r["result"], "failed", "{r}");
        assert_eq!(r["attempt"], 3, "{r}");
        let error = r["error"].as_str().unwrap_or_default();
        assert!(error.starts_with("the receiver answered HTTP 503"), "{r}");
    }
    assert_eq!(rx.requests("/broken").len(), 6);
    // Only GET (and HEAD).
    let r = server.post("/api/alerts/history");
    assert_eq!(r.status, 405, "{}", r.text());
}

fn test_alert(config: &std::path::Path, name: &str) -> Output {
    Command::new(BIN)
        .arg("-config")
        .arg(config)
        .arg("-test-alert")
        .arg(name)
        .stdin(Stdio::null())
        .output()
        .expect("run lovebeat -test-alert")
}

#[test]
fn test_alert_sends_through_every_kind_and_says_how_each_went() {
    let rx = Receiver::start(Box::new(|path, _| match path {
        "/ok" => 200,
        _ => 404,
    }));
    let dir = TempDir::new("alert-test-alert");
    let config = dir.path().join("lovebeat.toml");
    let marker = dir.path().join("ran");
    let script = dir.path().join("alert.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$LOVEBEAT_VIEW $LOVEBEAT_REMINDER\" > '{}'\n",
            marker.display()
        ),
    )
    .expect("write script");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::write(
        &config,
        format!(
            "{}[alerts.good]\nwebhook = \"{}\"\nscript = \"{}\"\n[alerts.bad]\nwebhook = \"{}\"\n",
            common::base_config(dir.path()),
            rx.url("/ok"),
            script.display(),
            rx.url("/gone"),
        ),
    )
    .expect("write config");

    let out = test_alert(&config, "good");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_eq!(
        stdout,
        format!(
            "webhook {} sent\nscript {} sent\n",
            rx.url("/ok"),
            script.display()
        )
    );
    let hook = rx.requests("/ok");
    assert_eq!(hook.len(), 1);
    let body = hook[0].json();
    assert_eq!(body["name"], "lovebeat-test");
    assert_eq!(body["incident_number"], 0);
    assert_eq!(body["to_state"], "ERROR");
    assert_eq!(body["reminder"], 0);
    assert_eq!(
        body["failed_services"],
        serde_json::json!(["lovebeat-test.example"])
    );
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap_or_default(),
        "lovebeat-test 0\n"
    );

    let out = test_alert(&config, "bad");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    // The receiver's body ("ok") follows the status.
    assert!(
        stdout.starts_with(&format!(
            "webhook {} failed: the receiver answered HTTP 404",
            rx.url("/gone")
        )) && stdout.ends_with(" (1 attempt)\n")
            && stdout.lines().count() == 1,
        "{stdout}"
    );
    assert_eq!(rx.requests("/gone").len(), 1);

    let out = test_alert(&config, "pager");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("alert `pager` is not defined; defined alerts: bad, good"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}
