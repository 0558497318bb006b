//! The engine records every state change of services and views where it
//! happens, with its reason in words (SPEC 18).

use super::*;
use crate::history::{HistoryLimits, HistoryReply, DAY_MS};
use crate::model::Update;

const T0: Millis = 1_700_000_000_000;
const MIN: Millis = 60_000;

fn engine() -> Engine {
    let template = match pattern::ViewTemplate::new("web", &["web.*".to_string()], &[], vec![]) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    };
    Engine::new(EngineConfig {
        templates: vec![template],
        max_services: 100,
        started_at: T0 - DAY_MS,
        jobs: JobConfig::default(),
    })
}

fn apply(e: &mut Engine, name: &str, update: Update, now: Millis) {
    if let Err(err) = e.apply(name, update, now, &mut Vec::new()) {
        panic!("{err}");
    }
}

fn service(e: &Engine, name: &str, now: Millis) -> HistoryReply {
    match e.service_history(name, now - 30 * DAY_MS, now, now) {
        Ok(r) => r,
        Err(err) => panic!("{err}"),
    }
}

fn steps(r: &HistoryReply) -> Vec<(Millis, &str, &str, &str)> {
    r.changes
        .iter()
        .map(|c| (c.at, c.from.as_str(), c.to.as_str(), &*c.reason))
        .collect()
}

#[test]
fn a_service_that_only_started_has_no_history_of_its_own() {
    let mut e = engine();
    apply(&mut e, "web.a", Update::SetTimeoutAndBeat(MIN), T0);
    let r = service(&e, "web.a", T0 + MIN / 2);
    assert!(r.changes.is_empty());
    assert_eq!(r.state_at_since, State::New);
    assert_eq!(r.known_since, Some(T0));
    assert_eq!(r.uptime.day, Some(1.0));
    assert!(e.history.is_empty());
}

#[test]
fn expiry_beat_mute_and_unmute_are_recorded_with_their_reasons() {
    let mut e = engine();
    apply(&mut e, "web.a", Update::SetTimeoutAndBeat(MIN), T0);
    e.tick(T0 + MIN, &mut Vec::new());
    apply(&mut e, "web.a", Update::Beat, T0 + 2 * MIN);
    let (mute, unmute) = (T0 + 2 * MIN + 10_000, T0 + 2 * MIN + 20_000);
    assert!(e.set_muted("web.a", true, mute, &mut Vec::new()).is_ok());
    assert!(e.set_muted("web.a", false, unmute, &mut Vec::new()).is_ok());
    let now = T0 + 2 * MIN + 30_000;
    let r = service(&e, "web.a", now);
    assert_eq!(
        steps(&r),
        [
            (T0 + MIN, "ok", "error", "no beat for 1 min"),
            (T0 + 2 * MIN, "error", "ok", "beat"),
            (mute, "ok", "muted", "muted"),
            (unmute, "muted", "ok", "unmuted"),
        ]
    );
    // Known from the first beat (the step out of NEW), one minute of two
    // and a half in ERROR (muted is not).
    assert_eq!(r.known_since, Some(T0));
    assert_eq!(r.uptime.day, Some(0.6));
    // Unmuted after its deadline: back to ERROR at once, saying both.
    assert!(e.set_muted("web.a", true, now, &mut Vec::new()).is_ok());
    assert!(e
        .set_muted("web.a", false, now + 2 * MIN, &mut Vec::new())
        .is_ok());
    let last = service(&e, "web.a", now + 2 * MIN);
    assert_eq!(
        steps(&last).last().copied(),
        Some((
            now + 2 * MIN,
            "muted",
            "error",
            "unmuted; no beat for 1 min"
        ))
    );
    // The view followed, with the member that failed.
    let v = match e.view_history("web", now - DAY_MS, now, now) {
        Ok(v) => v,
        Err(err) => panic!("{err}"),
    };
    assert_eq!(
        steps(&v),
        [
            (T0 + MIN, "ok", "error", "web.a failed"),
            (T0 + 2 * MIN, "error", "ok", "no service failing"),
        ]
    );
    // Unknown names are refused as elsewhere.
    assert!(matches!(
        e.service_history("web.b", 0, now, now),
        Err(EngineError::ServiceNotFound(_))
    ));
    assert!(matches!(
        e.view_history("nope", 0, now, now),
        Err(EngineError::ViewNotFound(_))
    ));
}

#[test]
fn a_deleted_service_takes_its_history_along() {
    let mut e = engine();
    apply(&mut e, "web.a", Update::SetTimeoutAndBeat(MIN), T0);
    e.tick(T0 + MIN, &mut Vec::new());
    assert_eq!(e.history.len(), 2); // web.a and web
    assert!(e
        .delete_service("web.a", T0 + 2 * MIN, &mut Vec::new())
        .is_ok());
    assert!(e
        .history
        .get(crate::history::Kind::Service, "web.a")
        .is_none());
    // A new service of the same name starts afresh.
    apply(
        &mut e,
        "web.a",
        Update::SetTimeoutAndBeat(MIN),
        T0 + 3 * MIN,
    );
    assert!(service(&e, "web.a", T0 + 4 * MIN).changes.is_empty());
}

#[test]
fn the_age_limit_is_a_deadline_of_the_engine() {
    let mut e = engine();
    e.set_history_limits(
        HistoryLimits {
            days: 1,
            memory: 1 << 20,
        },
        T0,
    );
    apply(&mut e, "web.a", Update::SetTimeoutAndBeat(DAY_MS * 10), T0);
    apply(&mut e, "web.a", Update::SetTimeout(0), T0 + MIN); // always ERROR
    assert_eq!(e.history.next_deadline(), Some(T0 + MIN + DAY_MS));
    e.tick(T0 + MIN + DAY_MS + 1, &mut Vec::new());
    let r = service(&e, "web.a", T0 + 2 * DAY_MS);
    assert!(r.changes.is_empty());
    assert_eq!((r.dropped, e.history_dropped()), (1, 2)); // and the view's
    assert_eq!(r.known_since, Some(T0 + MIN));
    assert_eq!(r.uptime.day, Some(0.0));
}

#[test]
fn a_restored_history_goes_on_and_one_without_its_service_is_dropped() {
    use crate::history::{Change, Kind, Subject};
    use crate::model::ServiceRecord;
    let mut e = engine();
    let subject = Subject {
        base_at: T0 - DAY_MS,
        base: State::Ok,
        changes: [Change {
            at: T0 - MIN,
            from: State::Error,
            to: State::Ok,
            reason: "beat".into(),
        }]
        .into_iter()
        .collect(),
        dropped: 3,
    };
    e.restore_history(
        vec![
            (Kind::Service, "web.a".into(), subject.clone()),
            (Kind::Service, "gone".into(), subject.clone()),
            (Kind::View, "web".into(), subject),
        ],
        T0,
    );
    let record = ServiceRecord {
        name: "web.a".into(),
        state: State::Ok,
        last_beat: T0 - MIN,
        timeout: MIN,
        last_state_change: T0 - MIN,
        ..ServiceRecord::default()
    };
    // Down for an hour: re-evaluated at start, the service has missed its
    // beat (after the restart grace).
    e.load(vec![record], vec![], T0 + 60 * MIN);
    e.drop_orphan_history();
    assert!(e.history.get(Kind::Service, "gone").is_none());
    assert!(e.history.get(Kind::View, "web").is_some());
    e.tick(T0 + 62 * MIN, &mut Vec::new());
    let r = service(&e, "web.a", T0 + 62 * MIN);
    assert_eq!(r.dropped, 3);
    assert_eq!(r.known_since, Some(T0 - DAY_MS));
    let s = steps(&r);
    assert_eq!(s.len(), 2, "{s:?}");
    assert_eq!(s[0], (T0 - MIN, "error", "ok", "beat"));
    assert_eq!((s[1].1, s[1].2), ("ok", "error"));
}
