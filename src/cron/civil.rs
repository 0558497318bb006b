//! Calendar arithmetic on wall-clock seconds ("local seconds": a civil
//! date-time counted as if it were UTC) and the field-wise search for the
//! next matching wall-clock minute over the bitmasks of [`Fields`].

use super::parse::Fields;

pub(crate) const DAY: i64 = 86_400;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count (inverse of [`days_from_civil`]).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// 0 = Sunday.
pub(crate) fn weekday(days: i64) -> u32 {
    (days + 4).rem_euclid(7) as u32
}

pub(crate) fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

pub(crate) fn month_len(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

pub(crate) fn year_of(wall: i64) -> i64 {
    civil_from_days(wall.div_euclid(DAY)).0
}

/// Bits 0, 7, 14, 21, 28: one weekday through a month.
const WEEKLY: u32 = 1 | 1 << 7 | 1 << 14 | 1 << 21 | 1 << 28;

/// Bit d set for each day d of month `m` of `y` the day fields match.
pub(crate) fn day_mask(f: &Fields, y: i64, m: u32) -> u32 {
    let len = month_len(y, m);
    let valid = (u32::MAX >> (31 - len)) & !1;
    let first = weekday(days_from_civil(y, m, 1));
    // Day of month.
    let mut dom = f.days & valid;
    if f.last_day {
        dom |= 1 << len;
    }
    if f.last_weekday {
        let last_wd = (first + len - 1) % 7;
        let d = match last_wd {
            0 => len - 2,
            6 => len - 1,
            _ => len,
        };
        dom |= 1 << d;
    }
    // Day of week: the first day with weekday w is 1 + (w - first) mod 7.
    let first_of = |w: u32| 1 + (w + 7 - first) % 7;
    let mut dow = 0u32;
    if f.weekdays == 0x7f {
        dow = valid;
    } else {
        let mut ws = f.weekdays;
        while ws != 0 {
            let w = ws.trailing_zeros();
            ws &= ws - 1;
            dow |= WEEKLY << first_of(w);
        }
    }
    let mut ws = f.weekdays_last;
    while ws != 0 {
        let w = ws.trailing_zeros();
        ws &= ws - 1;
        let d = first_of(w);
        dow |= 1 << (d + 7 * ((len - d) / 7));
    }
    for (w, nths) in f.weekdays_nth.iter().enumerate() {
        let mut ns = *nths;
        while ns != 0 {
            let n = ns.trailing_zeros();
            ns &= ns - 1;
            let d = first_of(w as u32) + 7 * (n - 1);
            if d <= len {
                dow |= 1 << d;
            }
        }
    }
    dow &= valid;
    if f.day_and {
        dom & dow
    } else {
        dom | dow
    }
}

/// The lowest set bit of `mask` above `v`, if any.
pub(crate) fn next_bit(mask: u64, v: u32) -> Option<u32> {
    let above = if v >= 63 {
        0
    } else {
        mask & (u64::MAX << (v + 1))
    };
    (above != 0).then(|| above.trailing_zeros())
}

/// The first wall-clock minute at or after `start` (local seconds) that
/// the fields match, or None if there is none before the end of the year
/// `start_year + 50` (cronsim gives up there).
pub(crate) fn search(f: &Fields, start: i64, start_year: i64) -> Option<i64> {
    let mut t = start.div_euclid(60) * 60;
    if t < start {
        t += 60;
    }
    // Each round moves `t` forward to the next month or day (or finds
    // the time within a matching day); the 50-year limit bounds the rounds.
    loop {
        let days = t.div_euclid(DAY);
        let sod = t - days * DAY;
        let (y, m, d) = civil_from_days(days);
        if y > start_year + 50 {
            return None;
        }
        if f.months >> m & 1 == 0 {
            t = match next_bit(u64::from(f.months), m) {
                Some(nm) => days_from_civil(y, nm, 1),
                None => days_from_civil(y + 1, f.months.trailing_zeros(), 1),
            } * DAY;
            continue;
        }
        let mask = day_mask(f, y, m);
        if mask >> d & 1 == 0 {
            t = match next_bit(u64::from(mask), d) {
                Some(nd) => days + i64::from(nd - d),
                None => days + i64::from(month_len(y, m) - d + 1),
            } * DAY;
            continue;
        }
        if let Some(found) = within_day(f, t, days, sod) {
            return Some(found);
        }
        t = (days + 1) * DAY;
    }
}

/// The first matching hour and minute at or after `t` on a matching day.
fn within_day(f: &Fields, t: i64, days: i64, sod: i64) -> Option<i64> {
    let h = (sod / 3600) as u32;
    let mi = (sod % 3600 / 60) as u32;
    if f.hours >> h & 1 == 1 {
        if f.minutes >> mi & 1 == 1 {
            return Some(t);
        }
        if let Some(nm) = next_bit(f.minutes, mi) {
            return Some(days * DAY + i64::from(h) * 3600 + i64::from(nm) * 60);
        }
    }
    let nh = next_bit(u64::from(f.hours), h)?;
    let first_minute = f.minutes.trailing_zeros();
    Some(days * DAY + i64::from(nh) * 3600 + i64::from(first_minute) * 60)
}
