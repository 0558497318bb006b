//! The warning for statsd updates refused because `[limits] max_services`
//! is reached: a statsd sender gets no answer, so the log is where an
//! operator learns of it. Rate-limited (one warning per interval, with how
//! many were refused and one example name); every refusal is also counted
//! in `Counters::refused_services`. Sans-IO: `now` is an argument.

use std::time::{Duration, Instant};

/// At most one warning per this interval.
pub const REFUSAL_WARN_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct Refusals {
    /// Refused since the last warning.
    count: u64,
    /// The first name refused since the last warning.
    example: String,
    max: usize,
    /// No warning before this.
    quiet_until: Option<Instant>,
}

impl Refusals {
    /// Notes one refused update for a new service `name` (limit `max`).
    pub fn note(&mut self, name: &str, max: usize) {
        if self.count == 0 {
            self.example.clear();
            self.example.push_str(name);
        }
        self.count += 1;
        self.max = max;
    }

    /// The warning to log now, if any refusals wait and the last warning
    /// was long enough ago.
    pub fn due(&mut self, now: Instant) -> Option<String> {
        if self.count == 0 || self.quiet_until.is_some_and(|until| now < until) {
            return None;
        }
        self.quiet_until = Some(now + REFUSAL_WARN_INTERVAL);
        let count = std::mem::take(&mut self.count);
        Some(format!(
            "statsd: {count} update(s) for new services refused: [limits] max_services = {} \
             is reached (e.g. {:?}); raise the limit or delete unused services \
             (counted in lovebeat_refused_services_total; next warning in {} s at the earliest)",
            self.max,
            self.example,
            REFUSAL_WARN_INTERVAL.as_secs()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_warning_per_interval_with_count_and_example() {
        let t = Instant::now();
        let mut r = Refusals::default();
        assert_eq!(r.due(t), None, "nothing refused");
        r.note("new.a", 10);
        let first = r.due(t).unwrap_or_default();
        assert!(first.contains("1 update(s)"), "{first}");
        assert!(first.contains("max_services = 10"), "{first}");
        assert!(first.contains("\"new.a\""), "{first}");
        for i in 0..500 {
            r.note(&format!("new.b{i}"), 10);
            assert_eq!(r.due(t + Duration::from_secs(1)), None, "rate-limited");
        }
        let later = t + REFUSAL_WARN_INTERVAL;
        let second = r.due(later).unwrap_or_default();
        assert!(second.contains("500 update(s)"), "{second}");
        assert!(second.contains("\"new.b0\""), "{second}");
        assert_eq!(r.due(later + REFUSAL_WARN_INTERVAL), None, "none since");
        r.note("new.c", 10);
        assert!(r.due(later + REFUSAL_WARN_INTERVAL).is_some());
    }
}
