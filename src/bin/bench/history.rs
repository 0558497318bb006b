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
        let Some((status, body)) = super::http_on(stream, "GET", path) else {
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
        let t = Instant::now();
        let mut bytes = 0;
        for _ in 0..rounds {
            let reply = engine
                .service_history("flap.a", since, now, now)
                .unwrap_or_else(|e| super::die(&e.to_string()));
            bytes = serde_json::to_vec(&reply).map(|b| b.len()).unwrap_or(0);
        }
        println!(
            "in-process, {label}: {:.2} ms per answer (query + JSON, {} KiB)",
            t.elapsed().as_secs_f64() * 1000.0 / rounds as f64,
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
