//! Router and socket-level tests against a fake state thread that answers
//! `state::Command`s with canned records and remembers the updates.

use super::*;
use crate::engine::EngineError;
use crate::model::{ServiceRecord, State, StatusSummary, Update, ViewRecord};
use crate::state::{Command, StateHandle};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

/// A fake state thread that answers only `ListViews`, with `views`, and
/// counts how often it was asked (for the caches of badges and the status
/// page).
pub(super) fn listing_views(
    views: Vec<ViewRecord>,
) -> (StateHandle, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let asked = std::sync::Arc::new(AtomicUsize::new(0));
    let count = std::sync::Arc::clone(&asked);
    let (tx, rx) = crossbeam_channel::bounded(8);
    thread::spawn(move || {
        for command in rx {
            if let Command::ListViews { reply } = command {
                count.fetch_add(1, Ordering::SeqCst);
                let _ = reply.send(Ok(views.clone()));
            }
        }
    });
    (StateHandle::new(tx), asked)
}

/// A fake state thread: knows service "known" (member of view "web"),
/// view "web" (with members) and "empty" (without). Sends every update it
/// receives on the returned channel.
fn fake_state() -> (StateHandle, mpsc::Receiver<(String, Update)>) {
    let (tx, rx) = crossbeam_channel::bounded(16);
    let (utx, urx) = mpsc::channel();
    thread::spawn(move || {
        let svc = |name: &str| ServiceRecord {
            name: name.into(),
            state: State::Ok,
            last_beat: 1,
            timeout: 60_000,
            views: vec!["web".into()],
            beat_history: vec![1000, 2000],
            ..Default::default()
        };
        let view = |name: &str| ViewRecord {
            name: name.into(),
            state: State::Error,
            incident_number: 3,
            failures: Vec::new(),
            failed_services: vec!["known".into()],
            last_state_change: 7,
            alerts: vec![],
            alerting: Default::default(),
        };
        let known_view = |v: &str| v == "web" || v == "empty";
        for cmd in rx {
            match cmd {
                Command::Update {
                    name,
                    update,
                    reply,
                } => {
                    let r = if name == "full" {
                        Err(EngineError::TooManyServices { max: 1 }.into())
                    } else {
                        Ok(())
                    };
                    let _ = utx.send((name, update));
                    let _ = reply.send(r);
                }
                // A service answered once is known: its next update comes
                // without a reply (see `state::known`).
                Command::UpdateKnown { name, update } => {
                    let _ = utx.send((name, update));
                }
                Command::Mute { name, reply, .. } | Command::DeleteService { name, reply } => {
                    let _ = reply.send(if name == "known" {
                        Ok(())
                    } else {
                        Err(EngineError::ServiceNotFound(name).into())
                    });
                }
                Command::DeleteView { name, reply } => {
                    let _ = reply.send(match name.as_str() {
                        "web" => Err(EngineError::ViewHasMembers {
                            view: name,
                            members: 1,
                        }
                        .into()),
                        "empty" => Ok(()),
                        _ => Err(EngineError::ViewNotFound(name).into()),
                    });
                }
                Command::GetService {
                    name,
                    details,
                    reply,
                } => {
                    let _ = reply.send(if name == "known" {
                        let mut s = svc("known");
                        if !details {
                            s.beat_history.clear();
                        }
                        Ok(s)
                    } else {
                        Err(EngineError::ServiceNotFound(name).into())
                    });
                }
                Command::ListServices { view, reply } => {
                    let _ = reply.send(match view {
                        Some(v) if !known_view(&v) => Err(EngineError::ViewNotFound(v).into()),
                        _ => Ok(vec![svc("zeta"), svc("known")]),
                    });
                }
                Command::ListViews { reply } => {
                    let _ = reply.send(Ok(vec![view("web"), view("empty")]));
                }
                Command::GetView { name, reply } => {
                    let _ = reply.send(if known_view(&name) {
                        Ok((view(&name), vec![svc("known")]))
                    } else {
                        Err(EngineError::ViewNotFound(name).into())
                    });
                }
                Command::Status { view, reply } => {
                    let _ = reply.send(match view {
                        Some(v) if !known_view(&v) => Err(EngineError::ViewNotFound(v).into()),
                        Some(_) => Ok(StatusSummary::new(1, 0)),
                        None => Ok(StatusSummary::new(4, 2)),
                    });
                }
                _ => {}
            }
        }
    });
    (StateHandle::new(tx), urx)
}

fn req(method: &str, target: &str) -> HttpRequest {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    HttpRequest {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        ..Default::default()
    }
}

fn with_body(mut r: HttpRequest, ct: &str, body: &[u8]) -> HttpRequest {
    r.headers.push(("Content-Type".into(), ct.into()));
    r.body = body.to_vec();
    r
}

fn json_accept(mut r: HttpRequest) -> HttpRequest {
    r.headers.push(("Accept".into(), "application/json".into()));
    r
}

fn err_of(r: &HttpResponse) -> String {
    r.body_json().unwrap()["error"].as_str().unwrap().to_owned()
}

#[test]
fn beats_map_to_updates() {
    let (state, updates) = fake_state();
    let r = route(&req("POST", "/api/services/a.b"), &state);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"{}\n"[..]));
    assert_eq!(r.content_type, "application/json");
    assert_eq!(
        updates.recv_timeout(Duration::from_secs(10)).unwrap(),
        ("a.b".into(), Update::Beat)
    );

    let r = route(&req("POST", "/api/services/a%2Eb?timeout=5m"), &state);
    assert_eq!(r.status, 200);
    assert_eq!(
        updates.recv_timeout(Duration::from_secs(10)).unwrap(),
        ("a.b".into(), Update::SetTimeoutAndBeat(300_000))
    );

    let body = br#"{"timeout": 3600, "beat": false}"#;
    let r = route(
        &with_body(req("POST", "/api/services/x"), "application/json", body),
        &state,
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        updates.recv_timeout(Duration::from_secs(10)).unwrap(),
        ("x".into(), Update::SetTimeout(3_600_000))
    );

    let r = route(
        &with_body(
            req("POST", "/api/services/x"),
            "application/x-www-form-urlencoded",
            b"timeout=auto",
        ),
        &state,
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        updates.recv_timeout(Duration::from_secs(10)).unwrap(),
        ("x".into(), Update::SetTimeoutAndBeat(-2))
    );

    // nothing to do: 200, no update
    let r = route(
        &with_body(
            req("POST", "/api/services/x"),
            "application/json",
            br#"{"beat": false}"#,
        ),
        &state,
    );
    assert_eq!(r.status, 200);
    assert!(updates.try_recv().is_err());
}

#[test]
fn bad_beats_change_nothing() {
    let (state, updates) = fake_state();
    for (r, status) in [
        (req("POST", "/api/services/Bad"), 400),
        (req("POST", "/api/services/a%20b"), 400),
        (req("POST", "/api/services/%FF"), 400),
        (
            req("POST", &format!("/api/services/{}", "a".repeat(201))),
            400,
        ),
        (req("POST", "/api/services/x?timeout=5x"), 400),
        (req("POST", "/api/services/x?timeout=-5"), 400),
        (
            req("POST", "/api/services/x?timeout=99999999999999999999"),
            400,
        ),
        (
            with_body(req("POST", "/api/services/x"), "application/json", b"{"),
            400,
        ),
        (
            with_body(
                req("POST", "/api/services/x"),
                "application/json",
                b"\xff\xfe",
            ),
            400,
        ),
        (
            with_body(
                req("POST", "/api/services/x"),
                "application/json",
                br#"{"timeout": "soon"}"#,
            ),
            400,
        ),
        (
            with_body(
                req("POST", "/api/services/x"),
                "application/json",
                br#"{"beat": 1}"#,
            ),
            400,
        ),
    ] {
        let resp = route(&r, &state);
        assert_eq!(resp.status, status, "{r:?}");
        assert!(!err_of(&resp).is_empty());
        assert!(resp.body.ends_with(b"\n"));
    }
    assert!(updates.try_recv().is_err());
    let resp = route(&req("POST", "/api/services/Bad"), &state);
    assert!(err_of(&resp).contains(crate::model::NAME_RULE));
    // engine refusals
    let resp = route(&req("POST", "/api/services/full"), &state);
    assert_eq!(resp.status, 503);
}

#[test]
fn service_routes() {
    let (state, _u) = fake_state();
    let r = route(&req("GET", "/api/services"), &state);
    assert_eq!(r.status, 200);
    let v = r.body_json().unwrap();
    assert_eq!(v["services"][0]["name"], "known");
    assert_eq!(v["services"][1]["name"], "zeta");
    assert!(v["now"].as_i64().unwrap() > 0);
    assert_eq!(v["services"][0]["views"], serde_json::json!(["web"]));
    assert_eq!(
        route(&req("GET", "/api/services?view=web"), &state).status,
        200
    );
    assert_eq!(
        route(&req("GET", "/api/services/?view=nope"), &state).status,
        404
    );

    let r = route(&req("GET", "/api/services/known"), &state);
    let v = r.body_json().unwrap();
    assert_eq!(v["service"]["name"], "known");
    assert!(v["service"].get("beat_history").is_none());
    let r = route(&req("GET", "/api/services/known?details=1"), &state);
    assert_eq!(
        r.body_json().unwrap()["service"]["beat_history"],
        serde_json::json!([1000, 2000])
    );
    assert_eq!(
        route(&req("GET", "/api/services/other"), &state).status,
        404
    );
    assert_eq!(route(&req("GET", "/api/services/BAD"), &state).status, 404);
    assert_eq!(
        route(&req("HEAD", "/api/services/known"), &state).status,
        200
    );

    for path in ["/api/services/known/mute", "/api/services/known/unmute"] {
        assert_eq!(route(&req("POST", path), &state).status, 200);
    }
    assert_eq!(
        route(&req("POST", "/api/services/nope/mute"), &state).status,
        404
    );
    assert_eq!(
        route(&req("POST", "/api/services/NOPE/mute"), &state).status,
        404
    );
    assert_eq!(
        route(&req("DELETE", "/api/services/known"), &state).status,
        200
    );
    assert_eq!(
        route(&req("DELETE", "/api/services/nope"), &state).status,
        404
    );
}

#[test]
fn view_and_alarm_routes() {
    let (state, _u) = fake_state();
    let v = route(&req("GET", "/api/views"), &state)
        .body_json()
        .unwrap();
    assert_eq!(v["views"][0]["name"], "empty");
    assert_eq!(v["views"][1]["incident_number"], 3);
    let v = route(&req("GET", "/api/alarms"), &state)
        .body_json()
        .unwrap();
    assert_eq!(v["alarms"][1]["incident_nbr"], 3);
    assert!(v.get("views").is_none());

    let v = route(&req("GET", "/api/views/web"), &state)
        .body_json()
        .unwrap();
    assert_eq!(v["view"]["name"], "web");
    assert_eq!(v["services"][0]["views"], serde_json::json!(["web"]));
    let v = route(&req("GET", "/api/alarms/web"), &state)
        .body_json()
        .unwrap();
    assert_eq!(v["alarm"]["incident_nbr"], 3);
    assert_eq!(v["services"][0]["in_alarms"], serde_json::json!(["web"]));
    assert!(v["services"][0].get("views").is_none());
    assert_eq!(route(&req("GET", "/api/views/nope"), &state).status, 404);

    assert_eq!(route(&req("DELETE", "/api/views/web"), &state).status, 409);
    assert_eq!(
        route(&req("DELETE", "/api/alarms/empty"), &state).status,
        200
    );
    assert_eq!(route(&req("DELETE", "/api/views/nope"), &state).status, 404);
}

#[test]
fn status_routes() {
    let (state, _u) = fake_state();
    for path in ["/status", "/api/status"] {
        let r = route(&req("GET", path), &state);
        assert_eq!(r.status, 200);
        assert_eq!(r.content_type, "text/plain; charset=utf-8");
        assert_eq!(
            r.body,
            b"num_ok 4\nnum_error 2\nhas_error true\ngood false\n"
        );
        let r = route(&json_accept(req("GET", path)), &state);
        assert_eq!(
            r.body_json().unwrap(),
            serde_json::json!({"num_ok": 4, "num_error": 2, "has_error": true, "good": false})
        );
    }
    for path in [
        "/api/status?view=web",
        "/status?alarm=web",
        "/api/views/web/status",
        "/api/alarms/web/status",
    ] {
        let r = route(&req("GET", path), &state);
        assert_eq!(
            r.body, b"num_ok 1\nnum_error 0\nhas_error false\ngood true\n",
            "{path}"
        );
    }
    for path in [
        "/api/status?view=typo",
        "/api/views/typo/status",
        "/api/alarms/typo/status",
    ] {
        let r = route(&req("GET", path), &state);
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.content_type, "application/json");
    }
}

#[test]
fn misc_routes_404_405() {
    let (state, _u) = fake_state();
    let r = route(&req("GET", "/version"), &state);
    assert_eq!(
        r.body,
        format!("lovebeat {}\n", crate::VERSION).into_bytes()
    );
    let r = route(&json_accept(req("GET", "/version")), &state);
    assert_eq!(r.body_json().unwrap()["version"], crate::VERSION);

    let r = route(&req("GET", "/"), &state);
    assert_eq!(r.status, 200);
    let html = String::from_utf8(r.body).unwrap();
    assert!(html.contains("Lovebeat") && html.contains("href=\"api/services\""));

    // In the table now: /metrics asks the state for its stats (this fake
    // state does not answer them), /ws has no connection here to upgrade.
    let r = route(&req("GET", "/metrics"), &state);
    assert_eq!(r.status, 503);
    assert!(err_of(&r).contains("busy"));
    let r = route(&req("GET", "/ws"), &state);
    assert_eq!(r.status, 500);
    assert!(err_of(&r).contains("websocket needs a TCP connection"));
    for path in ["/nope", "/api", "/api/services/a/b/c", "/api/views/a/b"] {
        let r = route(&req("GET", path), &state);
        assert_eq!(r.status, 404, "{path}");
        assert!(err_of(&r).contains("no such"));
    }
    for (m, path, allow) in [
        ("POST", "/status", "GET, HEAD"),
        ("POST", "/metrics", "GET, HEAD"),
        ("DELETE", "/api/services", "GET, HEAD"),
        ("PUT", "/api/services/x", "GET, HEAD, POST, DELETE"),
        ("GET", "/api/services/x/mute", "POST"),
        ("POST", "/api/views/x", "GET, HEAD, DELETE"),
        ("BREW", "/", "GET, HEAD"),
    ] {
        let r = route(&req(m, path), &state);
        assert_eq!(r.status, 405, "{m} {path}");
        assert_eq!(r.headers, vec![("Allow".to_owned(), allow.to_owned())]);
    }
}

#[test]
fn unavailable_state_is_503() {
    let (tx, rx) = crossbeam_channel::bounded(1);
    drop(rx);
    let state = StateHandle::new(tx);
    let r = route(&req("GET", "/api/services"), &state);
    assert_eq!(r.status, 503);
}

// ---- over real sockets ----

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request (with `Connection: close`) and reads the whole reply.
fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(head.as_bytes()).unwrap();
    // the server may answer 413 and close before the whole body is sent
    let _ = s.write_all(body);
    read_reply(&mut s)
}

fn read_reply(s: &mut TcpStream) -> Reply {
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no header end");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

fn start(idle: Duration) -> (SocketAddr, mpsc::Receiver<(String, Update)>) {
    let (state, updates) = fake_state();
    let opts = HttpOptions {
        idle_timeout: idle,
        ..HttpOptions::default()
    };
    let (addr, _handles) =
        spawn("127.0.0.1:0", state, Arc::new(Counters::default()), opts).unwrap();
    (addr, updates)
}

#[test]
fn socket_level_api() {
    let (addr, updates) = start(Duration::from_secs(20));
    let r = send(addr, "POST", "/api/services/sock.test", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"{}\n");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        updates.recv_timeout(Duration::from_secs(10)).unwrap(),
        ("sock.test".into(), Update::Beat)
    );

    let r = send(
        addr,
        "POST",
        "/api/services/sock.test",
        &[("Content-Type", "application/json")],
        br#"{"timeout": "2h", "beat": false}"#,
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        updates.recv_timeout(Duration::from_secs(10)).unwrap(),
        ("sock.test".into(), Update::SetTimeout(7_200_000))
    );

    let big = vec![b'a'; 70_000];
    let r = send(
        addr,
        "POST",
        "/api/services/x",
        &[("Content-Type", "application/json")],
        &big,
    );
    assert_eq!(r.status, 413);

    let r = send(addr, "PUT", "/api/services/x", &[], b"");
    assert_eq!(r.status, 405);
    assert!(r.header("allow").unwrap().contains("POST"));

    let r = send(addr, "GET", "/nope", &[], b"");
    assert_eq!(r.status, 404);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert!(v["error"].is_string());
    assert!(r.body.ends_with(b"\n"));

    let r = send(
        addr,
        "POST",
        "/api/services/x",
        &[("Content-Type", "application/json")],
        b"{nope",
    );
    assert_eq!(r.status, 400);

    let r = send(addr, "GET", "/status", &[], b"");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(
        r.body,
        b"num_ok 4\nnum_error 2\nhas_error true\ngood false\n"
    );

    assert!(
        updates.try_recv().is_err(),
        "refused requests changed nothing"
    );
}

#[test]
fn chunked_body_is_capped() {
    let (addr, updates) = start(Duration::from_secs(20));
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(
        b"POST /api/services/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\
          Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    .unwrap();
    let chunk = vec![b' '; 8192];
    for _ in 0..10 {
        let _ = s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes());
        let _ = s.write_all(&chunk);
        let _ = s.write_all(b"\r\n");
    }
    let _ = s.write_all(b"0\r\n\r\n");
    assert_eq!(read_reply(&mut s).status, 413);
    assert!(updates.try_recv().is_err());
}

#[test]
fn huge_declared_length_is_refused_without_reading() {
    let (addr, _u) = start(Duration::from_secs(20));
    for len in ["100000", "99999999999999", "18446744073709551615"] {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        // JSON: settings, not a run's output (whose body would be read up
        // to `max_body_bytes` and the rest drained, see jobs_tests).
        let head = format!(
            "POST /api/services/x HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
             Content-Length: {len}\r\n\r\nabc"
        );
        s.write_all(head.as_bytes()).unwrap();
        let mut buf = [0u8; 12];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"HTTP/1.1 413", "{len}");
    }
    // still serving
    assert_eq!(send(addr, "GET", "/version", &[], b"").status, 200);
}

#[test]
fn idle_connections_do_not_starve_new_clients() {
    let (addr, _u) = start(Duration::from_secs(20));
    let mut idle = Vec::new();
    for _ in 0..200 {
        match TcpStream::connect(addr) {
            Ok(s) => idle.push(s),
            Err(e) => panic!("connect failed: {e}"),
        }
    }
    // half of them even started a request and stopped mid-way
    for s in idle.iter_mut().step_by(2) {
        let _ = s.write_all(b"GET /status HTTP/1.1\r\nHo");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = send(addr, "GET", "/status", &[], b"");
        if r.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no answer while 200 connections idle"
        );
    }
    drop(idle);
}

#[test]
fn idle_connections_are_closed() {
    let (addr, _u) = start(Duration::from_millis(300));
    let mut s = TcpStream::connect(addr).unwrap();
    // Far longer than the idle timeout: only the server hanging up ends the
    // read in time.
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    // a keep-alive request, then silence: the server must hang up
    s.write_all(b"GET /version HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut all = Vec::new();
    // An EOF (Ok) is the server hanging up; the client's own read timeout
    // would end the read with an error instead.
    let res = s.read_to_end(&mut all);
    assert!(
        res.is_ok(),
        "server did not close the idle connection: {res:?}"
    );
    assert!(all.starts_with(b"HTTP/1.1 200"));
    // and the server keeps answering after that
    thread::sleep(Duration::from_millis(1000));
    assert_eq!(send(addr, "GET", "/version", &[], b"").status, 200);
}

/// Reads one reply off a kept-alive connection: its status and body (by
/// Content-Length).
fn read_kept_alive_reply(s: &mut std::io::BufReader<TcpStream>) -> (u16, Vec<u8>) {
    use std::io::BufRead;
    let mut line = String::new();
    s.read_line(&mut line).unwrap();
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let mut len = 0;
    loop {
        line.clear();
        s.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; len];
    s.read_exact(&mut body).unwrap();
    (status, body)
}

#[test]
fn a_kept_alive_connection_is_served_again_after_a_pause() {
    // A client that keeps its connection and pauses between beats is
    // served each time.
    let (addr, updates) = start(Duration::from_secs(20));
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut s = std::io::BufReader::new(s);
    let beat = b"POST /api/services/kept.alive HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n";
    for round in 0..4 {
        s.get_mut().write_all(beat).unwrap();
        assert_eq!(
            read_kept_alive_reply(&mut s),
            (200, b"{}\n".to_vec()),
            "round {round}"
        );
        assert_eq!(
            updates.recv_timeout(Duration::from_secs(10)).unwrap(),
            ("kept.alive".into(), Update::Beat),
            "round {round}"
        );
        // The scenario, not a synchronisation: a client that pauses
        // between its requests.
        thread::sleep(Duration::from_millis(150));
    }
}

#[test]
fn a_pipelined_second_request_is_served_without_a_pause() {
    let (addr, _u) = start(Duration::from_secs(20));
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut s = std::io::BufReader::new(s);
    // Both requests arrive before the first is answered: the second is
    // already in the buffer when the first is done, and is answered too.
    s.get_mut()
        .write_all(b"GET /version HTTP/1.1\r\nHost: t\r\n\r\nGET /nope HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    assert_eq!(read_kept_alive_reply(&mut s).0, 200);
    assert_eq!(read_kept_alive_reply(&mut s).0, 404);
}

#[test]
fn slow_bodies_never_hold_up_other_clients() {
    let (addr, _u) = start(Duration::from_secs(20));
    // Many clients promise a 60 KB body and then stall after one byte.
    let mut stalled = Vec::new();
    for _ in 0..16 {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(
            b"POST /api/services/slow.one HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n{",
        )
        .unwrap();
        stalled.push(s);
    }
    // A new client is answered while every stalled one is still held open
    // (none has timed out or been answered yet).
    let r = send(addr, "GET", "/version", &[], b"");
    assert_eq!(r.status, 200);
    for s in &stalled {
        s.set_nonblocking(true).unwrap();
        let mut byte = [0u8; 1];
        let still_open = matches!((&*s).read(&mut byte),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
        assert!(
            still_open,
            "a stalled body was already timed out or answered"
        );
    }
    drop(stalled);
}
