//! The status page's uptime strip (SPEC 18), sans-IO: a view's state
//! changes (from `StateHandle::view_history`) cut into UTC days, each day's
//! time in ERROR against the time the history covers, and the strip drawn
//! as inline SVG by our own code (one bar a day, oldest left, today
//! right). `now` is an argument; nothing here reads a clock.
//!
//! As in the history's uptime (contract of issue 19): time before
//! `known_since` is unknown (a grey bar when a whole day is), and every
//! state but ERROR counts as up.

use super::badge::escape;
use crate::model::{Millis, State};

pub const DAY_MS: Millis = 86_400_000;
/// Days on the strip (the default `history_days`).
pub const DAYS: usize = 90;

/// A view's history over a window, as the strip needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct Timeline {
    /// The state in force at the window's start.
    pub state_at_since: State,
    /// (when, new state), ascending.
    pub changes: Vec<(Millis, State)>,
    /// The oldest moment the history covers; `None`: nothing known.
    pub known_since: Option<Millis>,
}

/// One bar: a UTC day (today up to `now`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Day {
    /// Midnight UTC that starts it.
    pub start: Millis,
    /// Time of the day the history covers.
    pub known: Millis,
    /// Of that, time in ERROR.
    pub down: Millis,
}

impl Day {
    /// Fraction of the known time not in ERROR; `None` when none is known.
    pub fn uptime(&self) -> Option<f64> {
        (self.known > 0).then(|| 1.0 - self.down as f64 / self.known as f64)
    }
}

/// Start of the first of `count` days whose last is today (UTC).
pub fn window_start(now: Millis, count: usize) -> Millis {
    let today = now - now.rem_euclid(DAY_MS);
    today - (count.max(1) as Millis - 1) * DAY_MS
}

/// Cuts `t` (whose window starts at `window_start(now, count)`) into
/// `count` days, oldest first. Linear in changes plus days.
pub fn days(t: &Timeline, now: Millis, count: usize) -> Vec<Day> {
    let count = count.max(1);
    let start = window_start(now, count);
    let mut out: Vec<Day> = (0..count)
        .map(|i| Day {
            start: start + i as Millis * DAY_MS,
            known: 0,
            down: 0,
        })
        .collect();
    let Some(known_since) = t.known_since else {
        return out;
    };
    let mut add = |a: Millis, b: Millis, state: State| {
        let (a, b) = (a.max(known_since).max(start), b.min(now));
        if a >= b {
            return;
        }
        let first = ((a - start) / DAY_MS) as usize;
        let last = (((b - 1 - start) / DAY_MS) as usize).min(count - 1);
        for day in &mut out[first..=last] {
            let span = b.min(day.start + DAY_MS) - a.max(day.start);
            if span > 0 {
                day.known += span;
                if state == State::Error {
                    day.down += span;
                }
            }
        }
    };
    let (mut at, mut state) = (start, t.state_at_since);
    for &(when, to) in &t.changes {
        let when = when.clamp(start, now.max(start));
        add(at, when, state);
        at = at.max(when);
        state = to;
    }
    add(at, now, state);
    out
}

/// Fraction of all the days' known time not in ERROR.
pub fn uptime(days: &[Day]) -> Option<f64> {
    let known: Millis = days.iter().map(|d| d.known).sum();
    let down: Millis = days.iter().map(|d| d.down).sum();
    (known > 0).then(|| 1.0 - down as f64 / known as f64)
}

/// "99.95 %": two decimals, never rounded up to 100 while anything was
/// down.
pub fn percent(fraction: f64) -> String {
    let p = (fraction * 10_000.0).floor() / 100.0;
    if p >= 100.0 {
        "100 %".into()
    } else {
        format!("{p:.2} %")
    }
}

/// How a day looks: (class, colour, words).
fn look(day: &Day) -> (&'static str, &'static str, &'static str) {
    match day.uptime() {
        None => ("none", "#9ca3af", "no data"),
        Some(u) if u >= 1.0 => ("ok", "#2e9e4f", "no downtime"),
        Some(u) if u >= 0.95 => ("part", "#e8a317", "partial outage"),
        Some(_) => ("down", "#d93a2b", "outage"),
    }
}

/// "2 h 5 min", "45 s": the two largest units.
pub fn duration(ms: Millis) -> String {
    let s = (ms / 1000).max(0);
    let units = [("d", 86_400), ("h", 3600), ("min", 60), ("s", 1)];
    let mut parts = Vec::new();
    let mut rest = s;
    for (name, size) in units {
        if rest >= size || (parts.is_empty() && size == 1) {
            parts.push(format!("{} {name}", rest / size));
            rest %= size;
        }
        if parts.len() == 2 || (!parts.is_empty() && rest == 0) {
            break;
        }
    }
    parts.join(" ")
}

/// `2026-11-29` of a day's start.
pub fn date(ms: Millis) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t.strftime("%Y-%m-%d").to_string(),
        Err(_) => ms.to_string(),
    }
}

/// Bar width and gap, in the strip's own units (it scales to its box).
const BAR: usize = 3;
const GAP: usize = 1;
const HEIGHT: usize = 28;

/// The strip: one `<rect>` a day with a `<title>` (its date and uptime),
/// scaled to the width of its box. `label` names what it is for screen
/// readers.
pub fn svg(days: &[Day], label: &str) -> String {
    let width = days.len() * (BAR + GAP) - GAP.min(days.len());
    let mut out = format!(
        r#"<svg class="strip" viewBox="0 0 {width} {HEIGHT}" preserveAspectRatio="none" role="img" aria-label="{}">"#,
        escape(label)
    );
    for (i, day) in days.iter().enumerate() {
        let (class, fill, words) = look(day);
        let detail = match day.uptime() {
            None => String::new(),
            Some(_) if day.down == 0 => String::new(),
            Some(u) => format!(", {} up, {} in ERROR", percent(u), duration(day.down)),
        };
        out.push_str(&format!(
            r#"<rect class="d-{class}" x="{}" width="{BAR}" height="{HEIGHT}" rx="1" fill="{fill}"><title>{}: {words}{detail}</title></rect>"#,
            i * (BAR + GAP),
            date(day.start),
        ));
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: Millis = 3_600_000;
    /// 2026-11-29 12:00 UTC.
    const NOW: Millis = 1_795_953_600_000;

    fn timeline(at_since: State, changes: &[(Millis, State)], known: Option<Millis>) -> Timeline {
        Timeline {
            state_at_since: at_since,
            changes: changes.to_vec(),
            known_since: known,
        }
    }

    #[test]
    fn the_window_ends_today_and_starts_at_midnight() {
        let start = window_start(NOW, 3);
        assert_eq!(start % DAY_MS, 0);
        assert_eq!(NOW - start, 2 * DAY_MS + 12 * H);
        assert_eq!(date(start), "2026-11-27");
        assert_eq!(window_start(NOW, 0), window_start(NOW, 1));
    }

    #[test]
    fn error_time_lands_in_the_days_it_spans() {
        let start = window_start(NOW, 3);
        // ERROR from 22:00 on day 0 to 02:00 on day 1; unknown before 12:00 of day 0.
        let t = timeline(
            State::Ok,
            &[(start + 22 * H, State::Error), (start + 26 * H, State::Ok)],
            Some(start + 12 * H),
        );
        let d = days(&t, NOW, 3);
        assert_eq!(d.len(), 3);
        assert_eq!((d[0].known, d[0].down), (12 * H, 2 * H));
        assert_eq!((d[1].known, d[1].down), (24 * H, 2 * H));
        assert_eq!((d[2].known, d[2].down), (12 * H, 0));
        let u = uptime(&d).unwrap_or(0.0);
        assert!((u - (1.0 - 4.0 / 48.0)).abs() < 1e-12, "{u}");
    }

    #[test]
    fn nothing_known_is_no_data_and_muted_or_new_is_up() {
        let d = days(&timeline(State::Error, &[], None), NOW, 5);
        assert!(d.iter().all(|d| d.known == 0 && d.uptime().is_none()));
        assert_eq!(uptime(&d), None);
        let t = timeline(State::New, &[(NOW - 2 * H, State::Muted)], Some(0));
        let d = days(&t, NOW, 2);
        assert_eq!(uptime(&d), Some(1.0));
        // Still in ERROR now: counted up to now.
        let t = timeline(State::Ok, &[(NOW - H, State::Error)], Some(0));
        let d = days(&t, NOW, 1);
        assert_eq!((d[0].known, d[0].down), (12 * H, H));
    }

    #[test]
    fn changes_outside_the_window_are_clamped() {
        let start = window_start(NOW, 2);
        let t = timeline(
            State::Ok,
            &[(start - H, State::Error), (NOW + H, State::Ok)],
            Some(0),
        );
        let d = days(&t, NOW, 2);
        assert_eq!((d[0].down, d[1].down), (DAY_MS, 12 * H));
    }

    #[test]
    fn words_for_people() {
        assert_eq!(percent(1.0), "100 %");
        assert_eq!(percent(0.99999), "99.99 %");
        assert_eq!(percent(0.5), "50.00 %");
        assert_eq!(duration(0), "0 s");
        assert_eq!(duration(45_000), "45 s");
        assert_eq!(duration(2 * H + 5 * 60_000 + 7_000), "2 h 5 min");
        assert_eq!(duration(3 * DAY_MS), "3 d");
    }

    #[test]
    fn the_svg_has_a_bar_per_day_with_its_words() {
        let start = window_start(NOW, 3);
        let t = timeline(
            State::Ok,
            &[
                (start + DAY_MS, State::Error),
                (start + DAY_MS + H, State::Ok),
            ],
            Some(start + DAY_MS),
        );
        let s = svg(&days(&t, NOW, 3), "web <90 days>");
        assert_eq!(s.matches("<rect ").count(), 3);
        assert!(s.contains(r#"viewBox="0 0 11 28""#), "{s}");
        assert!(s.contains(r#"aria-label="web &lt;90 days&gt;""#));
        assert!(s.contains("<title>2026-11-27: no data</title>"), "{s}");
        assert!(
            s.contains("<title>2026-11-28: partial outage, 95.83 % up, 1 h in ERROR</title>"),
            "{s}"
        );
        assert!(s.contains("<title>2026-11-29: no downtime</title>"), "{s}");
        assert!(s.contains(r#"class="d-none""#) && s.contains(r#"class="d-part""#));
    }
}
