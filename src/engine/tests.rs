//! Engine unit tests: every rule of SPEC 2 and the engine rows of SPEC 13.

use super::*;
use crate::model::{ServiceRecord, StatusSummary, ViewRecord, TIMEOUT_AUTO, TIMEOUT_NONE};

const T0: Millis = 1_700_000_000_000;

fn template(name: &str, includes: &[&str], excludes: &[&str]) -> ViewTemplate {
    let inc: Vec<String> = includes.iter().map(|s| s.to_string()).collect();
    let exc: Vec<String> = excludes.iter().map(|s| s.to_string()).collect();
    match ViewTemplate::new(name, &inc, &exc, vec![]) {
        Ok(t) => t,
        Err(e) => panic!("bad template in test: {e}"),
    }
}

fn engine_with(templates: Vec<ViewTemplate>, started_at: Millis) -> Engine {
    Engine::new(EngineConfig {
        templates,
        max_services: 1000,
        started_at,
        jobs: Default::default(),
    })
}

fn engine() -> Engine {
    engine_with(
        vec![
            template("web", &["web.*"], &["web.canary.*"]),
            template("backup-$host", &["backup.$host.*"], &[]),
        ],
        T0 - 3_600_000,
    )
}

fn apply(e: &mut Engine, name: &str, update: Update, now: Millis) -> Vec<Event> {
    let mut out = Vec::new();
    if let Err(err) = e.apply(name, update, now, &mut out) {
        panic!("apply {name}: {err}");
    }
    out
}

fn state(e: &Engine, name: &str) -> State {
    match e.service(name, false) {
        Ok(s) => s.state,
        Err(err) => panic!("{err}"),
    }
}

fn view_state(e: &Engine, name: &str) -> ViewRecord {
    match e.view_with_members(name) {
        Ok((v, _)) => v,
        Err(err) => panic!("{err}"),
    }
}

fn tick(e: &mut Engine, now: Millis) -> Vec<Event> {
    let mut out = Vec::new();
    e.tick(now, &mut out);
    out
}

#[test]
fn new_service_defaults_and_is_evaluated_at_once() {
    let mut e = engine();
    let events = apply(&mut e, "a", Update::Beat, T0);
    let s = e.service("a", true).unwrap_or_default();
    assert_eq!(s.state, State::Ok, "evaluated at once, never left NEW");
    assert_eq!(s.timeout, TIMEOUT_NONE);
    assert_eq!(s.last_beat, T0);
    assert_eq!(s.muted_since, 0);
    assert!(matches!(events[0], Event::ServiceAdded { .. }));
    assert!(matches!(
        events[1],
        Event::ServiceChanged {
            previous: State::New,
            ..
        }
    ));
    // No timeout: never expires.
    assert_eq!(e.next_deadline(), None);
    tick(&mut e, T0 + 10 * 365 * 86_400_000);
    assert_eq!(state(&e, "a"), State::Ok);
}

#[test]
fn invalid_names_are_refused_and_change_nothing() {
    let mut e = engine();
    let mut out = Vec::new();
    for bad in ["", "UPPER", "a b", "a/b", &"x".repeat(201)] {
        assert!(matches!(
            e.apply(bad, Update::Beat, T0, &mut out),
            Err(EngineError::InvalidName(_))
        ));
    }
    assert!(e.is_empty());
    assert!(out.is_empty());
}

#[test]
fn fixed_timeout_expires_exactly_at_deadline() {
    let mut e = engine();
    apply(&mut e, "a", Update::SetTimeoutAndBeat(5_000), T0);
    assert_eq!(e.next_deadline(), Some(T0 + 5_000));
    assert!(tick(&mut e, T0 + 4_999).is_empty());
    assert_eq!(state(&e, "a"), State::Ok);
    let events = tick(&mut e, T0 + 5_000);
    assert_eq!(state(&e, "a"), State::Error);
    let s = e.service("a", false).unwrap_or_default();
    assert_eq!(s.last_state_change, T0 + 5_000);
    assert!(events.iter().any(|ev| matches!(ev,
        Event::ServiceChanged { service, previous: State::Ok } if service.state == State::Error)));
    // A beat recovers it.
    apply(&mut e, "a", Update::Beat, T0 + 6_000);
    assert_eq!(state(&e, "a"), State::Ok);
}

#[test]
fn beats_push_the_deadline_without_growing_the_heap() {
    let mut e = engine();
    apply(&mut e, "a", Update::SetTimeoutAndBeat(10_000), T0);
    for i in 1..=1000 {
        apply(&mut e, "a", Update::Beat, T0 + i * 2_000);
    }
    assert!(
        e.timers.len() <= 1,
        "lazy rescheduling: one entry per service"
    );
    // The stale deadline wakes the engine, which re-arms at the true one.
    let last = T0 + 1000 * 2_000;
    tick(&mut e, T0 + 10_000);
    assert_eq!(state(&e, "a"), State::Ok);
    assert_eq!(e.next_deadline(), Some(last + 10_000));
    tick(&mut e, last + 10_000);
    assert_eq!(state(&e, "a"), State::Error);
}

#[test]
fn shorter_timeout_reschedules_earlier() {
    let mut e = engine();
    apply(&mut e, "a", Update::SetTimeoutAndBeat(60_000), T0);
    apply(&mut e, "a", Update::SetTimeout(2_000), T0 + 1_000);
    assert_eq!(e.next_deadline(), Some(T0 + 2_000));
    tick(&mut e, T0 + 2_000);
    assert_eq!(state(&e, "a"), State::Error);
    // The stale 60 s entry does nothing when it pops.
    assert!(tick(&mut e, T0 + 60_000).is_empty());
}

#[test]
fn fixed_timeout_without_any_beat_is_error() {
    let mut e = engine();
    apply(&mut e, "a", Update::SetTimeout(60_000), T0);
    assert_eq!(state(&e, "a"), State::Error);
    assert_eq!(e.service("a", false).unwrap_or_default().last_beat, -1);
}

#[test]
fn timeout_zero_is_always_error_even_right_after_a_beat() {
    let mut e = engine();
    apply(&mut e, "never.happens", Update::SetTimeoutAndBeat(0), T0);
    assert_eq!(state(&e, "never.happens"), State::Error);
    apply(&mut e, "never.happens", Update::Beat, T0 + 5_000);
    assert_eq!(state(&e, "never.happens"), State::Error);
}

#[test]
fn rate_limit_drops_beats_within_one_second() {
    let mut e = engine();
    let mut out = Vec::new();
    let first = e.apply("a", Update::Beat, T0, &mut out);
    assert_eq!(first, Ok(Applied { beat: true }));
    let second = e.apply("a", Update::Beat, T0 + 999, &mut out);
    assert_eq!(second, Ok(Applied { beat: false }), "dropped, not an error");
    assert_eq!(e.service("a", false).unwrap_or_default().last_beat, T0);
    let third = e.apply("a", Update::Beat, T0 + 1_000, &mut out);
    assert_eq!(third, Ok(Applied { beat: true }));
    let s = e.service("a", true).unwrap_or_default();
    assert_eq!(s.beat_history, vec![1_000]);
}

#[test]
fn history_keeps_the_last_100_intervals_in_arrival_order() {
    let mut e = engine();
    let mut now = T0;
    apply(&mut e, "a", Update::Beat, now);
    for i in 0..150 {
        // Alternate long and short intervals: sorting would be visible.
        now += if i % 2 == 0 { 5_000 } else { 2_000 };
        apply(&mut e, "a", Update::Beat, now);
    }
    let s = e.service("a", true).unwrap_or_default();
    assert_eq!(s.beat_history.len(), 100);
    let expected: Vec<Millis> = (50..150)
        .map(|i| if i % 2 == 0 { 5_000 } else { 2_000 })
        .collect();
    assert_eq!(s.beat_history, expected, "never reordered (SPEC 13)");
    assert!(s.analysis.is_some());
    // Asking for the analysis again must not have sorted anything.
    let again = e.service("a", true).unwrap_or_default();
    assert_eq!(again.beat_history, expected);
}

#[test]
fn clock_going_backwards_does_not_silence_a_service() {
    let mut e = engine();
    apply(&mut e, "a", Update::SetTimeoutAndBeat(10_000), T0);
    let mut out = Vec::new();
    let r = e.apply("a", Update::Beat, T0 - 60_000, &mut out);
    assert_eq!(r, Ok(Applied { beat: true }));
    assert!(e
        .service("a", true)
        .unwrap_or_default()
        .beat_history
        .is_empty());
}

#[test]
fn auto_service_with_one_beat_does_not_expire() {
    let mut e = engine();
    apply(&mut e, "a", Update::AUTOBEAT, T0);
    assert_eq!(e.next_deadline(), None);
    tick(&mut e, T0 + 86_400_000);
    assert_eq!(
        state(&e, "a"),
        State::Ok,
        "SPEC 13: 1.0.3 failed it 1 s later"
    );
}

#[test]
fn auto_service_expires_after_the_computed_timeout() {
    let mut e = engine();
    apply(&mut e, "a", Update::AUTOBEAT, T0);
    apply(&mut e, "a", Update::AUTOBEAT, T0 + 60_000);
    // [60000] -> 61000
    assert_eq!(e.next_deadline(), Some(T0 + 60_000 + 61_000));
    tick(&mut e, T0 + 60_000 + 60_999);
    assert_eq!(state(&e, "a"), State::Ok);
    tick(&mut e, T0 + 60_000 + 61_000);
    assert_eq!(state(&e, "a"), State::Error);
    assert_eq!(
        e.service("a", false).unwrap_or_default().timeout,
        TIMEOUT_AUTO
    );
}

#[test]
fn mute_and_unmute() {
    let mut e = engine();
    apply(&mut e, "web.a", Update::SetTimeoutAndBeat(1_000), T0);
    tick(&mut e, T0 + 1_000);
    assert_eq!(view_state(&e, "web").state, State::Error);
    let mut out = Vec::new();
    e.set_muted("web.a", true, T0 + 2_000, &mut out).ok();
    let s = e.service("web.a", false).unwrap_or_default();
    assert_eq!((s.state, s.muted_since), (State::Muted, T0 + 2_000));
    assert_eq!(
        view_state(&e, "web").state,
        State::Ok,
        "muted members never cause ERROR"
    );
    // Idempotent.
    out.clear();
    e.set_muted("web.a", true, T0 + 3_000, &mut out).ok();
    assert!(out.is_empty());
    assert_eq!(
        e.service("web.a", false).unwrap_or_default().muted_since,
        T0 + 2_000
    );
    e.set_muted("web.a", false, T0 + 4_000, &mut out).ok();
    assert_eq!(state(&e, "web.a"), State::Error);
    assert_eq!(e.status(None), Ok(StatusSummary::new(0, 1)));
}

#[test]
fn unknown_services_are_not_created_by_mute_delete_or_get() {
    let mut e = engine();
    let mut out = Vec::new();
    assert_eq!(
        e.set_muted("ghost", true, T0, &mut out),
        Err(EngineError::ServiceNotFound("ghost".into()))
    );
    assert_eq!(
        e.set_muted("ghost", false, T0, &mut out),
        Err(EngineError::ServiceNotFound("ghost".into()))
    );
    assert_eq!(
        e.delete_service("ghost", T0, &mut out),
        Err(EngineError::ServiceNotFound("ghost".into()))
    );
    assert!(e.service("ghost", false).is_err());
    assert!(e.is_empty() && out.is_empty());
}

#[test]
fn views_follow_their_members_and_count_incidents_only_into_error() {
    let mut e = engine();
    // A view whose name has no `$word` exists from the start, with no members.
    let v = view_state(&e, "web");
    assert_eq!((v.state, v.incident_number), (State::New, 0));
    assert!(e
        .view_with_members("web")
        .is_ok_and(|(_, members)| members.is_empty()));
    let status = e.status(Some("web")).expect("the view answers");
    assert!(status.good && status.num_ok == 0 && status.num_error == 0);
    let events = apply(&mut e, "web.a", Update::SetTimeoutAndBeat(10_000), T0);
    assert!(events.iter().any(|ev| matches!(ev,
        Event::ViewChanged { view, previous: State::New } if view.name == "web")));
    // One with a `$word` appears with its first member.
    assert!(e.view_with_members("backup-db1").is_err());
    let events = apply(&mut e, "backup.db1.x", Update::Beat, T0);
    assert!(events
        .iter()
        .any(|ev| matches!(ev, Event::ViewAdded { view } if view.name == "backup-db1")));
    let v = view_state(&e, "web");
    assert_eq!(v.state, State::Ok);
    assert_eq!(v.incident_number, 0, "NEW -> OK is no incident (SPEC 13)");
    tick(&mut e, T0 + 10_000);
    let v = view_state(&e, "web");
    assert_eq!((v.state, v.incident_number), (State::Error, 1));
    assert_eq!(v.failed_services, vec!["web.a".to_string()]);
    apply(&mut e, "web.a", Update::Beat, T0 + 11_000);
    let v = view_state(&e, "web");
    assert_eq!((v.state, v.incident_number), (State::Ok, 1));
    assert!(v.failed_services.is_empty());
    tick(&mut e, T0 + 21_000);
    assert_eq!(view_state(&e, "web").incident_number, 2);
}

#[test]
fn view_transitions_for_alerts_are_new_ok_error_ok() {
    let mut e = engine();
    let mut views = Vec::new();
    let mut collect = |events: Vec<Event>| {
        for ev in events {
            if let Event::ViewChanged { view, previous } = ev {
                views.push((previous, view.state));
            }
        }
    };
    collect(apply(&mut e, "web.a", Update::SetTimeoutAndBeat(5_000), T0));
    collect(tick(&mut e, T0 + 5_000));
    collect(apply(&mut e, "web.a", Update::Beat, T0 + 6_000));
    assert_eq!(
        views,
        vec![
            (State::New, State::Ok),
            (State::Ok, State::Error),
            (State::Error, State::Ok)
        ]
    );
}

#[test]
fn view_in_error_while_any_member_fails() {
    let mut e = engine();
    apply(&mut e, "web.a", Update::SetTimeoutAndBeat(5_000), T0);
    apply(&mut e, "web.b", Update::SetTimeoutAndBeat(8_000), T0);
    tick(&mut e, T0 + 5_000);
    tick(&mut e, T0 + 8_000);
    let v = view_state(&e, "web");
    assert_eq!(
        v.failed_services,
        vec!["web.a".to_string(), "web.b".to_string()]
    );
    apply(&mut e, "web.a", Update::Beat, T0 + 9_000);
    assert_eq!(view_state(&e, "web").state, State::Error);
    apply(&mut e, "web.b", Update::Beat, T0 + 9_000);
    let v = view_state(&e, "web");
    assert_eq!((v.state, v.incident_number), (State::Ok, 1));
}

#[test]
fn includes_excludes_and_templated_view_names() {
    let mut e = engine();
    for name in [
        "web.frontend",
        "web.canary.ping",
        "backup.db1.nightly",
        "backup.db2.nightly",
        "other",
    ] {
        apply(&mut e, name, Update::Beat, T0);
    }
    let mut names: Vec<String> = e.views().into_iter().map(|v| v.name).collect();
    names.sort();
    assert_eq!(names, vec!["backup-db1", "backup-db2", "web"]);
    assert_eq!(
        e.service("web.frontend", false).unwrap_or_default().views,
        vec!["web".to_string()]
    );
    assert!(e
        .service("web.canary.ping", false)
        .unwrap_or_default()
        .views
        .is_empty());
    let (_, members) = e.view_with_members("backup-db1").unwrap_or_default();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].name, "backup.db1.nightly");
}

#[test]
fn one_service_can_be_in_several_views() {
    let mut e = engine_with(
        vec![
            template("all", &["*"], &[]),
            template("app-$x", &["app.$x"], &[]),
        ],
        T0,
    );
    apply(&mut e, "app.one", Update::Beat, T0);
    assert_eq!(
        e.service("app.one", false).unwrap_or_default().views,
        vec!["all".to_string(), "app-one".to_string()]
    );
}

#[test]
fn deleting_views_with_and_without_members() {
    let mut e = engine();
    apply(&mut e, "web.a", Update::Beat, T0);
    let mut out = Vec::new();
    assert_eq!(
        e.delete_view("web", &mut out),
        Err(EngineError::ViewHasMembers {
            view: "web".into(),
            members: 1
        })
    );
    assert_eq!(
        e.delete_view("nope", &mut out),
        Err(EngineError::ViewNotFound("nope".into()))
    );
    e.delete_service("web.a", T0, &mut out).ok();
    assert!(e.service("web.a", false).is_err());
    // The view stays, empty, until deleted.
    assert_eq!(e.status(Some("web")), Ok(StatusSummary::new(0, 0)));
    assert_eq!(e.delete_view("web", &mut out), Ok(()));
    assert!(matches!(out.last(), Some(Event::ViewRemoved { .. })));
    assert!(e.view_with_members("web").is_err());
    // It reappears with a matching service.
    apply(&mut e, "web.b", Update::Beat, T0 + 5_000);
    assert_eq!(view_state(&e, "web").state, State::Ok);
}

#[test]
fn deleting_the_failing_member_recovers_the_view() {
    let mut e = engine();
    apply(&mut e, "web.a", Update::SetTimeout(5_000), T0);
    apply(&mut e, "web.b", Update::Beat, T0);
    assert_eq!(view_state(&e, "web").state, State::Error);
    let mut out = Vec::new();
    e.delete_service("web.a", T0 + 1, &mut out).ok();
    assert_eq!(view_state(&e, "web").state, State::Ok);
    assert_eq!(e.status(None), Ok(StatusSummary::new(1, 0)));
    // The slot is reused and the stale timer entry does not touch it.
    apply(&mut e, "web.c", Update::SetTimeoutAndBeat(60_000), T0 + 2);
    tick(&mut e, T0 + 5_000);
    assert_eq!(state(&e, "web.c"), State::Ok);
}

#[test]
fn status_counts_and_unknown_view() {
    let mut e = engine();
    apply(&mut e, "web.a", Update::SetTimeout(5_000), T0);
    apply(&mut e, "web.b", Update::Beat, T0);
    apply(&mut e, "other", Update::Beat, T0);
    let mut out = Vec::new();
    e.set_muted("other", true, T0, &mut out).ok();
    assert_eq!(e.status(None), Ok(StatusSummary::new(2, 1)));
    let s = e.status(None).unwrap_or_default();
    assert!(s.has_error && !s.good);
    assert_eq!(e.status(Some("web")), Ok(StatusSummary::new(1, 1)));
    assert_eq!(
        e.status(Some("typo")),
        Err(EngineError::ViewNotFound("typo".into())),
        "a typo must not read as healthy (SPEC 13)"
    );
}

#[test]
fn max_services_refuses_new_but_keeps_existing() {
    let mut e = Engine::new(EngineConfig {
        templates: vec![],
        max_services: 2,
        started_at: T0,
        jobs: Default::default(),
    });
    apply(&mut e, "a", Update::Beat, T0);
    apply(&mut e, "b", Update::Beat, T0);
    let mut out = Vec::new();
    assert_eq!(
        e.apply("c", Update::Beat, T0, &mut out),
        Err(EngineError::TooManyServices { max: 2 })
    );
    assert!(out.is_empty());
    assert_eq!(
        e.apply("a", Update::Beat, T0 + 2_000, &mut out),
        Ok(Applied { beat: true })
    );
}

#[test]
fn dirty_on_everything_but_plain_beats() {
    let mut e = engine();
    apply(&mut e, "a", Update::Beat, T0);
    assert!(e.take_dirty(), "creation");
    assert!(!e.take_dirty());
    apply(&mut e, "a", Update::Beat, T0 + 2_000);
    assert!(!e.take_dirty(), "a beat alone");
    apply(&mut e, "a", Update::SetTimeout(5_000), T0 + 3_000);
    assert!(e.take_dirty(), "timeout");
    apply(&mut e, "a", Update::SetTimeout(5_000), T0 + 3_500);
    assert!(!e.take_dirty(), "same timeout again");
    tick(&mut e, T0 + 7_000);
    assert!(e.take_dirty(), "state change");
}

#[test]
fn beat_events_only_when_asked_for() {
    let mut e = engine();
    apply(&mut e, "a", Update::Beat, T0);
    assert!(apply(&mut e, "a", Update::Beat, T0 + 2_000).is_empty());
    e.set_emit_beats(true);
    let events = apply(&mut e, "a", Update::Beat, T0 + 4_000);
    assert!(matches!(
        &events[..],
        [Event::ServiceChanged {
            previous: State::Ok,
            ..
        }]
    ));
}

fn reload(e: &Engine, started_at: Millis, now: Millis) -> Engine {
    let mut snapshot = crate::model::ServiceSnapshot::default();
    let mut cursor = 0;
    while !e.snapshot_for_save(&mut cursor, 2, &mut snapshot) {}
    let services: Vec<ServiceRecord> = snapshot.iter().map(ServiceRecord::from).collect();
    let mut fresh = engine_with(
        vec![
            template("web", &["web.*"], &["web.canary.*"]),
            template("backup-$host", &["backup.$host.*"], &[]),
        ],
        started_at,
    );
    fresh.load(services, e.views(), now);
    fresh
}

#[test]
fn restart_keeps_everything_and_incident_numbers() {
    let mut e = engine();
    apply(&mut e, "web.a", Update::SetTimeoutAndBeat(5_000), T0);
    apply(&mut e, "web.a", Update::Beat, T0 + 2_000);
    apply(&mut e, "web.b", Update::SetTimeoutAndBeat(60_000), T0);
    tick(&mut e, T0 + 7_000);
    apply(&mut e, "web.a", Update::Beat, T0 + 8_000);
    tick(&mut e, T0 + 13_000);
    assert_eq!(view_state(&e, "web").incident_number, 2);
    let mut out = Vec::new();
    e.set_muted("web.b", true, T0 + 14_000, &mut out).ok();

    let r = reload(&e, T0 + 20_000, T0 + 20_000);
    let a = r.service("web.a", true).unwrap_or_default();
    assert_eq!(a.beat_history, vec![2_000, 6_000]);
    assert_eq!(a.state, State::Error, "was in error: no grace");
    assert_eq!(a.last_state_change, T0 + 13_000);
    let b = r.service("web.b", false).unwrap_or_default();
    assert_eq!((b.state, b.muted_since), (State::Muted, T0 + 14_000));
    let v = view_state(&r, "web");
    assert_eq!((v.state, v.incident_number), (State::Error, 2));
    let mut r = r;
    apply(&mut r, "web.a", Update::Beat, T0 + 21_000);
    tick(&mut r, T0 + 26_000);
    assert_eq!(
        view_state(&r, "web").incident_number,
        3,
        "continues after restart"
    );
}

#[test]
fn restart_grace_gives_one_full_timeout_after_start() {
    let mut e = engine();
    apply(&mut e, "a", Update::SetTimeoutAndBeat(10_000), T0);
    apply(&mut e, "dead", Update::SetTimeoutAndBeat(10_000), T0);
    // The monitor is down from T0+1 s to T0+60 s: "a" missed its beats.
    let start = T0 + 60_000;
    let mut r = reload(&e, start, start);
    assert_eq!(state(&r, "a"), State::Ok, "not the service's fault");
    assert_eq!(r.next_deadline(), Some(start + 10_000));
    apply(&mut r, "a", Update::Beat, start + 5_000);
    tick(&mut r, start + 10_000);
    assert_eq!(state(&r, "a"), State::Ok);
    assert_eq!(
        state(&r, "dead"),
        State::Error,
        "a dead service is caught one timeout later"
    );
    assert_eq!(
        r.service("dead", false)
            .unwrap_or_default()
            .last_state_change,
        start + 10_000
    );
}

#[test]
fn load_recomputes_stale_view_state() {
    let mut e = engine_with(vec![template("web", &["web.*"], &[])], T0);
    let services = vec![ServiceRecord {
        name: "web.a".into(),
        state: State::Ok,
        last_beat: T0,
        timeout: TIMEOUT_NONE,
        last_state_change: T0,
        ..Default::default()
    }];
    let views = vec![ViewRecord {
        name: "web".into(),
        state: State::Error,
        incident_number: 7,
        failures: Vec::new(),
        failed_services: vec![],
        last_state_change: T0,
        alerts: vec![],
        alerting: Default::default(),
    }];
    e.load(services, views, T0 + 1_000);
    let v = view_state(&e, "web");
    assert_eq!((v.state, v.incident_number), (State::Ok, 7));
}

#[test]
fn state_counts_follow_every_change() {
    let mut e = engine();
    apply(&mut e, "web.a", Update::SetTimeoutAndBeat(5_000), T0);
    apply(&mut e, "web.b", Update::Beat, T0);
    apply(&mut e, "c", Update::SetTimeout(0), T0);
    let mut out = Vec::new();
    e.set_muted("web.b", true, T0, &mut out).ok();
    // [new, ok, error, muted]
    assert_eq!(e.state_counts(), ([0, 1, 1, 1], [0, 1, 0, 0]));
    tick(&mut e, T0 + 5_000);
    assert_eq!(e.state_counts(), ([0, 0, 2, 1], [0, 0, 1, 0]));
    e.delete_service("web.a", T0 + 6_000, &mut out).ok();
    e.delete_service("web.b", T0 + 6_000, &mut out).ok();
    assert_eq!(e.state_counts(), ([0, 0, 1, 0], [0, 1, 0, 0]));
    e.delete_view("web", &mut out).ok();
    assert_eq!(e.state_counts(), ([0, 0, 1, 0], [0, 0, 0, 0]));
    // After a restart the configured view "web" is there again, NEW.
    let r = reload(&e, T0 + 7_000, T0 + 7_000);
    assert_eq!(r.state_counts(), ([0, 0, 1, 0], [1, 0, 0, 0]));
}

#[test]
fn a_service_stays_small() {
    // The RSS budget per service (SPEC target: 150 bytes with the index and
    // the timer heap) depends on this.
    assert!(std::mem::size_of::<Option<Service>>() <= 72);
}

#[test]
fn names_survive_deletes_and_arena_compaction() {
    let mut e = Engine::new(EngineConfig {
        templates: vec![template("web", &["web.*"], &[])],
        max_services: 10_000,
        started_at: T0,
        jobs: Default::default(),
    });
    let mut out = Vec::new();
    for i in 0..2_000 {
        apply(
            &mut e,
            &format!("svc.{i:05}.with.a.longish.name"),
            Update::SetTimeoutAndBeat(60_000),
            T0,
        );
    }
    for i in (0..2_000).filter(|i| i % 4 != 0) {
        e.delete_service(&format!("svc.{i:05}.with.a.longish.name"), T0, &mut out)
            .ok();
    }
    assert_eq!(e.len(), 500);
    for i in (0..2_000).step_by(4) {
        let name = format!("svc.{i:05}.with.a.longish.name");
        assert_eq!(e.service(&name, false).map(|s| s.name), Ok(name.clone()));
    }
    assert!(e.service("svc.00001.with.a.longish.name", false).is_err());
    // New services reuse slots and still find their names.
    apply(&mut e, "fresh.one", Update::Beat, T0);
    assert_eq!(
        e.service("fresh.one", false).map(|s| s.name),
        Ok("fresh.one".into())
    );
    tick(&mut e, T0 + 60_000);
    assert_eq!(e.status(None), Ok(StatusSummary::new(1, 500)));
}

fn alerting(name: &str, includes: &[&str], alerts: &[&str]) -> ViewTemplate {
    let inc: Vec<String> = includes.iter().map(|s| s.to_string()).collect();
    let alerts = alerts.iter().map(|s| s.to_string()).collect();
    match ViewTemplate::new(name, &inc, &[], alerts) {
        Ok(t) => t,
        Err(e) => panic!("bad template in test: {e}"),
    }
}

fn alerting_templates() -> Vec<ViewTemplate> {
    vec![
        alerting("web", &["web.*"], &["ops", "pager"]),
        alerting("backup-$host", &["backup.$host.*"], &["backup"]),
        alerting("quiet", &["quiet.*"], &[]),
        // Produces "backup-db" too: the first template to produce it wins.
        alerting("backup-db", &["db.*"], &["other"]),
    ]
}

#[test]
fn view_records_carry_the_alerts_of_their_template() {
    let mut e = engine_with(alerting_templates(), T0);
    let out = apply(&mut e, "web.a", Update::SetTimeoutAndBeat(5_000), T0);
    let joined = out.iter().find_map(|ev| match ev {
        Event::ViewChanged { view, .. } if view.name == "web" => Some(view.clone()),
        _ => None,
    });
    assert_eq!(
        joined.map(|v| v.alerts),
        Some(vec!["ops".to_string(), "pager".to_string()]),
        "the first member's event already names the alerts"
    );
    let changed: Vec<ViewRecord> = tick(&mut e, T0 + 5_000)
        .into_iter()
        .filter_map(|ev| match ev {
            Event::ViewChanged { view, .. } => Some(view),
            _ => None,
        })
        .collect();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].alerts, vec!["ops", "pager"]);
    assert_eq!(changed[0].state, State::Error);

    apply(&mut e, "backup.db.nightly", Update::Beat, T0);
    apply(&mut e, "db.main", Update::Beat, T0);
    apply(&mut e, "quiet.x", Update::Beat, T0);
    assert_eq!(view_state(&e, "backup-db").alerts, vec!["backup"]);
    assert!(view_state(&e, "quiet").alerts.is_empty());
    let listed: Vec<(String, Vec<String>)> =
        e.views().into_iter().map(|v| (v.name, v.alerts)).collect();
    assert!(listed.contains(&("web".into(), vec!["ops".into(), "pager".into()])));
}

#[test]
fn a_view_loaded_from_the_database_gets_its_template_when_a_member_joins() {
    let mut e = engine_with(alerting_templates(), T0);
    apply(&mut e, "web.a", Update::SetTimeoutAndBeat(5_000), T0);
    let mut snapshot = crate::model::ServiceSnapshot::default();
    let mut cursor = 0;
    while !e.snapshot_for_save(&mut cursor, 10, &mut snapshot) {}
    let services: Vec<ServiceRecord> = snapshot.iter().map(ServiceRecord::from).collect();
    let mut views = e.views();
    // A stored view no template produces any more, and the stored records
    // never carry alerts (the database does not keep them).
    views.push(ViewRecord {
        name: "gone".into(),
        ..Default::default()
    });
    for v in &mut views {
        v.alerts.clear();
    }

    let mut fresh = engine_with(alerting_templates(), T0);
    fresh.load(services, views, T0 + 1_000);
    assert_eq!(view_state(&fresh, "web").alerts, vec!["ops", "pager"]);
    assert!(view_state(&fresh, "gone").alerts.is_empty());
    let out = tick(&mut fresh, T0 + 5_000);
    let alerts = out.iter().find_map(|ev| match ev {
        Event::ViewChanged { view, .. } => Some(view.alerts.clone()),
        _ => None,
    });
    assert_eq!(alerts, Some(vec!["ops".to_string(), "pager".to_string()]));

    // A view with no members on load gets its template when one appears.
    let mut fresh = engine_with(alerting_templates(), T0);
    fresh.load(
        Vec::new(),
        vec![ViewRecord {
            name: "backup-db".into(),
            ..Default::default()
        }],
        T0,
    );
    assert!(view_state(&fresh, "backup-db").alerts.is_empty());
    apply(&mut fresh, "backup.db.x", Update::Beat, T0 + 1_000);
    assert_eq!(view_state(&fresh, "backup-db").alerts, vec!["backup"]);
}
