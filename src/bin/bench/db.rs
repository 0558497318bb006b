//! `bench --db [--services N]`: the database in-process, no server: save
//! (encode, write, fsync, rename) and load (decode, then `Engine::load`) of
//! N plain services, and of N services with a schedule and 20 events each
//! (SPEC 14), with the file sizes. The events are 10 start/exit pairs with
//! run ids from HTTP; the newest of each service carries a 32-byte body (at
//! 1M services, 32 MB of bodies: within the default 64 MiB
//! `event_body_memory`).

use lovebeat::engine::{Engine, EngineConfig};
use lovebeat::jobs::{Body, JobEvent, JobRecord, JobSettings, OpenRun, SignalKind, Source};
use lovebeat::model::{ServiceRecord, ServiceSnapshot, State};
use lovebeat::store::{decode, write_atomic};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

const NOW: i64 = 1_800_000_000_000;

fn plain(i: usize) -> ServiceRecord {
    ServiceRecord {
        name: format!("svc.{i:07}"),
        state: State::Ok,
        last_beat: NOW - 1000,
        timeout: 3_600_000,
        last_state_change: NOW - 86_400_000,
        beat_history: vec![3_600_000; 10],
        ..ServiceRecord::default()
    }
}

fn job(i: usize, body: &Arc<[u8]>) -> JobRecord {
    let addr = Some("127.0.0.1".parse().expect("an address"));
    let events = (0..20u64)
        .map(|k| {
            let run = k / 2;
            let start = k % 2 == 0;
            JobEvent {
                n: 1000 + k,
                ts: NOW - 86_400_000 * (10 - run as i64) + if start { 0 } else { 61_000 },
                kind: if start {
                    SignalKind::Start
                } else {
                    SignalKind::Exit(0)
                },
                rid: Some(format!("r{i}-{run}").into()),
                duration: (!start).then_some(61_000),
                source: Source::Http(addr),
                body: (k == 19).then(|| Body {
                    bytes: Arc::clone(body),
                    truncated: false,
                }),
                body_dropped: false,
            }
        })
        .collect();
    JobRecord {
        own: JobSettings {
            schedule: Some("0 2 * * *".into()),
            tz: Some("Europe/Berlin".into()),
            grace: Some(3_600_000),
            max_runtime: Some(7_200_000),
            min_duration: None,
        },
        schedule_since: Some(NOW - 30 * 86_400_000),
        open_runs: if i.is_multiple_of(10) {
            vec![OpenRun {
                since: NOW - 5_000,
                rid: Some(format!("r{i}-open").into()),
            }]
        } else {
            Vec::new()
        },
        last_duration: Some(61_000),
        last_exit_code: Some(0),
        events,
        ..JobRecord::default()
    }
}

/// Saves and loads `total` services built by `make`; prints one line.
fn measure(what: &str, dir: &Path, total: usize, make: impl Fn(usize) -> ServiceRecord) {
    let path = dir.join("bench-db.db");
    let mut snapshot = ServiceSnapshot::with_capacity(total);
    for i in 0..total {
        let record = make(i);
        snapshot.push((&record).into());
    }
    let t = Instant::now();
    let bytes =
        write_atomic(&path, &snapshot, &[], &[]).unwrap_or_else(|e| super::die(&e.to_string()));
    let save = t.elapsed();
    drop(snapshot);
    let t = Instant::now();
    let file = File::open(&path).unwrap_or_else(|e| super::die(&e.to_string()));
    let db = decode(BufReader::new(file)).unwrap_or_else(|e| super::die(&e.to_string()));
    let decoded = t.elapsed();
    assert_eq!(db.services.len(), total, "every service loads");
    assert_eq!(db.job_key_problems.count, 0, "no malformed keys");
    let t = Instant::now();
    let mut engine = Engine::new(EngineConfig {
        templates: Vec::new(),
        max_services: total + 1,
        started_at: NOW,
        jobs: Default::default(),
    });
    let report = engine.load(db.services, db.views, NOW);
    let loaded = t.elapsed();
    assert_eq!(report.services, total);
    println!(
        "{what}: save {:.0} ms, file {:.1} MiB; load {:.0} ms (decode {:.0} ms + Engine::load {:.0} ms)",
        save.as_secs_f64() * 1000.0,
        bytes as f64 / 1_048_576.0,
        (decoded + loaded).as_secs_f64() * 1000.0,
        decoded.as_secs_f64() * 1000.0,
        loaded.as_secs_f64() * 1000.0,
    );
    drop(engine);
    let _ = std::fs::remove_file(&path);
}

pub fn db_bench(dir: &Path, total: usize) {
    println!("lovebeat bench --db: {total} services, in-process");
    measure(&format!("{total} plain services"), dir, total, plain);
    let body: Arc<[u8]> = Arc::from(&b"backup done: 1234 files, 5.6 GB\n"[..]);
    measure(
        &format!("{total} services with schedules and 20 events each"),
        dir,
        total,
        |i| ServiceRecord {
            job: Some(Box::new(job(i, &body))),
            // What the engine stores for 1.0.3: the longest gap plus grace.
            timeout: 86_400_000 + 3_600_000,
            ..plain(i)
        },
    );
}
