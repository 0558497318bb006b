//! `GET /metrics`: the process counters and the services/views per state in
//! the Prometheus text exposition format (version 0.0.4), clean under
//! `promtool check metrics` (every family has HELP and TYPE, counters end in
//! `_total`, times are in seconds).

use crate::clock::now_ms;
use crate::counters::Counters;
use crate::model::State;
use crate::state::Stats;
use std::fmt::Write;
use std::sync::atomic::AtomicU64;

const STATES: [State; 4] = [State::New, State::Ok, State::Error, State::Muted];

/// Counter families: name, help, the counter.
fn counter_families(c: &Counters) -> [(&'static str, &'static str, &AtomicU64); 16] {
    [
        (
            "lovebeat_beats_total",
            "Beats accepted (after the rate limit).",
            &c.beats,
        ),
        (
            "lovebeat_statsd_lines_total",
            "statsd lines received, valid or not.",
            &c.lines,
        ),
        (
            "lovebeat_invalid_lines_total",
            "statsd lines dropped as invalid.",
            &c.invalid_lines,
        ),
        (
            "lovebeat_refused_services_total",
            "New services refused by [limits] max_services.",
            &c.refused_services,
        ),
        (
            "lovebeat_freezes_total",
            "Times the monitor was stopped or suspended (deadlines moved by the gap).",
            &c.freezes,
        ),
        (
            "lovebeat_queue_drops_total",
            "Updates or events dropped because a bounded queue was full.",
            &c.queue_drops,
        ),
        (
            "lovebeat_tcp_refused_total",
            "statsd TCP connections refused at the connection cap.",
            &c.tcp_refused,
        ),
        (
            "lovebeat_db_saves_total",
            "Database saves that succeeded.",
            &c.saves,
        ),
        (
            "lovebeat_db_save_failures_total",
            "Database saves that failed.",
            &c.save_failures,
        ),
        (
            "lovebeat_alerts_sent_total",
            "Alerts delivered.",
            &c.alerts_sent,
        ),
        (
            "lovebeat_alert_failures_total",
            "Alerts that could not be delivered (after retries).",
            &c.alert_failures,
        ),
        (
            "lovebeat_notify_failures_total",
            "Posts to other Lovebeat instances ([[notify]]) that failed.",
            &c.notify_failures,
        ),
        (
            "lovebeat_metrics_dropped_total",
            "statsd metrics dropped because the metrics queue was full.",
            &c.metrics_dropped,
        ),
        (
            "lovebeat_eventlog_failures_total",
            "Event log lines that could not be written.",
            &c.eventlog_failures,
        ),
        (
            "lovebeat_s3_uploads_total",
            "Database uploads to S3 that succeeded.",
            &c.s3_uploads,
        ),
        (
            "lovebeat_s3_upload_failures_total",
            "Database uploads to S3 that failed.",
            &c.s3_upload_failures,
        ),
    ]
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Renders the exposition text.
pub fn render(stats: &Stats, counters: &Counters) -> String {
    let mut out = String::with_capacity(4096);
    for (name, help, values) in [
        ("lovebeat_services", "Services per state.", &stats.services),
        ("lovebeat_views", "Views per state.", &stats.views),
    ] {
        family(&mut out, name, "gauge", help);
        for state in STATES {
            let value = values[state.gauge() as usize];
            let _ = writeln!(out, "{name}{{state=\"{}\"}} {value}", state.as_str());
        }
    }
    for (name, help, counter) in counter_families(counters) {
        family(&mut out, name, "counter", help);
        let _ = writeln!(out, "{name} {}", Counters::get(counter));
    }
    family(
        &mut out,
        "lovebeat_event_bodies_dropped_total",
        "counter",
        "Event bodies dropped to stay within [limits] event_body_memory.",
    );
    let _ = writeln!(
        out,
        "lovebeat_event_bodies_dropped_total {}",
        stats.event_bodies_dropped
    );
    family(
        &mut out,
        "lovebeat_event_body_bytes",
        "gauge",
        "Bytes of event bodies held, all services together.",
    );
    let _ = writeln!(out, "lovebeat_event_body_bytes {}", stats.event_body_bytes);
    family(
        &mut out,
        "lovebeat_history_changes_dropped_total",
        "counter",
        "State changes dropped from the history to stay within [limits] history_days and history_memory.",
    );
    let _ = writeln!(
        out,
        "lovebeat_history_changes_dropped_total {}",
        stats.history_dropped
    );
    family(
        &mut out,
        "lovebeat_history_bytes",
        "gauge",
        "Bytes of state-change history held, all services and views together.",
    );
    let _ = writeln!(out, "lovebeat_history_bytes {}", stats.history_bytes);
    let seconds = |ms: u64| ms as f64 / 1000.0;
    let get = Counters::get;
    let started = get(&counters.started_at_ms);
    let now = u64::try_from(now_ms()).unwrap_or(0);
    for (name, help, value) in [
        (
            "lovebeat_db_save_seconds",
            "Duration of the last database save.",
            seconds(get(&counters.last_save_ms)),
        ),
        (
            "lovebeat_start_time_seconds",
            "When the process started, seconds since the Unix epoch.",
            seconds(started),
        ),
        (
            "lovebeat_uptime_seconds",
            "Seconds since the process started.",
            seconds(now.saturating_sub(started)),
        ),
    ] {
        family(&mut out, name, "gauge", help);
        let _ = writeln!(out, "{name} {value}");
    }
    family(
        &mut out,
        "lovebeat_build_info",
        "gauge",
        "The running version.",
    );
    let _ = writeln!(
        out,
        "lovebeat_build_info{{version=\"{}\"}} 1",
        crate::VERSION
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_line_is_name_labels_value() {
        let counters = Counters::default();
        Counters::add(&counters.beats, 7);
        Counters::add(&counters.notify_failures, 2);
        Counters::add(&counters.last_save_ms, 1500);
        let text = render(
            &Stats {
                services: [0, 3, 1, 2],
                views: [0, 1, 0, 0],
                event_body_bytes: 120,
                event_bodies_dropped: 3,
                history_bytes: 4096,
                history_dropped: 5,
            },
            &counters,
        );
        assert!(text.contains("lovebeat_services{state=\"error\"} 1\n"));
        assert!(text.contains("lovebeat_services{state=\"muted\"} 2\n"));
        assert!(text.contains("lovebeat_views{state=\"ok\"} 1\n"));
        assert!(text.contains("lovebeat_beats_total 7\n"));
        assert!(text.contains("lovebeat_notify_failures_total 2\n"));
        assert!(text.contains("lovebeat_db_save_seconds 1.5\n"));
        assert!(text.contains("lovebeat_event_body_bytes 120\n"));
        assert!(text.contains("lovebeat_event_bodies_dropped_total 3\n"));
        assert!(text.contains("lovebeat_history_changes_dropped_total 5\n"));
        assert!(text.contains("lovebeat_history_bytes 4096\n"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = line.rsplit_once(' ').unwrap_or(("", ""));
            assert!(value.parse::<f64>().is_ok(), "{line}");
            assert!(name.starts_with("lovebeat_"), "{line}");
        }
    }
}
