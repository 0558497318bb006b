//! The adaptive model's properties, one test each (SPEC 19).

use super::*;

const MIN: Millis = 60_000;
const DAY: Millis = 86_400_000;
/// Monday 2026-11-23 00:00 UTC.
const MONDAY: Millis = 1_795_392_000_000;

/// A tiny deterministic generator (xorshift), so the tests need no crate.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit().max(1e-12), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// Feeds beats; returns how many beats came after the deadline in force.
fn false_alarms(model: &mut Adaptive, beats: &[Millis]) -> usize {
    let mut alarms = 0;
    for &beat in beats {
        if model.deadline().is_some_and(|d| beat > d) {
            alarms += 1;
        }
        model.observe(beat);
    }
    alarms
}

fn beats_from(start: Millis, intervals: impl IntoIterator<Item = Millis>) -> Vec<Millis> {
    let mut t = start;
    let mut out = vec![t];
    for d in intervals {
        t += d;
        out.push(t);
    }
    out
}

#[test]
fn state_is_bounded() {
    // 232 bytes, beside the beat history: well inside the 256 allowed.
    assert!(std::mem::size_of::<Adaptive>() <= 256);
    assert_eq!(std::mem::size_of::<Adaptive>(), 232);
    // It does not grow with input: nothing in it allocates.
    let mut model = Adaptive::new();
    for i in 0..10_000 {
        model.observe(i * MIN);
    }
    assert_eq!(model.intervals(), 9_999);
}

#[test]
fn no_deadline_before_the_first_interval() {
    let mut model = Adaptive::new();
    assert_eq!(model.deadline(), None);
    model.observe(MONDAY);
    assert_eq!(model.deadline(), None);
    assert_eq!(model.timeout(), None);
    // A clock that goes back gives no interval either.
    model.observe(MONDAY - 5_000);
    assert_eq!(model.deadline(), None);
    model.observe(MONDAY + MIN);
    assert!(model.deadline().is_some());
}

#[test]
fn few_data_points_give_a_longer_deadline_never_a_shorter_one() {
    let mut model = Adaptive::new();
    let mut timeouts = Vec::new();
    for beat in beats_from(MONDAY, [MIN; 40]) {
        model.observe(beat);
        timeouts.extend(model.timeout());
    }
    // One interval: lenient (prior spread), but sane: between 1.5× and 4×.
    assert!(
        timeouts[0] > 3 * MIN / 2 && timeouts[0] <= 4 * MIN,
        "{timeouts:?}"
    );
    // More of the same: never longer than before, and it ends close to
    // the interval (a regular sender is caught quickly).
    for pair in timeouts.windows(2) {
        assert!(pair[1] <= pair[0], "{timeouts:?}");
    }
    let last = *timeouts.last().unwrap();
    assert!(last < 3 * MIN / 2 && last > MIN, "{last}");
}

#[test]
fn floor_and_ceiling_hold() {
    // Beats at the rate limit: the deadline is still at least the floor.
    let mut model = Adaptive::new();
    for beat in beats_from(MONDAY, [1000; 50]) {
        model.observe(beat);
    }
    assert!(model.timeout().unwrap() >= FLOOR_MS);
    // One wild interval among regular ones cannot push the timeout past
    // CEILING_FACTOR × the longest interval (plus the slack).
    let mut model = Adaptive::new();
    let mut intervals = vec![MIN; 3];
    intervals.push(30 * DAY);
    for beat in beats_from(MONDAY, intervals) {
        model.observe(beat);
    }
    let timeout = model.timeout().unwrap() as f64;
    assert!(
        timeout <= CEILING_FACTOR * (30 * DAY) as f64 * 1.01 + SLACK_MS,
        "{timeout}"
    );
    assert!(timeout > (30 * DAY) as f64, "{timeout}");
}

#[test]
fn regular_sender_is_caught_within_a_fraction_of_its_interval() {
    let mut rng = Rng(7);
    let intervals: Vec<Millis> = (0..2000)
        .map(|_| MIN + (1000.0 * rng.normal()) as Millis)
        .collect();
    let mut model = Adaptive::new();
    let alarms = false_alarms(&mut model, &beats_from(MONDAY, intervals));
    assert_eq!(alarms, 0);
    let timeout = model.timeout().unwrap();
    assert!(timeout < 80_000, "{timeout}");
}

#[test]
fn long_tailed_sender_meets_the_false_alarm_target() {
    // Lognormal intervals (sigma 0.5 around 5 minutes): a normal-theory
    // rule (mean + 3 std) fires on about 2 % of them.
    let mut rng = Rng(11);
    let intervals: Vec<Millis> = (0..5000)
        .map(|_| (300_000.0 * (0.5 * rng.normal()).exp()) as Millis)
        .collect();
    let mut model = Adaptive::new();
    let alarms = false_alarms(&mut model, &beats_from(MONDAY, intervals));
    // Target one in 1,000; allow twice that on 5,000 beats.
    assert!(alarms <= 10, "{alarms} false alarms in 5,000 beats");
}

#[test]
fn weekly_rhythm_is_learnt() {
    // A job at 02:00 (±5 min) Monday to Friday, 12 weeks.
    let mut rng = Rng(3);
    let beats: Vec<Millis> = (0..12 * 7)
        .filter(|d| d % 7 < 5)
        .map(|d| MONDAY + d * DAY + 2 * 3_600_000 + (300_000.0 * rng.normal()) as Millis)
        .collect();
    let mut model = Adaptive::new();
    let alarms = false_alarms(&mut model, &beats);
    // The first weekend may surprise it once (as it does auto); never again.
    assert!(alarms <= 1, "{alarms}");
    // After a Wednesday run, the next is expected Thursday: the deadline is
    // well before the three days a weekend takes.
    let wednesday = MONDAY + 12 * 7 * DAY + 2 * DAY + 2 * 3_600_000;
    model.observe(wednesday);
    let timeout = model.timeout().unwrap();
    assert!(timeout < DAY * 3 / 2, "{timeout}");
    // After a Friday run, it waits for Monday.
    let friday = wednesday + 2 * DAY;
    model.observe(friday);
    let timeout = model.timeout().unwrap();
    assert!(timeout > 3 * DAY, "{timeout}");
}

#[test]
fn busy_and_quiet_hours_are_learnt() {
    // Hourly 06:00-22:00, then nothing until 06:00: a 8 h gap each night.
    let mut beats = Vec::new();
    for day in 0..30 {
        for hour in 6..=22 {
            beats.push(MONDAY + day * DAY + hour * 3_600_000 + 60_000);
        }
    }
    let mut model = Adaptive::new();
    let alarms = false_alarms(&mut model, &beats);
    // The first night surprises it (as it does auto); never again.
    assert!(alarms <= 1, "{alarms}");
    // At noon the next run is due in an hour: caught within 1.5 h, not 8.
    model.observe(MONDAY + 30 * DAY + 12 * 3_600_000 + 60_000);
    let timeout = model.timeout().unwrap();
    assert!(timeout < 3 * 3_600_000 / 2, "{timeout}");
}

#[test]
fn a_scattered_slot_does_not_shorten_the_deadline() {
    // Poisson beats (mean 10 minutes): each hour's slot sees scattered
    // intervals, so it must not cut the global estimate below the target.
    let mut rng = Rng(5);
    let intervals: Vec<Millis> = (0..5000)
        .map(|_| (-600_000.0 * (1.0 - rng.unit()).ln()) as Millis + 1000)
        .collect();
    let mut model = Adaptive::new();
    let alarms = false_alarms(&mut model, &beats_from(MONDAY, intervals));
    assert!(alarms <= 10, "{alarms} false alarms in 5,000 beats");
}

#[test]
fn slot_codes_round_up_and_cover_years() {
    assert_eq!(code(1000), 0);
    assert_eq!(code(1), 0);
    assert!(decode(code(61_000)) >= 61_000.0);
    assert!(decode(code(61_000)) < 61_000.0 * 1.1);
    assert!(decode(code(30 * DAY)) >= (30 * DAY) as f64);
    assert_eq!(code(Millis::MAX), 255);
}

#[test]
fn z_of_matches_the_normal_table() {
    assert!((z_of(1e-3) - 3.090).abs() < 0.01);
    assert!((z_of(0.5)).abs() < 0.01);
    assert!((z_of(0.025) - 1.960).abs() < 0.01);
}

#[test]
fn extreme_times_do_not_panic() {
    let mut model = Adaptive::new();
    for beat in [
        Millis::MIN,
        0,
        -1,
        Millis::MAX - 1,
        Millis::MAX,
        Millis::MIN,
        Millis::MAX,
    ] {
        model.observe(beat);
        if let Some(timeout) = model.timeout() {
            assert!(timeout >= FLOOR_MS, "{timeout}");
        }
        let _ = model.deadline();
    }
}

/// The stored state (SPEC 19) reads back as the same model; bytes that
/// could not have come from `to_bytes` are refused, never a panic.
#[test]
fn state_bytes_round_trip_and_refuse_damage() {
    use super::STATE_BYTES;
    let mut model = Adaptive::new();
    assert_eq!(Adaptive::from_bytes(&model.to_bytes()), Ok(model.clone()));
    let mut rng = Rng(7);
    let mut at = 1_700_000_000_000;
    for _ in 0..2_000 {
        at += (60_000.0 * (0.5 * rng.normal()).exp()) as Millis;
        model.observe(at);
    }
    let bytes = model.to_bytes();
    assert_eq!(bytes.len(), STATE_BYTES);
    assert_eq!(Adaptive::from_bytes(&bytes).as_ref(), Ok(&model));
    assert_eq!(
        Adaptive::from_bytes(&bytes).ok().and_then(|m| m.deadline()),
        model.deadline()
    );
    let bad = |at: usize, value: &[u8]| {
        let mut b = bytes.clone();
        b[at..at + value.len()].copy_from_slice(value);
        Adaptive::from_bytes(&b)
    };
    assert_eq!(bad(0, &[2]), Err("unknown version"));
    assert_eq!(bad(1, &[7]), Err("bad flag"));
    assert_eq!(
        bad(14, &f32::NAN.to_le_bytes()),
        Err("a number out of range")
    );
    assert_eq!(
        bad(18, &(-1.0f32).to_le_bytes()),
        Err("a number out of range")
    );
    assert_eq!(
        bad(22, &f32::INFINITY.to_le_bytes()),
        Err("a number out of range")
    );
    assert_eq!(bad(1, &[0]), Err("intervals without a last beat"));
    assert_eq!(Adaptive::from_bytes(&bytes[1..]), Err("wrong length"));
    assert_eq!(Adaptive::from_bytes(&[]), Err("wrong length"));
    // Any other bytes of the right length: a model or a refusal, and a
    // model's deadline is computed without a panic.
    for seed in 0..2_000u64 {
        let mut rng = Rng(seed + 1);
        let mut b: Vec<u8> = (0..STATE_BYTES)
            .map(|_| (rng.unit() * 256.0) as u8)
            .collect();
        b[0] = 1;
        b[1] = (seed % 2) as u8;
        if let Ok(m) = Adaptive::from_bytes(&b) {
            let _ = m.deadline();
        }
    }
}
