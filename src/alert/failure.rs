//! How alerts describe one failed service (SPEC 15, "Messages"): its
//! reason in words (`missed since 02:00 UTC`, `failed with exit code 3`,
//! `ran 2 h 10 min, limit 2 h`, `ran 3 s, minimum 1 min`) and, for a failed
//! run, the tail of its output. Pure functions of the `Failure` record.

use crate::jobs::{Failure, Reason, OUTPUT_TAIL};
use crate::model::Millis;

/// The reason in words, e.g. `failed with exit code 3`.
pub fn describe(f: &Failure) -> String {
    match f.reason {
        Reason::Missed => format!("missed since {}", clock_time(f.since)),
        Reason::Always => "always in ERROR (timeout 0)".to_string(),
        Reason::Failed => match f.exit_code {
            Some(code) => format!("failed with exit code {code}"),
            None => "failed".to_string(),
        },
        Reason::TooLong => match (f.ran, f.limit) {
            (Some(ran), Some(limit)) => {
                format!("ran {}, limit {}", duration(ran), duration(limit))
            }
            (Some(ran), None) => format!("ran {}, too long", duration(ran)),
            _ => "ran too long".to_string(),
        },
        Reason::TooFast => match (f.ran, f.limit) {
            (Some(ran), Some(limit)) => {
                format!("ran {}, minimum {}", duration(ran), duration(limit))
            }
            (Some(ran), None) => format!("ran {}, too fast", duration(ran)),
            _ => "ran too fast".to_string(),
        },
    }
}

/// The last `OUTPUT_TAIL` bytes of `output`, cut at a character boundary.
pub fn tail(output: &str) -> &str {
    if output.len() <= OUTPUT_TAIL {
        return output;
    }
    let mut start = output.len() - OUTPUT_TAIL;
    while !output.is_char_boundary(start) {
        start += 1;
    }
    &output[start..]
}

/// A duration in the largest two units that matter: `2 h 10 min`, `3 s`,
/// `1 min`, `450 ms`, `2 d 3 h`.
pub fn duration(ms: Millis) -> String {
    let ms = ms.max(0);
    if ms < 1000 {
        return format!("{ms} ms");
    }
    let s = ms / 1000;
    let units = [(86_400, "d"), (3600, "h"), (60, "min"), (1, "s")];
    let mut parts = Vec::new();
    let mut rest = s;
    for (size, name) in units {
        if rest >= size {
            parts.push(format!("{} {name}", rest / size));
            rest %= size;
        } else if !parts.is_empty() {
            // Keep the two units adjacent: `2 h 0 min 5 s` reads as `2 h`.
            parts.push(String::new());
        }
        if parts.len() == 2 {
            break;
        }
    }
    parts.retain(|p| !p.is_empty());
    parts.join(" ")
}

/// `2026-11-29 02:00 UTC`: always with the date, since alerts are read
/// later. jiff (the cron module's calendar) does the calendar.
pub fn clock_time(ms: Millis) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t.strftime("%Y-%m-%d %H:%M UTC").to_string(),
        Err(_) => format!("{ms} ms since the epoch"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(reason: Reason) -> Failure {
        Failure {
            service: "backup".into(),
            reason,
            since: 1_795_053_600_000, // 2026-11-19 02:00:00 UTC
            exit_code: None,
            ran: None,
            limit: None,
            output: None,
        }
    }

    #[test]
    fn reasons_in_words() {
        assert_eq!(
            describe(&failure(Reason::Missed)),
            "missed since 2026-11-19 02:00 UTC"
        );
        let failed = Failure {
            exit_code: Some(3),
            ..failure(Reason::Failed)
        };
        assert_eq!(describe(&failed), "failed with exit code 3");
        assert_eq!(describe(&failure(Reason::Failed)), "failed");
        let long = Failure {
            ran: Some((2 * 3600 + 10 * 60) * 1000),
            limit: Some(2 * 3600 * 1000),
            ..failure(Reason::TooLong)
        };
        assert_eq!(describe(&long), "ran 2 h 10 min, limit 2 h");
        let fast = Failure {
            ran: Some(3000),
            limit: Some(60_000),
            ..failure(Reason::TooFast)
        };
        assert_eq!(describe(&fast), "ran 3 s, minimum 1 min");
        assert_eq!(
            describe(&failure(Reason::Always)),
            "always in ERROR (timeout 0)"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(duration(450), "450 ms");
        assert_eq!(duration(3000), "3 s");
        assert_eq!(duration(60_000), "1 min");
        assert_eq!(duration(7_205_000), "2 h");
        assert_eq!(duration(2 * 86_400_000 + 3 * 3_600_000 + 59_000), "2 d 3 h");
        assert_eq!(duration(-5), "0 ms");
    }

    #[test]
    fn dates() {
        assert_eq!(clock_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(clock_time(951_782_400_000), "2000-02-29 00:00 UTC");
        assert_eq!(clock_time(-60_000), "1969-12-31 23:59 UTC");
    }

    #[test]
    fn tails_cut_at_characters() {
        assert_eq!(tail("short"), "short");
        let long = format!("{}é{}", "a".repeat(2000), "b".repeat(1023));
        let t = tail(&long);
        assert!(t.len() <= OUTPUT_TAIL);
        assert!(t.ends_with('b'));
        assert_eq!(t, "b".repeat(1023)); // the "é" straddles the cut
    }
}
