//! The adaptive timeout model (SPEC 19): learns a service's interval
//! distribution and sets the deadline at a chosen false-alarm rate, in the
//! manner of the phi accrual failure detector (Hayashibara et al., 2004;
//! Cassandra, Akka), extended to long tails, busy/quiet cycles and weekly
//! rhythm. Plain code: time is passed in, the state is a fixed 232 bytes
//! (stored in the database as the 224 bytes of [`Adaptive::to_bytes`]).
//!
//! Phi accrual suspects a node when the probability that its next heartbeat
//! is still to come drops below a threshold (`phi = -log10 P(later)`); the
//! detectors fit a normal (Akka) or exponential (Cassandra) distribution to a
//! window of intervals. Neither fits cron-like senders: their tails are long
//! (a slow run), their rate has cycles (busy days, quiet nights) and some
//! skip weekends. So this model:
//!
//! * **Target.** The deadline is where the probability that a healthy
//!   sender's next interval is longer falls to [`FALSE_ALARM_RATE`] (one in
//!   1,000 beats, `phi = 3`), times a safety [`MARGIN`], plus one second of
//!   network slack (as SPEC 2.3 adds).
//! * **Long tails, no distribution assumed.** Instead of a fitted quantile,
//!   the global estimate starts from the longest interval seen recently (a
//!   peak held relative to the running log-mean, decaying by
//!   [`PEAK_DECAY`] per beat so it follows a sender that changes). With
//!   fewer beats than the target needs (a peak of `n` samples is roughly the
//!   `1 - 1/(n+1)` quantile) the peak is extrapolated to the target with the
//!   log-normal spread of the intervals, so few data points give a longer,
//!   never a shorter, deadline.
//! * **Cycles and weekly rhythm.** Intervals are also learnt per hour of the
//!   day (24 slots) and per four hours of the week (42 slots), keyed by the
//!   UTC time of the beat that starts them. A slot's own peak, extrapolated
//!   to the target with the spread its own data show (an exponential tail
//!   from its typical interval through its peak), replaces the global
//!   estimate when it is less than half of it: a slot whose intervals are all alike (the
//!   weekday runs of a job that skips weekends, the daytime runs of an hourly
//!   job that pauses at night) gives a deadline near its interval, a slot
//!   whose intervals scatter (a Poisson sender) gives nothing better than
//!   the global one. A beat near the edge of its slot also consults the
//!   neighbouring slot, so jitter across a boundary is not a surprise.
//! * **Floor and ceiling.** At least [`FLOOR_MS`]; at most
//!   [`CEILING_FACTOR`] × the longest recent interval (and 400 days), so one
//!   wild value cannot make a service unwatchable.

use crate::model::Millis;

/// The false-alarm rate the deadline aims at: one healthy beat in 1,000
/// (phi = 3 in the phi accrual detector's terms).
pub const FALSE_ALARM_RATE: f64 = 1e-3;
/// Multiplies every estimate (the data are few and not independent): a
/// slot's always, the global one's up to this, as `e^(sigma/2)` of the
/// intervals' log-spread `sigma` (1.01 for a clock-like cron job).
pub const MARGIN: f64 = 1.1;
const MARGIN_PER_SIGMA: f64 = 0.5;
/// Added to every deadline, as SPEC 2.3 adds a second (delivery jitter).
pub const SLACK_MS: f64 = 1000.0;
/// No deadline closer than this after a beat (two rate-limit periods).
pub const FLOOR_MS: Millis = 2000;
/// No timeout longer than this multiple of the longest recent interval.
pub const CEILING_FACTOR: f64 = 4.0;
/// And never longer than 400 days.
const CEILING_MS: f64 = 400.0 * 86_400_000.0;
/// The held peak (log units above the log-mean) loses this fraction of the
/// log-spread per beat: after 1,000 ordinary beats a single long interval
/// has faded by one standard deviation, about the distance between the
/// largest of 100 samples and of 1,000.
pub const PEAK_DECAY: f64 = 0.001;
/// The running log-mean and log-variance weigh at least this much of each
/// new interval (about the last 32 intervals), so a sender that slows down
/// is followed.
const MIN_WEIGHT: f64 = 1.0 / 32.0;
/// Prior log-spread used while few intervals are known, weighted as
/// `PRIOR_WEIGHT` intervals: one interval of 60 s gives a timeout of about
/// 2.4 minutes, not 61 s.
const PRIOR_SIGMA: f64 = 0.25;
const PRIOR_WEIGHT: f64 = 2.0;
/// The peak counts as the maximum of at most this many samples.
const PEAK_SAMPLES: f64 = 500.0;
/// A slot shortens a deadline only to below 1/RHYTHM_FACTOR of the global
/// estimate.
const RHYTHM_FACTOR: f64 = 2.0;
/// A slot needs this many intervals before it can shorten a deadline.
const SLOT_MIN_COUNT: u8 = 3;
/// A slot's estimate is at least its peak times this (its codes are 9 %
/// apart, so equal codes may hide that much spread).
const SLOT_MIN_SPREAD: f64 = 1.1;
/// Slot codes: `CODE_STEPS` per doubling above one second.
const CODE_STEPS: f64 = 8.0;
const HOUR_MS: Millis = 3_600_000;
const DAY_SLOTS: usize = 24;
/// Four-hour slots of the week.
const WEEK_SLOTS: usize = 42;
const WEEK_SLOT_MS: Millis = 4 * HOUR_MS;

/// What one slot (an hour of the day, or four hours of the week) has seen:
/// intervals as log codes (see [`code`]). `count == 0` means empty.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Slot {
    /// Intervals seen; wraps from 255 to 128 so "many" stays many and the
    /// decay below keeps its rhythm.
    count: u8,
    /// Running mean code.
    mean: u8,
    /// Largest code, decaying by one every 32 intervals of this slot.
    peak: u8,
}

impl Slot {
    fn observe(&mut self, c: u8) {
        if self.count == 0 {
            *self = Slot {
                count: 1,
                mean: c,
                peak: c,
            };
            return;
        }
        self.count = if self.count == u8::MAX {
            128
        } else {
            self.count + 1
        };
        let k = i32::from(self.count.min(8));
        let mean = i32::from(self.mean);
        let step = (i32::from(c) - mean + k / 2 * (i32::from(c) - mean).signum()) / k;
        self.mean = (mean + step).clamp(0, 255) as u8;
        if self.count.is_multiple_of(32) && self.peak > c {
            self.peak -= 1;
        }
        self.peak = self.peak.max(c);
    }

    /// The timeout (ms) this slot supports, or None when it has too few
    /// intervals.
    fn timeout(&self) -> Option<f64> {
        if self.count < SLOT_MIN_COUNT {
            return None;
        }
        let peak = decode(self.peak);
        let typical = decode(self.mean);
        // The peak decays every 32 intervals: it is the largest of about
        // the last 32, not of all of them.
        let n = f64::from(self.count).min(32.0);
        // An exponential tail beyond the typical interval: quantiles grow
        // linearly in ln(1/p), from the typical one (p = 1/2) through the
        // peak (p = 1/(n+1)) to the target. Exact for a Poisson sender,
        // close for log-normal spreads up to about 0.4; heavier tails are
        // the global estimate's business (a slot only ever shortens a
        // deadline to half of it).
        let per_log = (peak - typical) / ((n + 1.0) / 2.0).ln();
        let target = typical + per_log * (0.5 / FALSE_ALARM_RATE).ln();
        Some(target.max(peak * SLOT_MIN_SPREAD) * MARGIN)
    }
}

/// The adaptive model of one service. 232 bytes, whatever the input.
#[derive(Clone, Debug, PartialEq)]
pub struct Adaptive {
    /// The previous accepted beat, or `None` before the first.
    last: Option<Millis>,
    /// Intervals seen (saturating).
    n: u32,
    /// Running mean and variance of ln(interval ms).
    mu: f32,
    var: f32,
    /// The held peak: ln(longest recent interval) - mu, decaying.
    peak: f32,
    day: [Slot; DAY_SLOTS],
    week: [Slot; WEEK_SLOTS],
}

impl Default for Adaptive {
    fn default() -> Self {
        Adaptive::new()
    }
}

impl Adaptive {
    pub const fn new() -> Adaptive {
        const EMPTY: Slot = Slot {
            count: 0,
            mean: 0,
            peak: 0,
        };
        Adaptive {
            last: None,
            n: 0,
            mu: 0.0,
            var: 0.0,
            peak: 0.0,
            day: [EMPTY; DAY_SLOTS],
            week: [EMPTY; WEEK_SLOTS],
        }
    }

    /// Intervals learnt so far.
    pub fn intervals(&self) -> u32 {
        self.n
    }

    /// Learns from an accepted beat at `now` (the caller applies the rate
    /// limit). A beat that is not later than the previous one gives no
    /// interval but becomes the previous beat (as the engine's history
    /// does when the clock goes back).
    pub fn observe(&mut self, now: Millis) {
        if let Some(last) = self.last {
            if now > last {
                self.learn(last, now.saturating_sub(last));
            }
        }
        self.last = Some(now);
    }

    fn learn(&mut self, from: Millis, interval: Millis) {
        let x = (interval.max(1) as f64).ln();
        let n = self.n.saturating_add(1);
        let (mu, var) = (f64::from(self.mu), f64::from(self.var));
        let peak = if self.n == 0 {
            0.0
        } else {
            (f64::from(self.peak) - PEAK_DECAY * var.sqrt().max(PRIOR_SIGMA / 4.0)).max(x - mu)
        };
        let w = (1.0 / f64::from(n)).max(MIN_WEIGHT);
        let delta = x - mu;
        let new_mu = mu + w * delta;
        let new_var = (1.0 - w) * (var + w * delta * delta);
        // Keep the peak's absolute level as mu moves.
        self.peak = (peak + mu - new_mu) as f32;
        self.mu = new_mu as f32;
        self.var = new_var as f32;
        self.n = n;
        let c = code(interval);
        self.day[day_slot(from)].observe(c);
        self.week[week_slot(from)].observe(c);
    }

    /// The timeout (ms after the last beat) the model sets now, or None
    /// while no interval is known (such a service does not expire, as with
    /// `auto`).
    pub fn timeout(&self) -> Option<Millis> {
        let last = self.last?;
        if self.n == 0 {
            return None;
        }
        let mu = f64::from(self.mu);
        let n = f64::from(self.n);
        let var = (n.min(32.0) * f64::from(self.var) + PRIOR_WEIGHT * PRIOR_SIGMA * PRIOR_SIGMA)
            / (n.min(32.0) + PRIOR_WEIGHT);
        let peak = mu + f64::from(self.peak).max(0.0);
        let sigma = var.sqrt();
        // The margin grows with the spread: a sender as regular as a clock
        // is caught within a few percent of its interval.
        let global =
            extrapolate(peak, sigma, n) * (sigma * MARGIN_PER_SIGMA).exp().clamp(1.0, MARGIN);
        let mut best = global;
        for slot in [
            self.slot_timeout(&self.day, last, day_slot, HOUR_MS),
            self.slot_timeout(&self.week, last, week_slot, WEEK_SLOT_MS),
        ]
        .into_iter()
        .flatten()
        {
            // Only a clear rhythm counts: on a sender without one, a slot
            // is a noisier estimate of the same tail, and taking the
            // smaller of two noisy estimates would miss the target.
            if slot * RHYTHM_FACTOR <= global {
                best = best.min(slot);
            }
        }
        let ceiling = (CEILING_FACTOR * peak.exp()).min(CEILING_MS);
        let timeout = (best + SLACK_MS).min(ceiling + SLACK_MS);
        Some((timeout.round() as Millis).max(FLOOR_MS))
    }

    /// The moment the service goes to ERROR if no further beat comes.
    pub fn deadline(&self) -> Option<Millis> {
        Some(self.last?.saturating_add(self.timeout()?))
    }

    /// The timeout the slots of the beat at `at` support: its own slot's,
    /// and the neighbour's when `at` is in the outer quarter next to it
    /// (the larger of the two); None when either has too few intervals.
    fn slot_timeout(
        &self,
        slots: &[Slot],
        at: Millis,
        index: fn(Millis) -> usize,
        width: Millis,
    ) -> Option<f64> {
        let own = index(at);
        let mut timeout = slots[own].timeout()?;
        let offset = at.rem_euclid(width);
        let neighbour = if offset < width / 4 {
            Some(index(at - width))
        } else if offset >= width - width / 4 {
            Some(index(at + width))
        } else {
            None
        };
        if let Some(other) = neighbour.map(|i| &slots[i]) {
            if other.count > 0 {
                timeout = timeout.max(other.timeout()?);
            }
        }
        Some(timeout)
    }
}

/// Length of [`Adaptive::to_bytes`]: a version byte, then the fixed state.
pub const STATE_BYTES: usize = 2 + 8 + 4 + 3 * 4 + 3 * (DAY_SLOTS + WEEK_SLOTS);
/// The layout of [`Adaptive::to_bytes`]; another first byte is refused.
const STATE_VERSION: u8 = 1;

impl Adaptive {
    /// The fixed state as bytes (little-endian, [`STATE_BYTES`] long): what
    /// the database stores so a restart keeps what the model learnt beyond
    /// the 100 intervals of the beat history.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(STATE_BYTES);
        out.push(STATE_VERSION);
        out.push(u8::from(self.last.is_some()));
        out.extend_from_slice(&self.last.unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&self.n.to_le_bytes());
        for x in [self.mu, self.var, self.peak] {
            out.extend_from_slice(&x.to_le_bytes());
        }
        for s in self.day.iter().chain(self.week.iter()) {
            out.extend_from_slice(&[s.count, s.mean, s.peak]);
        }
        out
    }

    /// Reads [`Adaptive::to_bytes`] back; any bytes that could not have
    /// come from it (length, version, a non-finite or out-of-range number,
    /// an empty slot with values) are refused with the reason.
    pub fn from_bytes(bytes: &[u8]) -> Result<Adaptive, &'static str> {
        if bytes.len() != STATE_BYTES {
            return Err("wrong length");
        }
        if bytes[0] != STATE_VERSION {
            return Err("unknown version");
        }
        let take = |at: usize, n: usize| &bytes[at..at + n];
        let f32_at = |at: usize| {
            let mut b = [0; 4];
            b.copy_from_slice(take(at, 4));
            f32::from_le_bytes(b)
        };
        let mut last = [0; 8];
        last.copy_from_slice(take(2, 8));
        let mut n = [0; 4];
        n.copy_from_slice(take(10, 4));
        let last = match bytes[1] {
            0 => None,
            1 => Some(Millis::from_le_bytes(last)),
            _ => return Err("bad flag"),
        };
        let (mu, var, peak) = (f32_at(14), f32_at(18), f32_at(22));
        // ln of an interval in ms is within [0, ln(i64::MAX)] ≈ [0, 44];
        // the spread and the peak above the mean are within that range too.
        let sane = |x: f32, lo: f32| x.is_finite() && (lo..=64.0).contains(&x);
        if !sane(mu, 0.0) || !sane(var, 0.0) || !sane(peak, -64.0) {
            return Err("a number out of range");
        }
        let mut model = Adaptive {
            last,
            n: u32::from_le_bytes(n),
            mu,
            var,
            peak,
            ..Adaptive::new()
        };
        if model.n > 0 && model.last.is_none() {
            return Err("intervals without a last beat");
        }
        let slots = bytes[26..].chunks_exact(3).map(|c| Slot {
            count: c[0],
            mean: c[1],
            peak: c[2],
        });
        for (to, from) in model.day.iter_mut().chain(model.week.iter_mut()).zip(slots) {
            if from.count == 0 && from != Slot::default() {
                return Err("an empty slot with values");
            }
            *to = from;
        }
        Ok(model)
    }

    /// The previous accepted beat, or `None` before the first.
    pub fn last_beat(&self) -> Option<Millis> {
        self.last
    }
}

/// The interval (ms) at which a sender whose longest of `n` intervals is
/// `e^peak` and whose log-spread is `sigma` reaches the target rate:
/// `peak` moved up by the normal quantiles between `1/(n+1)` and the target.
fn extrapolate(peak: f64, sigma: f64, n: f64) -> f64 {
    let seen = 1.0 / (n.min(PEAK_SAMPLES) + 1.0);
    let gap = (z_of(FALSE_ALARM_RATE) - z_of(seen)).max(0.0);
    (peak + gap * sigma).exp()
}

/// The standard normal quantile with upper tail `p` (0 < p ≤ 0.5),
/// Abramowitz & Stegun 26.2.23 (error below 4.5e-4).
fn z_of(p: f64) -> f64 {
    let p = p.clamp(1e-12, 0.5);
    let t = (-2.0 * p.ln()).sqrt();
    t - (2.515_517 + 0.802_853 * t + 0.010_328 * t * t)
        / (1.0 + 1.432_788 * t + 0.189_269 * t * t + 0.001_308 * t * t * t)
}

/// An interval as a one-byte log code, rounded up: `CODE_STEPS` codes per
/// doubling from 1 s (0) to about 2^32 s (255).
fn code(interval: Millis) -> u8 {
    let seconds = interval.max(1) as f64 / 1000.0;
    (CODE_STEPS * seconds.log2()).ceil().clamp(0.0, 255.0) as u8
}

/// The interval (ms) a code stands for.
fn decode(c: u8) -> f64 {
    1000.0 * (f64::from(c) / CODE_STEPS).exp2()
}

fn day_slot(at: Millis) -> usize {
    (at.div_euclid(HOUR_MS).rem_euclid(DAY_SLOTS as Millis)) as usize
}

fn week_slot(at: Millis) -> usize {
    (at.div_euclid(WEEK_SLOT_MS).rem_euclid(WEEK_SLOTS as Millis)) as usize
}

#[cfg(test)]
#[path = "adaptive_tests.rs"]
mod tests;
