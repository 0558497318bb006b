//! What alerts learn of a view's failed members (`ViewRecord::failures`):
//! each failed service with its reason, exit code, run length, limit and
//! the end of a failed run's output.

use super::job_tests::{send, set, H0, HOUR, MIN};
use super::*;
use crate::jobs::{Body, Reason, SettingsChange, Signal, SignalKind, Source, OUTPUT_TAIL};
use crate::model::ViewRecord;

fn engine() -> Engine {
    let template = match ViewTemplate::new("jobs", &["job.*".to_string()], &[], vec![]) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    };
    Engine::new(EngineConfig {
        templates: vec![template],
        max_services: 100,
        started_at: H0 - 10 * HOUR,
        jobs: JobConfig::default(),
    })
}

fn view(e: &Engine) -> ViewRecord {
    match e.views().into_iter().find(|v| v.name == "jobs") {
        Some(v) => v,
        None => panic!("no view jobs"),
    }
}

#[test]
fn a_failed_run_is_told_with_its_exit_code_and_the_end_of_its_output() {
    let mut e = engine();
    send(&mut e, "job.backup", SignalKind::Start, Some("r1"), H0);
    let output = format!("{}\nerror: disk full\n", "x".repeat(3000));
    let signal = Signal {
        rid: Some("r1".into()),
        body: Some(Body {
            bytes: output.as_bytes().into(),
            truncated: false,
        }),
        ..Signal::new(SignalKind::Exit(3), Source::Http(None))
    };
    let result = e.job(
        "job.backup",
        &SettingsChange::default(),
        Some(signal),
        H0 + MIN,
        &mut Vec::new(),
    );
    assert!(result.is_ok(), "{result:?}");
    let v = view(&e);
    assert_eq!(v.state, State::Error);
    assert_eq!(v.failed_services, ["job.backup"]);
    let f = &v.failures[0];
    assert_eq!(
        (f.reason, f.exit_code, f.since),
        (Reason::Failed, Some(3), H0 + MIN)
    );
    let out = f.output.as_deref().unwrap_or_default();
    assert_eq!(out.len(), OUTPUT_TAIL);
    assert!(out.ends_with("error: disk full\n"), "{out}");
}

#[test]
fn too_long_and_too_fast_carry_the_run_length_and_the_limit() {
    let mut e = engine();
    let limits = SettingsChange {
        timeout: Some(HOUR),
        max_runtime: Some(Some(10 * MIN)),
        min_duration: Some(Some(MIN)),
        ..SettingsChange::default()
    };
    set(&mut e, "job.long", limits.clone(), H0);
    set(&mut e, "job.fast", limits, H0);
    send(&mut e, "job.long", SignalKind::Start, None, H0);
    send(&mut e, "job.fast", SignalKind::Start, None, H0);
    send(&mut e, "job.fast", SignalKind::Success, None, H0 + 3000);
    e.tick(H0 + 11 * MIN, &mut Vec::new());
    let v = view(&e);
    assert_eq!(v.failed_services, ["job.fast", "job.long"]);
    let fast = &v.failures[0];
    assert_eq!(
        (fast.reason, fast.ran, fast.limit),
        (Reason::TooFast, Some(3000), Some(MIN))
    );
    let long = &v.failures[1];
    assert_eq!(long.reason, Reason::TooLong);
    assert_eq!(long.limit, Some(10 * MIN));
    assert!(long.ran >= Some(10 * MIN), "{long:?}");
}

#[test]
fn plain_services_are_missed_or_always() {
    let mut e = engine();
    let mut out = Vec::new();
    assert!(e
        .apply("job.a", Update::SetTimeoutAndBeat(MIN), H0, &mut out)
        .is_ok());
    assert!(e
        .apply("job.b", Update::SetTimeout(0), H0, &mut out)
        .is_ok());
    e.tick(H0 + 2 * MIN, &mut out);
    let v = view(&e);
    let reasons: Vec<(String, Reason)> = v
        .failures
        .iter()
        .map(|f| (f.service.clone(), f.reason))
        .collect();
    assert_eq!(
        reasons,
        [
            ("job.a".to_string(), Reason::Missed),
            ("job.b".to_string(), Reason::Always)
        ]
    );
    assert!(v
        .failures
        .iter()
        .all(|f| f.output.is_none() && f.exit_code.is_none()));
}
