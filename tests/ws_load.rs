//! The websocket under load, against the real binary: a client that reads
//! keeps up with bursts of many thousands of changes (coalesced, never
//! dropped), and 200 clients arriving at once each get a 101 and a snapshot
//! or a 503 that names the real cause.

mod common;

use common::{wait_until, Server, TempDir};
use std::collections::HashMap;
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};
use tungstenite::{Message, WebSocket};

type Ws = WebSocket<TcpStream>;

fn try_connect(server: &Server) -> Result<Ws, tungstenite::Error> {
    let stream = TcpStream::connect(server.http).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
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

/// Sends `prefix.<i>.<line>` for i in 0..n over TCP statsd (which, unlike
/// UDP, loses nothing).
fn create(server: &Server, prefix: &str, n: usize, line: &str) {
    let mut tcp = TcpStream::connect(server.tcp.expect("tcp")).expect("tcp connect");
    let payload: String = (0..n).map(|i| format!("{prefix}.{i}.{line}\n")).collect();
    tcp.write_all(payload.as_bytes()).expect("tcp write");
    drop(tcp);
}

#[test]
fn a_fast_reader_is_never_dropped_and_sees_every_final_state() {
    const N: usize = 20_000;
    let dir = TempDir::new("ws-fast");
    let server = Server::start_at_info_level(dir.path(), "");
    let mut ws = try_connect(&server).expect("websocket");
    // The client: applies SNAPSHOT (a resync replaces everything) and
    // upserts; remembers each service's timeout.
    let reader = std::thread::spawn(move || {
        let mut timeouts: HashMap<String, i64> = HashMap::new();
        // Services of ours whose timeout is the final one.
        let mut done = 0;
        let mut snapshots = 0;
        let deadline = Instant::now() + Duration::from_secs(120);
        fn upsert(map: &mut HashMap<String, i64>, done: &mut usize, s: &serde_json::Value) {
            let name = s["name"].as_str().unwrap_or("").to_owned();
            let ours = name.starts_with("f.");
            let timeout = s["timeout"].as_i64().unwrap_or(0);
            let old = map.insert(name, timeout);
            if ours && old == Some(77_000) {
                *done -= 1;
            }
            if ours && timeout == 77_000 {
                *done += 1;
            }
        }
        while Instant::now() < deadline {
            let text = match ws.read() {
                Ok(Message::Text(t)) => t,
                Ok(Message::Close(c)) => return Err(format!("closed by the server: {c:?}")),
                Ok(_) => continue,
                Err(e) => return Err(format!("read failed: {e}")),
            };
            let m: serde_json::Value = serde_json::from_str(text.as_str()).expect("JSON");
            match m["type"].as_str() {
                Some("SNAPSHOT") => {
                    snapshots += 1;
                    timeouts.clear();
                    done = 0;
                    for s in m["services"].as_array().expect("services") {
                        upsert(&mut timeouts, &mut done, s);
                    }
                }
                Some("ADD_SERVICE" | "UPDATE_SERVICE") => {
                    upsert(&mut timeouts, &mut done, &m["service"])
                }
                Some("REMOVE_SERVICE") => {
                    let name = m["service"]["name"].as_str().unwrap_or("");
                    if timeouts.remove(name) == Some(77_000) && name.starts_with("f.") {
                        done -= 1;
                    }
                }
                _ => {}
            }
            if done == N {
                return Ok(snapshots);
            }
        }
        Err("the final state never arrived".to_owned())
    });
    // ~50k beats a second over UDP for 4 s, in datagrams of 2,500 lines
    // (at most 42.5 KB): the first eight each create 2,500 services, so
    // thousands of changes are published at once, again and again.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
    let target = server.udp.expect("udp listener");
    let start = Instant::now();
    for round in 0..80u64 {
        let from = (round as usize % 8) * 2_500;
        let payload: String = (from..from + 2_500)
            .map(|i| format!("f.{i}.beat:1|c\n"))
            .collect();
        udp.send_to(payload.as_bytes(), target).expect("udp send");
        // Pacing the load, not waiting for the server.
        let due = start + Duration::from_millis(50 * (round + 1));
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    // The final state, over TCP (nothing lost): every service's timeout.
    create(&server, "f", N, "timeout:77|g");
    let outcome = reader.join().expect("reader thread");
    assert!(outcome.is_ok(), "{outcome:?}; log:\n{}", server.log_text());
    assert!(
        !server.log_text().contains("too slow"),
        "a reading client was dropped; log:\n{}",
        server.log_text()
    );
}

#[test]
fn two_hundred_clients_at_once_get_101_or_a_503_naming_the_cap() {
    let dir = TempDir::new("ws-herd");
    let server = Server::start_at_info_level(dir.path(), "");
    // More services than one listing step (5,000), so each snapshot is
    // copied in steps; before, at most 8 could be taken at once.
    create(&server, "h", 6_000, "beat:1|c");
    // TCP lines are applied in order: the last one there means all are.
    assert!(wait_until(Duration::from_secs(30), || server
        .service("h.5999")
        .is_some()));
    let server = std::sync::Arc::new(server);
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(200));
    let clients: Vec<_> = (0..200)
        .map(|_| {
            let (server, barrier) = (server.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                match try_connect(&server) {
                    Ok(mut ws) => loop {
                        match ws.read() {
                            Ok(Message::Text(t)) => {
                                let m: serde_json::Value =
                                    serde_json::from_str(t.as_str()).expect("JSON");
                                let n = m["services"].as_array().map_or(0, |a| a.len());
                                // Keep the place until every client has its answer.
                                return Ok((m["type"].as_str() == Some("SNAPSHOT"), n, ws));
                            }
                            Ok(Message::Close(c)) => return Err(format!("closed: {c:?}")),
                            Ok(_) => {}
                            Err(e) => return Err(format!("read failed: {e}")),
                        }
                    },
                    Err(tungstenite::Error::Http(resp)) => {
                        let body = resp.body().clone().unwrap_or_default();
                        let v: serde_json::Value =
                            serde_json::from_slice(&body).unwrap_or_default();
                        Err(format!(
                            "{} {}",
                            resp.status().as_u16(),
                            v["error"].as_str().unwrap_or("")
                        ))
                    }
                    Err(e) => Err(format!("handshake failed: {e}")),
                }
            })
        })
        .collect();
    let mut admitted = Vec::new();
    let mut refusals = Vec::new();
    for c in clients {
        match c.join().expect("client thread") {
            Ok(ok) => admitted.push(ok),
            Err(e) => refusals.push(e),
        }
    }
    for (snapshot, n, _) in &admitted {
        assert!(
            *snapshot,
            "an admitted client's first message was not a SNAPSHOT"
        );
        assert!(*n >= 6_000, "a snapshot had {n} services");
    }
    let wrong: Vec<_> = refusals
        .iter()
        .filter(|e| !(e.starts_with("503 ") && e.contains("max_ws_clients")))
        .collect();
    assert!(
        wrong.is_empty(),
        "refusals not naming the client cap: {wrong:?} ({} admitted)",
        admitted.len()
    );
    assert_eq!(admitted.len(), 64, "the default cap admits 64");
}
