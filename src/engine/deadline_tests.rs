//! Engine unit tests of what a record says about expiry: the timeout in
//! force (`timeout_in_force`) and the next deadline (`next_deadline`) in
//! every case (fixed, auto before and after its first interval, none, 0,
//! muted, in ERROR, restart and freeze grace).

use super::*;
use crate::model::{TIMEOUT_AUTO, TIMEOUT_NONE};

const T0: Millis = 1_700_000_000_000;

fn engine(started_at: Millis) -> Engine {
    Engine::new(EngineConfig {
        templates: vec![],
        max_services: 1000,
        started_at,
        jobs: Default::default(),
    })
}

fn apply(e: &mut Engine, name: &str, update: Update, now: Millis) {
    if let Err(err) = e.apply(name, update, now, &mut Vec::new()) {
        panic!("apply {name}: {err}");
    }
}

/// (timeout_in_force, next_deadline) of `name`, from its record.
fn shown(e: &Engine, name: &str) -> (Millis, Option<Millis>) {
    match e.service(name, false) {
        Ok(s) => (s.timeout_in_force, s.next_deadline),
        Err(err) => panic!("{err}"),
    }
}

#[test]
fn fixed_timeout_shows_itself_and_the_beat_plus_timeout() {
    let mut e = engine(T0 - 3_600_000);
    apply(&mut e, "a", Update::SetTimeoutAndBeat(60_000), T0);
    assert_eq!(shown(&e, "a"), (60_000, Some(T0 + 60_000)));
    assert_eq!(e.next_deadline(), Some(T0 + 60_000), "the scheduler agrees");
    apply(&mut e, "a", Update::Beat, T0 + 5_000);
    assert_eq!(shown(&e, "a"), (60_000, Some(T0 + 65_000)));
    assert_eq!(e.service("a", false).map(|s| s.timeout), Ok(60_000));
}

#[test]
fn auto_shows_minus_one_until_an_interval_then_the_learned_value() {
    let mut e = engine(T0 - 3_600_000);
    apply(&mut e, "a", Update::SetTimeoutAndBeat(TIMEOUT_AUTO), T0);
    assert_eq!(shown(&e, "a"), (TIMEOUT_NONE, None), "nothing measured yet");
    apply(&mut e, "a", Update::Beat, T0 + 10_000);
    apply(&mut e, "a", Update::Beat, T0 + 22_000);
    let learned = auto::auto_timeout(&[10_000, 12_000]);
    assert!(learned > 12_000, "learned {learned}");
    assert_eq!(shown(&e, "a"), (learned, Some(T0 + 22_000 + learned)));
    let record = e.service("a", false).unwrap_or_default();
    assert_eq!(record.timeout, TIMEOUT_AUTO, "1.x clients still see -2");
    // The deadline shown is the one that fires.
    let mut out = Vec::new();
    e.tick(T0 + 22_000 + learned - 1, &mut out);
    assert_eq!(e.service("a", false).map(|s| s.state), Ok(State::Ok));
    e.tick(T0 + 22_000 + learned, &mut out);
    assert_eq!(e.service("a", false).map(|s| s.state), Ok(State::Error));
    assert_eq!(shown(&e, "a"), (learned, None), "in ERROR: no deadline");
}

#[test]
fn no_timeout_never_expires() {
    let mut e = engine(T0 - 3_600_000);
    apply(&mut e, "a", Update::Beat, T0);
    assert_eq!(shown(&e, "a"), (TIMEOUT_NONE, None));
}

#[test]
fn timeout_zero_is_always_error_and_has_no_deadline() {
    let mut e = engine(T0 - 3_600_000);
    apply(&mut e, "a", Update::SetTimeoutAndBeat(0), T0);
    assert_eq!(e.service("a", false).map(|s| s.state), Ok(State::Error));
    assert_eq!(shown(&e, "a"), (0, None));
}

#[test]
fn muted_keeps_its_timeout_but_has_no_deadline() {
    let mut e = engine(T0 - 3_600_000);
    apply(&mut e, "a", Update::SetTimeoutAndBeat(60_000), T0);
    let muted = e.set_muted("a", true, T0 + 1_000, &mut Vec::new());
    assert_eq!(muted, Ok(()));
    assert_eq!(shown(&e, "a"), (60_000, None));
    let unmuted = e.set_muted("a", false, T0 + 2_000, &mut Vec::new());
    assert_eq!(unmuted, Ok(()));
    assert_eq!(shown(&e, "a"), (60_000, Some(T0 + 60_000)));
}

#[test]
fn restart_grace_moves_the_deadline_to_one_timeout_after_the_start() {
    let mut e = engine(T0 - 3_600_000);
    apply(&mut e, "a", Update::SetTimeoutAndBeat(60_000), T0);
    let records = e.services(None).unwrap_or_default();
    let start = T0 + 50_000;
    let mut r = engine(start);
    r.load(records, vec![], start);
    assert_eq!(shown(&r, "a"), (60_000, Some(start + 60_000)));
    assert_eq!(
        r.next_deadline(),
        Some(start + 60_000),
        "the scheduler agrees"
    );
}

#[test]
fn freeze_grace_moves_a_deadline_inside_the_window() {
    let mut e = engine(T0 - 3_600_000);
    apply(&mut e, "a", Update::SetTimeoutAndBeat(4_000), T0);
    e.note_unwatched(T0 + 1_000, T0 + 11_000);
    assert_eq!(shown(&e, "a"), (4_000, Some(T0 + 14_000)));
    let mut out = Vec::new();
    e.tick(T0 + 13_999, &mut out);
    assert_eq!(e.service("a", false).map(|s| s.state), Ok(State::Ok));
    e.tick(T0 + 14_000, &mut out);
    assert_eq!(e.service("a", false).map(|s| s.state), Ok(State::Error));
}
