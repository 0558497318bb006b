//! The websocket `GET /ws` against the real binary, with tungstenite as the
//! client: snapshot first, then live changes; the client cap; a client that
//! never reads is dropped while beats keep flowing; garbage is survived.

mod common;

use common::{wait_until, Server, TempDir};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use tungstenite::{Message, WebSocket};

type Ws = WebSocket<TcpStream>;

fn try_connect(server: &Server) -> Result<Ws, tungstenite::Error> {
    let stream = TcpStream::connect(server.http).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let url = format!("ws://{}/ws", server.http);
    match tungstenite::client(url.as_str(), stream) {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::HandshakeError::Failure(e)) => Err(e),
        Err(tungstenite::HandshakeError::Interrupted(_)) => {
            panic!("blocking handshake interrupted")
        }
    }
}

fn connect(server: &Server) -> Ws {
    try_connect(server).unwrap_or_else(|e| panic!("websocket connect: {e}"))
}

/// The next text message as JSON (pings are skipped).
fn next_json(ws: &mut Ws) -> serde_json::Value {
    loop {
        match ws.read().expect("websocket read") {
            Message::Text(t) => return serde_json::from_str(t.as_str()).expect("JSON message"),
            Message::Close(c) => panic!("closed by the server: {c:?}"),
            _ => {}
        }
    }
}

/// Reads messages until one matches `pred`, for at most 20 s.
fn wait_for(
    ws: &mut Ws,
    what: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        let m = next_json(ws);
        if pred(&m) {
            return m;
        }
        seen.push(m["type"].to_string());
    }
    panic!("no {what} within 20 s; saw {seen:?}");
}

fn is(
    kind: &'static str,
    key: &'static str,
    name: &'static str,
) -> impl Fn(&serde_json::Value) -> bool {
    move |m| m["type"] == kind && m[key]["name"] == name
}

const VIEW: &str = "[[views]]\nname = \"web\"\nincludes = [\"web.*\"]\n";

#[test]
fn snapshot_first_then_every_change() {
    let dir = TempDir::new("ws-live");
    let server = Server::start(dir.path(), VIEW);
    assert_eq!(server.post("/api/services/web.before").status, 200);
    let mut ws = connect(&server);
    let snap = next_json(&mut ws);
    assert_eq!(snap["type"], "SNAPSHOT");
    assert!(snap["now"].as_i64().unwrap_or(0) > 0, "{snap}");
    assert_eq!(snap["services"][0]["name"], "web.before");
    assert_eq!(snap["views"][0]["name"], "web");
    assert_eq!(snap["views"][0]["state"], "ok");

    // A curl-style beat creates a service; then it expires; then it goes.
    assert_eq!(server.post("/api/services/web.new?timeout=1").status, 200);
    let add = wait_for(
        &mut ws,
        "ADD_SERVICE",
        is("ADD_SERVICE", "service", "web.new"),
    );
    assert_eq!(add["service"]["views"], serde_json::json!(["web"]));
    // The service and its view turn red, in either order.
    let (mut expired, mut view) = (None, None);
    while expired.is_none() || view.is_none() {
        let m = wait_for(&mut ws, "expiry", |m| {
            m["type"] == "UPDATE_VIEW" && m["view"]["state"] == "error"
                || m["type"] == "UPDATE_SERVICE"
                    && m["service"]["name"] == "web.new"
                    && m["service"]["state"] == "error"
        });
        if m["type"] == "UPDATE_VIEW" {
            view = Some(m);
        } else {
            expired = Some(m);
        }
    }
    let (expired, view) = (expired.unwrap_or_default(), view.unwrap_or_default());
    assert_eq!(expired["service"]["timeout"], 1000);
    assert_eq!(view["view"]["name"], "web");
    assert_eq!(view["view"]["incident_number"], 1);
    assert_eq!(
        view["view"]["failed_services"],
        serde_json::json!(["web.new"])
    );

    assert_eq!(server.post("/api/services/web.new/mute").status, 200);
    wait_for(&mut ws, "mute", |m| {
        m["type"] == "UPDATE_SERVICE" && m["service"]["state"] == "muted"
    });
    let r = server.request("DELETE", "/api/services/web.new", &[], b"");
    assert_eq!(r.status, 200);
    wait_for(
        &mut ws,
        "REMOVE_SERVICE",
        is("REMOVE_SERVICE", "service", "web.new"),
    );
    let r = server.request("DELETE", "/api/services/web.before", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(
        server.request("DELETE", "/api/views/web", &[], b"").status,
        200
    );
    wait_for(&mut ws, "REMOVE_VIEW", is("REMOVE_VIEW", "view", "web"));
    // A new service of the pattern brings the view back.
    server.post("/api/services/web.again");
    wait_for(&mut ws, "ADD_VIEW", is("ADD_VIEW", "view", "web"));

    // A clean close from the client frees its place.
    ws.close(None).expect("close");
    server.stop();
}

#[test]
fn plain_get_and_bad_handshakes_get_json_errors() {
    let dir = TempDir::new("ws-bad");
    let server = Server::start(dir.path(), "");
    let r = server.get("/ws");
    assert_eq!(r.status, 426, "{}", r.text());
    assert!(r.json()["error"]
        .as_str()
        .unwrap_or("")
        .contains("websocket"));
    let r = server.post("/ws");
    assert_eq!(r.status, 405);
    let handshake = |version: &str, key: &str| {
        let raw = format!(
            "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: {version}\r\n{key}\r\n"
        );
        common::raw_request(server.http, raw.as_bytes())
    };
    let r = handshake("7", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n");
    assert_eq!(r.status, 426);
    assert_eq!(r.header("sec-websocket-version"), Some("13"));
    assert!(r.json()["error"].is_string());
    let r = handshake("13", "");
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]
        .as_str()
        .unwrap_or("")
        .contains("Sec-WebSocket-Key"));
    // The server still serves.
    assert_eq!(server.get("/api/services").status, 200);
    let mut ws = connect(&server);
    assert_eq!(next_json(&mut ws)["type"], "SNAPSHOT");
}

#[test]
fn clients_beyond_the_cap_get_503_and_places_come_back() {
    let dir = TempDir::new("ws-cap");
    let server = Server::start(dir.path(), "[limits]\nmax_ws_clients = 2\n");
    let mut a = connect(&server);
    let mut b = connect(&server);
    assert_eq!(next_json(&mut a)["type"], "SNAPSHOT");
    assert_eq!(next_json(&mut b)["type"], "SNAPSHOT");
    match try_connect(&server) {
        Err(tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 503);
            let body = resp.body().clone().unwrap_or_default();
            let v: serde_json::Value = serde_json::from_slice(&body).expect("JSON error body");
            let msg = v["error"].as_str().unwrap_or("");
            assert!(msg.contains("max_ws_clients"), "{msg}");
        }
        Err(e) => panic!("expected 503, got {e}"),
        Ok(_) => panic!("a third client was admitted over a cap of 2"),
    }
    // One leaves (abruptly: the TCP connection just goes); its place frees.
    drop(a);
    let mut c = None;
    assert!(
        wait_until(Duration::from_secs(20), || {
            c = try_connect(&server).ok();
            c.is_some()
        }),
        "the place of a departed client never came back"
    );
    let mut c = c.expect("connected");
    assert_eq!(next_json(&mut c)["type"], "SNAPSHOT");
    // b still gets live changes.
    server.post("/api/services/after-cap");
    wait_for(
        &mut b,
        "ADD_SERVICE",
        is("ADD_SERVICE", "service", "after-cap"),
    );
    wait_for(
        &mut c,
        "ADD_SERVICE",
        is("ADD_SERVICE", "service", "after-cap"),
    );
}

#[test]
fn a_client_that_never_reads_is_dropped_while_beats_flow() {
    let dir = TempDir::new("ws-slow");
    let server = Server::start(dir.path(), "");
    // Handshake by hand, then never read again.
    let mut stalled = TcpStream::connect(server.http).expect("connect");
    stalled
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
              Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        )
        .expect("handshake");
    let mut healthy = connect(&server);
    assert_eq!(next_json(&mut healthy)["type"], "SNAPSHOT");
    // A client that does read, all along, on a thread of its own.
    let reader = std::thread::spawn(move || loop {
        match healthy.read() {
            Ok(Message::Text(t)) if t.as_str().contains("\"after-slow\"") => return Ok(()),
            Ok(Message::Close(c)) => return Err(format!("closed: {c:?}")),
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
    });
    // New services (beats of known ones within 1 s are rate-limited): long
    // names make big messages, UDP batches make many of them fast.
    let long = "x".repeat(180);
    let mut round = 0;
    let dropped = wait_until(Duration::from_secs(60), || {
        for _ in 0..2 {
            round += 1;
            let payload: String = (0..50)
                .map(|i| format!("slow.{round}.{i}.{long}.beat:1|c\n"))
                .collect();
            server.udp_send(payload.as_bytes());
        }
        server.log_text().contains("too slow")
    });
    assert!(
        dropped,
        "the stalled client was never dropped; log:\n{}",
        server.log_text()
    );
    // Beats and the API keep working, and the reading client still gets news.
    assert_eq!(server.post("/api/services/after-slow").status, 200);
    let got = reader.join().expect("reader thread");
    assert_eq!(got, Ok(()), "the reading client lost its stream");
    // The stalled connection is closed: reading it to the end finishes.
    stalled
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut sink = Vec::new();
    let r = stalled.read_to_end(&mut sink);
    assert!(
        r.is_ok()
            || r.as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "the stalled connection was left open: {r:?}"
    );
}

#[test]
fn garbage_frames_close_only_that_client() {
    let dir = TempDir::new("ws-garbage");
    let server = Server::start(dir.path(), "");
    let mut healthy = connect(&server);
    assert_eq!(next_json(&mut healthy)["type"], "SNAPSHOT");
    for garbage in [
        &b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"[..],
        b"GET / HTTP/1.1\r\n\r\n",
        // An unmasked text frame (clients must mask).
        b"\x81\x05hello",
        // A masked frame claiming 2^63 bytes.
        b"\x82\xff\x7f\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00",
    ] {
        let mut ws = connect(&server);
        assert_eq!(next_json(&mut ws)["type"], "SNAPSHOT");
        ws.get_mut().write_all(garbage).expect("send garbage");
        // The server closes this connection (a close frame, then EOF).
        let closed = loop {
            match ws.read() {
                Ok(Message::Close(_)) => continue,
                Ok(_) => continue,
                Err(_) => break true,
            }
        };
        assert!(closed);
    }
    // A client sending text and binary messages is simply ignored.
    let mut chatty = connect(&server);
    assert_eq!(next_json(&mut chatty)["type"], "SNAPSHOT");
    chatty.send(Message::text("hello")).expect("send");
    chatty.send(Message::binary(vec![1u8, 2, 3])).expect("send");
    server.post("/api/services/after-garbage");
    wait_for(
        &mut chatty,
        "ADD_SERVICE",
        is("ADD_SERVICE", "service", "after-garbage"),
    );
    wait_for(
        &mut healthy,
        "ADD_SERVICE",
        is("ADD_SERVICE", "service", "after-garbage"),
    );
    assert_eq!(server.get("/api/services").status, 200);
}

/// nginx set up as in the README sends `Connection: upgrade` on every
/// request; such a POST must still be answered at once, body included.
#[test]
fn requests_marked_upgrade_by_a_proxy_keep_their_bodies() {
    let dir = TempDir::new("ws-proxy-hdr");
    let server = Server::start(dir.path(), "");
    let body = br#"{"timeout": "5m", "beat": true}"#;
    let raw = format!(
        "POST /api/services/via.proxy HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut bytes = raw.into_bytes();
    bytes.extend_from_slice(body);
    // The client keeps its side open, as nginx does.
    let mut stream = TcpStream::connect(server.http).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream.write_all(&bytes).expect("send");
    let mut head = [0u8; 12];
    stream
        .read_exact(&mut head)
        .expect("an answer before the idle timeout");
    assert_eq!(&head, b"HTTP/1.1 200");
    let svc = server.service("via.proxy").expect("created");
    assert_eq!(svc["timeout"], 300_000);
    // A GET marked the same way (no body at all) is answered too.
    let mut stream = TcpStream::connect(server.http).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream
        .write_all(b"GET /api/services HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\n\r\n")
        .expect("send");
    stream
        .read_exact(&mut head)
        .expect("an answer before the idle timeout");
    assert_eq!(&head, b"HTTP/1.1 200");
}

/// An idle connection is pinged (proxies such as nginx close connections
/// silent for 60 s), and the client's automatic pongs keep it open.
#[test]
fn idle_clients_are_pinged() {
    let dir = TempDir::new("ws-ping");
    let server = Server::start(dir.path(), "");
    let mut ws = connect(&server);
    ws.get_ref()
        .set_read_timeout(Some(Duration::from_secs(40)))
        .expect("timeout");
    assert_eq!(next_json(&mut ws)["type"], "SNAPSHOT");
    match ws.read().expect("a ping within 40 s") {
        Message::Ping(_) => {}
        other => panic!("expected a ping, got {other:?}"),
    }
    // Still open and live after answering (tungstenite pongs by itself).
    server.post("/api/services/after-ping");
    wait_for(
        &mut ws,
        "ADD_SERVICE",
        is("ADD_SERVICE", "service", "after-ping"),
    );
}
