//! A time zone of the bundled IANA database (jiff's `tzdb-bundle-always`:
//! no /usr/share/zoneinfo needed), seen the way Python's `zoneinfo` sees
//! it, since that is what cronsim computes with: a wall-clock time plus a
//! `fold` flag maps to one instant (PEP 495: in a gap or a fold, fold 0
//! takes the offset from before the transition, fold 1 the one after).

use super::civil::{civil_from_days, days_from_civil, DAY};
use jiff::civil::{date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::Timestamp;

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

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Zone {
    tz: TimeZone,
}

impl Zone {
    pub(crate) fn get(name: &str) -> Option<Zone> {
        // jiff also accepts fixed offsets and POSIX strings in some paths;
        // only IANA names are zones here.
        if name.is_empty() || name.len() > 64 || !name.bytes().all(is_name_byte) {
            return None;
        }
        TimeZone::get(name).ok().map(|tz| Zone { tz })
    }

    /// The offset in force at instant `secs`.
    pub(crate) fn offset(&self, secs: i64) -> i32 {
        match Timestamp::from_second(secs.clamp(MIN_SECS, MAX_SECS)) {
            Ok(ts) => self.tz.to_offset(ts).seconds(),
            Err(_) => 0,
        }
    }

    /// The first transition strictly after `secs`, if any.
    pub(crate) fn next_transition(&self, secs: i64) -> Option<i64> {
        let ts = Timestamp::from_second(secs.clamp(MIN_SECS, MAX_SECS)).ok()?;
        self.tz
            .following(ts)
            .next()
            .map(|t| t.timestamp().as_second())
    }

    /// The latest transition of the zone (for a zone with DST, one near
    /// the end of jiff's range).
    pub(crate) fn last_transition(&self) -> Option<i64> {
        self.tz
            .preceding(Timestamp::MAX)
            .next()
            .map(|t| t.timestamp().as_second())
    }

    /// The largest offset change among the transitions in `[from, until)`.
    pub(crate) fn largest_shift(&self, from: i64, until: i64) -> i64 {
        let Ok(ts) = Timestamp::from_second(from.clamp(MIN_SECS, MAX_SECS)) else {
            return 0;
        };
        let mut before = i64::from(self.offset(from));
        let mut shift = 0;
        for t in self.tz.following(ts).take(1000) {
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
        match self.tz.to_ambiguous_timestamp(dt).offset() {
            AmbiguousOffset::Unambiguous { offset } => Wall::One(offset.seconds()),
            AmbiguousOffset::Gap { before, after } => Wall::Gap(before.seconds(), after.seconds()),
            AmbiguousOffset::Fold { before, after } => {
                Wall::Fold(before.seconds(), after.seconds())
            }
        }
    }

    /// zoneinfo's `utcoffset` of (wall, fold), as an instant.
    pub(crate) fn to_instant(&self, wall: i64, fold: bool) -> i64 {
        match self.wall(wall) {
            Wall::One(off) => wall - i64::from(off),
            Wall::Gap(before, after) | Wall::Fold(before, after) => {
                wall - i64::from(if fold { after } else { before })
            }
        }
    }

    /// zoneinfo's `fromutc`: the wall-clock time of an instant, with fold
    /// 1 for the second pass through a repeated hour.
    pub(crate) fn to_wall(&self, secs: i64) -> (i64, bool) {
        let off = self.offset(secs);
        let wall = secs + i64::from(off);
        let fold =
            matches!(self.wall(wall), Wall::Fold(before, after) if after == off && before != after);
        (wall, fold)
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
