//! The warning about invalid statsd lines at the default log level: at most
//! one per [`WARN_INTERVAL_MS`] (10 s), process-wide (UDP and TCP alike),
//! with one example line (cut to 100 bytes, escaped), the rule it broke and
//! how many invalid lines were dropped since the last warning:
//!
//! `statsd: dropped invalid line "MyApp.Backup.beat:1|c": invalid service name: ...; 41 more invalid lines dropped since the last warning (at most one warning per 10 s, -debug logs each)`
//!
//! [`Warnings`] is the policy, with `now` as an argument; [`invalid_line`]
//! is what the parsers call (one uncontended lock and a clock read per
//! invalid line).

use crate::clock::now_ms;
use crate::model::Millis;
use std::fmt;
use std::sync::Mutex;

/// At most one warning per this many milliseconds.
pub const WARN_INTERVAL_MS: Millis = 10_000;
/// The example line is cut to this many bytes.
const EXAMPLE_MAX: usize = 100;

/// When to warn: the first invalid line warns at once, then at most one
/// per `interval`; the lines in between are counted.
#[derive(Debug)]
pub struct Warnings {
    interval: Millis,
    /// When the last warning was given (`None` = never).
    last: Option<Millis>,
    /// Invalid lines since then that gave no warning.
    held: u64,
}

impl Warnings {
    pub const fn new(interval: Millis) -> Warnings {
        Warnings {
            interval,
            last: None,
            held: 0,
        }
    }

    /// An invalid line at `now`: `Some(n)` when it is to be warned about,
    /// `n` being the invalid lines since the last warning that gave none;
    /// `None` when it is only counted.
    pub fn offer(&mut self, now: Millis) -> Option<u64> {
        let due = self
            .last
            .is_none_or(|last| now >= last.saturating_add(self.interval) || now < last);
        if !due {
            self.held += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.held))
    }
}

/// The warning's text for `line`, refused for `why`, with `before` lines
/// dropped since the last warning.
pub fn message(line: &[u8], why: &dyn fmt::Display, before: u64) -> String {
    let example = String::from_utf8_lossy(&line[..line.len().min(EXAMPLE_MAX)]);
    let cut = if line.len() > EXAMPLE_MAX { "..." } else { "" };
    let since = match before {
        0 => String::new(),
        1 => "; 1 more invalid line dropped since the last warning".into(),
        n => format!("; {n} more invalid lines dropped since the last warning"),
    };
    format!(
        "statsd: dropped invalid line {example:?}{cut}: {why}{since} \
         (at most one warning per {} s, -debug logs each)",
        WARN_INTERVAL_MS / 1000
    )
}

static WARNINGS: Mutex<Warnings> = Mutex::new(Warnings::new(WARN_INTERVAL_MS));

/// Called for every invalid line (UDP and TCP): warns when due.
pub(crate) fn invalid_line(line: &[u8], why: &dyn fmt::Display) {
    let due = match WARNINGS.lock() {
        Ok(mut w) => w.offer(now_ms()),
        Err(poisoned) => poisoned.into_inner().offer(now_ms()),
    };
    if let Some(before) = due {
        log::warn!("{}", message(line, why, before));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_warning_per_interval_counting_the_rest() {
        let mut w = Warnings::new(10_000);
        assert_eq!(w.offer(1_000), Some(0), "the first warns at once");
        assert_eq!(w.offer(1_001), None);
        assert_eq!(w.offer(10_999), None);
        assert_eq!(w.offer(11_000), Some(2), "due again, naming the two held");
        assert_eq!(w.offer(11_001), None);
        assert_eq!(w.offer(60_000), Some(1));
        // A clock stepped back does not silence it for good.
        assert_eq!(w.offer(5_000), Some(0));
    }

    #[test]
    fn the_message_has_the_example_escaped_and_cut_and_the_rule() {
        let text = message(b"MyApp.Backup.beat:1|c", &"invalid service name", 0);
        assert_eq!(
            text,
            "statsd: dropped invalid line \"MyApp.Backup.beat:1|c\": invalid service name \
             (at most one warning per 10 s, -debug logs each)"
        );
        let long = [b'a'; 300];
        let text = message(&long, &"x", 41);
        assert!(
            text.contains(&format!("\"{}\"...: x", "a".repeat(100))),
            "{text}"
        );
        assert!(text.contains("; 41 more invalid lines dropped since the last warning"));
        let text = message(b"a\x1b[31m\xffb", &"x", 1);
        // Control characters escaped, bytes that are not UTF-8 replaced.
        assert!(text.contains("\"a\\u{1b}[31m\u{fffd}b\""), "{text}");
        assert!(text.contains("; 1 more invalid line dropped"));
    }
}
