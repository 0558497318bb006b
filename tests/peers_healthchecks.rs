//! healthchecks.io's ping API on our port (SPEC 17), against the real
//! binary: every answer byte for byte as healthchecks gives it (raw
//! requests), what each ping does to its service, and the `healthchecks-io`
//! Python client from PyPI, unchanged, with its `ping_url` pointed at us.

mod common;

use common::tools::{self, Tool};
use common::{raw_request, wait_until, Server, TempDir};
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);
const KEY: &str = "fqOOd6-F4MMNuCEnzTU01w";
const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const U: &str = "5bf66975-d4c7-4bf5-bcc8-b8d8a82ea278";
const RID: &str = "123e4567-e89b-12d3-a456-426614174000";

fn config(extra: &str) -> String {
    format!(
        "[http]\nlisten = \"127.0.0.1:0\"\nauth_token = \"{TOKEN}\"\n\
         [limits]\nmax_body_bytes = 16\n{extra}"
    )
}

fn start(dir: &TempDir, extra: &str) -> Server {
    let base = common::base_config(dir.path()).replace("[http]\nlisten = \"127.0.0.1:0\"\n", "");
    Server::start_with_config(dir.path(), &format!("{base}{}", config(extra)))
}

/// The whole answer to `method path` with `body`, as sent on the wire.
fn wire(server: &Server, method: &str, path: &str, body: &[u8]) -> common::Response {
    wire_with(server, method, path, "", body)
}

/// `wire` with more header lines (each ending in `\r\n`).
fn wire_with(
    server: &Server,
    method: &str,
    path: &str,
    headers: &str,
    body: &[u8],
) -> common::Response {
    let mut raw = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    raw_request(server.http, &raw)
}

/// Status, body and the headers healthchecks sets.
fn assert_answer(r: &common::Response, status: u16, body: &str, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.text());
    assert_eq!(r.text(), body, "{what}");
    assert_eq!(
        r.header("Content-Type"),
        Some("text/html; charset=utf-8"),
        "{what}"
    );
    let ok = status == 200 || status == 201;
    assert_eq!(
        r.header("Ping-Body-Limit"),
        ok.then_some("16"),
        "{what}: only `ping` sets it"
    );
    assert_eq!(
        r.header("Access-Control-Allow-Origin"),
        ok.then_some("*"),
        "{what}"
    );
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

#[test]
fn every_answer_is_healthchecks_own() {
    let dir = TempDir::new("hc-raw");
    let server = start(
        &dir,
        &format!("[healthchecks]\nping_key = \"{KEY}\"\nprefix = \"hc.\"\n"),
    );
    let name = format!("hc.{U}");

    // With [http] auth_token set, a uuid no service has is healthchecks'
    // unknown check without the token: 404 `not found`, counted, nothing
    // made (any uuid would otherwise create a service).
    let r = wire(&server, "GET", &format!("/ping/{U}"), b"");
    assert_answer(&r, 404, "not found", "unknown uuid, no token");
    let r = wire_with(
        &server,
        "GET",
        &format!("/ping/{U}"),
        "Authorization: Bearer nope\r\n",
        b"",
    );
    assert_answer(&r, 404, "not found", "unknown uuid, wrong token");
    assert!(server.service(&name).is_none());
    let metrics = server.get("/metrics").text();
    assert!(
        metrics
            .lines()
            .any(|l| l == "lovebeat_peer_unknown_total 2"),
        "{metrics}"
    );
    // With the token, the first ping creates it; later ones need none.
    let bearer = format!("Authorization: Bearer {TOKEN}\r\n");
    let r = wire_with(&server, "GET", &format!("/ping/{U}/log"), &bearer, b"");
    assert_answer(&r, 200, "OK", "created with the token");
    let r = wire(&server, "GET", &format!("/ping/{U}"), b"");
    assert_answer(&r, 200, "OK", "success by uuid");
    assert_eq!(
        r.header("Cache-Control"),
        Some("max-age=0, no-cache, no-store, must-revalidate, private")
    );
    assert_eq!(service(&server, &name)["state"], "ok");
    // Our own API still wants the token.
    assert_eq!(server.post(&format!("/api/services/{name}")).status, 401);

    // start with a rid, then exit code 3 with the output, cut at 16 bytes.
    let r = wire(&server, "POST", &format!("/ping/{U}/start?rid={RID}"), b"");
    assert_answer(&r, 200, "OK", "start");
    assert_eq!(service(&server, &name)["open_runs"], 1);
    let r = wire(
        &server,
        "POST",
        &format!("/ping/{U}/3?rid={RID}"),
        b"tar: no space left on device\n",
    );
    assert_answer(&r, 200, "OK", "exit 3");
    let s = service(&server, &name);
    assert_eq!(
        (s["state"].as_str(), s["reason"].as_str()),
        (Some("error"), Some("failed")),
        "{s}"
    );
    assert_eq!(s["last_exit_code"], 3, "{s}");
    let list = events(&server, &name);
    let last = list.last().cloned().unwrap_or_default();
    assert_eq!(last["kind"], "exit", "{last}");
    assert_eq!(last["rid"], RID, "{last}");
    assert_eq!(last["body"], "tar: no space le", "{last}");
    assert_eq!(last["body_truncated"], true, "{last}");

    // log changes nothing; HEAD and a trailing slash are a success.
    let r = wire(&server, "POST", &format!("/ping/{U}/log"), b"progress");
    assert_answer(&r, 200, "OK", "log");
    assert_eq!(service(&server, &name)["state"], "error");
    let r = wire(&server, "HEAD", &format!("/ping/{U}/"), b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Ping-Body-Limit"), Some("16"));
    assert!(wait_until(WAIT, || service(&server, &name)["state"] == "ok"));
    let r = wire(&server, "GET", &format!("/ping/{U}/fail"), b"");
    assert_answer(&r, 200, "OK", "fail");
    assert_eq!(service(&server, &name)["reason"], "failed");

    // Bad input: healthchecks' 400s, nothing changed.
    let before = events(&server, &name).len();
    assert_answer(
        &wire(&server, "GET", &format!("/ping/{U}/256"), b""),
        400,
        "invalid url format",
        "exit 256",
    );
    for rid in ["12345", "684e2e73-017e-465f-8149-d70b7c5aaa490", "run-1"] {
        assert_answer(
            &wire(&server, "GET", &format!("/ping/{U}?rid={rid}"), b""),
            400,
            "invalid uuid format",
            rid,
        );
    }
    assert_eq!(
        events(&server, &name).len(),
        before,
        "a 400 records nothing"
    );

    // Unknown paths and upper-case uuids: 404 `not found`, nothing made.
    let upper = U.to_uppercase();
    for path in [
        format!("/ping/{upper}"),
        "/ping/not-a-uuid".to_owned(),
        format!("/ping/{U}/start/"),
        format!("/ping/{U}/other"),
    ] {
        assert_answer(&wire(&server, "GET", &path, b""), 404, "not found", &path);
    }

    // Slug URLs: unknown without create=1 is 404; create=1 is 201 once.
    let slug = |s: &str| format!("/ping/{KEY}/{s}");
    assert_answer(
        &wire(&server, "GET", &slug("db-backup"), b""),
        404,
        "not found",
        "unknown slug",
    );
    assert!(server.service("hc.db-backup").is_none());
    assert_answer(
        &wire(
            &server,
            "GET",
            &(slug("db-backup") + "/start?create=1"),
            b"",
        ),
        201,
        "Created",
        "create",
    );
    assert_eq!(service(&server, "hc.db-backup")["open_runs"], 1);
    assert_answer(
        &wire(&server, "GET", &(slug("db-backup") + "?create=1"), b""),
        200,
        "OK",
        "again",
    );
    assert_answer(
        &wire(&server, "POST", &(slug("db-backup") + "/0"), b""),
        200,
        "OK",
        "exit 0",
    );
    assert_eq!(service(&server, "hc.db-backup")["state"], "ok");
    // A wrong key, an upper-case slug, a trailing slash.
    assert_answer(
        &wire(&server, "GET", "/ping/wrongkey/db-backup?create=1", b""),
        404,
        "not found",
        "wrong key",
    );
    assert_answer(
        &wire(&server, "GET", &slug("DB-backup"), b""),
        400,
        "invalid url format",
        "upper",
    );
    assert_answer(
        &wire(&server, "GET", &(slug("db-backup") + "/"), b""),
        404,
        "not found",
        "slash",
    );
    assert_answer(
        &wire(&server, "GET", &(slug("db-backup") + "/1000"), b""),
        400,
        "invalid url format",
        "slug exit 1000",
    );
    assert!(server.service("db-backup").is_none() && server.service("hc.wrongkey").is_none());
}

#[test]
fn off_unless_configured_and_slugs_need_a_key() {
    let dir = TempDir::new("hc-off");
    let server = start(&dir, "");
    let r = wire(&server, "GET", &format!("/ping/{U}"), b"");
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(r.json()["error"].is_string(), "our own 404: {}", r.text());
    assert!(server.service(U).is_none());
    drop(server);

    // A section without ping_key: uuid URLs only. With no auth_token, a
    // uuid creates its service on first use, tokenless.
    let dir = TempDir::new("hc-nokey");
    let base = common::base_config(dir.path());
    let server = Server::start_with_config(
        dir.path(),
        &format!("{base}[limits]\nmax_body_bytes = 16\n[healthchecks]\n"),
    );
    assert_answer(
        &wire(&server, "GET", &format!("/ping/{U}"), b""),
        200,
        "OK",
        "uuid",
    );
    assert_eq!(
        server.service(U).map(|s| s["state"].clone()),
        Some("ok".into())
    );
    assert_answer(
        &wire(&server, "GET", "/ping/anykey/job?create=1", b""),
        404,
        "not found",
        "no key configured",
    );
}

/// The `healthchecks-io` client's sync `Client` and `CheckTrap`, unchanged:
/// only `ping_url` and `ping_key` are set, as a user switching would.
const CLIENT: &str = r#"
import json, sys
from healthchecks_io import Client, CheckTrap, CheckNotFoundError, BadAPIRequestError
url, key, uuid = sys.argv[1], sys.argv[2], sys.argv[3]
c = Client(ping_url=url, ping_key=key)
out = {}
out["success"] = c.success_ping(uuid=uuid)
out["start"] = c.start_ping(uuid=uuid)
out["exit"] = c.exit_code_ping(4, uuid=uuid, data="exit four")
out["fail_slug"] = c.fail_ping(slug="nightly", data="disk full")
try:
    c.success_ping(slug="unknown-job")
    out["unknown"] = "no error"
except CheckNotFoundError:
    out["unknown"] = "CheckNotFoundError"
try:
    c.exit_code_ping(256, uuid=uuid)
    out["exit256"] = "no error"
except BadAPIRequestError:
    out["exit256"] = "BadAPIRequestError"
with CheckTrap(c, slug="trapped"):
    pass
print(json.dumps(out))
"#;

#[test]
fn the_healthchecks_io_client_unchanged() {
    if !tools::available(
        "the healthchecks-io client test",
        &[
            Tool::Program("python3"),
            Tool::PythonModule("healthchecks_io"),
        ],
    ) {
        return;
    }
    let dir = TempDir::new("hc-client");
    // The uuid check is declared in the configuration (the token is set:
    // an undeclared uuid would be an unknown check).
    let server = start(
        &dir,
        &format!(
            "[healthchecks]\nping_key = \"{KEY}\"\n[[services]]\npattern = \"{U}\"\ntimeout = \"1h\"\n"
        ),
    );
    // Slug checks exist before their client pings them (create=1, once).
    for slug in ["nightly", "trapped"] {
        let r = wire(
            &server,
            "GET",
            &format!("/ping/{KEY}/{slug}/log?create=1"),
            b"",
        );
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let url = format!("http://{}/ping/", server.http);
    let output = Command::new("python3")
        .args(["-c", CLIENT, &url, KEY, U])
        .stderr(Stdio::inherit())
        .output()
        .expect("run python3");
    assert!(output.status.success(), "the client script failed");
    let out: Value = serde_json::from_slice(&output.stdout).expect("the script's JSON");
    for key in ["success", "start", "exit", "fail_slug"] {
        assert_eq!(out[key], serde_json::json!([true, "OK"]), "{key}: {out}");
    }
    assert_eq!(out["unknown"], "CheckNotFoundError", "{out}");
    assert_eq!(out["exit256"], "BadAPIRequestError", "{out}");

    let s = service(&server, U);
    assert_eq!(
        (s["state"].as_str(), s["last_exit_code"].as_i64()),
        (Some("error"), Some(4)),
        "{s}"
    );
    let last = events(&server, U).last().cloned().unwrap_or_default();
    assert_eq!(last["body"], "exit four", "{last}");
    assert_eq!(service(&server, "nightly")["reason"], "failed");
    let trapped = events(&server, "trapped");
    let kinds: Vec<&str> = trapped.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds, ["log", "start", "success"], "{trapped:?}");
    assert_eq!(service(&server, "trapped")["state"], "ok");
    assert!(server.service("unknown-job").is_none());
}
