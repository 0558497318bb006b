//! cronsim 2.8's `CronSim.advance` step for step, for expressions whose
//! minute or hour field starts with `*` (cronsim then works on aware
//! datetimes: every tick goes through UTC, while `replace(minute=0)` and
//! `combine(day, 00:00)` act on the wall clock with fold 0). Only used near
//! a time-zone transition; elsewhere the wall-clock search gives the same
//! answer far faster (see `Schedule::next_fire`).

use super::civil::{civil_from_days, day_mask, days_from_civil, month_len, next_bit, year_of, DAY};
use super::parse::Fields;
use super::zone::Zone;

/// At most this many steps (ticks and rounds) per call: cronsim's own
/// loops are bounded by the 50-year limit, this is a second fence.
const BUDGET: u32 = 200_000;

struct Cursor<'a> {
    zone: &'a Zone,
    wall: i64,
    fold: bool,
    budget: u32,
}

impl Cursor<'_> {
    /// cronsim's `tick`: move `secs` seconds in absolute time.
    fn tick(&mut self, secs: i64) -> Option<()> {
        self.budget = self.budget.checked_sub(1)?;
        let instant = self.zone.to_instant(self.wall, self.fold) + secs;
        (self.wall, self.fold) = self.zone.to_wall(instant);
        Some(())
    }

    fn hour(&self) -> u32 {
        (self.wall.rem_euclid(DAY) / 3600) as u32
    }

    fn minute(&self) -> u32 {
        (self.wall.rem_euclid(3600) / 60) as u32
    }

    fn second(&self) -> i64 {
        self.wall.rem_euclid(60)
    }

    fn midnight(&mut self, days: i64) {
        self.wall = days * DAY;
        self.fold = false;
    }
}

/// The instant (seconds) cronsim's iterator yields first after `after`.
pub(crate) fn next(f: &Fields, zone: &Zone, after: i64) -> Option<i64> {
    let (wall, fold) = zone.to_wall(after);
    let mut c = Cursor {
        zone,
        wall,
        fold,
        budget: BUDGET,
    };
    c.tick(1)?;
    let start_year = year_of(c.wall);
    loop {
        c.budget = c.budget.checked_sub(1)?;
        // advance_month
        let (y, m, _) = civil_from_days(c.wall.div_euclid(DAY));
        if f.months >> m & 1 == 0 {
            let first = match next_bit(u64::from(f.months), m) {
                Some(nm) => days_from_civil(y, nm, 1),
                None => days_from_civil(y + 1, f.months.trailing_zeros(), 1),
            };
            c.midnight(first);
        }
        let days = c.wall.div_euclid(DAY);
        let (y, m, d) = civil_from_days(days);
        if y > start_year + 50 {
            return None;
        }
        // advance_day
        let mask = day_mask(f, y, m);
        if mask >> d & 1 == 0 {
            let next = match next_bit(u64::from(mask), d) {
                Some(nd) => days + i64::from(nd - d),
                None => days + i64::from(month_len(y, m) - d + 1),
            };
            c.midnight(next);
            continue;
        }
        // advance_hour
        if f.hours >> c.hour() & 1 == 0 {
            c.wall = days * DAY + i64::from(c.hour()) * 3600;
            loop {
                c.tick(3600)?;
                if f.hours >> c.hour() & 1 == 1 || c.hour() == 0 {
                    break;
                }
            }
            continue;
        }
        // advance_minute
        if f.minutes >> c.minute() & 1 == 0 {
            c.wall -= c.second();
            if let Some(target) = f.single_minute {
                let delta = (target + 60 - c.minute()) % 60;
                c.tick(i64::from(delta) * 60)?;
            }
            while f.minutes >> c.minute() & 1 == 0 {
                c.tick(60)?;
                if c.minute() == 0 {
                    break;
                }
            }
            continue;
        }
        // advance_second (the seconds field is always 0)
        if c.second() != 0 {
            c.tick(60 - c.second())?;
            while c.second() != 0 {
                c.tick(1)?;
            }
            continue;
        }
        return Some(zone.to_instant(c.wall, c.fold));
    }
}
