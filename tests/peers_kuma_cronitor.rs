//! Uptime Kuma's push route and Cronitor's telemetry route on our port
//! (SPEC 17), against the real binary: Kuma's answers byte for byte (raw
//! requests, as Kuma's docs show pushes), what each push or event does to
//! its service, both off unless configured, and the `cronitor` Python
//! client from PyPI, unchanged but for its ping URL pointed at us.

mod common;

use common::tools::{self, Tool};
use common::{raw_request, Server, TempDir};
use serde_json::Value;
use std::process::{Command, Stdio};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const KEY: &str = "cr0n1t0r-KEY_42";
const PUSH: &str = "Ab3dEf9hIj";
const NOT_FOUND: &str = r#"{"ok":false,"msg":"Monitor not found or not active."}"#;

fn start(dir: &TempDir, extra: &str) -> Server {
    let base = common::base_config(dir.path()).replace("[http]\nlisten = \"127.0.0.1:0\"\n", "");
    Server::start_with_config(
        dir.path(),
        &format!(
            "{base}[http]\nlisten = \"127.0.0.1:0\"\nauth_token = \"{TOKEN}\"\n\
             [limits]\nmax_body_bytes = 16\n{extra}"
        ),
    )
}

/// The whole answer to `method path` with `body`, no token sent.
fn wire(server: &Server, method: &str, path: &str, body: &[u8]) -> common::Response {
    let mut raw = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
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

fn events(server: &Server, name: &str) -> Vec<Value> {
    let v = server.json(&format!("/api/services/{name}/events"));
    v["events"].as_array().cloned().unwrap_or_default()
}

fn assert_kuma(r: &common::Response, status: u16, body: &str, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.text());
    assert_eq!(r.text(), body, "{what}");
    assert_eq!(
        r.header("Content-Type"),
        Some("application/json; charset=utf-8"),
        "{what}"
    );
}

#[test]
fn uptime_kuma_push_as_kuma_answers() {
    let dir = TempDir::new("kuma-raw");
    let server = start(&dir, "[uptime_kuma]\nenabled = true\nprefix = \"kuma.\"\n");
    let name = format!("kuma.{}", PUSH.to_lowercase());
    // With our auth_token set, a push token no service has creates nothing
    // unless the push sends the token: Kuma's own "not found", counted.
    let unknown = wire(&server, "GET", &format!("/api/push/{PUSH}?status=up"), b"");
    assert_kuma(&unknown, 404, NOT_FOUND, "unknown token, no auth_token");
    assert!(server.service(&name).is_none(), "created without the token");
    let metrics = server.get("/metrics").text();
    assert!(
        metrics
            .lines()
            .any(|l| l == "lovebeat_peer_unknown_total 1"),
        "{metrics}"
    );
    let created = raw_request(
        server.http,
        format!(
            "GET /api/push/{PUSH}?status=up HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             Authorization: Bearer {TOKEN}\r\n\r\n"
        )
        .as_bytes(),
    );
    assert_kuma(&created, 200, r#"{"ok":true}"#, "created with the token");
    // From then on the push token alone is the credential, as in Kuma.
    // Kuma's docs: GET /api/push/<token>?status=up&msg=OK&ping=
    let up = wire(
        &server,
        "GET",
        &format!("/api/push/{PUSH}?status=up&msg=OK&ping="),
        b"",
    );
    assert_kuma(&up, 200, r#"{"ok":true}"#, "up");
    assert_eq!(service(&server, &name)["state"], "ok");
    // Any method (router.all); down is a fail with msg as its output.
    let down = wire(
        &server,
        "POST",
        &format!("/api/push/{PUSH}?status=down&msg=disk%20full&ping=12.5"),
        b"",
    );
    assert_kuma(&down, 200, r#"{"ok":true}"#, "down");
    let s = service(&server, &name);
    assert_eq!(
        (&s["state"], &s["reason"]),
        (&"error".into(), &"failed".into()),
        "{s}"
    );
    let last = events(&server, &name).last().cloned().unwrap_or_default();
    assert_eq!(
        (&last["kind"], &last["body"]),
        (&"fail".into(), &"disk full".into()),
        "{last}"
    );
    // `ping` (ms) is the run's duration, rounded.
    assert_eq!(
        (&last["duration"], &s["last_duration"]),
        (&13.into(), &13.into()),
        "{last} {s}"
    );
    // No status is up again; a long msg is cut at max_body_bytes.
    let r = wire(
        &server,
        "HEAD",
        &format!("/api/push/{PUSH}/?msg={}", "x".repeat(40)),
        b"",
    );
    assert_eq!(r.status, 200);
    assert_eq!(service(&server, &name)["state"], "ok");
    let last = events(&server, &name).last().cloned().unwrap_or_default();
    assert_eq!(
        (&last["body"], &last["body_truncated"]),
        (&"x".repeat(16).into(), &true.into()),
        "{last}"
    );

    // Kuma's errors change nothing.
    let n = events(&server, &name).len();
    let bad_ping = wire(
        &server,
        "GET",
        &format!("/api/push/{PUSH}?status=down&ping=-5"),
        b"",
    );
    assert_kuma(
        &bad_ping,
        404,
        r#"{"ok":false,"msg":"Invalid ping value. Must be between 0 and 100000000000 ms."}"#,
        "ping out of range",
    );
    assert_eq!(events(&server, &name).len(), n);
    assert_eq!(service(&server, &name)["state"], "ok");
    for bad in [
        "/api/push/a%20b",
        "/api/push/",
        "/api/push/a/b",
        &format!("/api/push/{}", "t".repeat(250)),
    ] {
        assert_kuma(&wire(&server, "GET", bad, b""), 404, NOT_FOUND, bad);
    }
    // The token is the credential; the rest of the API still asks for ours.
    assert_eq!(
        wire(&server, "POST", "/api/services/other/success", b"").status,
        401
    );
}

#[test]
fn off_unless_configured() {
    let dir = TempDir::new("kuma-off");
    let server = start(&dir, "[uptime_kuma]\nenabled = false\n");
    let r = wire(&server, "GET", &format!("/api/push/{PUSH}?status=up"), b"");
    assert_ne!(r.text(), r#"{"ok":true}"#);
    let r = wire(&server, "GET", &format!("/p/{KEY}/job?state=run"), b"");
    assert_ne!(r.status, 200, "{}", r.text());
    assert!(server.service(&PUSH.to_lowercase()).is_none());
    assert!(server.service("job").is_none());
}

#[test]
fn cronitor_events() {
    let dir = TempDir::new("cronitor-raw");
    let server = start(
        &dir,
        &format!("[cronitor]\nkey = \"{KEY}\"\nprefix = \"cr.\"\n"),
    );
    // A run and its completion, paired by series, as Cronitor's docs show.
    for q in [
        "state=run&series=s-1",
        "state=complete&series=s-1&message=done&metric=duration:3",
    ] {
        let r = wire(&server, "GET", &format!("/p/{KEY}/Nightly-Job?{q}"), b"");
        assert_eq!((r.status, r.text()), (200, String::new()), "{q}");
    }
    let list = events(&server, "cr.nightly-job");
    // `metric=duration:3` is the run's duration as the client timed it,
    // not the moment between the two requests.
    assert_eq!(list[1]["duration"], 3_000, "{list:?}");
    assert_eq!(service(&server, "cr.nightly-job")["last_duration"], 3_000);
    let kinds: Vec<(&str, &str)> = list
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or(""),
                e["rid"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(kinds, [("start", "s-1"), ("success", "s-1")], "{list:?}");
    assert_eq!(list[1]["body"], "done");
    assert_eq!(service(&server, "cr.nightly-job")["state"], "ok");
    // fail with an exit code; POST's body is the output when no message.
    let r = wire(
        &server,
        "POST",
        &format!("/p/{KEY}/nightly-job?state=fail&status_code=3"),
        b"boom",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let s = service(&server, "cr.nightly-job");
    assert_eq!(
        (&s["state"], &s["last_exit_code"]),
        (&"error".into(), &3.into()),
        "{s}"
    );
    assert_eq!(
        events(&server, "cr.nightly-job")
            .last()
            .cloned()
            .unwrap_or_default()["body"],
        "boom"
    );
    // HEAD with no state is a heartbeat: a success.
    assert_eq!(
        wire(&server, "HEAD", &format!("/p/{KEY}/nightly-job"), b"").status,
        200
    );
    assert_eq!(service(&server, "cr.nightly-job")["state"], "ok");

    // Refusals change nothing.
    let n = events(&server, "cr.nightly-job").len();
    for (method, path, status) in [
        ("GET", "/p/wrong-key/nightly-job?state=fail".to_owned(), 403),
        ("GET", format!("/p/{KEY}/nightly-job?state=pause"), 400),
        (
            "GET",
            format!("/p/{KEY}/nightly-job?state=fail&series=a%20b"),
            400,
        ),
        (
            "GET",
            format!("/p/{KEY}/nightly-job?state=fail&status_code=300"),
            400,
        ),
        ("DELETE", format!("/p/{KEY}/nightly-job?state=fail"), 405),
        ("GET", format!("/p/{KEY}/bad%20name?state=fail"), 400),
        (
            "GET",
            format!("/p/{KEY}/nightly-job?state=fail&metric=duration:soon"),
            400,
        ),
        ("GET", format!("/p/{KEY}"), 404),
    ] {
        assert_eq!(
            wire(&server, method, &path, b"").status,
            status,
            "{method} {path}"
        );
    }
    assert_eq!(events(&server, "cr.nightly-job").len(), n);
    assert_eq!(service(&server, "cr.nightly-job")["state"], "ok");
}

/// The `cronitor` client, unchanged but for `Monitor._ping_api_url`, which
/// builds `https://cronitor.link/p/<api_key>/<key>` (cronitor/monitor.py):
/// only its host is ours. `cronitor.job` pings run, then complete or fail
/// with the same `series`.
const CLIENT: &str = r#"
import sys, time, cronitor
base, key = sys.argv[1], sys.argv[2]
cronitor.Monitor._ping_api_url = lambda self: "{}/p/{}/{}".format(base, self.api_key, self.key)
cronitor.api_key = key

@cronitor.job("py-ok")
def ok():
    time.sleep(0.2)
    return "all good"

@cronitor.job("py-fail")
def fail():
    raise RuntimeError("it broke")

ok()
try:
    fail()
except RuntimeError:
    pass
cronitor.Monitor("py-beat").ping(state="run")
cronitor.Monitor("py-beat").ok()
"#;

#[test]
fn the_cronitor_client_unchanged() {
    if !tools::available(
        "the cronitor client test",
        &[Tool::Program("python3"), Tool::PythonModule("cronitor")],
    ) {
        return;
    }
    let dir = TempDir::new("cronitor-client");
    let server = start(&dir, &format!("[cronitor]\nkey = \"{KEY}\"\n"));
    let status = Command::new("python3")
        .args(["-c", CLIENT, &format!("http://{}", server.http), KEY])
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .expect("run python3");
    assert!(status.success(), "the client script failed");

    let ok = events(&server, "py-ok");
    let kinds: Vec<&str> = ok.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds, ["start", "success"], "{ok:?}");
    assert!(
        ok[0]["rid"].is_string() && ok[0]["rid"] == ok[1]["rid"],
        "{ok:?}"
    );
    assert_eq!(ok[1]["body"], "all good");
    // `@cronitor.job` timed the function (it slept 0.2 s) and sent
    // `metric=duration:<seconds>`.
    assert!(
        ok[1]["duration"].as_i64().is_some_and(|d| d >= 200),
        "{ok:?}"
    );
    assert_eq!(service(&server, "py-ok")["state"], "ok");
    let failed = events(&server, "py-fail");
    let kinds: Vec<&str> = failed.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds, ["start", "fail"], "{failed:?}");
    assert_eq!(failed[1]["body"], "it broke");
    assert_eq!(service(&server, "py-fail")["reason"], "failed");
    let beat = events(&server, "py-beat");
    let kinds: Vec<&str> = beat.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds, ["start", "success"], "{beat:?}");
}
