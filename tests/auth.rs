//! The access token (`[http] auth_token`, `auth_read`), the websocket's
//! Origin check and the security headers, against the real binary over
//! real sockets. `[[notify]] token` and the nagios plugin with a token are
//! in `tests/auth_clients.rs`.

mod common;

use common::{raw_request_then_eof, request, Response, Server, TempDir};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const TOKEN: &str = "integration-token-0123456789";

fn with_token(read: bool) -> String {
    format!("auth_token = \"{TOKEN}\"\nauth_read = {read}\n")
}

/// A server whose `[http]` section also has `http_extra`.
fn start(dir: &TempDir, http_extra: &str) -> Server {
    let http = "[http]\nlisten = \"127.0.0.1:0\"\n";
    let config = common::base_config(dir.path()).replace(http, &format!("{http}{http_extra}"));
    Server::start_with_config(dir.path(), &config)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn call(s: &Server, method: &str, path: &str, auth: Option<&str>) -> Response {
    let value = auth.map(bearer);
    let headers: Vec<(&str, &str)> = value
        .as_deref()
        .map(|v| vec![("Authorization", v)])
        .unwrap_or_default();
    s.request(method, path, &headers, b"")
}

/// A 401 as the API promises it: JSON error and a Bearer challenge.
fn assert_401(r: &Response, what: &str) {
    assert_eq!(r.status, 401, "{what}: {}", r.text());
    assert!(r.json()["error"].is_string(), "{what}: {}", r.text());
    let challenge = r.header("WWW-Authenticate").unwrap_or("");
    assert!(
        challenge.starts_with("Bearer realm=\"lovebeat\""),
        "{what}: {challenge}"
    );
    assert_eq!(r.header("Cache-Control"), Some("no-store"), "{what}");
}

/// The status line and headers of a websocket handshake (the connection
/// is dropped right after, so a 101 does not leave us reading forever).
fn ws_handshake(addr: SocketAddr, extra: &[(&str, &str)]) -> Response {
    let mut head = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    stream.write_all(head.as_bytes()).expect("write");
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    // Up to the end of the head; for a refusal also its JSON body.
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let r = common::parse_response(&data);
            let want = r
                .header("Content-Length")
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if data.len() >= end + 4 + want {
                return r;
            }
        }
    }
    common::parse_response(&data)
}

fn subprotocol(token: &str) -> String {
    format!(
        "lovebeat, bearer.{}",
        lovebeat::base64::url_unpadded(token.as_bytes())
    )
}

#[test]
fn without_a_token_everything_stays_open() {
    let dir = TempDir::new("auth-open");
    let s = start(&dir, "");
    assert_eq!(s.post("/api/services/a.b?timeout=60").status, 200);
    assert_eq!(s.post("/api/services/a.b/mute").status, 200);
    assert_eq!(s.service("a.b").expect("a.b")["state"], "muted");
    assert_eq!(
        s.request("DELETE", "/api/services/a.b", &[], b"").status,
        200
    );
    assert!(s.service("a.b").is_none());
    // A stray Authorization header changes nothing.
    let r = s.request(
        "POST",
        "/api/services/c.d",
        &[("Authorization", "junk")],
        b"",
    );
    assert_eq!(r.status, 200);
    for path in ["/api/services", "/metrics", "/status", "/version", "/"] {
        assert_eq!(s.get(path).status, 200, "{path}");
    }
    assert_eq!(ws_handshake(s.http, &[]).status, 101);
    // No Origin check without a token either (as in 1.x): the seed's nginx
    // block sends `Host: localhost:8080` whatever the browser's origin.
    let foreign = [("Origin", "http://mon.example.com")];
    assert_eq!(ws_handshake(s.http, &foreign).status, 101);
    assert!(!s.log_text().contains("access token required"));
}

#[test]
fn token_guards_changes_and_leaves_reads_open() {
    let dir = TempDir::new("auth-write");
    let s = start(&dir, &with_token(false));
    assert!(s
        .log_text()
        .contains("HTTP access token required for changes"));
    assert_eq!(
        call(&s, "POST", "/api/services/keep.me?timeout=60", Some(TOKEN)).status,
        200
    );

    let wrong = "integration-token-012345678X";
    for auth in [None, Some(wrong), Some("short")] {
        let what = format!("{auth:?}");
        assert_401(&call(&s, "POST", "/api/services/new.one", auth), &what);
        assert_401(&call(&s, "POST", "/api/services/keep.me/mute", auth), &what);
        assert_401(
            &call(&s, "POST", "/api/services/keep.me?timeout=5", auth),
            &what,
        );
        assert_401(&call(&s, "DELETE", "/api/services/keep.me", auth), &what);
    }
    // Nothing changed: checked through the (open) reads.
    assert!(
        s.service("new.one").is_none(),
        "a refused beat created nothing"
    );
    let keep = s.service("keep.me").expect("keep.me still there");
    assert_eq!(keep["state"], "ok");
    assert_eq!(keep["timeout"], 60_000);
    // A refused body is not read as a beat either.
    let r = s.request("POST", "/api/services/new.two", &[], b"{\"timeout\": 5}");
    assert_401(&r, "with a body");
    assert!(s.service("new.two").is_none());

    let r = call(&s, "POST", "/api/services/new.one", Some(wrong));
    assert!(r
        .header("WWW-Authenticate")
        .unwrap_or("")
        .contains("invalid_token"));
    assert!(!r.text().contains(TOKEN), "the token is never echoed");

    // The right token works, for every kind of change.
    assert_eq!(
        call(&s, "POST", "/api/services/keep.me/mute", Some(TOKEN)).status,
        200
    );
    assert_eq!(s.service("keep.me").expect("keep.me")["state"], "muted");
    assert_eq!(
        call(&s, "DELETE", "/api/services/keep.me", Some(TOKEN)).status,
        200
    );
    assert!(s.service("keep.me").is_none());
    let lower = s.request(
        "POST",
        "/api/services/x.y",
        &[("authorization", &format!("bearer {TOKEN}"))],
        b"",
    );
    assert_eq!(lower.status, 200, "the scheme is case-insensitive");

    for path in [
        "/api/services",
        "/api/services/x.y",
        "/metrics",
        "/status",
        "/api/status",
        "/version",
        "/",
    ] {
        assert_eq!(s.get(path).status, 200, "{path} is a read");
    }
    assert_eq!(
        ws_handshake(s.http, &[]).status,
        101,
        "the websocket is a read"
    );
}

#[test]
fn malformed_authorization_is_401_never_500() {
    let dir = TempDir::new("auth-garbage");
    let s = start(&dir, &with_token(false));
    let long = format!("Bearer {}", "x".repeat(6000));
    for value in [
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer a b",
        &long,
        "\u{1}\u{7f}",
    ] {
        let r = s.request(
            "POST",
            "/api/services/g.h",
            &[("Authorization", value)],
            b"",
        );
        assert_401(&r, &format!("{value:.20?}"));
    }
    // Bytes that are not UTF-8 in the header: tiny_http drops such a
    // request (or it is refused); never a 500, never a crash.
    let raw = format!(
        "POST /api/services/g.h HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: 0\r\n\
         Authorization: Bearer \u{0}",
        s.http
    );
    let mut bytes = raw.into_bytes();
    bytes.extend_from_slice(b"\xff\xfe\r\n\r\n");
    let r = raw_request_then_eof(s.http, &bytes);
    assert!(
        matches!(r.status, 0 | 400 | 401),
        "{} {}",
        r.status,
        r.text()
    );
    // Two Authorization headers: the first one counts.
    let two = [
        ("Authorization", "Bearer nope-nope-nope-nope"),
        ("Authorization", &*bearer(TOKEN)),
    ];
    assert_401(
        &s.request("POST", "/api/services/g.h", &two, b""),
        "two headers",
    );
    assert!(s.service("g.h").is_none());
    assert_eq!(
        call(&s, "POST", "/api/services/g.h", Some(TOKEN)).status,
        200,
        "still serving"
    );
}

#[test]
fn auth_read_guards_reads_metrics_and_websocket_but_not_the_page() {
    let dir = TempDir::new("auth-read");
    let s = start(&dir, &with_token(true));
    assert_eq!(
        call(&s, "POST", "/api/services/secret.service", Some(TOKEN)).status,
        200
    );
    for path in [
        "/api/services",
        "/api/services/secret.service",
        "/api/views",
        "/api/alarms",
        "/metrics",
        "/status",
        "/api/status",
        "/version",
        "/nonexistent",
    ] {
        assert_401(&call(&s, "GET", path, None), path);
        assert_401(
            &call(&s, "GET", path, Some("integration-token-wrong-wrong")),
            path,
        );
        let ok = call(&s, "GET", path, Some(TOKEN));
        assert_eq!(
            ok.status,
            if path == "/nonexistent" { 404 } else { 200 },
            "{path}"
        );
    }
    // The page and its files load without a token (to ask for one).
    for path in [
        "/",
        "/services",
        "/views/x",
        "/static/app.js",
        "/static/auth.js",
        "/static/boot.js",
    ] {
        let r = s.get(path);
        assert_eq!(r.status, 200, "{path}");
        assert!(!r.text().contains("secret.service"), "{path} shows no data");
    }
    // Websocket: refused without the token, in either form.
    assert_eq!(ws_handshake(s.http, &[]).status, 401);
    let wrong = subprotocol("integration-token-wrong-wrong");
    let r = ws_handshake(s.http, &[("Sec-WebSocket-Protocol", &wrong)]);
    assert_401(&r, "wrong subprotocol token");
    let r = ws_handshake(s.http, &[("Sec-WebSocket-Protocol", "lovebeat")]);
    assert_401(&r, "no token offered");
    // ...accepted with it: as a subprotocol (browsers), the server choosing
    // "lovebeat", never echoing the token; or as a header.
    let r = ws_handshake(s.http, &[("Sec-WebSocket-Protocol", &subprotocol(TOKEN))]);
    assert_eq!(r.status, 101);
    assert_eq!(r.header("Sec-WebSocket-Protocol"), Some("lovebeat"));
    let r = ws_handshake(s.http, &[("Authorization", &bearer(TOKEN))]);
    assert_eq!(r.status, 101);
    assert_eq!(r.header("Sec-WebSocket-Protocol"), None);
    // A real client gets the snapshot through the subprotocol.
    let stream = TcpStream::connect(s.http).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    use tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{}/ws", s.http)
        .into_client_request()
        .expect("request");
    let offer = subprotocol(TOKEN).parse().expect("header value");
    req.headers_mut().insert("Sec-WebSocket-Protocol", offer);
    let (mut ws, _) = tungstenite::client(req, stream).expect("websocket with the token");
    let first = ws.read().expect("snapshot");
    let snap: serde_json::Value =
        serde_json::from_str(first.to_text().expect("text")).expect("json");
    assert_eq!(snap["type"], "SNAPSHOT");
    assert_eq!(snap["services"][0]["name"], "secret.service");
}

#[test]
fn websocket_origin_must_match_host_once_a_token_is_set() {
    let dir = TempDir::new("auth-origin");
    let s = start(&dir, &with_token(false));
    let own = format!("http://{}", s.http);
    assert_eq!(ws_handshake(s.http, &[("Origin", &own)]).status, 101);
    assert_eq!(
        ws_handshake(s.http, &[]).status,
        101,
        "no Origin: not a browser"
    );
    for bad in [
        "http://evil.example",
        "http://127.0.0.1:1",
        "null",
        "https://127.0.0.1",
    ] {
        let r = ws_handshake(s.http, &[("Origin", bad)]);
        assert_eq!(r.status, 403, "{bad}");
        assert!(
            r.json()["error"]
                .as_str()
                .unwrap_or("")
                .contains("cross-origin"),
            "{bad}"
        );
        assert_eq!(r.header("X-Content-Type-Options"), Some("nosniff"));
    }
    // Behind a proxy that keeps Host as the upstream's but says where the
    // browser went.
    let proxied = [
        ("Origin", "https://mon.example.com"),
        ("X-Forwarded-Host", "mon.example.com"),
    ];
    assert_eq!(ws_handshake(s.http, &proxied).status, 101);
    let r = ws_handshake(s.http, &[("Origin", "https://mon.example.com")]);
    assert_eq!(r.status, 403);
    assert!(
        s.log_text().contains("cross-origin websocket refused"),
        "logged"
    );
}

#[test]
fn security_headers() {
    let dir = TempDir::new("auth-headers");
    let s = start(&dir, &with_token(false));
    assert_eq!(
        call(&s, "POST", "/api/services/h.i", Some(TOKEN)).status,
        200
    );
    let page = s.get("/views/web");
    let csp = page.header("Content-Security-Policy").unwrap_or("");
    for part in [
        "default-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(part), "{part} in {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(page.header("X-Frame-Options"), Some("DENY"));
    assert_eq!(
        page.header("Cache-Control"),
        Some("no-cache"),
        "the page revalidates"
    );
    assert_eq!(
        s.get("/static/app.js").header("Cache-Control"),
        Some("no-cache")
    );
    let api = [
        s.get("/api/services"),
        s.get("/api/services/h.i"),
        s.request("GET", "/status", &[("Accept", "application/json")], b""),
        s.get("/api/status"),
        s.get("/version"),
        s.get("/metrics"),
        s.get("/api/services/nope"),
        call(&s, "POST", "/api/services/h.i", Some(TOKEN)),
        call(&s, "POST", "/api/services/h.i", None),
        s.request("PUT", "/api/services", &[], b""),
    ];
    for r in &api {
        assert_eq!(
            r.header("Cache-Control"),
            Some("no-store"),
            "{} {}",
            r.status,
            r.text()
        );
    }
    let mut all: Vec<&Response> = api.iter().collect();
    let (static_file, missing) = (s.get("/static/style.css"), s.get("/static/nope.js"));
    all.extend([&page, &static_file, &missing]);
    for r in all {
        assert_eq!(
            r.header("X-Content-Type-Options"),
            Some("nosniff"),
            "{}",
            r.status
        );
    }
    let refused = request(s.http, "GET", "/ws", &[], b"");
    assert_eq!(refused.status, 426);
    assert_eq!(refused.header("X-Content-Type-Options"), Some("nosniff"));
}

#[test]
fn auth_read_without_a_token_is_a_config_error() {
    let dir = TempDir::new("auth-config");
    let path = dir.path().join("lovebeat.toml");
    std::fs::write(
        &path,
        "[http]\nlisten = \"127.0.0.1:0\"\nauth_read = true\n",
    )
    .expect("write");
    for args in [&["-check-config", "-config"][..], &["-config"][..]] {
        let out = std::process::Command::new(common::BIN)
            .args(args)
            .arg(&path)
            .current_dir(dir.path())
            .output()
            .expect("run lovebeat");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("lovebeat.toml:3:"), "{err}");
        assert!(err.contains("(key http.auth_read)"), "{err}");
    }
}
