//! `bench --policy [--views N]`: the alert policy's cost, in this process
//! (no server): N views (default 1,000) in ERROR with `repeat = "1m"`,
//! an hour of reminders run deadline by deadline as the state thread
//! would (engine tick, view records, `Event::Alert`s), and the CPU that
//! hour cost as a share of one core. SPEC 15: < 0.5 %.

use lovebeat::engine::pattern::ViewTemplate;
use lovebeat::engine::{Engine, EngineConfig, JobConfig};
use lovebeat::events::Event;
use lovebeat::model::Update;
use lovebeat::policy::{PolicySettings, TemplatePolicy};
use std::time::Instant;

const T0: i64 = 1_800_000_000_000;
const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

pub fn policy_bench(views: usize) {
    println!("lovebeat bench --policy: {views} views in ERROR, repeat every minute, one hour");
    let template = ViewTemplate::new(
        "view-$n",
        &["host.$n.*".to_string()],
        &[],
        vec!["ops".into()],
    )
    .unwrap_or_else(|e| super::die(&format!("template: {e}")));
    let mut e = Engine::new(EngineConfig {
        templates: vec![template],
        max_services: views + 10,
        started_at: T0 - HOUR,
        jobs: JobConfig::default(),
    });
    let mut settings = PolicySettings {
        templates: vec![TemplatePolicy::default()],
        ..PolicySettings::default()
    };
    settings.repeat.insert("ops".into(), MINUTE);
    let mut out = Vec::new();
    e.set_policy_settings(settings, T0, &mut out);
    for i in 0..views {
        let _ = e.apply(
            &format!("host.{i:05}.job"),
            Update::SetTimeoutAndBeat(1_000),
            T0,
            &mut out,
        );
    }
    // Everything expires and sends its first message.
    e.tick(T0 + 1_000, &mut out);
    e.tick(T0 + 1_000, &mut out);
    let first = count(&out);
    out.clear();

    let start = Instant::now();
    let ticks_per_s = super::clock_ticks();
    let pid = std::process::id();
    let cpu_start = super::cpu_seconds(pid, ticks_per_s);
    let mut ticks = 0u64;
    let mut reminders = 0usize;
    let end = T0 + 1_000 + HOUR;
    while let Some(at) = e.next_deadline() {
        if at > end {
            break;
        }
        e.tick(at, &mut out);
        ticks += 1;
        reminders += count(&out);
        out.clear();
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = super::cpu_seconds(pid, ticks_per_s) - cpu_start;
    println!("first messages: {first}; reminders in the hour: {reminders} in {ticks} ticks");
    println!(
        "CPU for the hour: {:.1} ms ({:.1} ms wall), {:.2} us per reminder: {:.4} % of one core (SPEC 15: < 0.5 %)",
        cpu * 1e3,
        wall * 1e3,
        cpu * 1e6 / reminders.max(1) as f64,
        cpu / 3600.0 * 100.0
    );
}

fn count(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::Alert { .. }))
        .count()
}
