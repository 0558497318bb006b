//! `GET /metrics`: the process counters and the services/views per state in
//! the Prometheus text exposition format (version 0.0.4).

use crate::counters::Counters;
use crate::model::State;
use crate::state::Stats;
use std::fmt::Write;

const STATES: [State; 4] = [State::New, State::Ok, State::Error, State::Muted];

/// Renders the exposition text.
pub fn render(stats: &Stats, counters: &Counters) -> String {
    let mut out = String::with_capacity(2048);
    let mut gauge_by_state = |name: &str, help: &str, values: &[usize; 4]| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for state in STATES {
            let _ = writeln!(
                out,
                "{name}{{state=\"{}\"}} {}",
                state.as_str(),
                values[state.gauge() as usize]
            );
        }
    };
    gauge_by_state("lovebeat_services", "Services per state.", &stats.services);
    gauge_by_state("lovebeat_views", "Views per state.", &stats.views);
    let counter = |out: &mut String, name: &str, help: &str, value: u64| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} counter");
        let _ = writeln!(out, "{name} {value}");
    };
    let get = Counters::get;
    counter(
        &mut out,
        "lovebeat_beats_total",
        "Beats accepted (after the rate limit).",
        get(&counters.beats),
    );
    counter(
        &mut out,
        "lovebeat_statsd_lines_total",
        "statsd lines received, valid or not.",
        get(&counters.lines),
    );
    counter(
        &mut out,
        "lovebeat_invalid_lines_total",
        "statsd lines dropped as invalid.",
        get(&counters.invalid_lines),
    );
    counter(
        &mut out,
        "lovebeat_refused_services_total",
        "New services refused by [limits] max_services.",
        get(&counters.refused_services),
    );
    counter(
        &mut out,
        "lovebeat_queue_drops_total",
        "Updates dropped because the state thread's queue was full.",
        get(&counters.queue_drops),
    );
    counter(
        &mut out,
        "lovebeat_tcp_refused_total",
        "statsd TCP connections refused at the connection cap.",
        get(&counters.tcp_refused),
    );
    counter(
        &mut out,
        "lovebeat_db_saves_total",
        "Database saves that succeeded.",
        get(&counters.saves),
    );
    counter(
        &mut out,
        "lovebeat_db_save_failures_total",
        "Database saves that failed.",
        get(&counters.save_failures),
    );
    counter(
        &mut out,
        "lovebeat_s3_uploads_total",
        "Database uploads to S3 that succeeded.",
        get(&counters.s3_uploads),
    );
    counter(
        &mut out,
        "lovebeat_s3_upload_failures_total",
        "Database uploads to S3 that failed (tried again after the next save).",
        get(&counters.s3_upload_failures),
    );
    let _ = writeln!(
        out,
        "# HELP lovebeat_db_save_seconds Duration of the last database save."
    );
    let _ = writeln!(out, "# TYPE lovebeat_db_save_seconds gauge");
    let _ = writeln!(
        out,
        "lovebeat_db_save_seconds {}",
        get(&counters.last_save_ms) as f64 / 1000.0
    );
    let _ = writeln!(out, "# HELP lovebeat_build_info The running version.");
    let _ = writeln!(out, "# TYPE lovebeat_build_info gauge");
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
        let text = render(
            &Stats {
                services: [0, 3, 1, 2],
                views: [0, 1, 0, 0],
            },
            &counters,
        );
        assert!(text.contains("lovebeat_services{state=\"error\"} 1\n"));
        assert!(text.contains("lovebeat_services{state=\"muted\"} 2\n"));
        assert!(text.contains("lovebeat_beats_total 7\n"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = line.rsplit_once(' ').unwrap_or(("", ""));
            assert!(value.parse::<f64>().is_ok(), "{line}");
            assert!(name.starts_with("lovebeat_"), "{line}");
        }
    }
}
