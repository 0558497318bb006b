//! Unit tests of `Engine::set_templates` / `set_max_services` (a config
//! reload): views follow the new templates, state and incidents are kept.

use super::*;
use crate::model::{ServiceRecord, ViewRecord, TIMEOUT_NONE};

const T0: Millis = 1_700_000_000_000;

fn template(name: &str, includes: &[&str], alerts: &[&str]) -> ViewTemplate {
    let inc: Vec<String> = includes.iter().map(|s| s.to_string()).collect();
    let alerts = alerts.iter().map(|s| s.to_string()).collect();
    match ViewTemplate::new(name, &inc, &[], alerts) {
        Ok(t) => t,
        Err(e) => panic!("bad template in test: {e}"),
    }
}

fn engine(templates: Vec<ViewTemplate>) -> Engine {
    Engine::new(EngineConfig {
        templates,
        max_services: 1000,
        started_at: T0 - 3_600_000,
        jobs: Default::default(),
    })
}

fn ok(e: &mut Engine, name: &str, now: Millis) {
    let mut out = Vec::new();
    if let Err(err) = e.apply(name, Update::SetTimeoutAndBeat(TIMEOUT_NONE), now, &mut out) {
        panic!("apply {name}: {err}");
    }
}

fn fail(e: &mut Engine, name: &str, now: Millis) {
    let mut out = Vec::new();
    if let Err(err) = e.apply(name, Update::SetTimeout(0), now, &mut out) {
        panic!("apply {name}: {err}");
    }
}

fn view(e: &Engine, name: &str) -> Option<ViewRecord> {
    e.views().into_iter().find(|v| v.name == name)
}

fn members(e: &Engine, name: &str) -> Vec<String> {
    match e.services(Some(name)) {
        Ok(list) => {
            let mut names: Vec<String> = list.into_iter().map(|s| s.name).collect();
            names.sort();
            names
        }
        Err(err) => panic!("{err}"),
    }
}

fn reload(
    e: &mut Engine,
    templates: Vec<ViewTemplate>,
    now: Millis,
) -> (ViewsReloaded, Vec<Event>) {
    let mut out = Vec::new();
    let report = e.set_templates(templates, now, &mut out);
    (report, out)
}

/// (kind, view name, state) of the view events, in order.
fn view_events(out: &[Event]) -> Vec<(&'static str, String, State)> {
    out.iter()
        .filter_map(|e| match e {
            Event::ViewAdded { view } => Some(("added", view.name.clone(), view.state)),
            Event::ViewChanged { view, .. } => Some(("changed", view.name.clone(), view.state)),
            Event::ViewRemoved { view } => Some(("removed", view.name.clone(), view.state)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_new_template_creates_its_views_with_the_existing_services() {
    let mut e = engine(vec![template("web", &["web.*"], &[])]);
    ok(&mut e, "web.1", T0);
    ok(&mut e, "db.1", T0);
    ok(&mut e, "db.2", T0);
    e.set_emit_beats(true); // a websocket client is watching
    let (report, out) = reload(
        &mut e,
        vec![
            template("web", &["web.*"], &[]),
            template("db", &["db.*"], &[]),
        ],
        T0 + 10,
    );
    assert_eq!(report.added, vec!["db".to_string()]);
    assert!(report.removed.is_empty());
    assert_eq!(report.services_moved, 2);
    assert_eq!(members(&e, "db"), vec!["db.1", "db.2"]);
    assert_eq!(members(&e, "web"), vec!["web.1"]);
    assert_eq!(
        view_events(&out),
        vec![
            ("added", "db".to_string(), State::New),
            ("changed", "db".to_string(), State::Ok),
        ]
    );
    // The moved services are announced with their new views.
    let moved: Vec<&ServiceRecord> = out
        .iter()
        .filter_map(|e| match e {
            Event::ServiceChanged { service, previous } => {
                assert_eq!(service.state, *previous);
                Some(service)
            }
            _ => None,
        })
        .collect();
    assert_eq!(moved.len(), 2);
    assert!(moved.iter().all(|s| s.views == vec!["db".to_string()]));
    // Nobody watching everything: no service events at all.
    e.set_emit_beats(false);
    let (report, out) = reload(&mut e, vec![template("web", &["web.*"], &[])], T0 + 15);
    assert_eq!(report.services_moved, 2);
    assert!(!out
        .iter()
        .any(|e| matches!(e, Event::ServiceChanged { .. })));
    let (_, _) = reload(
        &mut e,
        vec![
            template("web", &["web.*"], &[]),
            template("db", &["db.*"], &[]),
        ],
        T0 + 16,
    );
    // A service created after the reload joins by the new templates too.
    ok(&mut e, "db.3", T0 + 20);
    assert_eq!(members(&e, "db"), vec!["db.1", "db.2", "db.3"]);
}

#[test]
fn a_new_view_with_a_failing_member_goes_into_error_and_opens_an_incident() {
    let mut e = engine(vec![]);
    fail(&mut e, "db.1", T0);
    ok(&mut e, "db.2", T0);
    let (_, out) = reload(&mut e, vec![template("db", &["db.*"], &["ops"])], T0 + 10);
    let v = view(&e, "db").expect("view db");
    assert_eq!(v.state, State::Error);
    assert_eq!(v.incident_number, 1);
    assert_eq!(v.failed_services, vec!["db.1".to_string()]);
    assert_eq!(v.alerts, vec!["ops".to_string()]);
    // The ERROR transition is an ordinary event: the alerter fires on it.
    let into_error = out.iter().any(|e| {
        matches!(e, Event::ViewChanged { view, previous: State::New }
            if view.state == State::Error && view.alerts == vec!["ops".to_string()])
    });
    assert!(into_error, "{out:?}");
}

#[test]
fn a_removed_template_removes_its_views_and_frees_the_services() {
    let mut e = engine(vec![
        template("web", &["web.*"], &[]),
        template("db-$n", &["db.$n.*"], &[]),
    ]);
    ok(&mut e, "web.1", T0);
    fail(&mut e, "db.a.1", T0);
    ok(&mut e, "db.b.1", T0);
    assert_eq!(view(&e, "db-a").map(|v| v.state), Some(State::Error));
    let (report, out) = reload(&mut e, vec![template("web", &["web.*"], &[])], T0 + 10);
    let mut removed = report.removed.clone();
    removed.sort();
    assert_eq!(removed, vec!["db-a".to_string(), "db-b".to_string()]);
    assert!(view(&e, "db-a").is_none());
    assert!(view(&e, "db-b").is_none());
    // No recovery is announced for a view the operator removed.
    let kinds: Vec<&str> = view_events(&out).into_iter().map(|(k, _, _)| k).collect();
    assert_eq!(kinds, vec!["removed", "removed"]);
    match e.service("db.a.1", false) {
        Ok(s) => assert!(s.views.is_empty()),
        Err(err) => panic!("{err}"),
    }
    assert_eq!(e.state_counts().1.iter().sum::<usize>(), 1);
    // The service state itself is untouched.
    assert_eq!(
        e.service("db.a.1", false).map(|s| s.state).ok(),
        Some(State::Error)
    );
}

#[test]
fn a_view_that_stays_keeps_its_state_incident_number_and_gets_the_new_alerts() {
    let mut e = engine(vec![template("web", &["web.*"], &["old"])]);
    fail(&mut e, "web.1", T0);
    ok(&mut e, "web.2", T0);
    ok(&mut e, "web.1", T0 + 10); // incident 1 over
    fail(&mut e, "web.1", T0 + 2000); // incident 2 open
    let before = view(&e, "web").expect("view");
    assert_eq!((before.state, before.incident_number), (State::Error, 2));
    let (report, out) = reload(
        &mut e,
        vec![template("web", &["web.*", "www.*"], &["new"])],
        T0 + 3000,
    );
    assert_eq!(report, ViewsReloaded::default());
    assert!(view_events(&out).is_empty(), "{out:?}");
    let after = view(&e, "web").expect("view");
    assert_eq!((after.state, after.incident_number), (State::Error, 2));
    assert_eq!(after.last_state_change, before.last_state_change);
    assert_eq!(after.alerts, vec!["new".to_string()]);
}

#[test]
fn a_failing_service_joining_a_view_puts_it_into_error_and_leaving_recovers_it() {
    let mut e = engine(vec![template("web", &["web.*"], &[])]);
    ok(&mut e, "web.1", T0);
    fail(&mut e, "api.1", T0);
    let (_, out) = reload(
        &mut e,
        vec![template("web", &["web.*", "api.*"], &[])],
        T0 + 10,
    );
    assert_eq!(
        view_events(&out),
        vec![("changed", "web".to_string(), State::Error)]
    );
    assert_eq!(view(&e, "web").map(|v| v.incident_number), Some(1));
    let (_, out) = reload(&mut e, vec![template("web", &["web.*"], &[])], T0 + 20);
    assert_eq!(
        view_events(&out),
        vec![("changed", "web".to_string(), State::Ok)]
    );
    let v = view(&e, "web").expect("view");
    assert_eq!((v.state, v.incident_number), (State::Ok, 1));
    assert_eq!(members(&e, "web"), vec!["web.1"]);
}

#[test]
fn views_without_members_from_the_database_are_left_alone() {
    let mut e = engine(vec![]);
    e.load(
        vec![],
        vec![ViewRecord {
            name: "old".into(),
            state: State::Ok,
            incident_number: 7,
            failures: Vec::new(),
            failed_services: vec![],
            last_state_change: T0 - 10,
            alerts: vec![],
            alerting: Default::default(),
        }],
        T0,
    );
    let (report, out) = reload(
        &mut e,
        vec![template("web-$x", &["web.$x.*"], &[])],
        T0 + 10,
    );
    assert_eq!(report, ViewsReloaded::default());
    assert!(out.is_empty());
    assert_eq!(view(&e, "old").map(|v| v.incident_number), Some(7));
}

#[test]
fn a_new_template_without_a_word_creates_its_view_before_any_member() {
    let mut e = engine(vec![]);
    let (report, out) = reload(
        &mut e,
        vec![template("workers", &["worker.*"], &["ops"])],
        T0,
    );
    assert_eq!(report.added, vec!["workers".to_string()]);
    assert_eq!(
        view_events(&out),
        vec![("added", "workers".to_string(), State::New)]
    );
    let v = view(&e, "workers").expect("view");
    assert_eq!((v.state, v.incident_number), (State::New, 0));
    assert!(members(&e, "workers").is_empty());
    // Its alerts come with its first member, as at start-up.
    fail(&mut e, "worker.1", T0 + 10);
    let v = view(&e, "workers").expect("view");
    assert_eq!(
        (v.state, v.alerts.clone()),
        (State::Error, vec!["ops".to_string()])
    );
}

#[test]
fn a_removed_template_without_a_word_takes_its_memberless_view_along() {
    let mut e = engine(vec![
        template("workers", &["worker.*"], &[]),
        template("web", &["web.*"], &[]),
    ]);
    assert!(view(&e, "workers").is_some());
    let (report, out) = reload(&mut e, vec![template("web", &["web.*"], &[])], T0);
    assert_eq!(report.removed, vec!["workers".to_string()]);
    assert_eq!(
        view_events(&out),
        vec![("removed", "workers".to_string(), State::New)]
    );
    assert!(view(&e, "workers").is_none());
    assert!(view(&e, "web").is_some());
}

#[test]
fn a_configured_view_that_loses_its_members_stays_and_recovers() {
    let mut e = engine(vec![template("web", &["web.*"], &[])]);
    fail(&mut e, "web.1", T0);
    let (report, out) = reload(&mut e, vec![template("web", &["www.*"], &[])], T0 + 10);
    assert!(report.removed.is_empty());
    assert_eq!(
        view_events(&out),
        vec![("changed", "web".to_string(), State::Ok)]
    );
    let v = view(&e, "web").expect("view");
    assert_eq!((v.state, v.incident_number), (State::Ok, 1));
    assert!(members(&e, "web").is_empty());
    ok(&mut e, "www.1", T0 + 20);
    assert_eq!(members(&e, "web"), vec!["www.1"]);
}

#[test]
fn the_same_templates_again_change_nothing() {
    let templates = || vec![template("web", &["web.*"], &[])];
    let mut e = engine(templates());
    ok(&mut e, "web.1", T0);
    e.take_dirty();
    let (report, out) = reload(&mut e, templates(), T0 + 10);
    assert_eq!(report, ViewsReloaded::default());
    assert!(out.is_empty());
    assert!(!e.take_dirty());
}

#[test]
fn a_reload_that_empties_a_templated_view_and_a_later_member_recreates_it() {
    let mut e = engine(vec![template("web-$x", &["web.$x.*"], &[])]);
    ok(&mut e, "web.a.1", T0);
    let (report, _) = reload(
        &mut e,
        vec![template("web-$x", &["www.$x.*"], &[])],
        T0 + 10,
    );
    assert_eq!(report.removed, vec!["web-a".to_string()]);
    assert!(view(&e, "web-a").is_none());
    ok(&mut e, "www.a.1", T0 + 20);
    assert_eq!(members(&e, "web-a"), vec!["www.a.1"]);
}

#[test]
fn max_services_can_be_raised_and_lowered() {
    let mut e = engine(vec![]);
    e.set_max_services(1);
    ok(&mut e, "a", T0);
    let mut out = Vec::new();
    let refused = e.apply("b", Update::Beat, T0, &mut out);
    assert!(matches!(
        refused,
        Err(EngineError::TooManyServices { max: 1 })
    ));
    e.set_max_services(2);
    ok(&mut e, "b", T0);
    assert_eq!(e.len(), 2);
}
