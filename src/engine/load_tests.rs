//! Engine unit tests of `Engine::load`'s report: what it loaded and what it
//! skipped, with the reason (the caller logs it).

use super::*;
use crate::model::ServiceRecord;

const T0: Millis = 1_700_000_000_000;

fn engine(max_services: usize) -> Engine {
    Engine::new(EngineConfig {
        templates: vec![],
        max_services,
        started_at: T0,
        jobs: Default::default(),
    })
}

fn record(name: &str) -> ServiceRecord {
    ServiceRecord {
        name: name.into(),
        state: State::Ok,
        last_beat: T0 - 1_000,
        timeout: 60_000,
        last_state_change: T0 - 1_000,
        ..Default::default()
    }
}

fn skipped(name: &str, reason: SkipReason) -> Skipped {
    Skipped {
        name: name.into(),
        reason,
    }
}

#[test]
fn a_clean_database_loads_everything_and_skips_nothing() {
    let mut e = engine(10);
    let report = e.load(vec![record("a"), record("b")], vec![], T0);
    assert_eq!(
        report,
        LoadReport {
            services: 2,
            ..LoadReport::default()
        }
    );
    assert_eq!(e.len(), 2);
}

#[test]
fn invalid_and_duplicate_names_are_reported_not_loaded() {
    let mut e = engine(10);
    let mut second_a = record("a");
    second_a.timeout = 5_000;
    let report = e.load(
        vec![record("a"), record("Bad Name"), second_a, record("b")],
        vec![],
        T0,
    );
    assert_eq!(report.services, 2);
    assert_eq!(
        report.skipped,
        vec![
            skipped("Bad Name", SkipReason::InvalidName),
            skipped("a", SkipReason::Duplicate),
        ]
    );
    assert_eq!(
        e.service("a", false).map(|s| s.timeout),
        Ok(60_000),
        "the first wins"
    );
    assert!(e.service("Bad Name", false).is_err());
}

#[test]
fn services_over_max_services_are_each_reported() {
    let mut e = engine(2);
    let report = e.load(
        vec![record("a"), record("b"), record("c"), record("d")],
        vec![],
        T0,
    );
    assert_eq!(report.services, 2);
    let over = SkipReason::OverMaxServices { max: 2 };
    assert_eq!(report.skipped, vec![skipped("c", over), skipped("d", over)]);
    assert_eq!(e.len(), 2);
    assert!(over.to_string().contains("max_services = 2"), "{over}");
}
