//! Alerts (SPEC 6) against real receivers on 127.0.0.1: an aiosmtpd SMTP
//! server, plain TCP HTTP peers for webhook, Slack and Mailgun, a script
//! that writes its environment, and a peer that accepts and never answers.

mod common;
#[path = "support/receiver.rs"]
mod receiver;
#[path = "support/smtp.rs"]
mod smtp;

use common::tools::{self, Tool};
use common::{wait_until, Server, TempDir, BIN};
use receiver::Receiver;
use smtp::SmtpSink;
use std::process::{Command, Stdio};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// Makes `name` fail at once (timeout 0).
fn fail(server: &Server, name: &str) {
    let r = server.post(&format!("/api/services/{name}?timeout=0"));
    assert_eq!(r.status, 200, "{}", r.text());
}

/// Makes `name` healthy (beat, no timeout).
fn recover(server: &Server, name: &str) {
    let r = server.post(&format!("/api/services/{name}?timeout=none"));
    assert_eq!(r.status, 200, "{}", r.text());
}

fn view(name: &str, pattern: &str, alerts: &[&str]) -> String {
    let alerts: Vec<String> = alerts.iter().map(|a| format!("\"{a}\"")).collect();
    format!(
        "[[views]]\nname = \"{name}\"\npattern = \"{pattern}\"\nalerts = [{}]\n",
        alerts.join(", ")
    )
}

fn logged(server: &Server, text: &str) -> bool {
    server.log_text().contains(text)
}

fn wait_logged(server: &Server, text: &str) {
    assert!(
        wait_until(WAIT, || logged(server, text)),
        "never logged {text:?}; log:\n{}",
        server.log_text()
    );
}

#[test]
fn mail_over_smtp_on_error_and_on_recovery_only() {
    if !tools::available("the mail tests", &[Tool::PythonModule("aiosmtpd")]) {
        return;
    }
    let smtp = SmtpSink::start(None);
    let dir = TempDir::new("alert-mail");
    let server = Server::start(
        dir.path(),
        &format!(
            "[general]\npublic_url = \"http://lb.test/\"\n[mail]\nserver = \"127.0.0.1:{}\"\nfrom = \"lovebeat@lb.test\"\n{}[alerts.ops]\nmail = \"a@x.org, b@y.org\"\n",
            smtp.port,
            view("web", "web.*", &["ops"])
        ),
    );
    // NEW -> OK for the view: no alert.
    recover(&server, "web.ok");
    fail(&server, "web.a");
    assert!(
        wait_until(WAIT, || smtp.mails().len() == 1),
        "no mail; log:\n{}",
        server.log_text()
    );
    let mail = &smtp.mails()[0];
    assert_eq!(mail["subject"], "[LOVEBEAT] web-1");
    assert_eq!(mail["rcpt_tos"], serde_json::json!(["a@x.org", "b@y.org"]));
    assert_eq!(mail["mail_from"], "lovebeat@lb.test");
    let body = mail["body"].as_str().unwrap_or_default();
    assert!(body.contains("changed from 'OK' to 'ERROR'"), "{body}");
    assert!(
        body.contains("  - web.a"),
        "lists the failed service: {body}"
    );
    assert!(!body.contains("web.ok"), "only failed services: {body}");
    assert!(body.contains("http://lb.test/views/web"), "{body}");
    wait_logged(
        &server,
        "alert ops sent (mail to a@x.org,b@y.org) for view web",
    );

    recover(&server, "web.a");
    assert!(
        wait_until(WAIT, || smtp.mails().len() == 2),
        "no recovery mail; log:\n{}",
        server.log_text()
    );
    let mail = &smtp.mails()[1];
    assert_eq!(mail["subject"], "[LOVEBEAT] web-1");
    let body = mail["body"].as_str().unwrap_or_default();
    assert!(body.contains("changed from 'ERROR' to 'OK'"), "{body}");
    assert!(body.contains("Failed services: none"), "{body}");
    // A second incident counts up.
    fail(&server, "web.a");
    assert!(wait_until(WAIT, || smtp.mails().len() == 3));
    assert_eq!(smtp.mails()[2]["subject"], "[LOVEBEAT] web-2");
    assert!(
        smtp.mails()
            .iter()
            .all(|m| !m["body"].as_str().unwrap_or_default().contains("'NEW'")),
        "NEW -> OK sent a mail"
    );
}

#[test]
fn mail_logs_in_when_a_username_is_set() {
    if !tools::available("the mail tests", &[Tool::PythonModule("aiosmtpd")]) {
        return;
    }
    let smtp = SmtpSink::start(Some("lb-user:s3cret"));
    let dir = TempDir::new("alert-mail-auth");
    let config = |password: &str| {
        format!(
            "[mail]\nserver = \"127.0.0.1:{}\"\nfrom = \"lovebeat@lb.test\"\nusername = \"lb-user\"\npassword = \"{password}\"\n{}[alerts.ops]\nmail = \"a@x.org\"\n",
            smtp.port,
            view("web", "web.*", &["ops"])
        )
    };
    let server = Server::start(dir.path(), &config("s3cret"));
    fail(&server, "web.a");
    assert!(
        wait_until(WAIT, || smtp.mails().len() == 1),
        "no mail; log:\n{}",
        server.log_text()
    );
    assert_eq!(smtp.mails()[0]["authenticated"], true);
    assert_eq!(smtp.mails()[0]["rcpt_tos"], serde_json::json!(["a@x.org"]));
    drop(server);

    // A wrong password is refused by the server: logged, nothing delivered.
    let dir = TempDir::new("alert-mail-badauth");
    let server = Server::start(dir.path(), &config("wrong"));
    fail(&server, "web.a");
    wait_logged(
        &server,
        "alert ops (mail to a@x.org) for view web failed after",
    );
    assert_eq!(smtp.mails().len(), 1);
}

#[test]
fn webhook_slack_and_mailgun_get_the_spec_payloads() {
    let rx = Receiver::start(Box::new(|_, _| 200));
    let dir = TempDir::new("alert-http");
    let server = Server::start(
        dir.path(),
        &format!(
            "[general]\npublic_url = \"http://lb.test\"\n\
             [mailgun]\ndomain = \"mg.test\"\napi_key = \"key-test\"\nfrom = \"lb@mg.test\"\napi_base = \"{}\"\n\
             [slack]\nwebhook_url = \"{}\"\n{}\
             [alerts.ops]\nmail = \"a@x.org,b@y.org\"\nwebhook = \"{}\"\nslack_channel = \"#ops\"\n",
            rx.url("/v3"),
            rx.url("/slack"),
            view("web", "web.*", &["ops"]),
            rx.url("/hook?k=1"),
        ),
    );
    recover(&server, "web.ok"); // NEW -> OK: nothing
    fail(&server, "web.a");
    let all_got = |n: usize| {
        rx.requests("/hook?k=1").len() == n
            && rx.requests("/slack").len() == n
            && rx.requests("/v3/mg.test/messages").len() == n
    };
    assert!(
        wait_until(WAIT, || all_got(1)),
        "log:\n{}",
        server.log_text()
    );

    let hook = &rx.requests("/hook?k=1")[0];
    assert_eq!(hook.method, "POST");
    assert_eq!(hook.header("Content-Type"), Some("application/json"));
    assert_eq!(hook.header("Accept"), Some("application/json"));
    assert_eq!(hook.header("User-Agent"), Some("Lovebeat"));
    let agents = hook
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("user-agent"));
    assert_eq!(agents.count(), 1, "{:?}", hook.headers);
    assert_eq!(hook.header("X-Lovebeat"), Some("1"));
    assert_eq!(
        hook.json(),
        serde_json::json!({
            "name": "web",
            "from_state": "OK",
            "to_state": "ERROR",
            "incident_number": 1,
            "failed_services": ["web.a"],
            "failures": [{
                "service": "web.a",
                // The test fails it with a timeout of 0.
                "reason": "always",
                "since": hook.json()["failures"][0]["since"],
                "description": "always in ERROR (timeout 0)",
            }],
            "reminder": 0,
        })
    );

    let slack = &rx.requests("/slack")[0];
    assert_eq!(slack.method, "POST");
    assert_eq!(slack.header("Content-Type"), Some("application/json"));
    let s = slack.json();
    assert_eq!(s["username"], "Lovebeat");
    assert_eq!(s["channel"], "#ops");
    let a = &s["attachments"][0];
    assert_eq!(a["color"], "danger");
    assert_eq!(a["title_link"], "http://lb.test/views/web");
    assert_eq!(a["fields"][0]["value"], "web");
    assert_eq!(a["fields"][1]["value"], "1");
    assert_eq!(
        a["fields"][2]["value"],
        "web.a: always in ERROR (timeout 0)"
    );

    let mg = &rx.requests("/v3/mg.test/messages")[0];
    assert_eq!(mg.method, "POST");
    // base64("api:key-test")
    assert_eq!(mg.header("Authorization"), Some("Basic YXBpOmtleS10ZXN0"));
    assert_eq!(
        mg.header("Content-Type"),
        Some("application/x-www-form-urlencoded")
    );
    let form = mg.form();
    assert_eq!(form["from"], "lb@mg.test");
    assert_eq!(form["to"], "a@x.org,b@y.org");
    assert_eq!(form["subject"], "[LOVEBEAT] web-1");
    assert!(
        form["text"].contains("changed from 'OK' to 'ERROR'"),
        "{form:?}"
    );
    assert!(form["text"].contains("  - web.a"), "{form:?}");

    recover(&server, "web.a");
    assert!(
        wait_until(WAIT, || all_got(2)),
        "log:\n{}",
        server.log_text()
    );
    let hook = rx.requests("/hook?k=1")[1].json();
    assert_eq!(
        (
            &hook["from_state"],
            &hook["to_state"],
            &hook["failed_services"]
        ),
        (
            &serde_json::json!("ERROR"),
            &serde_json::json!("OK"),
            &serde_json::json!([])
        )
    );
    assert_eq!(
        rx.requests("/slack")[1].json()["attachments"][0]["color"],
        "good"
    );
    assert!(rx.requests("/v3/mg.test/messages")[1].form()["text"]
        .contains("changed from 'ERROR' to 'OK'"));
    wait_logged(
        &server,
        "alert ops sent (mailgun to a@x.org,b@y.org) for view web: ERROR -> OK",
    );
    wait_logged(&server, "alert ops sent (slack to #ops)");
}

#[test]
fn failed_http_deliveries_are_retried_logged_and_given_up() {
    // /flaky fails twice then works; /broken always 503; /gone is 404,
    // which is not worth retrying.
    let rx = Receiver::start(Box::new(|path, n| match path {
        "/flaky" if n <= 2 => 500,
        "/flaky" => 200,
        "/broken" => 503,
        _ => 404,
    }));
    let dir = TempDir::new("alert-retry");
    let server = Server::start(
        dir.path(),
        &format!(
            "{}[alerts.flaky]\nwebhook = \"{}\"\n[alerts.broken]\nwebhook = \"{}\"\n[alerts.gone]\nwebhook = \"{}\"\n",
            view("web", "web.*", &["flaky", "broken", "gone"]),
            rx.url("/flaky"),
            rx.url("/broken"),
            rx.url("/gone"),
        ),
    );
    fail(&server, "web.a");
    wait_logged(&server, "alert flaky sent (webhook to");
    assert_eq!(rx.requests("/flaky").len(), 3);
    wait_logged(
        &server,
        &format!(
            "alert broken (webhook to {}) for view web failed after 3 attempt(s): the receiver answered HTTP 503",
            rx.url("/broken")
        ),
    );
    assert_eq!(rx.requests("/broken").len(), 3);
    wait_logged(&server, "alert gone (webhook to");
    assert!(logged(
        &server,
        "failed after 1 attempt(s): the receiver answered HTTP 404"
    ));
    assert_eq!(rx.requests("/gone").len(), 1);
    assert!(logged(&server, "attempt 1 of 3 failed"));
}

#[test]
fn scripts_get_the_environment_their_output_is_logged_and_slow_ones_are_killed() {
    let dir = TempDir::new("alert-script");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    let write = |name: &str, body: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
        let status = Command::new("chmod")
            .arg("+x")
            .arg(&path)
            .status()
            .expect("chmod");
        assert!(status.success());
        path.display().to_string()
    };
    let good = write(
        "alert.sh",
        &format!(
            // Written to a temporary name and moved, so the test never
            // reads a file the shell has created but sort not yet filled.
            "env | grep '^LOVEBEAT_' | sort > '{0}/tmp-'$$\nmv '{0}/tmp-'$$ '{0}/env-'\"$LOVEBEAT_STATE\"\necho \"script says hello for $LOVEBEAT_VIEW\"\necho 'script warns' >&2",
            out.display()
        ),
    );
    // The script's own child records its pid: killing the script must
    // take it down too.
    let slow = write(
        "slow.sh",
        &format!(
            "echo slow script started\nsleep 120 &\necho $! > '{}/sleep-'\"$LOVEBEAT_STATE\"\nwait",
            out.display()
        ),
    );
    let bad = write("bad.sh", "exit 3");
    let server = Server::start(
        dir.path(),
        &format!(
            "{}[alerts.run]\nscript = \"{good}\"\n[alerts.slow]\nscript = \"{slow}\"\n[alerts.bad]\nscript = \"{bad}\"\n",
            view("web", "web.*", &["run", "slow", "bad"]),
        ),
    );
    recover(&server, "web.ok");
    fail(&server, "web.a");
    let env_of = |state: &str| std::fs::read_to_string(out.join(format!("env-{state}"))).ok();
    assert!(
        wait_until(WAIT, || env_of("ERROR").is_some()),
        "log:\n{}",
        server.log_text()
    );
    wait_logged(&server, "alert run sent (script to");
    let env = env_of("ERROR").unwrap_or_default();
    let (reasons, others): (Vec<&str>, Vec<&str>) = env
        .lines()
        .partition(|l| l.starts_with("LOVEBEAT_REASONS="));
    assert_eq!(
        others.join("\n"),
        "LOVEBEAT_ALARM=web\nLOVEBEAT_INCIDENT=1\nLOVEBEAT_PREVIOUS_STATE=OK\nLOVEBEAT_REMINDER=0\nLOVEBEAT_STATE=ERROR\nLOVEBEAT_VIEW=web"
    );
    assert!(
        reasons == ["LOVEBEAT_REASONS=web.a: always in ERROR (timeout 0)"],
        "{env}"
    );
    assert!(logged(&server, "stdout: script says hello for web"));
    assert!(logged(&server, "stderr: script warns"));
    wait_logged(&server, "exited with exit status: 3");

    recover(&server, "web.a");
    assert!(
        wait_until(WAIT, || env_of("OK").is_some()),
        "log:\n{}",
        server.log_text()
    );
    assert_eq!(
        env_of("OK").unwrap_or_default(),
        "LOVEBEAT_ALARM=web\nLOVEBEAT_INCIDENT=1\nLOVEBEAT_PREVIOUS_STATE=ERROR\nLOVEBEAT_REASONS=\nLOVEBEAT_REMINDER=0\nLOVEBEAT_STATE=OK\nLOVEBEAT_VIEW=web\n"
    );
    // The slow script is killed at its 10 s limit, once per transition,
    // and its output still reaches the log.
    wait_logged(&server, "was killed after 10 s");
    assert!(logged(&server, "stdout: slow script started"));
    let sleep_pid = std::fs::read_to_string(out.join("sleep-ERROR")).expect("slow.sh ran");
    let gone = || {
        // Gone, or a zombie waiting for a reaper that is not ours.
        std::fs::read_to_string(format!("/proc/{}/stat", sleep_pid.trim()))
            .map(|stat| {
                stat.split(") ")
                    .nth(1)
                    .is_some_and(|rest| rest.starts_with('Z'))
            })
            .unwrap_or(true)
    };
    assert!(
        wait_until(Duration::from_secs(10), gone),
        "the killed script's child (pid {}) is still running",
        sleep_pid.trim()
    );
}

#[test]
fn a_receiver_that_never_answers_delays_nothing_else() {
    let hang = Receiver::hanging();
    let fast = Receiver::start(Box::new(|_, _| 200));
    let dir = TempDir::new("alert-hang");
    let server = Server::start(
        dir.path(),
        &format!(
            "{}{}[alerts.hang]\nwebhook = \"{}\"\n[alerts.fast]\nwebhook = \"{}\"\n",
            view("web", "web.*", &["hang", "fast"]),
            view("db", "db.*", &["fast"]),
            hang.url("/hang"),
            fast.url("/fast"),
        ),
    );
    fail(&server, "web.a");
    // The other alert of the same transition arrives while the first one's
    // receiver holds its connection without answering.
    assert!(
        wait_until(WAIT, || hang.connections() >= 1
            && fast.requests("/fast").len() == 1),
        "log:\n{}",
        server.log_text()
    );
    // Beats, API calls and other views' alerts keep flowing.
    for i in 0..20 {
        let r = server.post(&format!("/api/services/db.beat{i}"));
        assert_eq!(r.status, 200);
    }
    assert_eq!(
        server.json("/api/services")["services"]
            .as_array()
            .map(Vec::len),
        Some(21)
    );
    fail(&server, "db.x");
    recover(&server, "web.a");
    assert!(
        wait_until(WAIT, || fast.requests("/fast").len() == 3),
        "log:\n{}",
        server.log_text()
    );
    let names: Vec<(String, String)> = fast
        .requests("/fast")
        .iter()
        .map(|r| {
            let j = r.json();
            (
                j["name"].as_str().unwrap_or_default().to_string(),
                j["to_state"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert!(names.contains(&("db".into(), "ERROR".into())), "{names:?}");
    assert!(names.contains(&("web".into(), "OK".into())), "{names:?}");
    // All of that happened while the hanging delivery was still pending.
    assert!(
        !logged(&server, "alert hang (webhook"),
        "the hanging delivery ended before the others were served:\n{}",
        server.log_text()
    );
    // The hung attempt ends at its timeout and is retried.
    wait_logged(
        &server,
        &format!(
            "alert hang (webhook to {}) for view web: attempt 1 of 3 failed",
            hang.url("/hang")
        ),
    );
}

#[test]
fn an_undefined_alert_stops_start_up_with_exit_2() {
    let dir = TempDir::new("alert-undefined");
    let config = dir.path().join("lovebeat.toml");
    std::fs::write(
        &config,
        format!(
            "{}{}[alerts.ops]\nwebhook = \"http://127.0.0.1:9/\"\n",
            common::base_config(dir.path()),
            view("web", "web.*", &["ops", "pagr"])
        ),
    )
    .expect("write config");
    let out = Command::new(BIN)
        .arg("-config")
        .arg(&config)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("run lovebeat");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("pagr"), "names the alert: {stderr}");
    assert!(!stderr.contains("HTTP listening"), "{stderr}");
}
