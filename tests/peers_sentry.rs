//! Sentry Crons' check-in route on our port (SPEC 17), against the real
//! binary: Relay's answers byte for byte (raw requests) and what each
//! check-in does to its service.

mod common;

use common::tools::{self, Tool};
use common::{raw_request, wait_until, Server, TempDir};
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

const KEY: &str = "0123456789abcdef0123456789abcdef";
const TOKEN: &str = "fedcba9876543210fedcba9876543210";
const CID: &str = "a460c25f-f3c3-4e4a-8a0b-7d1e2c3b4a5f";

fn start(dir: &TempDir, extra: &str) -> Server {
    let base = common::base_config(dir.path()).replace("[http]\nlisten = \"127.0.0.1:0\"\n", "");
    Server::start_with_config(
        dir.path(),
        &format!("{base}[http]\nlisten = \"127.0.0.1:0\"\nauth_token = \"{TOKEN}\"\n{extra}"),
    )
}

/// The whole answer to `method path` with `headers` and `body`.
fn wire(server: &Server, method: &str, path: &str, headers: &str, body: &[u8]) -> common::Response {
    let mut raw = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    raw_request(server.http, &raw)
}

fn service(server: &Server, name: &str) -> Value {
    server
        .service(name)
        .unwrap_or_else(|| panic!("no service {name}; log:\n{}", server.log_text()))
}

fn assert_accepted(r: &common::Response, what: &str) {
    assert_eq!((r.status, r.text().as_str()), (202, ""), "{what}");
    assert_eq!(r.header("Content-Type"), None, "{what}: axum's bare 202");
    assert_cors(r, what);
}

/// The headers of Relay's CORS layer on an answer that is not a preflight
/// (tower-http `CorsLayer`, `relay-server/src/middlewares/cors.rs`).
fn assert_cors(r: &common::Response, what: &str) {
    let all = |name: &str| -> Vec<&str> {
        r.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert_eq!(all("Access-Control-Allow-Origin"), ["*"], "{what}");
    assert_eq!(
        all("Vary"),
        [
            "origin",
            "access-control-request-method",
            "access-control-request-headers"
        ],
        "{what}"
    );
    assert_eq!(
        all("Access-Control-Expose-Headers"),
        ["x-sentry-error,x-sentry-rate-limits,retry-after"],
        "{what}"
    );
}

#[test]
fn cron_route_answers_as_relay() {
    let dir = TempDir::new("sentry-cron");
    let server = start(
        &dir,
        &format!("[sentry]\nkey = \"{KEY}\"\nprefix = \"s.\"\n"),
    );
    // Start, then close with the same id in the other uuid form.
    let r = wire(
        &server,
        "GET",
        &format!("/api/7/cron/DB-Backup/{KEY}/?status=in_progress&check_in_id={CID}"),
        "",
        b"",
    );
    assert_accepted(&r, "in_progress");
    assert_eq!(service(&server, "s.db-backup")["open_runs"], 1);
    let simple = CID.replace('-', "");
    // `duration` (seconds) is the run's duration: the client's own
    // measurement wins over the time since the paired start.
    let r = wire(
        &server,
        "POST",
        &format!("/api/7/cron/db-backup/{KEY}?status=ok&check_in_id={simple}&duration=2.5"),
        "",
        b"",
    );
    assert_accepted(&r, "ok");
    let s = service(&server, "s.db-backup");
    assert_eq!(
        (
            s["open_runs"].as_i64().unwrap_or(0),
            s["state"].as_str(),
            s["last_duration"].as_i64()
        ),
        (0, Some("ok"), Some(2_500)),
        "{s}"
    );
    let auth = format!("Authorization: Bearer {TOKEN}\r\n");
    let list = wire(
        &server,
        "GET",
        "/api/services/s.db-backup/events",
        &auth,
        b"",
    )
    .json();
    assert_eq!(
        list["events"]
            .as_array()
            .and_then(|e| e.last())
            .map(|e| e["duration"].clone()),
        Some(2_500.into()),
        "{list}"
    );
    // HEAD runs as GET (axum's method router).
    let r = wire(
        &server,
        "HEAD",
        &format!("/api/7/cron/db-backup/{KEY}/?status=error"),
        "",
        b"",
    );
    assert_eq!(r.status, 202);
    assert_eq!(service(&server, "s.db-backup")["state"], "error");

    // JSON body with monitor_config; the key in X-Sentry-Auth.
    let body =
        br#"{"status":"error","monitor_config":{"schedule":{"type":"crontab","value":"0 3 * * *"},
        "checkin_margin":5,"max_runtime":30,"timezone":"Europe/Paris"}}"#;
    let r = wire(
        &server,
        "POST",
        "/api/7/cron/nightly/",
        &format!("Content-Type: application/json\r\nX-Sentry-Auth: Sentry sentry_version=7, sentry_key={KEY}\r\n"),
        body,
    );
    assert_accepted(&r, "json");
    let s = service(&server, "s.nightly");
    assert_eq!(s["state"], "error", "{s}");
    assert_eq!(s["schedule"], "0 3 * * *", "{s}");
    assert_eq!(s["tz"], "Europe/Paris", "{s}");

    // Relay's refusals, and nothing changed by them.
    let r = wire(&server, "GET", "/api/7/cron/other/?status=ok", "", b"");
    assert_eq!(r.status, 401);
    assert_eq!(
        r.text(),
        r#"{"detail":"missing authorization information"}"#
    );
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_cors(&r, "401");
    let r = wire(
        &server,
        "GET",
        "/api/7/cron/other/wrongkey/?status=ok",
        "",
        b"",
    );
    assert_eq!(r.status, 403, "{}", r.text());
    // axum's rejections, text/plain: the query, then a JSON body.
    let text = |r: &common::Response| {
        (
            r.status,
            r.text(),
            r.header("Content-Type").map(str::to_owned),
        )
    };
    let plain = Some("text/plain; charset=utf-8".to_owned());
    let r = wire(
        &server,
        "GET",
        &format!("/api/7/cron/other/{KEY}/"),
        "",
        b"",
    );
    assert_eq!(
        text(&r),
        (
            400,
            "Failed to deserialize query string: missing field `status`".into(),
            plain.clone()
        )
    );
    assert_cors(&r, "400");
    for q in [
        "status=done",
        "status=ok&duration=soon",
        "status=ok&check_in_id=nope",
    ] {
        let r = wire(
            &server,
            "GET",
            &format!("/api/7/cron/other/{KEY}/?{q}"),
            "",
            b"",
        );
        assert_eq!(r.status, 400, "{q}: {}", r.text());
        assert!(
            r.text().starts_with("Failed to deserialize query string: "),
            "{q}: {}",
            r.text()
        );
    }
    let json = "Content-Type: application/json\r\n";
    let r = wire(
        &server,
        "POST",
        &format!("/api/7/cron/other/{KEY}/"),
        json,
        b"{",
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text()
            .starts_with("Failed to parse the request body as JSON: "),
        "{}",
        r.text()
    );
    let r = wire(
        &server,
        "POST",
        &format!("/api/7/cron/other/{KEY}/"),
        json,
        br#"{"status":"done"}"#,
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.text()
            .starts_with("Failed to deserialize the JSON body into the target type: "),
        "{}",
        r.text()
    );
    // A body over Relay's 1 MiB: axum's 413.
    let big = vec![b'x'; (1 << 20) + 1];
    let r = wire(
        &server,
        "POST",
        &format!("/api/7/cron/other/{KEY}/?status=ok"),
        "",
        &big,
    );
    assert_eq!(
        text(&r),
        (
            413,
            "Failed to buffer the request body: length limit exceeded".into(),
            plain
        )
    );
    assert_cors(&r, "413");
    // Other methods: axum's 405 naming GET's HEAD; OPTIONS is the CORS
    // layer's preflight.
    let r = wire(
        &server,
        "DELETE",
        &format!("/api/7/cron/other/{KEY}/?status=ok"),
        "",
        b"",
    );
    assert_eq!(
        (r.status, r.text().as_str(), r.header("Allow")),
        (405, "", Some("GET,HEAD,POST"))
    );
    assert_cors(&r, "405");
    let r = wire(
        &server,
        "OPTIONS",
        &format!("/api/7/cron/other/{KEY}/"),
        "Origin: https://app.example\r\nAccess-Control-Request-Method: POST\r\n",
        b"",
    );
    assert_eq!(
        (
            r.status,
            r.text().as_str(),
            r.header("Access-Control-Allow-Origin"),
            r.header("Access-Control-Allow-Methods"),
            r.header("Access-Control-Max-Age")
        ),
        (200, "", Some("*"), Some("POST"), Some("3600"))
    );
    assert!(r
        .header("Access-Control-Allow-Headers")
        .is_some_and(|h| h.split(',').any(|h| h == "x-sentry-auth")));
    let r = wire(&server, "GET", "/api/services/s.other", &auth, b"");
    assert_eq!(
        r.status,
        404,
        "refused check-ins make no service: {}",
        r.text()
    );
}

#[test]
fn off_unless_configured() {
    let dir = TempDir::new("sentry-off");
    let server = start(&dir, "");
    let r = wire(
        &server,
        "GET",
        &format!("/api/7/cron/db/{KEY}/?status=ok"),
        "",
        b"",
    );
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(server.service("db").is_none());
}

/// The `sentry-sdk` client, unchanged: `capture_checkin` pairs a start
/// and its end by id, `@monitor` sends its config and an error.
const CLIENT: &str = r#"
import sys, time, sentry_sdk
from sentry_sdk.crons import capture_checkin, monitor
from sentry_sdk.crons.consts import MonitorStatus
sentry_sdk.init(dsn=sys.argv[1], default_integrations=False)
cid = capture_checkin(monitor_slug="Nightly-Report", status=MonitorStatus.IN_PROGRESS)
capture_checkin(monitor_slug="Nightly-Report", check_in_id=cid,
                status=MonitorStatus.OK, duration=1.5)
cfg = {"schedule": {"type": "crontab", "value": "30 2 * * *"},
       "timezone": "Europe/Paris", "checkin_margin": 10, "max_runtime": 60}
@monitor(monitor_slug="etl", monitor_config=cfg)
def job():
    time.sleep(0.2)
    raise RuntimeError("boom")
try:
    job()
except RuntimeError:
    pass
sentry_sdk.flush(timeout=10)
"#;

#[test]
fn the_sentry_sdk_unchanged() {
    if !tools::available(
        "the sentry-sdk client test",
        &[Tool::Program("python3"), Tool::PythonModule("sentry_sdk")],
    ) {
        return;
    }
    let dir = TempDir::new("sentry-sdk");
    let server = start(&dir, &format!("[sentry]\nkey = \"{KEY}\"\n"));
    let dsn = format!("http://{KEY}@{}/7", server.http);
    let status = Command::new("python3")
        .args(["-c", CLIENT, &dsn])
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .expect("run python3");
    assert!(status.success(), "the client script failed");
    // The SDK sends from a background thread; flush waited for it, but
    // poll in case the last request is still being applied.
    assert!(wait_until(WAIT, || server
        .service("etl")
        .is_some_and(|s| s["state"] == "error")));
    let etl = service(&server, "etl");
    assert_eq!(
        (etl["schedule"].as_str(), etl["tz"].as_str()),
        (Some("30 2 * * *"), Some("Europe/Paris")),
        "{etl}"
    );
    let s = service(&server, "nightly-report");
    // `duration=1.5` as the client sent it, not the moments between its
    // two requests.
    assert_eq!(
        (
            s["state"].as_str(),
            s["open_runs"].as_i64().unwrap_or(0),
            s["last_duration"].as_i64()
        ),
        (Some("ok"), 0, Some(1_500)),
        "{s}"
    );
    // `@monitor` timed the job (it slept 0.2 s) and sent its duration.
    assert!(
        etl["last_duration"].as_i64().is_some_and(|d| d >= 200),
        "{etl}"
    );
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

#[test]
fn envelopes_as_relay() {
    let dir = TempDir::new("sentry-envelope");
    let server = start(&dir, &format!("[sentry]\nkey = \"{KEY}\"\n"));
    let auth = format!("X-Sentry-Auth: Sentry sentry_version=7, sentry_key={KEY}\r\n");
    let envelope = format!(
        "{{\"event_id\":\"{CID}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"hi\"}}\n\
         {{\"type\":\"check_in\"}}\n{{\"check_in_id\":\"{CID}\",\"monitor_slug\":\"Sync\",\"status\":\"in_progress\"}}\n"
    );
    let headers =
        format!("{auth}Content-Encoding: gzip\r\nContent-Type: application/x-sentry-envelope\r\n");
    let r = wire(
        &server,
        "POST",
        "/api/7/envelope/",
        &headers,
        &gzip(envelope.as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // `StoreResponse` (`endpoints/envelope.rs`): the event id's simple form.
    assert_eq!(r.text(), format!("{{\"id\":\"{}\"}}", CID.replace('-', "")));
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_cors(&r, "envelope 200");
    assert_eq!(service(&server, "sync")["open_runs"], 1);
    // No event id: `{}`; the key from the header's dsn.
    let item = format!(
        "{{\"check_in_id\":\"{}\",\"monitor_slug\":\"sync\",\"status\":\"ok\"}}",
        CID.replace('-', "")
    );
    let envelope = format!(
        "{{\"dsn\":\"http://{KEY}@h/7\"}}\n{{\"type\":\"check_in\",\"length\":{}}}\n{item}\n",
        item.len()
    );
    let r = wire(&server, "POST", "/api/7/envelope", "", envelope.as_bytes());
    assert_eq!((r.status, r.text().as_str()), (200, "{}"));
    assert_eq!(
        service(&server, "sync")["open_runs"].as_i64().unwrap_or(0),
        0
    );
    // A gzip bomb, a broken envelope, a wrong key: refused, nothing made.
    let bomb = gzip(&vec![b' '; 8 << 20]);
    let headers = format!("{auth}Content-Encoding: gzip\r\n");
    let r = wire(&server, "POST", "/api/7/envelope/", &headers, &bomb);
    assert_eq!(
        (r.status, r.text().as_str()),
        (
            413,
            "Failed to buffer the request body: length limit exceeded"
        )
    );
    let r = wire(&server, "GET", "/api/7/envelope/", &auth, b"");
    assert_eq!((r.status, r.header("Allow")), (405, Some("POST")));
    let r = wire(&server, "POST", "/api/7/envelope/", &auth, b"nope\n");
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["detail"], "invalid event envelope");
    let wrong = "X-Sentry-Auth: Sentry sentry_key=nope\r\n";
    let env = "{}\n{\"type\":\"check_in\"}\n{\"monitor_slug\":\"x\",\"status\":\"ok\"}\n";
    let r = wire(&server, "POST", "/api/7/envelope/", wrong, env.as_bytes());
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(server.service("x").is_none());
}
