//! `bench --cron`: the cost of `Schedule::next_fire` (what a success beat of
//! a scheduled service computes) and of `Schedule::parse` (per scheduled
//! service loaded), in-process; no server.

use lovebeat::cron::Schedule;
use std::hint::black_box;
use std::time::Instant;

const EXPRESSIONS: [&str; 6] = [
    "*/5 * * * *",
    "0 2 * * *",
    "30 */2 * * *",
    "0 9-17 * * MON-FRI",
    "0 0 L * *",
    "@hourly",
];
const ZONES: [&str; 5] = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
];
/// 2025-01-01T00:00:00Z, ms.
const YEAR_START: i64 = 1_735_689_600_000;
const YEAR_MS: i64 = 365 * 86_400_000;

/// Mean ns per call of `f` over `instants`, repeated to about 0.2 s.
fn per_call(instants: &[i64], f: impl Fn(i64) -> Option<i64>) -> f64 {
    let mut rounds = 1u32;
    loop {
        let start = Instant::now();
        for _ in 0..rounds {
            for &t in instants {
                black_box(f(black_box(t)));
            }
        }
        let elapsed = start.elapsed();
        if elapsed.as_millis() >= 200 || rounds >= 1 << 20 {
            return elapsed.as_nanos() as f64 / (f64::from(rounds) * instants.len() as f64);
        }
        rounds *= 2;
    }
}

pub fn cron_bench() {
    println!("lovebeat bench --cron: ns per Schedule::next_fire (mean)");
    // 4096 instants spread over 2025 (odd seconds, not on the minute).
    let year: Vec<i64> = (0..4096)
        .map(|i| YEAR_START + i * (YEAR_MS / 4096) + 7_321)
        .collect();
    println!(
        "{:<22} {:<20} {:>10} {:>14} {:>10}",
        "expression", "zone", "over 2025", "DST weekend", "parse"
    );
    for zone in ZONES {
        // The hours around this zone's transitions of 2025 (or, without
        // any, the same year), where the exact slow path runs.
        let near: Vec<i64> = {
            let tz = jiff::tz::TimeZone::get(zone).expect("zone");
            let mut near = Vec::new();
            let mut t = YEAR_START;
            while t < YEAR_START + YEAR_MS {
                // One instant per 10 minutes within ±1 day of each change.
                t += 600_000;
                if offset_changes(&tz, t - 86_400_000, t + 86_400_000) {
                    near.push(t + 13_000);
                }
            }
            if near.is_empty() {
                year.clone()
            } else {
                near
            }
        };
        for expr in EXPRESSIONS {
            let schedule = Schedule::parse(expr, zone).expect("valid");
            let mean = per_call(&year, |t| schedule.next_fire(t));
            let dst = per_call(&near, |t| schedule.next_fire(t));
            let start = Instant::now();
            let n = 2000;
            for _ in 0..n {
                black_box(Schedule::parse(black_box(expr), black_box(zone)).ok());
            }
            let parse = start.elapsed().as_nanos() as f64 / f64::from(n);
            println!("{expr:<22} {zone:<20} {mean:>7.0} ns {dst:>11.0} ns {parse:>7.0} ns");
        }
    }
}

/// Whether the zone's UTC offset differs between `a` and `b` (ms).
fn offset_changes(tz: &jiff::tz::TimeZone, a: i64, b: i64) -> bool {
    let off = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms)
            .map(|t| tz.to_offset(t).seconds())
            .unwrap_or(0)
    };
    off(a) != off(b)
}
