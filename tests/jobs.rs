//! Jobs (SPEC 14) against the real binary, end to end: the nightly backup
//! that runs at 02:00 Europe/Berlin, starts, fails with exit code 3 and
//! says why on stderr; its service object, events and output; statsd run
//! signals over UDP and TCP; and the bad input of issue 15, each refused
//! with a JSON error and nothing changed.

mod common;

use common::{parse_response, wait_until, Server, TempDir};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);
const BACKUP: &str = "nightly.backup";

fn service(server: &Server, name: &str) -> Value {
    server
        .service(name)
        .unwrap_or_else(|| panic!("no service {name}; log:\n{}", server.log_text()))
}

fn events(server: &Server, name: &str) -> Vec<Value> {
    let v = server.json(&format!("/api/services/{name}/events"));
    assert!(v["now"].as_i64().unwrap_or(0) > 0, "{v}");
    v["events"].as_array().cloned().unwrap_or_default()
}

fn post(server: &Server, path: &str, headers: &[(&str, &str)], body: &[u8]) -> common::Response {
    let r = server.request("POST", path, headers, body);
    assert_eq!(
        r.header("Ping-Body-Limit"),
        Some("10000"),
        "POST {path}: every reply of a route that takes a body says its limit"
    );
    r
}

fn ok(server: &Server, path: &str, headers: &[(&str, &str)], body: &[u8]) {
    let r = post(server, path, headers, body);
    assert_eq!(r.status, 200, "POST {path}: {}", r.text());
    assert_eq!(r.json(), json!({}));
}

const JSON: (&str, &str) = ("Content-Type", "application/json");
const TEXT: (&str, &str) = ("Content-Type", "text/plain");

#[test]
fn the_nightly_backup_story() {
    let dir = TempDir::new("jobs-story");
    let server = Server::start(dir.path(), "");

    // A schedule with a zone and grace, by query (this also beats).
    ok(
        &server,
        &format!("/api/services/{BACKUP}?schedule=0+2+*+*+*&tz=Europe%2FBerlin&grace=1h"),
        &[],
        b"",
    );
    let s = service(&server, BACKUP);
    assert_eq!(s["schedule"], "0 2 * * *", "{s}");
    assert_eq!(s["tz"], "Europe/Berlin", "{s}");
    assert_eq!(s["grace"], 3_600_000, "{s}");
    let now = server.json("/api/services")["now"].as_i64().unwrap();
    let deadline = s["next_deadline"]
        .as_i64()
        .expect("a scheduled service has a deadline");
    assert!(
        deadline > now && deadline <= now + 26 * 3_600_000,
        "next 02:00 Berlin plus 1 h grace: {deadline} vs now {now}"
    );

    // More settings by JSON, without a beat; the body's keys win.
    ok(
        &server,
        &format!("/api/services/{BACKUP}?grace=5h"),
        &[JSON],
        br#"{"grace": "30m", "max_runtime": "2h", "min_duration": 1, "beat": false}"#,
    );
    let s = service(&server, BACKUP);
    assert_eq!(s["grace"], 1_800_000, "{s}");
    assert_eq!(s["max_runtime"], 7_200_000, "{s}");
    assert_eq!(s["min_duration"], 1000, "{s}");
    assert_eq!(s["schedule"], "0 2 * * *", "{s}");

    // A schedule and zone by JSON on a new service, without a beat.
    ok(
        &server,
        "/api/services/weekly.report",
        &[JSON],
        br#"{"schedule": "@weekly", "tz": "Asia/Kathmandu", "grace": "2h", "beat": false}"#,
    );
    let s = service(&server, "weekly.report");
    assert_eq!(s["schedule"], "@weekly", "{s}");
    assert_eq!(s["tz"], "Asia/Kathmandu", "{s}");
    assert_eq!(s["grace"], 7_200_000, "{s}");
    assert_eq!(s["last_beat"], -1, "no beat: {s}");

    // The run starts, with a run id.
    ok(
        &server,
        &format!("/api/services/{BACKUP}/start?rid=run-1"),
        &[],
        b"",
    );
    let s = service(&server, BACKUP);
    assert!(s["running_since"].as_i64().is_some(), "{s}");
    assert_eq!(s["open_runs"], 1, "{s}");

    // ... and fails with exit code 3 and its stderr as the body.
    let stderr = b"tar: /backup: No space left on device\n";
    ok(
        &server,
        &format!("/api/services/{BACKUP}/3?rid=run-1"),
        &[TEXT],
        stderr,
    );
    let s = service(&server, BACKUP);
    assert_eq!(s["state"], "error", "{s}");
    assert_eq!(s["reason"], "failed", "{s}");
    assert_eq!(s["last_exit_code"], 3, "{s}");
    assert!(s.get("running_since").is_none(), "the run is closed: {s}");
    assert!(s.get("open_runs").is_none(), "{s}");
    assert!(s["last_duration"].as_i64().is_some_and(|d| d >= 0), "{s}");

    // Its events, newest last, and the body of the failure.
    let list = events(&server, BACKUP);
    let n = list.len();
    assert!(n >= 2, "{list:?}");
    let (start, exit) = (&list[n - 2], &list[n - 1]);
    assert_eq!(start["kind"], "start", "{start}");
    assert_eq!(start["rid"], "run-1", "{start}");
    assert_eq!(exit["kind"], "exit", "{exit}");
    assert_eq!(exit["exit_code"], 3, "{exit}");
    assert_eq!(exit["rid"], "run-1", "{exit}");
    assert_eq!(exit["source"], "http", "{exit}");
    assert_eq!(exit["remote_addr"], "127.0.0.1", "{exit}");
    assert_eq!(
        exit["body"],
        String::from_utf8_lossy(stderr).as_ref(),
        "{exit}"
    );
    assert_eq!(exit["body_truncated"], false, "{exit}");
    assert!(exit["duration"].as_i64().is_some(), "{exit}");
    assert!(exit["n"].as_u64() > start["n"].as_u64(), "{list:?}");
    let body = server.get(&format!("/api/services/{BACKUP}/events/{}/body", exit["n"]));
    assert_eq!(body.status, 200, "{}", body.text());
    assert_eq!(body.body, stderr);
    assert!(body
        .header("Content-Type")
        .unwrap_or("")
        .starts_with("text/plain"));
    let r = server.get(&format!(
        "/api/services/{BACKUP}/events/{}/body",
        start["n"]
    ));
    assert_eq!(r.status, 404, "a start without a body: {}", r.text());
    assert!(r.json()["error"].as_str().unwrap_or("").contains("no body"));
    let r = server.get(&format!("/api/services/{BACKUP}/events/999999/body"));
    assert_eq!(r.status, 404);
    assert!(r.json()["error"].is_string());
    assert_eq!(server.get("/api/services/nobody/events").status, 404);

    // A body over max_body_bytes (10,000) is kept cut, and says so.
    let big = vec![b'x'; 15_000];
    ok(
        &server,
        &format!("/api/services/{BACKUP}/log"),
        &[TEXT],
        &big,
    );
    let list = events(&server, BACKUP);
    let log = list.last().expect("the log event");
    assert_eq!(log["kind"], "log", "{log}");
    assert_eq!(log["body_truncated"], true, "{log}");
    assert_eq!(log["body"].as_str().map(str::len), Some(10_000));
    let r = server.get(&format!("/api/services/{BACKUP}/events/{}/body", log["n"]));
    assert_eq!(r.body.len(), 10_000);
    // A log changes nothing.
    assert_eq!(service(&server, BACKUP)["reason"], "failed");

    // The next success clears the failure.
    ok(&server, &format!("/api/services/{BACKUP}/0"), &[], b"");
    let s = service(&server, BACKUP);
    assert_eq!(s["state"], "ok", "{s}");
    assert!(s.get("reason").is_none(), "{s}");
    assert_eq!(s["last_exit_code"], 0, "{s}");

    // `schedule=none` goes back to the period.
    ok(
        &server,
        &format!("/api/services/{BACKUP}?schedule=none&timeout=1h"),
        &[],
        b"",
    );
    let s = service(&server, BACKUP);
    assert!(s.get("schedule").is_none(), "{s}");
    assert_eq!(s["timeout"], 3_600_000, "{s}");
}

#[test]
fn statsd_run_signals_over_udp_and_tcp() {
    let dir = TempDir::new("jobs-statsd");
    let server = Server::start(dir.path(), "");
    let invalid_before = invalid_lines(&server);

    server.udp_send(b"udp.job.start:1|c\nudp.job.exit:256|g\nudp.job.fail:1|c\n");
    assert!(
        wait_until(WAIT, || server
            .service("udp.job")
            .is_some_and(|s| s["reason"] == "failed")),
        "{:?}",
        server.service("udp.job")
    );
    let list = events(&server, "udp.job");
    let kinds: Vec<&str> = list.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds, ["start", "fail"], "{list:?}");
    assert!(list
        .iter()
        .all(|e| e["source"] == "udp" && e.get("remote_addr").is_none()));
    assert!(
        wait_until(WAIT, || invalid_lines(&server) == invalid_before + 1),
        "exit code 256 is an invalid line, counted"
    );

    server.tcp_send(b"tcp.job.start:1|c\ntcp.job.exit:4|g\n");
    assert!(
        wait_until(WAIT, || server
            .service("tcp.job")
            .is_some_and(|s| s["last_exit_code"] == 4)),
        "{:?}",
        server.service("tcp.job")
    );
    let s = service(&server, "tcp.job");
    assert_eq!(s["state"], "error", "{s}");
    assert_eq!(s["reason"], "failed", "{s}");
    let list = events(&server, "tcp.job");
    assert_eq!(list.last().map(|e| e["exit_code"].clone()), Some(json!(4)));
    assert!(list.iter().all(|e| e["source"] == "tcp"), "{list:?}");

    // `.beat` is a success.
    server.udp_send(b"tcp.job.beat:1|c");
    assert!(wait_until(WAIT, || service(&server, "tcp.job")["state"] == "ok"));
}

fn invalid_lines(server: &Server) -> u64 {
    let text = server.get("/metrics").text();
    text.lines()
        .find_map(|l| l.strip_prefix("lovebeat_invalid_lines_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Posts a body of `len` bytes, written by another thread while this one
/// waits for the reply: the test never holds the body, and the server must
/// answer without reading all of it into memory.
fn stream_body(server: &Server, path: &str, content_type: &str, len: u64) -> common::Response {
    let mut s = TcpStream::connect(server.http).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).expect("head");
    let mut w = s.try_clone().expect("clone");
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'y'; 1 << 20];
        let mut left = len;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            // The server may close once it has answered (a refused body).
            if w.write_all(&chunk[..n]).is_err() {
                return;
            }
            left -= n as u64;
        }
    });
    let mut data = Vec::new();
    let _ = s.read_to_end(&mut data);
    let _ = writer.join();
    parse_response(&data)
}

/// A request: path, headers, body.
type Case = (String, Vec<(&'static str, &'static str)>, Vec<u8>);

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let dir = TempDir::new("jobs-bad");
    let server = Server::start(dir.path(), "");
    ok(
        &server,
        &format!("/api/services/{BACKUP}?schedule=30+2+*+*+*&tz=Europe%2FBerlin&grace=1h"),
        &[],
        b"",
    );
    let before = service(&server, BACKUP);
    let events_before = events(&server, BACKUP);
    let long_rid = "r".repeat(10_000);
    let cases: Vec<Case> = vec![
        (
            format!("/api/services/{BACKUP}?schedule=61+*+*+*+*"),
            vec![],
            vec![],
        ),
        (
            format!("/api/services/{BACKUP}?schedule=*%2F0+*+*+*+*"),
            vec![],
            vec![],
        ),
        (
            format!("/api/services/{BACKUP}?tz=Mars%2FOlympus"),
            vec![],
            vec![],
        ),
        (
            format!("/api/services/{BACKUP}/start?tz=Mars%2FOlympus"),
            vec![],
            vec![],
        ),
        (
            format!("/api/services/{BACKUP}"),
            vec![JSON],
            br#"{"schedule": "61 * * * *"}"#.to_vec(),
        ),
        (
            format!("/api/services/{BACKUP}"),
            vec![JSON],
            br#"{"tz": "Mars/Olympus"}"#.to_vec(),
        ),
        (
            format!("/api/services/{BACKUP}/start?rid={long_rid}"),
            vec![],
            vec![],
        ),
        (
            format!("/api/services/{BACKUP}/start?rid=a%2Fb"),
            vec![],
            vec![],
        ),
        (format!("/api/services/{BACKUP}/256"), vec![], vec![]),
        (format!("/api/services/{BACKUP}/-1"), vec![], vec![]),
        (format!("/api/services/{BACKUP}/abc"), vec![], vec![]),
        (format!("/api/services/{BACKUP}?grace=5x"), vec![], vec![]),
        (
            format!("/api/services/{BACKUP}/success?max_runtime=auto"),
            vec![],
            vec![],
        ),
        (
            format!("/api/services/{BACKUP}?min_duration=-5"),
            vec![],
            vec![],
        ),
        (
            format!("/api/services/{BACKUP}"),
            vec![JSON],
            br#"{"grace": -5}"#.to_vec(),
        ),
        (
            format!("/api/services/{BACKUP}"),
            vec![("Content-Type", "application/x-www-form-urlencoded")],
            b"max_runtime=1h30m".to_vec(),
        ),
    ];
    for (path, headers, body) in &cases {
        let r = server.request("POST", path, headers, body);
        let shown = &path[..path.len().min(120)];
        assert_eq!(r.status, 400, "POST {shown}: {}", r.text());
        let error = r.json()["error"].as_str().map(str::to_owned);
        assert!(
            error.is_some_and(|e| !e.is_empty()),
            "POST {shown}: {}",
            r.text()
        );
        assert_eq!(
            service(&server, BACKUP),
            before,
            "POST {shown} changed the service"
        );
    }
    assert_eq!(
        events(&server, BACKUP),
        events_before,
        "no event was recorded"
    );

    // A huge JSON settings body: 413 without reading it, nothing changed.
    let r = stream_body(
        &server,
        &format!("/api/services/{BACKUP}"),
        "application/json",
        200 << 20,
    );
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(r.json()["error"].is_string());
    assert_eq!(service(&server, BACKUP), before);

    // A huge output (200 MB) is a run's output like any other: kept cut
    // to max_body_bytes, answered, and the server goes on serving.
    let r = stream_body(
        &server,
        "/api/services/huge.log/log",
        "text/plain",
        200 << 20,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("Ping-Body-Limit"), Some("10000"));
    let list = events(&server, "huge.log");
    let last = list.last().expect("the log event");
    assert_eq!(last["body_truncated"], true, "{last}");
    assert_eq!(last["body"].as_str().map(str::len), Some(10_000));
    assert_eq!(service(&server, BACKUP), before);
}

#[test]
fn max_body_bytes_comes_from_the_configuration() {
    let dir = TempDir::new("jobs-limit");
    let server = Server::start(dir.path(), "[limits]\nmax_body_bytes = 500\n");
    let r = server.request("POST", "/api/services/small/log", &[TEXT], &[b'q'; 800]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("Ping-Body-Limit"), Some("500"));
    let list = events(&server, "small");
    let log = list.last().expect("the log event");
    assert_eq!(log["body"].as_str().map(str::len), Some(500), "{log}");
    assert_eq!(log["body_truncated"], true, "{log}");
}
