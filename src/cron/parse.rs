//! Parsing the five fields into bitmasks, following cronsim 2.8's
//! `Field.parse` term by term (lists, ranges, steps, names, `L`, `LW`,
//! `5L`, `MON#2`), including its quirks: a step over a single value runs to
//! the end of the range (`5/10`, and `5-5/2` too), a step over several
//! values takes every n-th of them (`*/2` in day of week = 0,2,4,6), and
//! the two day fields are AND-ed when either starts with `*`.

use super::error::{CronError, Field, Problem};

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
/// The most days each month can have (February: 29).
const DAYS_IN_MONTH: [u32; 13] = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/// The parsed expression: which values of each field match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Fields {
    /// Bit m: minute m.
    pub minutes: u64,
    /// cronsim jumps straight to the minute when there is only one.
    pub single_minute: Option<u32>,
    /// Bit h: hour h.
    pub hours: u32,
    /// Bit d: day of month d (1-31).
    pub days: u32,
    /// `L`: the last day of the month.
    pub last_day: bool,
    /// `LW`: the last weekday (Monday-Friday) of the month.
    pub last_weekday: bool,
    /// Bit m: month m (1-12).
    pub months: u16,
    /// Bit w: weekday w (0 = Sunday).
    pub weekdays: u8,
    /// Bit w: the last weekday w of the month (`5L`).
    pub weekdays_last: u8,
    /// [w] bit n: the n-th (1-5) weekday w of the month (`1#2`).
    pub weekdays_nth: [u8; 7],
    /// Both day fields must match (one of them starts with `*`).
    pub day_and: bool,
    /// The minute and hour fields are fixed (neither starts with `*`):
    /// cronsim then searches in wall-clock time (Debian cron's rule).
    pub wall_clock: bool,
}

/// The values one term or field selects, before they become [`Fields`].
#[derive(Default, PartialEq, Eq)]
struct Items {
    /// Plain values (bit v = v).
    bits: u64,
    last: bool,
    last_weekday: bool,
    /// Day of week: `<w>L`, bit w for w in 0..=7.
    dow_last: u8,
    /// Day of week: `<w>#<n>`, [w] bit n.
    dow_nth: [u8; 8],
}

impl Items {
    fn union(&mut self, other: Items) {
        self.bits |= other.bits;
        self.last |= other.last;
        self.last_weekday |= other.last_weekday;
        self.dow_last |= other.dow_last;
        for (a, b) in self.dow_nth.iter_mut().zip(other.dow_nth) {
            *a |= b;
        }
    }

    fn is_special_only(&self) -> bool {
        self.bits == 0 && self.dow_last == 0 && self.dow_nth == [0; 8]
    }
}

fn err(field: Field, problem: Problem) -> CronError {
    CronError::Field(field, problem)
}

/// A decimal number (digits only); None for empty or non-digits.
/// Saturates: a huge step or value behaves as cronsim's big ints do.
fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |acc, b| {
        acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

/// cronsim's `Field._int`.
fn plain_int(field: Field, s: &str) -> Result<u64, CronError> {
    if s.is_empty() {
        return Err(err(field, Problem::Empty));
    }
    digits(s).ok_or_else(|| err(field, Problem::NotANumber(s.to_string())))
}

/// cronsim's `Field.int`: a name or a number in the field's range.
fn value(field: Field, s: &str) -> Result<u32, CronError> {
    if field == Field::Month {
        if let Some(i) = MONTHS.iter().position(|m| *m == s) {
            return Ok(i as u32 + 1);
        }
    }
    if field == Field::DayOfWeek {
        if let Some(i) = DAYS.iter().position(|d| *d == s) {
            return Ok(i as u32);
        }
    }
    let v = plain_int(field, s)?;
    let (lo, hi) = field.range();
    if v < u64::from(lo) || v > u64::from(hi) {
        return Err(err(field, Problem::OutOfRange(s.to_string())));
    }
    Ok(v as u32)
}

fn span(lo: u32, hi: u32) -> u64 {
    (u64::MAX >> (63 - hi)) & !((1u64 << lo) - 1)
}

/// cronsim's `Field.parse` of one (upper-cased) field or term.
fn items(field: Field, s: &str) -> Result<Items, CronError> {
    let (lo, hi) = field.range();
    if s == "*" {
        return Ok(Items {
            bits: span(lo, hi),
            ..Items::default()
        });
    }
    if s.contains(',') {
        let mut all = Items::default();
        for term in s.split(',') {
            all.union(items(field, term)?);
        }
        return Ok(all);
    }
    if field == Field::DayOfWeek && s.contains('L') {
        let day = &s[..s.len() - 1];
        if digits(day).is_none() {
            return Err(err(field, Problem::BadLast(s.to_string())));
        }
        let w = value(field, day)?;
        return Ok(Items {
            dow_last: 1 << w,
            ..Items::default()
        });
    }
    if field == Field::DayOfWeek && s.contains('#') {
        let (term, nth) = s.split_once('#').unwrap_or((s, ""));
        let n = plain_int(field, nth)?;
        if !(1..=5).contains(&n) {
            return Err(err(field, Problem::BadNth(s.to_string())));
        }
        let w = value(field, term)?;
        let mut out = Items::default();
        out.dow_nth[w as usize] = 1 << n;
        return Ok(out);
    }
    if let Some((term, step)) = s.split_once('/') {
        let step = plain_int(field, step)?;
        if step == 0 {
            return Err(err(field, Problem::ZeroStep));
        }
        let inner = items(field, term)?;
        if inner.is_special_only() && (inner.last != inner.last_weekday) {
            // `L/2` is `L` (cronsim returns {LAST} unchanged).
            return Ok(inner);
        }
        let mut bits = 0u64;
        if inner.bits.count_ones() == 1 && !inner.last && !inner.last_weekday {
            // One value: from it to the end of the range.
            let start = inner.bits.trailing_zeros() as u64;
            let mut v = start;
            while v <= u64::from(hi) {
                bits |= 1 << v;
                v = v.saturating_add(step);
            }
        } else {
            // Several: every step-th of them, in order.
            for (i, v) in (0..64u64).filter(|v| inner.bits >> v & 1 == 1).enumerate() {
                if (i as u64).is_multiple_of(step) {
                    bits |= 1 << v;
                }
            }
        }
        return Ok(Items {
            bits,
            ..Items::default()
        });
    }
    if let Some((a, b)) = s.split_once('-') {
        let start = value(field, a)?;
        let end = value(field, b)?;
        if end < start {
            return Err(err(field, Problem::BackwardRange(s.to_string())));
        }
        return Ok(Items {
            bits: span(start, end),
            ..Items::default()
        });
    }
    if field == Field::DayOfMonth && s == "LW" {
        return Ok(Items {
            last_weekday: true,
            ..Items::default()
        });
    }
    if field == Field::DayOfMonth && s == "L" {
        return Ok(Items {
            last: true,
            ..Items::default()
        });
    }
    let v = value(field, s)?;
    Ok(Items {
        bits: 1 << v,
        ..Items::default()
    })
}

/// Day of week 7 is Sunday (0), in every form.
fn fold_sunday(bits: u64) -> u8 {
    ((bits & 0x7f) | (bits >> 7 & 1)) as u8
}

/// Parses the five whitespace-separated fields of an upper-cased
/// expression (macros already expanded).
pub(crate) fn fields(parts: &[&str; 5]) -> Result<Fields, CronError> {
    let [minute, hour, dom, month, dow] = *parts;
    let m = items(Field::Minute, minute)?;
    let h = items(Field::Hour, hour)?;
    let d = items(Field::DayOfMonth, dom)?;
    let mo = items(Field::Month, month)?;
    let w = items(Field::DayOfWeek, dow)?;
    let day_and = dom.starts_with('*') || dow.starts_with('*');

    // cronsim: when both day fields must match, a day of month beyond 29
    // that no selected month has is refused.
    if day_and && !d.last && !d.last_weekday && d.bits != 0 {
        let min_day = d.bits.trailing_zeros();
        if min_day > 29 {
            let longest = (1..=12)
                .filter(|i| mo.bits >> i & 1 == 1)
                .map(|i| DAYS_IN_MONTH[i])
                .max()
                .unwrap_or(0);
            if min_day > longest {
                return Err(err(Field::DayOfMonth, Problem::NeverMatches(min_day)));
            }
        }
    }

    let mut nth = [0u8; 7];
    for (i, n) in w.dow_nth.iter().enumerate() {
        nth[i % 7] |= n;
    }
    Ok(Fields {
        minutes: m.bits,
        single_minute: (m.bits.count_ones() == 1).then(|| m.bits.trailing_zeros()),
        hours: h.bits as u32,
        days: d.bits as u32,
        last_day: d.last,
        last_weekday: d.last_weekday,
        months: mo.bits as u16,
        weekdays: fold_sunday(w.bits),
        weekdays_last: fold_sunday(u64::from(w.dow_last)),
        weekdays_nth: nth,
        day_and,
        wall_clock: !minute.starts_with('*') && !hour.starts_with('*'),
    })
}
