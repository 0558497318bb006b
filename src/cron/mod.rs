//! Cron schedules with an IANA time zone (SPEC 14.1): parsing 5-field
//! expressions and `@` macros, and the next fire time after an instant,
//! exactly as healthchecks.io's `cronsim` 2.8 computes them (Debian cron's
//! DST rules; tests/cron_cronsim.rs compares the two).
//!
//! Invariants: parsing is bounded (at most [`MAX_EXPRESSION_LEN`] bytes,
//! ASCII only) and refuses what cronsim refuses; [`Schedule::next_fire`]
//! returns a time strictly after its argument or None, never panics and
//! does bounded work (cronsim's 50-year horizon). DST: when the minute and
//! hour fields are both fixed (neither starts with `*`), fire times are
//! wall-clock times: one in a skipped hour fires at the end of the gap, one
//! in a repeated hour fires once, in the first pass (cronsim would return
//! the first pass again when asked from inside the second; we give the next
//! one, since a fire time must lie after `after`). Otherwise fire times are
//! found by ticking through absolute time (every matching wall-clock minute
//! that exists, both passes of a repeated hour).
//!
//! Speed: the answer is searched field by field over bitmasks in wall-clock
//! time with the offset in force at `after`, which is exact unless a
//! transition lies within two days of the interval; only then the zone is
//! consulted step by step (`port`, cronsim's own algorithm).

mod civil;
mod error;
mod parse;
mod port;
#[cfg(test)]
mod tests;
mod zone;

pub use error::{CronError, Field, Problem};

use civil::{civil_from_days, day_mask, days_from_civil, year_of, DAY};
use parse::Fields;
use zone::Zone;

/// The longest expression accepted, in bytes.
pub const MAX_EXPRESSION_LEN: usize = 256;

/// The instants `next_fire` works on: years 1 to 9000 (ms).
const MIN_MS: i64 = -62_135_596_800_000;
const MAX_MS: i64 = 221_845_392_000_000;

/// A parsed cron expression and its time zone.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    expression: String,
    tz: String,
    fields: Fields,
    zone: Zone,
    /// From this instant (s) on the zone has no more transitions...
    fixed_from: i64,
    /// ...and this offset (s).
    fixed_offset: i32,
}

/// The `@` macros, as the 5-field expressions they stand for.
fn expand_macro(m: &str) -> Option<&'static str> {
    Some(match m {
        "@HOURLY" => "0 * * * *",
        "@DAILY" | "@MIDNIGHT" => "0 0 * * *",
        "@WEEKLY" => "0 0 * * 0",
        "@MONTHLY" => "0 0 1 * *",
        "@YEARLY" | "@ANNUALLY" => "0 0 1 1 *",
        _ => return None,
    })
}

/// Validates a zone name alone (the `tz` setting can be sent without a
/// schedule).
pub fn validate_tz(tz: &str) -> Result<(), CronError> {
    zone_named(tz).map(|_| ())
}

fn zone_named(tz: &str) -> Result<Zone, CronError> {
    Zone::get(tz).ok_or_else(|| {
        let shown: String = tz.chars().take(64).collect();
        CronError::UnknownZone(shown)
    })
}

impl Schedule {
    /// Parses a 5-field expression (or @hourly @daily @midnight @weekly
    /// @monthly @yearly @annually) in zone `tz` (IANA name, e.g.
    /// "Europe/Berlin", "UTC").
    pub fn parse(expression: &str, tz: &str) -> Result<Schedule, CronError> {
        let expression = expression.trim();
        if expression.len() > MAX_EXPRESSION_LEN {
            return Err(CronError::TooLong(expression.len()));
        }
        if let Some(c) = expression
            .chars()
            .find(|c| !(c.is_ascii_graphic() || *c == ' ' || *c == '\t'))
        {
            return Err(CronError::BadCharacter(c));
        }
        let upper = expression.to_ascii_uppercase();
        let text = if upper.starts_with('@') {
            expand_macro(&upper).ok_or_else(|| CronError::UnknownMacro(expression.to_string()))?
        } else {
            &upper
        };
        let mut parts = [""; 5];
        let mut n = 0;
        for part in text.split_ascii_whitespace() {
            if n < 5 {
                parts[n] = part;
            }
            n += 1;
        }
        if n != 5 {
            return Err(CronError::FieldCount(n));
        }
        let fields = parse::fields(&parts)?;
        let zone = zone_named(tz)?;
        let (fixed_from, fixed_offset) = zone.fixed_tail();
        Ok(Schedule {
            expression: expression.to_string(),
            tz: tz.to_string(),
            fields,
            zone,
            fixed_from,
            fixed_offset,
        })
    }

    /// The expression as given, trimmed.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The zone name as given.
    pub fn tz(&self) -> &str {
        &self.tz
    }

    /// The first fire time strictly after `after` (ms since the Unix
    /// epoch), or None if it never fires again within cronsim's horizon of
    /// 50 years (e.g. "0 0 * 2 MON#5" from 2021 fires in 2044).
    pub fn next_fire(&self, after: i64) -> Option<i64> {
        if !(MIN_MS..=MAX_MS).contains(&after) {
            return None;
        }
        let after_s = after.div_euclid(1000);
        // The offset two days before `after` and the first transition
        // since: if that transition is more than two days after the
        // answer, the offset held all along (the search may look back to
        // the start of `after`'s hour) and wall-clock arithmetic is exact.
        let (offset, next_transition) = if after_s >= self.fixed_from {
            (self.fixed_offset, None)
        } else {
            self.zone.offset_and_next(after_s - 2 * DAY)
        };
        let start = after_s + i64::from(offset) + 1;
        let start_year = year_of(start);
        let exact = |at: i64| next_transition.is_none_or(|t| t > at + 2 * DAY);
        match civil::search(&self.fields, start, start_year) {
            Some(wall) if exact(wall - i64::from(offset)) => {
                Some((wall - i64::from(offset)) * 1000)
            }
            None if next_transition.is_none() => None,
            _ => {
                // Near a transition: the offset at `after` itself.
                let start = after_s + i64::from(self.zone.offset(after_s)) + 1;
                self.near_transition(after_s, start, year_of(start))
            }
        }
    }

    /// `next_fire` (in seconds) with the zone consulted at every step.
    fn near_transition(&self, after_s: i64, start: i64, start_year: i64) -> Option<i64> {
        if !self.fields.wall_clock {
            // cronsim's iterator, continued until it passes `after` (it
            // always does at once in the cases we know; this is a fence).
            let mut from = after_s;
            for _ in 0..16 {
                let at = port::next(&self.fields, &self.zone, from)?;
                if at > after_s {
                    return Some(at * 1000);
                }
                from = at.max(from + 1);
            }
            return None;
        }
        // Wall-clock search; a time in a gap moves a minute at a time to
        // the end of the gap, a repeated time is its first pass.
        let mut wall = civil::search(&self.fields, start, start_year)?;
        for _ in 0..10_000 {
            let mut steps = 0;
            while self.zone.is_imaginary(wall) && steps < 1440 {
                wall += 60;
                steps += 1;
            }
            let at = self.zone.to_instant(wall, false);
            if at > after_s {
                return Some(at * 1000);
            }
            // The second pass through a repeated hour: that time already
            // fired in the first pass.
            wall = civil::search(&self.fields, wall + 1, start_year)?;
        }
        None
    }

    /// The longest gap in ms between two consecutive fire times, over the
    /// fire times of the two years from `from` (of the next 50 years when
    /// fewer than two fall in those two): the wall-clock gap plus the
    /// largest DST shift of the zone then, so never shorter than the real
    /// gap. None if it fires less than twice in 50 years.
    pub fn longest_gap(&self, from: i64) -> Option<i64> {
        let f = &self.fields;
        let from_s = from.clamp(MIN_MS, MAX_MS).div_euclid(1000);
        let wall = from_s + i64::from(self.zone.offset(from_s));

        // The times of day (minutes since midnight): within a day the
        // longest step between two of them; across days, last to first.
        let (first_m, last_m) = (f.minutes.trailing_zeros(), 63 - f.minutes.leading_zeros());
        let (first_h, last_h) = (f.hours.trailing_zeros(), 31 - f.hours.leading_zeros());
        let mut intra = 0i64;
        let mut prev: Option<u32> = None;
        for m in (0..60).filter(|m| f.minutes >> m & 1 == 1) {
            if let Some(p) = prev {
                intra = intra.max(i64::from(m - p));
            }
            prev = Some(m);
        }
        let mut prev: Option<u32> = None;
        for h in (0..24).filter(|h| f.hours >> h & 1 == 1) {
            if let Some(p) = prev {
                intra = intra.max(i64::from((h - p) * 60 + first_m) - i64::from(last_m));
            }
            prev = Some(h);
        }
        let day_span = i64::from(last_h * 60 + last_m) - i64::from(first_h * 60 + first_m);

        // The matching days, month by month.
        let (mut y, mut m, _) = civil_from_days(wall.div_euclid(DAY));
        let mut last_day: Option<i64> = None;
        let mut count = 0u32;
        let mut inter = 0i64;
        for month in 0..(51 * 12) {
            if month >= 25 && count >= 2 {
                break;
            }
            if f.months >> m & 1 == 1 {
                let first = days_from_civil(y, m, 1);
                let mut mask = day_mask(f, y, m);
                while mask != 0 {
                    let d = mask.trailing_zeros();
                    mask &= mask - 1;
                    let day = first + i64::from(d) - 1;
                    if let Some(p) = last_day {
                        inter = inter.max((day - p) * 1440 - day_span);
                    }
                    last_day = Some(day);
                    count += 1;
                }
            }
            (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        }
        let per_day = f.hours.count_ones() * f.minutes.count_ones();
        if count == 0 || (count == 1 && per_day == 1) {
            return None;
        }
        let until = days_from_civil(y, m, 1) * DAY;
        let shift = if from_s >= self.fixed_from {
            0
        } else {
            self.zone.largest_shift(from_s, until)
        };
        Some((intra.max(inter) * 60 + shift) * 1000)
    }
}
