//! statsd metric lines in Lovebeat 1.x's names (`<prefix>.<name>:<value>|c`
//! or `|g`), and packing them into datagrams. No sockets here.

use crate::counters::Counters;
use crate::events::Event;
use crate::model::State;
use crate::state::Stats;
use std::fmt::Write;

/// Largest datagram we build: fits an Ethernet MTU with IP/UDP headers.
pub const MAX_PACKET: usize = 1432;

/// Formats metric lines under one prefix.
#[derive(Clone, Debug)]
pub struct Namer {
    prefix: String,
}

impl Namer {
    pub fn new(prefix: &str) -> Namer {
        let prefix = sanitize(prefix.trim_matches('.'));
        Namer { prefix }
    }

    fn line(&self, name: &str, value: impl std::fmt::Display, kind: &str) -> String {
        let mut out = String::with_capacity(self.prefix.len() + name.len() + 16);
        if !self.prefix.is_empty() {
            out.push_str(&self.prefix);
            out.push('.');
        }
        let _ = write!(out, "{}:{value}|{kind}", sanitize(name));
        out
    }

    pub fn counter(&self, name: &str, delta: u64) -> String {
        self.line(name, delta, "c")
    }

    pub fn gauge(&self, name: &str, value: u64) -> String {
        self.line(name, value, "g")
    }

    /// The state gauge a change event gives (`service.state.<name>` or
    /// `alarm.state.<name>`); none for removals and non-state changes.
    pub fn state_gauge(&self, event: &Event) -> Option<String> {
        let (kind, name, state): (&str, &str, State) = match event {
            Event::ServiceAdded { service } => ("service", &service.name, service.state),
            Event::ServiceChanged { service, previous } if service.state != *previous => {
                ("service", &service.name, service.state)
            }
            Event::ViewAdded { view } => ("alarm", &view.name, view.state),
            Event::ViewChanged { view, previous } if view.state != *previous => {
                ("alarm", &view.name, view.state)
            }
            _ => return None,
        };
        Some(self.gauge(&format!("{kind}.state.{name}"), state.gauge().into()))
    }
}

/// Keeps a metric name from breaking the line format: anything outside
/// `[A-Za-z0-9._-]` becomes `_`.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '_' | '-' => c,
            _ => '_',
        })
        .collect()
}

/// The process counters sent as statsd counters, by delta.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CounterValues {
    pub beats: u64,
    pub invalid_lines: u64,
    pub saves: u64,
}

impl CounterValues {
    pub fn read(c: &Counters) -> CounterValues {
        CounterValues {
            beats: Counters::get(&c.beats),
            invalid_lines: Counters::get(&c.invalid_lines),
            saves: Counters::get(&c.saves),
        }
    }
}

/// The lines of one periodic flush: counters that moved since `last` (as
/// deltas), `db.save.duration` when a save happened, and the service and
/// view counts when `stats` could be read.
pub fn flush_lines(
    namer: &Namer,
    last: CounterValues,
    now: CounterValues,
    last_save_ms: u64,
    stats: Option<&Stats>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (name, before, after) in [
        ("beats.count", last.beats, now.beats),
        ("lines.invalid.count", last.invalid_lines, now.invalid_lines),
        ("db.save.count", last.saves, now.saves),
    ] {
        if after > before {
            out.push(namer.counter(name, after - before));
        }
    }
    if now.saves > last.saves {
        out.push(namer.gauge("db.save.duration", last_save_ms));
    }
    if let Some(stats) = stats {
        out.push(namer.gauge("service.count", stats.services.iter().sum::<usize>() as u64));
        out.push(namer.gauge("alarm.count", stats.views.iter().sum::<usize>() as u64));
    }
    out
}

/// Packs lines into datagrams of at most [`MAX_PACKET`] bytes, one line per
/// row (a single longer line gets a datagram of its own).
pub fn pack(lines: &[String]) -> Vec<String> {
    let mut packets = Vec::new();
    let mut current = String::new();
    for line in lines {
        if !current.is_empty() && current.len() + 1 + line.len() > MAX_PACKET {
            packets.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(line);
    }
    if !current.is_empty() {
        packets.push(current);
    }
    packets
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ServiceRecord, ViewRecord};

    #[test]
    fn names_and_types() {
        let n = Namer::new("lovebeat");
        assert_eq!(n.counter("started.count", 1), "lovebeat.started.count:1|c");
        assert_eq!(n.gauge("service.count", 7), "lovebeat.service.count:7|g");
        assert_eq!(Namer::new("").counter("x", 2), "x:2|c");
        assert_eq!(Namer::new("a b.").gauge("c:d|e", 0), "a_b.c_d_e:0|g");
    }

    #[test]
    fn state_gauges_only_on_state_changes() {
        let n = Namer::new("lb");
        let service = ServiceRecord {
            name: "web.a".into(),
            state: State::Error,
            ..Default::default()
        };
        let changed = |previous| Event::ServiceChanged {
            service: service.clone(),
            previous,
        };
        assert_eq!(
            n.state_gauge(&changed(State::Ok)).as_deref(),
            Some("lb.service.state.web.a:2|g")
        );
        assert_eq!(n.state_gauge(&changed(State::Error)), None);
        let view = ViewRecord {
            name: "web".into(),
            state: State::Muted,
            ..Default::default()
        };
        assert_eq!(
            n.state_gauge(&Event::ViewAdded { view: view.clone() })
                .as_deref(),
            Some("lb.alarm.state.web:3|g")
        );
        assert_eq!(n.state_gauge(&Event::ViewRemoved { view }), None);
    }

    #[test]
    fn flush_sends_deltas() {
        let n = Namer::new("lb");
        let last = CounterValues {
            beats: 10,
            invalid_lines: 1,
            saves: 2,
        };
        let now = CounterValues {
            beats: 15,
            invalid_lines: 1,
            saves: 3,
        };
        let stats = Stats {
            services: [1, 2, 3, 4],
            views: [0, 1, 0, 0],
            ..Stats::default()
        };
        assert_eq!(
            flush_lines(&n, last, now, 12, Some(&stats)),
            [
                "lb.beats.count:5|c",
                "lb.db.save.count:1|c",
                "lb.db.save.duration:12|g",
                "lb.service.count:10|g",
                "lb.alarm.count:1|g"
            ]
        );
        assert!(flush_lines(&n, now, now, 12, None).is_empty());
    }

    #[test]
    fn packing_respects_the_size() {
        let lines: Vec<String> = (0..200).map(|i| format!("lb.x.{i}:1|c")).collect();
        let packets = pack(&lines);
        assert!(packets.len() > 1);
        assert!(packets.iter().all(|p| p.len() <= MAX_PACKET));
        let back: Vec<&str> = packets.iter().flat_map(|p| p.split('\n')).collect();
        assert_eq!(back, lines);
        assert_eq!(pack(&["y".repeat(2000)]).len(), 1);
        assert!(pack(&[]).is_empty());
    }
}
