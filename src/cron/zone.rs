//! A time zone of the bundled IANA database (jiff's `tzdb-bundle-always`:
//! no /usr/share/zoneinfo needed), seen the way Python's `zoneinfo` sees
//! it, since that is what cronsim computes with: a wall-clock time plus a
//! `fold` flag maps to one instant (PEP 495: in a gap or a fold, fold 0
//! takes the offset from before the transition, fold 1 the one after).
//!
//! Each zone is loaded once per process (a cache of at most the ~600 names
//! of the database) with its transitions of 1900-2200 in a table, so the
//! common question of `next_fire` (the offset at an instant and the next
//! transition after it) is one binary search.

use super::civil::{civil_from_days, days_from_civil, DAY};
use jiff::civil::{date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::Timestamp;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Instants jiff accepts, in seconds (years -9999 to 9999).
const MIN_SECS: i64 = -377_705_116_800;
const MAX_SECS: i64 = 253_402_207_200;

/// How a wall-clock time maps to instants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wall {
    /// One instant: wall - offset.
    One(i32),
    /// Skipped (spring forward) or repeated (fall back): the offsets before
    /// and after the transition.
    Gap(i32, i32),
    Fold(i32, i32),
}

/// The table's range: 1900-01-01 to 2200-01-01 (seconds).
const TABLE_FROM: i64 = -2_208_988_800;
const TABLE_UNTIL: i64 = 7_258_118_400;

#[derive(Debug)]
struct Data {
    tz: TimeZone,
    /// The offset before the first transition of `transitions`.
    first_offset: i32,
    /// (instant, offset from then on) of each transition in the range.
    transitions: Box<[(i64, i32)]>,
    /// It has transitions after the table's range.
    more: bool,
    /// From this instant on the zone keeps one offset for good...
    fixed_from: i64,
    /// ...this one.
    fixed_offset: i32,
}

#[derive(Clone, Debug)]
pub(crate) struct Zone {
    data: Arc<Data>,
}

impl PartialEq for Zone {
    fn eq(&self, other: &Zone) -> bool {
        Arc::ptr_eq(&self.data, &other.data) || self.data.tz == other.data.tz
    }
}

impl Zone {
    pub(crate) fn get(name: &str) -> Option<Zone> {
        // jiff also accepts fixed offsets and POSIX strings in some paths;
        // only IANA names are zones here.
        if name.is_empty() || name.len() > 64 || !name.bytes().all(is_name_byte) {
            return None;
        }
        static CACHE: OnceLock<Mutex<HashMap<String, Arc<Data>>>> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        if let Some(data) = cache.lock().ok()?.get(name) {
            return Some(Zone { data: data.clone() });
        }
        let tz = TimeZone::get(name).ok()?;
        let start = Timestamp::from_second(TABLE_FROM).ok()?;
        let first_offset = tz.to_offset(start).seconds();
        let transitions = tz
            .following(start)
            .map(|t| (t.timestamp().as_second(), t.offset().seconds()))
            .take_while(|(t, _)| *t < TABLE_UNTIL)
            .take(10_000)
            .collect();
        let more = Timestamp::from_second(TABLE_UNTIL)
            .is_ok_and(|until| tz.following(until).next().is_some());
        let (fixed_from, fixed_offset) = match tz.preceding(Timestamp::MAX).next() {
            None => (i64::MIN, first_offset),
            // Two days on, so that `next_fire`'s look back stays after it.
            Some(t) if !more => {
                let from = t.timestamp().as_second() + 2 * DAY;
                (from, t.offset().seconds())
            }
            Some(_) => (i64::MAX, 0),
        };
        let data = Arc::new(Data {
            tz,
            first_offset,
            transitions,
            more,
            fixed_from,
            fixed_offset,
        });
        cache.lock().ok()?.insert(name.to_string(), data.clone());
        Some(Zone { data })
    }

    /// The offset in force at `secs` and the first transition after it
    /// (None: there is none; outside the table: `secs` itself, so that
    /// the caller takes the exact path).
    pub(crate) fn offset_and_next(&self, secs: i64) -> (i32, Option<i64>) {
        if !(TABLE_FROM..TABLE_UNTIL).contains(&secs) {
            return (self.offset(secs), Some(secs));
        }
        let d = &self.data;
        let i = d.transitions.partition_point(|(t, _)| *t <= secs);
        let offset = match i {
            0 => d.first_offset,
            _ => d.transitions[i - 1].1,
        };
        let next = match d.transitions.get(i) {
            Some((t, _)) => Some(*t),
            None if d.more => Some(TABLE_UNTIL),
            None => None,
        };
        (offset, next)
    }

    /// The offset in force at instant `secs`.
    pub(crate) fn offset(&self, secs: i64) -> i32 {
        match Timestamp::from_second(secs.clamp(MIN_SECS, MAX_SECS)) {
            Ok(ts) => self.data.tz.to_offset(ts).seconds(),
            Err(_) => 0,
        }
    }

    /// The instant from which the zone keeps one offset for good, and
    /// that offset; (i64::MAX, 0) for a zone that keeps changing (DST).
    pub(crate) fn fixed_tail(&self) -> (i64, i32) {
        (self.data.fixed_from, self.data.fixed_offset)
    }

    /// The largest offset change among the transitions in `[from, until)`.
    pub(crate) fn largest_shift(&self, from: i64, until: i64) -> i64 {
        let Ok(ts) = Timestamp::from_second(from.clamp(MIN_SECS, MAX_SECS)) else {
            return 0;
        };
        let mut before = i64::from(self.offset(from));
        let mut shift = 0;
        for t in self.data.tz.following(ts).take(1000) {
            if t.timestamp().as_second() >= until {
                break;
            }
            let after = i64::from(t.offset().seconds());
            shift = shift.max((after - before).abs());
            before = after;
        }
        shift
    }

    /// How the wall-clock time `wall` (local seconds) maps to instants.
    pub(crate) fn wall(&self, wall: i64) -> Wall {
        let Some(dt) = civil(wall) else {
            return Wall::One(0);
        };
        match self.data.tz.to_ambiguous_timestamp(dt).offset() {
            AmbiguousOffset::Unambiguous { offset } => Wall::One(offset.seconds()),
            AmbiguousOffset::Gap { before, after } => Wall::Gap(before.seconds(), after.seconds()),
            AmbiguousOffset::Fold { before, after } => {
                Wall::Fold(before.seconds(), after.seconds())
            }
        }
    }

    /// zoneinfo's `utcoffset` of (wall, fold), as an instant: the offset
    /// of the last transition i with `wall >= utc_i + max(before_i,
    /// after_i)` (fold 0) or `+ min(..)` (fold 1), which in a gap or a fold
    /// is the offset before (fold 0) or after (fold 1) the transition.
    pub(crate) fn to_instant(&self, wall: i64, fold: bool) -> i64 {
        if !(TABLE_FROM + DAY..TABLE_UNTIL - DAY).contains(&wall) {
            return match self.wall(wall) {
                Wall::One(off) => wall - i64::from(off),
                Wall::Gap(before, after) | Wall::Fold(before, after) => {
                    wall - i64::from(if fold { after } else { before })
                }
            };
        }
        let d = &self.data;
        let before = |i: usize| match i {
            0 => d.first_offset,
            _ => d.transitions[i - 1].1,
        };
        let key = |i: usize| {
            let (at, after) = d.transitions[i];
            let (a, b) = (before(i), after);
            at + i64::from(if fold { a.min(b) } else { a.max(b) })
        };
        let (mut lo, mut hi) = (0, d.transitions.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if key(mid) <= wall {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        wall - i64::from(before(lo))
    }

    /// cronsim's `is_imaginary`: the wall-clock time (fold 0) does not
    /// come back from a round trip through UTC, i.e. lies in a gap.
    pub(crate) fn is_imaginary(&self, wall: i64) -> bool {
        self.to_wall(self.to_instant(wall, false)).0 != wall
    }

    /// zoneinfo's `fromutc`: the wall-clock time of an instant, with fold
    /// 1 for the second pass through a repeated hour.
    pub(crate) fn to_wall(&self, secs: i64) -> (i64, bool) {
        if !(TABLE_FROM + DAY..TABLE_UNTIL - DAY).contains(&secs) {
            let off = self.offset(secs);
            let wall = secs + i64::from(off);
            let fold = matches!(self.wall(wall), Wall::Fold(before, after) if after == off && before != after);
            return (wall, fold);
        }
        let d = &self.data;
        let i = d.transitions.partition_point(|(t, _)| *t <= secs);
        if i == 0 {
            return (secs + i64::from(d.first_offset), false);
        }
        let (at, off) = d.transitions[i - 1];
        let prev = if i >= 2 {
            d.transitions[i - 2].1
        } else {
            d.first_offset
        };
        // The same wall time came already, before the transition.
        let fold = prev > off && secs - at < i64::from(prev - off);
        (secs + i64::from(off), fold)
    }
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+')
}

/// A jiff civil date-time of local seconds (None outside jiff's range).
fn civil(wall: i64) -> Option<DateTime> {
    let days = wall.div_euclid(DAY);
    let sod = wall - days * DAY;
    let (y, m, d) = civil_from_days(days);
    let y = i16::try_from(y)
        .ok()
        .filter(|y| (-9999..=9999).contains(y))?;
    let dt = date(y, m as i8, d as i8).at(
        (sod / 3600) as i8,
        (sod % 3600 / 60) as i8,
        (sod % 60) as i8,
        0,
    );
    debug_assert_eq!(days_from_civil(i64::from(y), m, d), days);
    Some(dt)
}
