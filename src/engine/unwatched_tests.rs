//! Engine unit tests of the freeze grace: deadlines that fell inside a time
//! the monitor was not watching (`Engine::note_unwatched`) move later by the
//! window's length; everything else keeps its rules.

use super::*;

const T0: Millis = 1_700_000_000_000;

fn engine() -> Engine {
    let template = match ViewTemplate::new("web", &["web.*".to_string()], &[], vec![]) {
        Ok(t) => t,
        Err(e) => panic!("bad template in test: {e}"),
    };
    Engine::new(EngineConfig {
        templates: vec![template],
        max_services: 1000,
        started_at: T0 - 3_600_000,
        jobs: Default::default(),
    })
}

fn beat(e: &mut Engine, name: &str, now: Millis) {
    let mut out = Vec::new();
    if let Err(err) = e.apply(name, Update::SetTimeoutAndBeat(4_000), now, &mut out) {
        panic!("apply {name}: {err}");
    }
}

fn tick(e: &mut Engine, now: Millis) -> Vec<Event> {
    let mut out = Vec::new();
    e.tick(now, &mut out);
    out
}

fn state(e: &Engine, name: &str) -> State {
    match e.service(name, false) {
        Ok(s) => s.state,
        Err(err) => panic!("{err}"),
    }
}

/// `web.a`..`web.c` beat every second on a 4 s timeout until `T0 + 10 s`;
/// `web.dead` stopped at `T0 + 8 s`. The monitor then freezes from
/// `T0 + 10.2 s` and thaws at `T0 + 25 s` (window up to `T0 + 26 s`, with
/// one second for the input queued during the freeze).
fn frozen(note: bool) -> Engine {
    let mut e = engine();
    for s in 0..=10 {
        let now = T0 + s * 1_000;
        for name in ["web.a", "web.b", "web.c"] {
            beat(&mut e, name, now);
        }
        if s <= 8 {
            beat(&mut e, "web.dead", now);
        }
        tick(&mut e, now);
    }
    tick(&mut e, T0 + 10_200);
    if note {
        e.note_unwatched(T0 + 10_200, T0 + 26_000);
    }
    e
}

#[test]
fn without_the_window_a_freeze_fails_everything() {
    // The defect the window fixes (and proof the scenario bites).
    let mut e = frozen(false);
    tick(&mut e, T0 + 25_000);
    assert_eq!(state(&e, "web.a"), State::Error);
    assert_eq!(view_state(&e), State::Error);
}

#[test]
fn deadlines_inside_the_window_move_by_its_length() {
    let mut e = frozen(true);
    let events = tick(&mut e, T0 + 25_000);
    assert!(events.is_empty(), "nothing changes at the thaw: {events:?}");
    for name in ["web.a", "web.b", "web.c", "web.dead"] {
        assert_eq!(state(&e, name), State::Ok, "{name}");
    }
    // web.dead's deadline T0+12 s moved by 15.8 s; the others' T0+14 s too.
    assert_eq!(e.next_deadline(), Some(T0 + 12_000 + 15_800));
    // One re-armed heap entry per service, no more.
    assert!(e.timers.len() <= 4 + 4, "heap holds {}", e.timers.len());
}

#[test]
fn services_that_resume_beating_never_fail_and_a_dead_one_is_caught() {
    let mut e = frozen(true);
    tick(&mut e, T0 + 25_000);
    let mut events = Vec::new();
    for s in 25..=40 {
        let now = T0 + s * 1_000;
        for name in ["web.a", "web.b", "web.c"] {
            beat(&mut e, name, now);
        }
        events.extend(tick(&mut e, now));
        events.extend(tick(&mut e, now + 500));
    }
    for name in ["web.a", "web.b", "web.c"] {
        assert_eq!(state(&e, name), State::Ok, "{name}");
    }
    // web.dead had 1.8 s left when the freeze began; it gets them after
    // the window: caught within one timeout of the thaw.
    assert_eq!(state(&e, "web.dead"), State::Error);
    let caught = e
        .service("web.dead", false)
        .map(|s| s.last_state_change)
        .unwrap_or_default();
    assert_eq!(
        caught,
        T0 + 28_000,
        "tick at 27.5 s is early, 28 s catches it"
    );
    assert!(caught <= T0 + 25_000 + 4_000);
    let view_errors = events
        .iter()
        .filter(|ev| matches!(ev, Event::ViewChanged { view, .. } if view.state == State::Error))
        .count();
    assert_eq!(view_errors, 1, "only web.dead's failure: {events:?}");
}

#[test]
fn a_beat_queued_during_the_freeze_counts_before_the_deadlines() {
    // The thread applies what was queued, then ticks: the beat is fresh.
    let mut e = frozen(true);
    beat(&mut e, "web.dead", T0 + 25_000);
    tick(&mut e, T0 + 25_000);
    tick(&mut e, T0 + 28_500);
    assert_eq!(state(&e, "web.dead"), State::Ok, "beat at the thaw");
    tick(&mut e, T0 + 29_000);
    assert_eq!(state(&e, "web.dead"), State::Error, "thaw + 4 s");
}

#[test]
fn a_beat_inside_the_window_sets_a_fresh_deadline() {
    // A beat applied at the thaw, while the window still runs (the settle
    // second), is not moved: it was seen.
    let mut e = frozen(true);
    beat(&mut e, "web.a", T0 + 25_000);
    let mut out = Vec::new();
    let _ = e.apply("web.a", Update::SetTimeout(500), T0 + 25_000, &mut out);
    tick(&mut e, T0 + 25_500);
    assert_eq!(
        state(&e, "web.a"),
        State::Error,
        "deadline 25.5 s, not moved"
    );
}

#[test]
fn a_deadline_due_before_the_window_still_fires() {
    let mut e = engine();
    beat(&mut e, "web.a", T0);
    // Due at T0+4 s; the monitor stopped watching only at T0+4 s.
    e.note_unwatched(T0 + 4_000, T0 + 20_000);
    tick(&mut e, T0 + 20_000);
    assert_eq!(state(&e, "web.a"), State::Error);
}

#[test]
fn deadlines_after_the_window_are_untouched() {
    let mut e = engine();
    beat(&mut e, "web.a", T0);
    e.note_unwatched(T0 + 1_000, T0 + 3_000);
    tick(&mut e, T0 + 3_000);
    assert_eq!(e.next_deadline(), Some(T0 + 4_000));
    tick(&mut e, T0 + 4_000);
    assert_eq!(state(&e, "web.a"), State::Error);
}

#[test]
fn the_restart_grace_deadline_moves_too() {
    let mut e = engine();
    beat(&mut e, "web.a", T0);
    let snapshot = e.services(None).unwrap_or_default();
    let start = T0 + 60_000;
    let mut r = Engine::new(EngineConfig {
        templates: vec![],
        max_services: 1000,
        started_at: start,
        jobs: Default::default(),
    });
    r.load(snapshot, vec![], start);
    assert_eq!(r.next_deadline(), Some(start + 4_000), "restart grace");
    r.note_unwatched(start + 1_000, start + 11_000);
    tick(&mut r, start + 11_000);
    assert_eq!(state(&r, "web.a"), State::Ok);
    tick(&mut r, start + 13_999);
    assert_eq!(state(&r, "web.a"), State::Ok);
    tick(&mut r, start + 14_000);
    assert_eq!(state(&r, "web.a"), State::Error);
}

#[test]
fn two_freezes_in_a_row_add_up() {
    let mut e = engine();
    beat(&mut e, "web.a", T0);
    e.note_unwatched(T0 + 1_000, T0 + 5_000); // 4 s -> 8 s
    tick(&mut e, T0 + 5_000);
    e.note_unwatched(T0 + 6_000, T0 + 10_000); // 8 s -> 12 s
    tick(&mut e, T0 + 10_000);
    assert_eq!(state(&e, "web.a"), State::Ok);
    tick(&mut e, T0 + 12_000);
    assert_eq!(state(&e, "web.a"), State::Error);
}

#[test]
fn windows_are_forgotten_once_nothing_they_moved_is_ahead() {
    let mut e = frozen(true);
    tick(&mut e, T0 + 25_000);
    assert!(!e.unwatched.is_empty());
    // Latest possible moved deadline: 26 s + 15.8 s.
    tick(&mut e, T0 + 41_800);
    assert!(!e.unwatched.is_empty());
    tick(&mut e, T0 + 41_801);
    assert!(e.unwatched.is_empty());
}

fn view_state(e: &Engine) -> State {
    match e.view_with_members("web") {
        Ok((v, _)) => v.state,
        Err(err) => panic!("{err}"),
    }
}
