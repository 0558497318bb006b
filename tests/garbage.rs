//! SPEC 11: garbage at every listener. Afterwards the server still answers,
//! nothing changed, and the stored data is intact.

mod common;

use common::{raw_request, raw_request_then_eof, request, wait_until, Server, TempDir};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A tiny deterministic PRNG (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Everything the API says, minus the clock.
fn snapshot(server: &Server) -> (serde_json::Value, serde_json::Value) {
    let mut services = server.json("/api/services");
    let mut views = server.json("/api/views");
    services["now"] = 0.into();
    views["now"] = 0.into();
    // `next_deadline` is derived from the clock, not stored: a restart moves
    // it by the restart grace (SPEC 2), whatever garbage came before.
    if let Some(list) = services["services"].as_array_mut() {
        for service in list {
            if let Some(fields) = service.as_object_mut() {
                fields.remove("next_deadline");
            }
        }
    }
    (services, views)
}

fn seeded(dir: &TempDir) -> Server {
    let server = Server::start(dir.path(), "[[views]]\nname = \"all\"\npattern = \"*\"\n");
    assert_eq!(server.post("/api/services/keep.a?timeout=1h").status, 200);
    assert_eq!(server.post("/api/services/keep.b?timeout=auto").status, 200);
    server
}

#[test]
fn random_bytes_on_udp_and_tcp_change_nothing() {
    let dir = TempDir::new("garbage-statsd");
    let server = seeded(&dir);
    let before = snapshot(&server);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..300 {
        let len = 1 + (rng.next() % 2000) as usize;
        let mut payload = rng.bytes(len);
        // Keep every statsd separator away from a valid line: no ':' means
        // no line can parse.
        payload.retain(|&b| b != b':');
        if i % 2 == 0 {
            // Lines shaped like statsd, with random values: never valid
            // (upper-case names), but they reach the value parser.
            let mut line = b"GARBAGE.".to_vec();
            line.extend(rng.bytes(8));
            line.extend_from_slice(b".timeout:");
            line.extend(rng.bytes(12));
            line.extend_from_slice(b"|g\n");
            payload.extend(line);
        }
        if i % 3 == 0 {
            payload.extend_from_slice(b"\n\xff\xfe.beat:1|c\nBAD.beat:1|c\nx.timeout:99999999999999999999|g\nx.timeout:-5|g\n");
        }
        server.udp_send(&payload);
    }
    for _ in 0..20 {
        if let Ok(mut s) = TcpStream::connect(server.tcp.expect("tcp")) {
            let mut payload = rng.bytes(20_000);
            payload.retain(|&b| b != b':');
            let _ = s.write_all(&payload);
        }
    }
    // A line far over 4 KiB on TCP is dropped.
    let long = format!("{}.beat:1|c\n", "a".repeat(10_000));
    server.tcp_send(long.as_bytes());
    // Let it all be processed: a marker sent last on each transport is seen
    // after everything sent before it on that transport.
    server.tcp_send(b"marker.beat:1|c\n");
    server.udp_send(b"marker.udp.beat:1|c\n");
    assert!(wait_until(Duration::from_secs(10), || {
        server.service("marker").is_some() && server.service("marker.udp").is_some()
    }));
    server.request("DELETE", "/api/services/marker", &[], b"");
    server.request("DELETE", "/api/services/marker.udp", &[], b"");
    assert_eq!(snapshot(&server), before, "garbage changed state");
    let text = server.get("/metrics").text();
    let invalid: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("lovebeat_invalid_lines_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    assert!(invalid > 300, "invalid lines are counted: {invalid}");
}

/// method, path, headers, body, expected status
type Case<'a> = (&'a str, String, Vec<(&'a str, &'a str)>, Vec<u8>, u16);

#[test]
fn malformed_http_gets_clear_errors_and_changes_nothing() {
    let dir = TempDir::new("garbage-http");
    let server = seeded(&dir);
    let before = snapshot(&server);
    let json = [("Content-Type", "application/json")];
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/api/services/keep.a".into(),
            json.to_vec(),
            b"{not json".to_vec(),
            400,
        ),
        (
            "POST",
            "/api/services/keep.a".into(),
            json.to_vec(),
            b"\xff\xfe\x00".to_vec(),
            400,
        ),
        (
            "POST",
            "/api/services/keep.a".into(),
            json.to_vec(),
            br#"{"timeout": "soon"}"#.to_vec(),
            400,
        ),
        (
            "POST",
            "/api/services/keep.a".into(),
            json.to_vec(),
            br#"{"timeout": 1e400}"#.to_vec(),
            400,
        ),
        (
            "POST",
            "/api/services/keep.a".into(),
            json.to_vec(),
            br#"{"timeout": 99999999999999999999}"#.to_vec(),
            400,
        ),
        (
            "POST",
            "/api/services/keep.a".into(),
            json.to_vec(),
            br#"{"timeout": -7}"#.to_vec(),
            400,
        ),
        (
            "POST",
            "/api/services/keep.a".into(),
            json.to_vec(),
            br#"[1,2,3]"#.to_vec(),
            400,
        ),
        (
            "POST",
            "/api/services/keep.a?timeout=5x".into(),
            vec![],
            vec![],
            400,
        ),
        (
            "POST",
            "/api/services/keep.a?timeout=-3".into(),
            vec![],
            vec![],
            400,
        ),
        (
            "POST",
            "/api/services/keep.a?timeout=999999999999999999999".into(),
            vec![],
            vec![],
            400,
        ),
        (
            "POST",
            "/api/services/keep.a".into(),
            form.to_vec(),
            b"timeout=%ZZ".to_vec(),
            400,
        ),
        (
            "POST",
            "/api/services/keep.a".into(),
            form.to_vec(),
            b"timeout=banana".to_vec(),
            400,
        ),
        (
            "POST",
            "/api/services/Bad%20Name".into(),
            vec![],
            vec![],
            400,
        ),
        ("POST", "/api/services/%FF%FE".into(), vec![], vec![], 400),
        (
            "POST",
            format!("/api/services/{}", "a".repeat(201)),
            vec![],
            vec![],
            400,
        ),
        (
            "POST",
            "/api/services/keep.a".into(),
            // JSON: settings. Another body is a run's output, cut to
            // max_body_bytes rather than refused (SPEC 14.3, tests/jobs.rs).
            json.to_vec(),
            vec![b'x'; 70 * 1024],
            413,
        ),
        ("PUT", "/api/services/keep.a".into(), vec![], vec![], 405),
        ("PATCH", "/api/views".into(), vec![], vec![], 405),
        ("GET", "/no/such/path".into(), vec![], vec![], 404),
        (
            "GET",
            "/api/services/keep.a/nothing".into(),
            vec![],
            vec![],
            404,
        ),
    ];
    for (method, path, headers, body, status) in cases {
        let r = server.request(method, &path, &headers, &body);
        assert_eq!(r.status, status, "{method} {path}: {}", r.text());
        let error = r.json();
        assert!(
            error["error"].is_string(),
            "{method} {path}: JSON error: {}",
            r.text()
        );
        assert!(r.body.ends_with(b"\n"), "JSON replies end with a newline");
    }
    // Raw protocol garbage: whatever the answer, the server survives.
    let mut rng = Rng(42);
    for _ in 0..50 {
        let mut s = match TcpStream::connect(server.http) {
            Ok(s) => s,
            Err(_) => continue,
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let len = 1 + (rng.next() % 4000) as usize;
        let _ = s.write_all(&rng.bytes(len));
        let _ = s.write_all(b"\r\n\r\n");
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    }
    let r = raw_request(
        server.http,
        b"POST /api/services/keep.a HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    );
    assert!(r.status >= 400, "absurd Content-Length: {}", r.status);
    // A chunked JSON body cut short: the client closes mid-chunk.
    let r = raw_request_then_eof(
        server.http,
        b"POST /api/services/keep.a HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n10000\r\n{\"timeout\": 6",
    );
    assert!(
        r.status == 0 || r.status == 400,
        "truncated chunked body: {}",
        r.status
    );
    assert_eq!(snapshot(&server), before, "garbage changed state");
    // And stored data survives a restart untouched.
    assert!(server.stop().success());
    let server = Server::start(dir.path(), "[[views]]\nname = \"all\"\npattern = \"*\"\n");
    assert_eq!(snapshot(&server).0, before.0);
}

#[test]
fn idle_connections_never_block_a_new_request() {
    let dir = TempDir::new("idle");
    let server = seeded(&dir);
    let mut idle = Vec::new();
    for i in 0..200 {
        let mut s = TcpStream::connect(server.http).expect("connect");
        // Half send nothing, half a partial request line.
        if i % 2 == 0 {
            let _ = s.write_all(b"GET /api/serv");
        }
        idle.push(s);
    }
    let r = request(server.http, "GET", "/api/status", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.text(),
        "num_ok 2\nnum_error 0\nhas_error false\ngood true\n"
    );
    drop(idle);
}
