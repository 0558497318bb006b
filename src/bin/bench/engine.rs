//! `bench --engine [--services N]`: the engine alone, in this process (no
//! server, no sockets): ns of engine time per plain beat, per success beat
//! of a scheduled service (its next fire computed, 100k services), and RSS
//! per plain service at N (default 1M).

use lovebeat::engine::{Engine, EngineConfig, JobConfig};
use lovebeat::jobs::SettingsChange;
use lovebeat::model::Update;
use std::time::Instant;

const T0: i64 = 1_700_000_000_000;

fn engine(max: usize) -> Engine {
    Engine::new(EngineConfig {
        templates: Vec::new(),
        max_services: max + 10,
        started_at: T0,
        jobs: JobConfig::default(),
    })
}

fn own_rss() -> u64 {
    super::rss_bytes(std::process::id())
}

pub fn engine_bench(total: usize) {
    println!("lovebeat bench --engine: {total} services");
    let names: Vec<String> = (0..total).map(|i| format!("svc.{i:07}")).collect();
    let mut out = Vec::new();

    // 1. RSS per plain service (names are built before the first reading).
    let before = own_rss();
    let mut e = engine(total);
    for (i, name) in names.iter().enumerate() {
        let update = Update::SetTimeoutAndBeat(60_000);
        let _ = e.apply(name, update, T0 + i as i64 / 1000, &mut out);
        out.clear();
    }
    let after = own_rss();
    println!(
        "RSS per plain service at {total}: {:6.0} bytes",
        after.saturating_sub(before) as f64 / total as f64
    );

    // 2. ns per plain beat (each service beats once more, 2 s later, so
    // none is rate-limited).
    let start = Instant::now();
    for (i, name) in names.iter().enumerate() {
        let _ = e.apply(name, Update::Beat, T0 + 2_000 + i as i64 / 1000, &mut out);
        out.clear();
    }
    let per = start.elapsed().as_nanos() as f64 / total as f64;
    println!("plain beat:                      {per:8.0} ns engine time");
    drop(e);
    scheduled(&names[..total.min(100_000)]);
}

/// Success beats of scheduled services (`*/5 * * * *`, so every beat
/// computes a next fire), and what they cost idle.
fn scheduled(names: &[String]) {
    let mut e = engine(names.len());
    let mut out = Vec::new();
    let change = SettingsChange {
        schedule: Some(Some("*/5 * * * *".into())),
        ..SettingsChange::default()
    };
    for name in names {
        if let Err(err) = e.job(name, &change, None, T0, &mut out) {
            super::die(&format!("setting a schedule: {err}"));
        }
        out.clear();
    }
    let rounds = 5;
    let start = Instant::now();
    for round in 1..=rounds {
        for (i, name) in names.iter().enumerate() {
            let now = T0 + round * 2_000 + i as i64 / 1000;
            let _ = e.apply(name, Update::Beat, now, &mut out);
            out.clear();
        }
    }
    let per = start.elapsed().as_nanos() as f64 / (rounds as usize * names.len()) as f64;
    println!(
        "scheduled success beat:          {per:8.0} ns engine time ({} services)",
        names.len()
    );
    // Idle: nothing is due before the first deadline, so a wake-up finds
    // nothing to do and the next one is that far away.
    let now = T0 + 60_000;
    let next = e.next_deadline().unwrap_or(i64::MAX);
    let start = Instant::now();
    e.tick(now, &mut out);
    println!(
        "idle {} scheduled services: next wake-up in {:.0} s; a tick with nothing due: {} ns",
        names.len(),
        (next - now) as f64 / 1000.0,
        start.elapsed().as_nanos()
    );
}
