//! `bench --history`: `/api/services/<name>/history` over 30 days of a
//! flapping service (SPEC 18: under 10 ms). The database is written with
//! one service that went to ERROR and back every minute for 30 days (43,200
//! changes, all kept by the default limits) and a view it belongs to; the
//! real server loads it, and the route is asked on one keep-alive
//! connection: the default window (30 days: the newest 10,000 changes are
//! sent, `omitted` counts the rest) and one day (1,440 changes). Then the
//! same answers in-process (engine query and JSON, no HTTP).

use lovebeat::engine::{Engine, EngineConfig};
use lovebeat::history::{Change, Kind, Saved, Subject, DAY_MS};
use lovebeat::model::{ServiceRecord, ServiceSnapshot, State};
use lovebeat::store::{decode, encode_with_history};
use std::borrow::Cow;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const MIN: i64 = 60_000;

fn flapping(now: i64) -> Subject {
    let start = now - 30 * DAY_MS;
    let changes = (0..30 * 24 * 60)
        .map(|i| {
            let (from, to, reason) = if i % 2 == 0 {
                (
                    State::Ok,
                    State::Error,
                    Cow::Owned("no beat for 1 min".into()),
                )
            } else {
                (State::Error, State::Ok, Cow::Borrowed("beat"))
            };
            Change {
                at: start + i * MIN + 30_000,
                from,
                to,
                reason,
            }
        })
        .collect();
    Subject {
        base_at: start,
        base: State::Ok,
        changes,
        dropped: 0,
    }
}

fn write_database(path: &Path, now: i64) {
    let service = ServiceRecord {
        name: "flap.a".into(),
        state: State::Ok,
        last_beat: now - 1000,
        timeout: 3_600_000,
        last_state_change: now - 30_000,
        ..ServiceRecord::default()
    };
    let history = vec![Saved {
        kind: Kind::Service,
        name: "flap.a".into(),
        subject: Arc::new(flapping(now)),
    }];
    let mut bytes = Vec::new();
    encode_with_history(
        &ServiceSnapshot::from(&[service][..]),
        &[],
        &[],
        &history,
        &mut bytes,
    )
    .unwrap_or_else(|e| super::die(&e.to_string()));
    std::fs::write(path, &bytes).unwrap_or_else(|e| super::die(&e.to_string()));
    println!(
        "database: 1 service, {} changes over 30 days, {} KiB gzip",
        history[0].subject.changes.len(),
        bytes.len() / 1024
    );
}

/// One GET on a keep-alive connection; the body whole, sent with a length
/// or chunked (tiny_http chunks answers over 32 KiB).
fn get_on(stream: &mut TcpStream, path: &str) -> Option<(u16, Vec<u8>)> {
    let req = format!("GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n");
    stream.write_all(req.as_bytes()).ok()?;
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    };
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim(), 16).ok()?;
            let mut chunk = vec![0u8; n + 2]; // and its CRLF
            reader.read_exact(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        let len: usize = header("content-length")?.parse().ok()?;
        body.resize(len, 0);
        reader.read_exact(&mut body).ok()?;
    }
    // Nothing is left buffered: the next answer starts after this one.
    if !reader.buffer().is_empty() {
        return None;
    }
    Some((status, body))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn measure(stream: &mut TcpStream, path: &str, rounds: usize) {
    let mut times = Vec::with_capacity(rounds);
    let mut size = 0;
    let mut changes = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        let Some((status, body)) = get_on(stream, path) else {
            super::die("no answer");
        };
        times.push(t.elapsed());
        if status != 200 {
            super::die(&format!("{path}: {status}"));
        }
        size = body.len();
        changes = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["changes"].as_array().map(Vec::len))
            .unwrap_or(0);
    }
    times.sort();
    println!(
        "GET {path}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({changes} changes, {} KiB)",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        percentile(&times, 1.0),
        size / 1024
    );
}

pub fn history_bench(bin: &Path, dir: &Path) {
    let now = lovebeat::clock::now_ms();
    let db = dir.join("lovebeat.db");
    write_database(&db, now);

    // In-process: the engine's answer and its JSON, no HTTP.
    let loaded = decode(&std::fs::read(&db).unwrap_or_else(|e| super::die(&e.to_string()))[..])
        .unwrap_or_else(|e| super::die(&e.to_string()));
    let mut engine = Engine::new(EngineConfig {
        templates: vec![],
        max_services: 10,
        started_at: now,
        jobs: Default::default(),
    });
    engine.restore_history(loaded.history, now);
    engine.load(loaded.services, loaded.views, now);
    for (label, since) in [("30 d", now - 30 * DAY_MS), ("1 d", now - DAY_MS)] {
        let rounds = 200;
        let (mut query, mut json) = (Duration::ZERO, Duration::ZERO);
        let mut bytes = 0;
        for _ in 0..rounds {
            let t = Instant::now();
            let reply = engine
                .service_history("flap.a", since, now, now)
                .unwrap_or_else(|e| super::die(&e.to_string()));
            query += t.elapsed();
            let t = Instant::now();
            bytes = serde_json::to_vec(&reply).map(|b| b.len()).unwrap_or(0);
            json += t.elapsed();
        }
        println!(
            "in-process, {label}: {:.2} ms per answer on the state thread, {:.2} ms of JSON ({} KiB)",
            query.as_secs_f64() * 1000.0 / rounds as f64,
            json.as_secs_f64() * 1000.0 / rounds as f64,
            bytes / 1024
        );
    }

    let (server, started) = super::start(bin, dir);
    println!(
        "server started with the history in {:.0} ms",
        started.as_secs_f64() * 1000.0
    );
    let mut stream =
        TcpStream::connect(server.http).unwrap_or_else(|e| super::die(&format!("connect: {e}")));
    measure(&mut stream, "/api/services/flap.a/history", 200);
    measure(
        &mut stream,
        &format!("/api/services/flap.a/history?since={}", now - DAY_MS),
        200,
    );
    super::stop(server);
}
