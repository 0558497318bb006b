//! `bench --engine [--services N]`: the engine alone, in this process (no
//! server, no sockets): ns of engine time per plain beat, per success beat
//! of a scheduled service (its next fire computed), and RSS per plain
//! service at N (default 1M).

use lovebeat::engine::{Engine, EngineConfig, JobConfig};
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
        let update = lovebeat::model::Update::SetTimeoutAndBeat(60_000);
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
        let _ = e.apply(
            name,
            lovebeat::model::Update::Beat,
            T0 + 2_000 + i as i64 / 1000,
            &mut out,
        );
        out.clear();
    }
    let per = start.elapsed().as_nanos() as f64 / total as f64;
    println!("plain beat:                      {per:8.0} ns engine time");
    drop(e);
}
