//! The job routes over a real socket: a run's output is read only up to
//! `max_body_bytes` and the rest drained (plain, chunked, and behind
//! `Connection: upgrade`), and `Ping-Body-Limit` is on every reply of those
//! routes, refusals before routing included.

use super::jobs_tests::{fake_state, Got};
use super::*;
use crate::jobs::SignalKind;
use std::thread;

/// Reads one reply (head and a Content-Length body) off `s`.
fn read_one(s: &mut std::net::TcpStream) -> (u16, String, Vec<u8>) {
    use std::io::Read;
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        let n = s.read(&mut byte).unwrap();
        assert!(n > 0, "connection closed mid-head: {raw:?}");
        raw.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&raw).into_owned();
    let status = head[9..12].parse().unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; len];
    s.read_exact(&mut body).unwrap();
    (status, head, body)
}

#[test]
fn a_huge_body_is_cut_answered_and_drained_without_buffering() {
    use std::io::Write;
    let (state, got) = fake_state();
    let opts = HttpOptions {
        max_body_bytes: 100,
        ..HttpOptions::default()
    };
    let counters = std::sync::Arc::new(crate::counters::Counters::default());
    let (addr, _) = spawn("127.0.0.1:0", state, counters, opts).unwrap();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    const TOTAL: usize = 20 << 20;
    let head = format!(
        "POST /api/services/big/fail?rid=r HTTP/1.1\r\nHost: t\r\nContent-Length: {TOTAL}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).unwrap();
    // The body is written on another thread while this one reads the reply:
    // the server answers after max_body_bytes, then drains the rest.
    let mut w = s.try_clone().unwrap();
    let writer = thread::spawn(move || {
        let chunk = vec![b'z'; 64 * 1024];
        for _ in 0..TOTAL / chunk.len() {
            w.write_all(&chunk).unwrap();
        }
        // The same connection serves the next request.
        w.write_all(b"GET /version HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
    });
    let (status, head, body) = read_one(&mut s);
    assert_eq!(status, 200, "{head} {}", String::from_utf8_lossy(&body));
    assert!(head.contains("Ping-Body-Limit: 100"), "{head}");
    let Got::Job(name, _, Some(signal)) = got.recv().unwrap() else {
        panic!("not a job")
    };
    assert_eq!(name, "big");
    assert_eq!(signal.kind, SignalKind::Fail);
    let body = signal.body.unwrap();
    assert_eq!((body.bytes.len(), body.truncated), (100, true));
    assert!(body.bytes.iter().all(|&b| b == b'z'));
    writer.join().unwrap();
    let (status, _, body) = read_one(&mut s);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("lovebeat"));

    // A chunked body is cut the same way.
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut req = b"POST /api/services/chunky/log HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    for _ in 0..4 {
        req.extend_from_slice(format!("{:x}\r\n", 1000).as_bytes());
        req.extend_from_slice(&[b'c'; 1000]);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    s.write_all(&req).unwrap();
    let (status, head, _) = read_one(&mut s);
    assert_eq!(status, 200, "{head}");
    let Got::Job(_, _, Some(signal)) = got.recv().unwrap() else {
        panic!("not a job")
    };
    let body = signal.body.unwrap();
    assert_eq!((body.bytes.len(), body.truncated), (100, true));
}

#[test]
fn json_settings_over_the_body_cap_are_still_413_with_the_header() {
    use std::io::Write;
    let (state, got) = fake_state();
    let counters = std::sync::Arc::new(crate::counters::Counters::default());
    let (addr, _) = spawn("127.0.0.1:0", state, counters, HttpOptions::default()).unwrap();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let head = "POST /api/services/j HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{";
    s.write_all(head.as_bytes()).unwrap();
    let (status, head, _) = read_one(&mut s);
    assert_eq!(status, 413);
    assert!(head.contains("Ping-Body-Limit: 10000"), "{head}");
    assert!(got.try_recv().is_err());
}

#[test]
fn behind_nginx_connection_upgrade_the_rest_is_read_and_dropped() {
    use std::io::{Read, Write};
    let (state, got) = fake_state();
    let opts = HttpOptions {
        max_body_bytes: 10,
        ..HttpOptions::default()
    };
    let counters = std::sync::Arc::new(crate::counters::Counters::default());
    let (addr, _) = spawn("127.0.0.1:0", state, counters, opts).unwrap();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    // nginx as in the README sends `Connection: upgrade` on every request;
    // tiny_http then hands over the raw connection as the body and closes
    // it after the reply. The rest of the body must be read first: closed
    // unread, it would reset the connection and could lose the reply.
    let body = vec![b'u'; 300_000];
    let head = format!(
        "POST /api/services/up/log HTTP/1.1\r\nHost: t\r\nConnection: upgrade\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&body).unwrap();
    let (status, head, _) = read_one(&mut s);
    assert_eq!(status, 200, "{head}");
    let Got::Job(_, _, Some(signal)) = got.recv().unwrap() else {
        panic!("not a job")
    };
    assert_eq!(signal.kind, SignalKind::Log);
    assert_eq!(
        signal.body.map(|b| (b.bytes.len(), b.truncated)),
        Some((10, true))
    );
    let mut rest = Vec::new();
    let end = s.read_to_end(&mut rest);
    assert!(end.is_ok(), "a clean close, not a reset: {end:?}");
}

#[test]
fn refusals_before_routing_carry_the_body_limit_too() {
    use std::io::Write;
    let (state, got) = fake_state();
    let opts = HttpOptions {
        auth: auth::Auth::new("secret", false),
        ..HttpOptions::default()
    };
    let counters = std::sync::Arc::new(crate::counters::Counters::default());
    let (addr, _) = spawn("127.0.0.1:0", state, counters, opts).unwrap();
    for (req, status) in [
        ("POST /api/services/a/start HTTP/1.1\r\nHost: t\r\n\r\n", 401),
        (
            "POST /api/services/a/start HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer secret\r\nContent-Length: x\r\n\r\n",
            400,
        ),
    ] {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let (got_status, head, _) = read_one(&mut s);
        assert_eq!(got_status, status, "{head}");
        assert!(head.contains("Ping-Body-Limit: 10000"), "{head}");
    }
    assert!(got.try_recv().is_err());
}
