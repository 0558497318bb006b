//! The delivery rules every channel shares (SPEC 6, 16), against real
//! receivers on 127.0.0.1: a 429 with `Retry-After` is honoured within the
//! 10 s budget, a 400 is not retried and is logged with the provider's
//! text, and no secret of any channel appears in the log, the API or an
//! error when every channel fails.

mod common;
#[path = "support/receiver.rs"]
mod receiver;

use common::{wait_until, Server, TempDir, BIN};
use receiver::{Receiver, Reply};
use std::process::Command;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(40);

fn fail(server: &Server, name: &str) {
    let r = server.post(&format!("/api/services/{name}?timeout=0"));
    assert_eq!(r.status, 200, "{}", r.text());
}

fn view(alerts: &str) -> String {
    format!("[[views]]\nname = \"web\"\npattern = \"web.*\"\nalerts = [{alerts}]\n")
}

#[test]
fn a_429_with_retry_after_is_honoured_and_a_400_is_not_retried() {
    let rx = Receiver::start_with(Box::new(|path, n| match (path, n) {
        ("/limited", 1) => Reply {
            status: 429,
            headers: vec![("Retry-After".into(), "2".into())],
            body: "slow down".into(),
        },
        ("/limited", _) => Reply::status(200),
        _ => Reply {
            status: 400,
            headers: Vec::new(),
            body: "{\"error\":\"invalid routing key format\"}".into(),
        },
    }));
    let dir = TempDir::new("channels-retry");
    let server = Server::start(
        dir.path(),
        &format!(
            "{}[alerts.limited]\nwebhook = \"{}\"\n[alerts.bad]\nwebhook = \"{}\"\n",
            view("\"limited\", \"bad\""),
            rx.url("/limited"),
            rx.url("/bad"),
        ),
    );
    fail(&server, "web.a");
    assert!(
        wait_until(WAIT, || rx.requests("/limited").len() == 2
            && server.log_text().contains("alert bad (webhook")),
        "log:\n{}",
        server.log_text()
    );
    let limited = rx.requests("/limited");
    let gap = limited[1].at.duration_since(limited[0].at);
    assert!(
        gap >= Duration::from_millis(1900),
        "Retry-After: 2 was not honoured (our backoff is 1 s): {gap:?}"
    );
    assert!(wait_until(WAIT, || server
        .log_text()
        .contains("alert limited sent (webhook")));
    assert_eq!(rx.requests("/bad").len(), 1, "a 400 is not retried");
    let log = server.log_text();
    assert!(
        log.contains("failed after 1 attempt(s): the receiver answered HTTP 400: {\"error\":\"invalid routing key format\"}"),
        "the provider's text is logged:\n{log}"
    );
}

#[test]
fn a_retry_after_beyond_the_budget_ends_the_delivery_at_once() {
    let rx = Receiver::start_with(Box::new(|_, _| Reply {
        status: 503,
        headers: vec![("Retry-After".into(), "3600".into())],
        body: "maintenance".into(),
    }));
    let dir = TempDir::new("channels-retry-long");
    let server = Server::start(
        dir.path(),
        &format!(
            "{}[alerts.busy]\nwebhook = \"{}\"\n",
            view("\"busy\""),
            rx.url("/busy")
        ),
    );
    fail(&server, "web.a");
    assert!(
        wait_until(WAIT, || server.log_text().contains("alert busy (webhook")),
        "log:\n{}",
        server.log_text()
    );
    assert_eq!(rx.requests("/busy").len(), 1, "an hour is not waited for");
}

/// Every channel of SPEC 16 at once, each with its own secret, all
/// pointed at a receiver that refuses everything and echoes the request
/// line back (as a careless provider would).
fn all_channels_config(rx: &Receiver) -> (String, Vec<&'static str>) {
    let secrets = vec![
        "NTFYTOKEN0secret",
        "TELEGRAMBOT0secret",
        "PDROUTING0secretkey",
        "GENIEKEY0secret",
        "DISCORDHOOK0secret",
        "TEAMSHOOK0secret",
        "PUSHOVERAPP0secret",
        "PUSHOVERUSER0secret",
        "GOTIFYTOKEN0secret",
        "MATRIXTOKEN0secret",
        "TEMPLATEAUTH0secret",
    ];
    let base = rx.url("");
    let config = format!(
        "{view}\
         [telegram]\nbot_token = \"TELEGRAMBOT0secret\"\napi_base = \"{base}\"\n\
         [pagerduty]\napi_base = \"{base}\"\n\
         [opsgenie]\napi_base = \"{base}\"\n\
         [pushover]\ntoken = \"PUSHOVERAPP0secret\"\napi_base = \"{base}\"\n\
         [matrix]\nhomeserver = \"{base}\"\naccess_token = \"MATRIXTOKEN0secret\"\n\
         [alerts.all]\n\
         ntfy = \"{base}/topic\"\nntfy_token = \"NTFYTOKEN0secret\"\n\
         telegram = \"-100123\"\n\
         pagerduty = \"PDROUTING0secretkey\"\n\
         opsgenie = \"GENIEKEY0secret\"\n\
         discord = \"{base}/api/webhooks/1/DISCORDHOOK0secret\"\n\
         teams = \"{base}/workflows/TEAMSHOOK0secret\"\n\
         pushover = \"PUSHOVERUSER0secret\"\n\
         gotify = \"{base}\"\ngotify_token = \"GOTIFYTOKEN0secret\"\n\
         matrix = \"!room:example.org\"\n\
         http = {{ url = \"{base}/tmpl\", method = \"POST\", headers = {{ Authorization = \"Bearer TEMPLATEAUTH0secret\" }}, body = \"{{{{view}}}}\" }}\n",
        view = view("\"all\""),
    );
    (config, secrets)
}

#[test]
fn no_secret_of_any_channel_appears_in_the_log_the_api_or_errors() {
    // 401 with the request's path and headers echoed in the body.
    let rx = Receiver::start_with(Box::new(|path, _| Reply {
        status: 401,
        headers: Vec::new(),
        body: format!("unauthorized request to {path}"),
    }));
    let dir = TempDir::new("channels-secrets");
    let (config, secrets) = all_channels_config(&rx);
    let server = Server::start(dir.path(), &config);
    fail(&server, "web.a");
    let failed = |log: &str| log.matches("for view web failed after").count();
    assert!(
        wait_until(WAIT, || failed(&server.log_text()) >= 10),
        "not every channel failed; log:\n{}",
        server.log_text()
    );
    assert!(rx.all().len() >= 10, "every channel sent something");
    let history = server.get("/api/alerts/history").text();
    let views = server.get("/api/views").text();
    let log = server.log_text();
    for secret in &secrets {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
        assert!(
            !history.contains(secret),
            "{secret} in the history: {history}"
        );
        assert!(!views.contains(secret), "{secret} in /api/views");
    }
    // -check-config and -test-alert say nothing secret either.
    let path = dir.path().join("lovebeat.toml");
    for args in [vec!["-check-config"], vec!["-test-alert", "all"]] {
        let out = Command::new(BIN)
            .arg("-config")
            .arg(&path)
            .args(&args)
            .output()
            .expect("run lovebeat");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for secret in &secrets {
            assert!(!text.contains(secret), "{secret} in {args:?}:\n{text}");
        }
    }
}
