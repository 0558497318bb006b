//! The engine's side of the alert policy (SPEC 15): alerts leave as
//! `Event::Alert` with the view's record, mutes of views and services end
//! by themselves as deadlines, and what the database knew is kept.

use super::*;
use crate::model::{ServiceRecord, Update, ViewRecord};
use crate::policy::{AlertNotice, PolicySettings, TemplatePolicy, ViewAlerting, MUTED_FOREVER};

const T0: Millis = 1_800_000_000_000;
const MIN: Millis = 60_000;

fn engine(delay: Millis, repeat: Option<Millis>) -> Engine {
    let web = ViewTemplate::new("web", &["web.*".to_string()], &[], vec!["ops".into()])
        .expect("template");
    let mut e = Engine::new(EngineConfig {
        templates: vec![web],
        max_services: 100,
        started_at: T0 - 3_600_000,
        jobs: Default::default(),
    });
    let mut settings = PolicySettings {
        templates: vec![TemplatePolicy {
            delay,
            depends_on: vec![],
        }],
        ..PolicySettings::default()
    };
    if let Some(r) = repeat {
        settings.repeat.insert("ops".into(), r);
    }
    e.set_policy_settings(settings, T0, &mut Vec::new());
    e
}

fn alerts(out: &[Event]) -> Vec<&AlertNotice> {
    out.iter()
        .filter_map(|ev| match ev {
            Event::Alert { notice } => Some(&**notice),
            _ => None,
        })
        .collect()
}

/// Ticks at every deadline up to `at`, returning all events.
fn run_to(e: &mut Engine, at: Millis) -> Vec<Event> {
    let mut out = Vec::new();
    while let Some(d) = e.next_deadline() {
        if d > at {
            break;
        }
        e.tick(d, &mut out);
    }
    e.tick(at, &mut out);
    out
}

fn view(e: &Engine) -> ViewRecord {
    e.view_with_members("web").expect("view").0
}

#[test]
fn an_expiry_sends_one_alert_with_the_failed_services() {
    let mut e = engine(0, None);
    e.apply(
        "web.a",
        Update::SetTimeoutAndBeat(5_000),
        T0,
        &mut Vec::new(),
    )
    .expect("beat");
    let out = run_to(&mut e, T0 + 5_000);
    let sent = alerts(&out);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].view.state, State::Error);
    assert_eq!(sent[0].view.failed_services, ["web.a"]);
    assert_eq!(sent[0].alerts, ["ops"]);
    assert_eq!((sent[0].previous, sent[0].reminder), (State::Ok, 0));
    assert!(view(&e).alerting.alerted_at >= T0 + 5_000);
    let mut out = Vec::new();
    e.apply("web.a", Update::Beat, T0 + 65_000, &mut out)
        .expect("beat");
    let sent = alerts(&out);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].down_ms, Some(60_000));
    assert_eq!(sent[0].view.state, State::Ok);
}

#[test]
fn a_delay_shows_pending_and_reminders_follow_repeat() {
    let mut e = engine(2 * MIN, Some(10 * MIN));
    e.apply(
        "web.a",
        Update::SetTimeoutAndBeat(5_000),
        T0,
        &mut Vec::new(),
    )
    .expect("beat");
    let out = run_to(&mut e, T0 + MIN);
    assert!(alerts(&out).is_empty());
    assert_eq!(view(&e).alerting.pending_until, Some(T0 + 5_000 + 2 * MIN));
    let out = run_to(&mut e, T0 + 5_000 + 22 * MIN);
    let numbers: Vec<u32> = alerts(&out).iter().map(|n| n.reminder).collect();
    assert_eq!(numbers, [0, 1, 2]);
}

#[test]
fn a_timed_view_mute_ends_by_itself() {
    let mut e = engine(0, None);
    e.apply(
        "web.a",
        Update::SetTimeoutAndBeat(5_000),
        T0,
        &mut Vec::new(),
    )
    .expect("beat");
    e.set_view_muted("web", T0 + 10 * MIN, T0, &mut Vec::new())
        .expect("mute");
    assert_eq!(view(&e).alerting.muted_until, T0 + 10 * MIN);
    assert!(e.take_dirty(), "a mute is saved");
    let out = run_to(&mut e, T0 + 10 * MIN - 1);
    assert!(alerts(&out).is_empty(), "muted");
    let out = run_to(&mut e, T0 + 10 * MIN);
    assert_eq!(
        alerts(&out).len(),
        1,
        "the held alert goes when the mute ends"
    );
    assert_eq!(view(&e).alerting.muted_until, 0);
    assert_eq!(
        e.set_view_muted("nope", MUTED_FOREVER, T0, &mut Vec::new()),
        Err(EngineError::ViewNotFound("nope".into()))
    );
}

#[test]
fn a_timed_service_mute_ends_by_itself_and_a_plain_mute_has_no_end() {
    let mut e = engine(0, None);
    e.apply(
        "web.a",
        Update::SetTimeoutAndBeat(5_000),
        T0,
        &mut Vec::new(),
    )
    .expect("beat");
    e.set_muted_until("web.a", true, T0 + MIN, T0, &mut Vec::new())
        .expect("mute");
    let s = e.service("web.a", false).expect("service");
    assert_eq!((s.state, s.muted_until), (State::Muted, T0 + MIN));
    let out = run_to(&mut e, T0 + MIN - 1);
    assert_eq!(e.service("web.a", false).expect("s").state, State::Muted);
    assert!(alerts(&out).is_empty());
    assert!(
        e.next_deadline().is_some_and(|d| d <= T0 + MIN),
        "a deadline"
    );
    let out = run_to(&mut e, T0 + MIN);
    let s = e.service("web.a", false).expect("service");
    assert_eq!(
        (s.state, s.muted_since, s.muted_until),
        (State::Error, 0, 0)
    );
    assert_eq!(alerts(&out).len(), 1, "it expired while muted: ERROR now");

    e.set_muted_until("web.a", true, T0 + 2 * MIN, T0 + MIN, &mut Vec::new())
        .expect("mute");
    e.set_muted("web.a", true, T0 + MIN, &mut Vec::new())
        .expect("plain mute");
    assert_eq!(e.service("web.a", false).expect("s").muted_until, 0);
    run_to(&mut e, T0 + 10 * MIN);
    assert_eq!(e.service("web.a", false).expect("s").state, State::Muted);
}

#[test]
fn a_loaded_database_keeps_mutes_and_alert_marks() {
    let mut e = engine(0, None);
    let service = ServiceRecord {
        name: "web.a".into(),
        state: State::Muted,
        last_beat: T0 - 10 * MIN,
        timeout: 5_000,
        muted_since: T0 - 10 * MIN,
        muted_until: T0 + MIN,
        ..ServiceRecord::default()
    };
    let view = ViewRecord {
        name: "web".into(),
        state: State::Error,
        incident_number: 3,
        last_state_change: T0 - 20 * MIN,
        alerting: ViewAlerting {
            alerted_at: T0 - 20 * MIN,
            muted_until: MUTED_FOREVER,
            ..ViewAlerting::default()
        },
        ..ViewRecord::default()
    };
    e.load(vec![service], vec![view], T0);
    assert_eq!(e.service("web.a", false).expect("s").muted_until, T0 + MIN);
    let out = run_to(&mut e, T0 + 2 * MIN);
    assert_eq!(e.service("web.a", false).expect("s").muted_since, 0);
    assert!(alerts(&out).is_empty(), "the view is muted until unmuted");
    assert_eq!(self::view(&e).alerting.muted_until, MUTED_FOREVER);
}

#[test]
fn windows_through_the_engine_are_saved_and_deleted() {
    let mut e = engine(0, None);
    e.take_dirty();
    let spec = crate::policy::window::WindowSpec {
        views: vec!["web".into()],
        duration: Some(MIN),
        ..Default::default()
    };
    let id = e.add_window(&spec, T0).expect("window");
    assert!(e.take_dirty());
    assert_eq!(e.api_windows().len(), 1);
    e.apply(
        "web.a",
        Update::SetTimeoutAndBeat(1_000),
        T0,
        &mut Vec::new(),
    )
    .expect("beat");
    run_to(&mut e, T0 + 2_000);
    assert_eq!(view(&e).alerting.maintenance_until, Some(T0 + MIN));
    let mut out = Vec::new();
    e.delete_window(&id, T0 + 3_000, &mut out).expect("deleted");
    assert_eq!(alerts(&out).len(), 1);
    assert!(e.api_windows().is_empty());
}

#[test]
fn held_alerts_wait_for_the_alerter_and_then_go() {
    let mut e = engine(0, None);
    e.hold_alerts(true);
    let view = ViewRecord {
        name: "web".into(),
        state: State::Error,
        incident_number: 1,
        last_state_change: T0 - MIN,
        // Not sent before the restart (e.g. held by a window).
        alerting: ViewAlerting::default(),
        ..ViewRecord::default()
    };
    e.load(Vec::new(), vec![view], T0);
    assert_eq!(e.next_deadline(), None, "no busy loop while held");
    let out = run_to(&mut e, T0 + MIN);
    assert!(alerts(&out).is_empty(), "nobody listens yet");
    assert_eq!(self::view(&e).alerting.alerted_at, 0, "not marked sent");
    e.hold_alerts(false);
    let out = run_to(&mut e, T0 + MIN);
    assert_eq!(alerts(&out).len(), 1);
}
