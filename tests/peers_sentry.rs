//! Sentry Crons' check-in route on our port (SPEC 17), against the real
//! binary: Relay's answers byte for byte (raw requests) and what each
//! check-in does to its service.

mod common;

use common::{raw_request, Server, TempDir};
use serde_json::Value;

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
    let r = wire(
        &server,
        "POST",
        &format!("/api/7/cron/db-backup/{KEY}?status=ok&check_in_id={simple}"),
        "",
        b"",
    );
    assert_accepted(&r, "ok");
    let s = service(&server, "s.db-backup");
    assert_eq!(
        (
            s["open_runs"].as_i64().unwrap_or(0),
            s["state"].as_str(),
            s["last_duration"].is_i64()
        ),
        (0, Some("ok"), true),
        "{s}"
    );

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
    let r = wire(
        &server,
        "GET",
        "/api/7/cron/other/wrongkey/?status=ok",
        "",
        b"",
    );
    assert_eq!(r.status, 403, "{}", r.text());
    let r = wire(
        &server,
        "GET",
        &format!("/api/7/cron/other/{KEY}/"),
        "",
        b"",
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let r = wire(
        &server,
        "GET",
        &format!("/api/7/cron/other/{KEY}/?status=done"),
        "",
        b"",
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let r = wire(
        &server,
        "DELETE",
        &format!("/api/7/cron/other/{KEY}/?status=ok"),
        "",
        b"",
    );
    assert_eq!(r.status, 405, "{}", r.text());
    let auth = format!("Authorization: Bearer {TOKEN}\r\n");
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
    assert_ne!(r.status, 202, "{}", r.text());
}
