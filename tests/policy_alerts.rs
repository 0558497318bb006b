//! The alert policy (SPEC 15) end to end: the real binary, a real HTTP
//! receiver on 127.0.0.1 for the webhook, and the policy's rules seen from
//! the receiver's side: numbered reminders and the downtime of a recovery,
//! a delay that hides a blip, maintenance over the API, dependencies, a
//! restart during a delay, a reload that removes a view; and an aiosmtpd
//! mail server and a script for the reminder and downtime texts.

mod common;
#[path = "support/receiver.rs"]
mod receiver;
#[path = "support/smtp.rs"]
mod smtp;

use common::tools::{self, Tool};
use common::{request, wait_until, Server, TempDir};
use receiver::Receiver;
use serde_json::Value;
use smtp::SmtpSink;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
/// How long "nothing more arrives" is watched for.
const QUIET: Duration = Duration::from_millis(2500);

fn fail(server: &Server, name: &str) {
    let r = server.post(&format!("/api/services/{name}?timeout=0"));
    assert_eq!(r.status, 200, "{}", r.text());
}

fn recover(server: &Server, name: &str) {
    let r = server.post(&format!("/api/services/{name}?timeout=none"));
    assert_eq!(r.status, 200, "{}", r.text());
}

/// `[[views]]` `name` over `pattern`, alerting through "ops", plus `extra`
/// keys.
fn view(name: &str, pattern: &str, extra: &str) -> String {
    format!("[[views]]\nname = \"{name}\"\npattern = \"{pattern}\"\nalerts = [\"ops\"]\n{extra}\n")
}

fn ops(rx: &Receiver, extra: &str) -> String {
    format!("[alerts.ops]\nwebhook = \"{}\"\n{extra}\n", rx.url("/hook"))
}

/// The webhook bodies so far, in arrival order.
fn hooks(rx: &Receiver) -> Vec<Value> {
    rx.requests("/hook").iter().map(|r| r.json()).collect()
}

fn wait_hooks(rx: &Receiver, server: &Server, n: usize) -> Vec<Value> {
    assert!(
        wait_until(WAIT, || hooks(rx).len() >= n),
        "expected {n} webhook calls, got {:?}; log:\n{}",
        hooks(rx),
        server.log_text()
    );
    hooks(rx)
}

/// Asserts that no more than `n` calls arrive within `QUIET`.
fn stays_at(rx: &Receiver, n: usize) {
    assert!(
        !wait_until(QUIET, || hooks(rx).len() > n),
        "more than {n} webhook calls: {:?}",
        hooks(rx)
    );
}

fn view_json(server: &Server, name: &str) -> Value {
    server.json(&format!("/api/views/{name}"))["view"].clone()
}

#[test]
fn reminders_are_numbered_and_the_recovery_says_how_long_it_was_down() {
    let rx = Receiver::start(Box::new(|_, _| 200));
    let dir = TempDir::new("policy-repeat");
    let server = Server::start(
        dir.path(),
        &format!(
            "{}{}",
            view("web", "web.*", ""),
            ops(&rx, "repeat = \"1s\"")
        ),
    );
    fail(&server, "web.a");
    let got = wait_hooks(&rx, &server, 3);
    let numbers: Vec<i64> = got
        .iter()
        .map(|h| h["reminder"].as_i64().unwrap_or(-1))
        .collect();
    assert_eq!(&numbers[..3], [0, 1, 2], "{got:?}");
    assert!(got.iter().all(|h| h["to_state"] == "ERROR"));
    assert_eq!(got[1]["from_state"], "ERROR", "a reminder: still in ERROR");
    assert_eq!(got[0]["failed_services"], serde_json::json!(["web.a"]));
    recover(&server, "web.a");
    assert!(
        wait_until(WAIT, || hooks(&rx).iter().any(|h| h["to_state"] == "OK")),
        "no recovery; log:\n{}",
        server.log_text()
    );
    let all = hooks(&rx);
    let recovery = all
        .iter()
        .find(|h| h["to_state"] == "OK")
        .expect("recovery");
    assert_eq!(recovery["reminder"], 0);
    assert!(
        recovery["down_ms"].as_i64().is_some_and(|ms| ms >= 2_000),
        "{recovery}"
    );
    stays_at(&rx, all.len());
}

#[test]
fn a_delay_hides_a_blip_and_alerts_a_lasting_failure_once() {
    let rx = Receiver::start(Box::new(|_, _| 200));
    let dir = TempDir::new("policy-delay");
    let server = Server::start(
        dir.path(),
        &format!("{}{}", view("web", "web.*", "delay = \"2s\""), ops(&rx, "")),
    );
    fail(&server, "web.a");
    let pending = view_json(&server, "web");
    assert_eq!(pending["state"], "error");
    assert!(pending["pending_until"].is_i64(), "{pending}");
    recover(&server, "web.a");
    stays_at(&rx, 0);

    fail(&server, "web.b");
    let got = wait_hooks(&rx, &server, 1);
    assert_eq!(got[0]["to_state"], "ERROR");
    assert_eq!(got[0]["incident_number"], 2, "the blip was incident 1");
    assert!(view_json(&server, "web")["pending_until"].is_null());
    stays_at(&rx, 1);
}

#[test]
fn maintenance_over_the_api_holds_alerts_and_deleting_it_releases_them() {
    let rx = Receiver::start(Box::new(|_, _| 200));
    let dir = TempDir::new("policy-maintenance");
    let server = Server::start(
        dir.path(),
        &format!("{}{}", view("web", "web.*", ""), ops(&rx, "")),
    );
    let created = request(
        server.http,
        "POST",
        "/api/maintenance",
        &[("Content-Type", "application/json")],
        br#"{"views": ["web"], "duration": "1h", "comment": "patching"}"#,
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let id = created.json()["id"].as_str().expect("id").to_owned();
    fail(&server, "web.a");
    assert!(
        wait_until(WAIT, || view_json(&server, "web")["state"] == "error"),
        "web never failed"
    );
    assert!(view_json(&server, "web")["maintenance_until"].is_i64());
    stays_at(&rx, 0);
    let deleted = request(
        server.http,
        "DELETE",
        &format!("/api/maintenance/{id}"),
        &[],
        b"",
    );
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    let got = wait_hooks(&rx, &server, 1);
    assert_eq!(
        (got[0]["to_state"].clone(), got[0]["reminder"].clone()),
        ("ERROR".into(), 0.into())
    );
}

#[test]
fn a_dependant_is_held_while_its_parent_is_down_and_alerts_when_the_parent_recovers() {
    let rx = Receiver::start(Box::new(|_, _| 200));
    let dir = TempDir::new("policy-depends");
    let server = Server::start(
        dir.path(),
        &format!(
            "{}{}{}",
            view("network", "net.*", ""),
            view("web", "web.*", "depends_on = [\"network\"]"),
            ops(&rx, "")
        ),
    );
    fail(&server, "net.router");
    fail(&server, "web.a");
    let got = wait_hooks(&rx, &server, 1);
    assert_eq!(got[0]["name"], "network");
    assert_eq!(
        view_json(&server, "web")["suppressed_by"],
        serde_json::json!(["network"])
    );
    stays_at(&rx, 1);
    recover(&server, "net.router");
    let got = wait_hooks(&rx, &server, 3);
    let seen: Vec<(String, String)> = got
        .iter()
        .map(|h| {
            (
                h["name"].as_str().unwrap_or_default().to_owned(),
                h["to_state"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(seen.contains(&("network".into(), "OK".into())), "{seen:?}");
    assert!(seen.contains(&("web".into(), "ERROR".into())), "{seen:?}");
    assert_eq!(seen.len(), 3, "{seen:?}");
}

#[test]
fn a_restart_during_a_delay_alerts_when_the_delay_ends() {
    let rx = Receiver::start(Box::new(|_, _| 200));
    let dir = TempDir::new("policy-restart");
    let extra = format!("{}{}", view("web", "web.*", "delay = \"3s\""), ops(&rx, ""));
    let server = Server::start(dir.path(), &extra);
    fail(&server, "web.a");
    assert!(view_json(&server, "web")["pending_until"].is_i64());
    assert!(server.stop().success());
    let server = Server::start(dir.path(), &extra);
    let got = wait_hooks(&rx, &server, 1);
    assert_eq!(got[0]["to_state"], "ERROR");
    assert_eq!(got[0]["incident_number"], 1);
    stays_at(&rx, 1);
    // Sent once, and a second restart does not send it again.
    assert!(view_json(&server, "web")["alerted_at"].is_i64());
    assert!(server.stop().success());
    let server = Server::start(dir.path(), &extra);
    assert!(wait_until(WAIT, || view_json(&server, "web")["state"] == "error"));
    stays_at(&rx, 1);
}

#[test]
fn a_reload_that_removes_a_view_stops_its_reminders() {
    let rx = Receiver::start(Box::new(|_, _| 200));
    let dir = TempDir::new("policy-reload");
    let server = Server::start(
        dir.path(),
        &format!(
            "{}{}",
            view("web", "web.*", ""),
            ops(&rx, "repeat = \"1s\"")
        ),
    );
    fail(&server, "web.a");
    wait_hooks(&rx, &server, 2);
    let config = format!(
        "{}{}",
        common::base_config(dir.path()),
        ops(&rx, "repeat = \"1s\"")
    );
    std::fs::write(dir.path().join("lovebeat.toml"), config).expect("write config");
    server.signal("HUP");
    assert!(
        wait_until(WAIT, || server.json("/api/views")["views"]
            .as_array()
            .is_some_and(|v| v.iter().all(|v| v["name"] != "web"))),
        "the view stayed; log:\n{}",
        server.log_text()
    );
    let n = hooks(&rx).len();
    stays_at(&rx, n);
}

#[test]
fn mail_and_scripts_say_which_reminder_and_how_long_it_was_down() {
    if !tools::available("the mail tests", &[Tool::PythonModule("aiosmtpd")]) {
        return;
    }
    let smtp = SmtpSink::start(None);
    let dir = TempDir::new("policy-mail-script");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    let script = dir.path().join("alert.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nenv | grep '^LOVEBEAT_' | sort > '{0}/tmp-'$$\nmv '{0}/tmp-'$$ '{0}/env-'\"$LOVEBEAT_STATE\"-\"$LOVEBEAT_REMINDER\"\n",
            out.display()
        ),
    )
    .expect("write script");
    let status = std::process::Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .expect("chmod");
    assert!(status.success());
    let server = Server::start(
        dir.path(),
        &format!(
            "[mail]\nserver = \"127.0.0.1:{}\"\nfrom = \"lovebeat@lb.test\"\n{}[alerts.ops]\nmail = \"a@x.org\"\nscript = \"{}\"\nrepeat = \"1s\"\n",
            smtp.port,
            view("web", "web.*", ""),
            script.display()
        ),
    );
    fail(&server, "web.a");
    assert!(
        wait_until(WAIT, || smtp.mails().len() >= 2),
        "no reminder mail; log:\n{}",
        server.log_text()
    );
    let reminder = smtp.mails()[1]["body"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(reminder.contains("Reminder 1"), "{reminder}");
    assert_eq!(
        smtp.mails()[1]["subject"],
        "[LOVEBEAT] web-1",
        "1.x's subject stays"
    );
    let env_of = |name: &str| std::fs::read_to_string(out.join(name)).ok();
    assert!(wait_until(WAIT, || env_of("env-ERROR-1").is_some()));
    let env = env_of("env-ERROR-1").unwrap_or_default();
    assert!(env.contains("LOVEBEAT_REMINDER=1"), "{env}");
    assert!(
        env.contains("LOVEBEAT_REASONS=web.a: always in ERROR"),
        "{env}"
    );
    recover(&server, "web.a");
    assert!(
        wait_until(WAIT, || smtp.mails().iter().any(|m| m["body"]
            .as_str()
            .is_some_and(|b| b.contains("It was down for")))),
        "no recovery mail with the downtime; log:\n{}",
        server.log_text()
    );
    assert!(wait_until(WAIT, || env_of("env-OK-0").is_some()));
}
