//! Engine unit tests of jobs (SPEC 14.1–14.2), one per rule, named after
//! it, and the helpers `job_record_tests` shares.

use super::*;
use crate::cron;
use crate::jobs::{
    JobRecord, Reason, SettingsChange, Signal, SignalKind, Source, DEFAULT_SCHEDULE_GRACE_MS,
    MAX_OPEN_RUNS, MAX_PAIRING_MS,
};
use crate::model::ServiceRecord;

/// On the hour (UTC).
pub(super) const H0: Millis = 1_699_999_200_000;
pub(super) const MIN: Millis = 60_000;
pub(super) const HOUR: Millis = 3_600_000;
pub(super) const EVERY_5: &str = "*/5 * * * *";

pub(super) fn config(blocks: Vec<ServiceBlock>, started_at: Millis) -> EngineConfig {
    EngineConfig {
        templates: vec![],
        max_services: 1000,
        started_at,
        jobs: JobConfig {
            blocks,
            ..JobConfig::default()
        },
    }
}

pub(super) fn engine() -> Engine {
    Engine::new(config(vec![], H0 - 10 * HOUR))
}

pub(super) fn next_fire(expr: &str, after: Millis) -> Millis {
    match cron::Schedule::parse(expr, "UTC").map(|s| s.next_fire(after)) {
        Ok(Some(at)) => at,
        other => panic!("{expr}: {other:?}"),
    }
}

pub(super) fn schedule(expr: &str) -> SettingsChange {
    SettingsChange {
        schedule: Some(Some(expr.to_owned())),
        ..SettingsChange::default()
    }
}

pub(super) fn set(e: &mut Engine, name: &str, change: SettingsChange, now: Millis) {
    if let Err(err) = e.job(name, &change, None, now, &mut Vec::new()) {
        panic!("set {name}: {err}");
    }
}

pub(super) fn signal_with(kind: SignalKind, rid: Option<&str>) -> Signal {
    Signal {
        rid: rid.map(Into::into),
        ..Signal::new(kind, Source::Http(None))
    }
}

pub(super) fn send(e: &mut Engine, name: &str, kind: SignalKind, rid: Option<&str>, now: Millis) {
    let signal = signal_with(kind, rid);
    if let Err(err) = e.job(
        name,
        &SettingsChange::default(),
        Some(signal),
        now,
        &mut Vec::new(),
    ) {
        panic!("{kind:?} to {name}: {err}");
    }
}

pub(super) fn record(e: &Engine, name: &str) -> ServiceRecord {
    e.service(name, true)
        .unwrap_or_else(|err| panic!("{name}: {err}"))
}

pub(super) fn job(e: &Engine, name: &str) -> JobRecord {
    match record(e, name).job {
        Some(job) => *job,
        None => panic!("{name} has no job record"),
    }
}

pub(super) fn state(e: &Engine, name: &str) -> (State, Option<Reason>) {
    let r = record(e, name);
    (r.state, r.job.and_then(|j| j.reason))
}

pub(super) fn tick(e: &mut Engine, now: Millis) {
    e.tick(now, &mut Vec::new());
}

// ----- 14.1 expectations ---------------------------------------------------

#[test]
fn rule_14_1_a_period_and_a_schedule_in_one_request_is_refused() {
    let mut e = engine();
    set(&mut e, "a", schedule(EVERY_5), H0);
    let both = SettingsChange {
        timeout: Some(MIN),
        ..schedule("0 2 * * *")
    };
    let refused = e.job("a", &both, None, H0, &mut Vec::new());
    assert!(
        matches!(&refused, Err(EngineError::InvalidSetting(why)) if why.contains("not both")),
        "{refused:?}"
    );
    let j = job(&e, "a");
    assert_eq!(j.own.schedule.as_deref(), Some(EVERY_5), "nothing changed");
    // `timeout` with `schedule=none` is no contradiction.
    let back = SettingsChange {
        timeout: Some(MIN),
        schedule: Some(None),
        ..SettingsChange::default()
    };
    assert!(e.job("a", &back, None, H0, &mut Vec::new()).is_ok());
    assert_eq!(record(&e, "a").timeout, MIN);
}

#[test]
fn rule_14_1_setting_a_schedule_or_a_period_clears_the_other() {
    let mut e = engine();
    set(
        &mut e,
        "a",
        SettingsChange {
            timeout: Some(MIN),
            ..Default::default()
        },
        H0,
    );
    set(&mut e, "a", schedule(EVERY_5), H0);
    let j = job(&e, "a");
    assert_eq!(j.effective.schedule.as_deref(), Some(EVERY_5));
    assert_eq!(j.own.schedule.as_deref(), Some(EVERY_5));
    assert_eq!(
        record(&e, "a").timeout,
        MIN,
        "the period is kept, not in force"
    );
    set(
        &mut e,
        "a",
        SettingsChange {
            timeout: Some(2 * MIN),
            ..Default::default()
        },
        H0,
    );
    assert_eq!(
        job(&e, "a").effective.schedule,
        None,
        "timeout clears the schedule"
    );
    assert_eq!(record(&e, "a").timeout_in_force, 2 * MIN);
    set(&mut e, "a", schedule(EVERY_5), H0);
    set(
        &mut e,
        "a",
        SettingsChange {
            schedule: Some(None),
            ..Default::default()
        },
        H0,
    );
    assert_eq!(job(&e, "a").effective.schedule, None, "schedule=none");
    assert_eq!(
        record(&e, "a").timeout_in_force,
        2 * MIN,
        "back to the period"
    );
}

#[test]
fn rule_14_1_a_bad_expression_or_zone_is_refused_and_changes_nothing() {
    let mut e = engine();
    let bad = e.job("a", &schedule("61 * * *"), None, H0, &mut Vec::new());
    assert!(
        matches!(bad, Err(EngineError::InvalidSetting(_))),
        "{bad:?}"
    );
    assert!(e.service("a", false).is_err(), "not even created");
    set(&mut e, "a", schedule(EVERY_5), H0);
    let zone = SettingsChange {
        tz: Some(Some("Nowhere/Bogus".into())),
        grace: Some(Some(MIN)),
        ..SettingsChange::default()
    };
    let bad = e.job("a", &zone, None, H0, &mut Vec::new());
    assert!(
        matches!(bad, Err(EngineError::InvalidSetting(ref m)) if m.contains("Nowhere")),
        "{bad:?}"
    );
    let j = job(&e, "a");
    assert_eq!((j.own.tz, j.own.grace), (None, None), "all or nothing");
    let negative = SettingsChange {
        max_runtime: Some(Some(-1)),
        ..SettingsChange::default()
    };
    let bad = e.job("a", &negative, None, H0, &mut Vec::new());
    assert!(
        matches!(bad, Err(EngineError::InvalidSetting(_))),
        "{bad:?}"
    );
    let rid = Some(signal_with(SignalKind::Start, Some("a b")));
    let bad = e.job("a", &SettingsChange::default(), rid, H0, &mut Vec::new());
    assert!(
        matches!(bad, Err(EngineError::InvalidSetting(_))),
        "{bad:?}"
    );
    assert!(job(&e, "a").open_runs.is_empty());
}

#[test]
fn rule_14_1_grace_defaults_to_one_hour_for_a_schedule_and_zero_for_a_period() {
    let mut e = engine();
    set(&mut e, "s", schedule(EVERY_5), H0);
    assert_eq!(
        job(&e, "s").effective.grace,
        Some(DEFAULT_SCHEDULE_GRACE_MS)
    );
    let period = SettingsChange {
        timeout: Some(MIN),
        max_runtime: Some(Some(MIN)),
        ..SettingsChange::default()
    };
    set(&mut e, "p", period, H0);
    assert_eq!(job(&e, "p").effective.grace, Some(0));
    assert_eq!(record(&e, "p").timeout_in_force, MIN);
}

#[test]
fn rule_14_1_scheduled_deadline_is_next_fire_after_the_schedule_was_set_plus_grace() {
    let mut e = engine();
    let set_at = H0 + 7 * MIN;
    let change = SettingsChange {
        grace: Some(Some(MIN)),
        ..schedule(EVERY_5)
    };
    set(&mut e, "a", change, set_at);
    let due = next_fire(EVERY_5, set_at) + MIN;
    assert_eq!(job(&e, "a").schedule_since, Some(set_at));
    assert_eq!(record(&e, "a").next_deadline, Some(due));
    assert_eq!(
        record(&e, "a").timeout_in_force,
        5 * MIN + MIN,
        "longest gap + grace"
    );
    tick(&mut e, due - 1);
    assert_eq!(state(&e, "a"), (State::Ok, None));
    tick(&mut e, due);
    assert_eq!(
        state(&e, "a"),
        (State::Error, Some(Reason::Missed)),
        "expired by the heap"
    );
}

#[test]
fn rule_14_1_scheduled_deadline_counts_from_the_last_success() {
    let mut e = engine();
    set(
        &mut e,
        "a",
        SettingsChange {
            grace: Some(Some(MIN)),
            ..schedule(EVERY_5)
        },
        H0,
    );
    let success = H0 + 12 * MIN;
    send(&mut e, "a", SignalKind::Success, None, success);
    assert_eq!(
        record(&e, "a").last_beat,
        success,
        "last_beat is the last success"
    );
    assert_eq!(
        record(&e, "a").next_deadline,
        Some(next_fire(EVERY_5, success) + MIN)
    );
    // A plain beat (apply) is a success too.
    let mut out = Vec::new();
    let beat = H0 + 21 * MIN;
    assert!(e.apply("a", Update::Beat, beat, &mut out).is_ok());
    assert_eq!(
        record(&e, "a").next_deadline,
        Some(next_fire(EVERY_5, beat) + MIN)
    );
    assert_eq!(job(&e, "a").events.len(), 2, "both recorded");
}

#[test]
fn rule_14_1_period_deadline_is_last_beat_plus_timeout_plus_grace() {
    let mut e = engine();
    let change = SettingsChange {
        timeout: Some(MIN),
        grace: Some(Some(30_000)),
        ..SettingsChange::default()
    };
    let signal = Some(Signal::new(SignalKind::Success, Source::Udp));
    assert!(e.job("a", &change, signal, H0, &mut Vec::new()).is_ok());
    assert_eq!(record(&e, "a").next_deadline, Some(H0 + 90_000));
    tick(&mut e, H0 + 89_999);
    assert_eq!(state(&e, "a").0, State::Ok);
    tick(&mut e, H0 + 90_000);
    assert_eq!(state(&e, "a"), (State::Error, Some(Reason::Missed)));
}

#[test]
fn rule_14_1_restart_grace_of_a_schedule_is_one_fire_after_the_start() {
    let mut e = engine();
    set(
        &mut e,
        "a",
        SettingsChange {
            grace: Some(Some(MIN)),
            ..schedule(EVERY_5)
        },
        H0,
    );
    send(&mut e, "a", SignalKind::Success, None, H0 + MIN);
    let records = e.services(None).unwrap_or_default();
    let start = H0 + HOUR; // long past the deadline (H0 + 6 min)
    let mut r = Engine::new(config(vec![], start));
    r.load(records, vec![], start);
    let due = next_fire(EVERY_5, start) + MIN;
    assert_eq!(record(&r, "a").next_deadline, Some(due));
    assert_eq!(state(&r, "a").0, State::Ok);
    tick(&mut r, due);
    assert_eq!(state(&r, "a"), (State::Error, Some(Reason::Missed)));
}

#[test]
fn rule_14_1_a_freeze_moves_a_scheduled_deadline_inside_it() {
    let mut e = engine();
    set(
        &mut e,
        "a",
        SettingsChange {
            grace: Some(Some(MIN)),
            ..schedule(EVERY_5)
        },
        H0,
    );
    let due = next_fire(EVERY_5, H0) + MIN;
    e.note_unwatched(H0 + MIN, H0 + 11 * MIN);
    assert_eq!(record(&e, "a").next_deadline, Some(due + 10 * MIN));
    tick(&mut e, due + 10 * MIN - 1);
    assert_eq!(state(&e, "a").0, State::Ok);
    tick(&mut e, due + 10 * MIN);
    assert_eq!(state(&e, "a").0, State::Error);
}

// ----- 14.2 runs -------------------------------------------------------------

#[test]
fn rule_14_2_start_opens_a_run() {
    let mut e = engine();
    send(&mut e, "a", SignalKind::Start, Some("r1"), H0);
    let j = job(&e, "a");
    assert_eq!(j.running_since(), Some(H0));
    assert_eq!(j.open_runs[0].rid.as_deref(), Some("r1"));
    assert_eq!(
        record(&e, "a").last_beat,
        crate::model::NEVER,
        "a start is no success"
    );
}

#[test]
fn rule_14_2_a_run_past_max_runtime_is_too_long() {
    let mut e = engine();
    set(
        &mut e,
        "a",
        SettingsChange {
            max_runtime: Some(Some(10 * MIN)),
            ..schedule(EVERY_5)
        },
        H0,
    );
    send(&mut e, "a", SignalKind::Start, None, H0 + MIN);
    assert_eq!(record(&e, "a").next_deadline, Some(H0 + 11 * MIN));
    assert_eq!(e.next_deadline(), Some(H0 + 11 * MIN), "the heap agrees");
    tick(&mut e, H0 + 11 * MIN);
    assert_eq!(state(&e, "a"), (State::Error, Some(Reason::TooLong)));
    send(&mut e, "a", SignalKind::Success, None, H0 + 12 * MIN);
    assert_eq!(state(&e, "a"), (State::Ok, None));
    assert_eq!(job(&e, "a").last_duration, Some(11 * MIN));
}

#[test]
fn rule_14_2_a_scheduled_run_without_max_runtime_may_last_the_grace() {
    let mut e = engine();
    set(
        &mut e,
        "a",
        SettingsChange {
            grace: Some(Some(2 * MIN)),
            ..schedule(EVERY_5)
        },
        H0,
    );
    send(&mut e, "a", SignalKind::Start, None, H0 + MIN);
    assert_eq!(record(&e, "a").next_deadline, Some(H0 + 3 * MIN));
    tick(&mut e, H0 + 3 * MIN);
    assert_eq!(state(&e, "a"), (State::Error, Some(Reason::TooLong)));
}

#[test]
fn rule_14_2_a_period_run_without_max_runtime_keeps_its_deadline() {
    let mut e = engine();
    let change = SettingsChange {
        timeout: Some(10 * MIN),
        ..SettingsChange::default()
    };
    let signal = Some(Signal::new(SignalKind::Success, Source::Udp));
    assert!(e.job("a", &change, signal, H0, &mut Vec::new()).is_ok());
    send(&mut e, "a", SignalKind::Start, None, H0 + MIN);
    assert_eq!(record(&e, "a").next_deadline, Some(H0 + 10 * MIN));
    tick(&mut e, H0 + 10 * MIN);
    assert_eq!(state(&e, "a"), (State::Error, Some(Reason::Missed)));
}

#[test]
fn rule_14_2_success_closes_the_run_with_its_rid_or_the_newest() {
    let mut e = engine();
    send(&mut e, "a", SignalKind::Start, Some("x"), H0);
    send(&mut e, "a", SignalKind::Start, Some("y"), H0 + MIN);
    send(&mut e, "a", SignalKind::Start, None, H0 + 2 * MIN);
    send(&mut e, "a", SignalKind::Success, Some("x"), H0 + 5 * MIN);
    let j = job(&e, "a");
    assert_eq!(j.last_duration, Some(5 * MIN), "x paired by rid");
    assert_eq!(j.open_runs.len(), 2);
    send(&mut e, "a", SignalKind::Success, None, H0 + 6 * MIN);
    let j = job(&e, "a");
    assert_eq!(
        j.last_duration,
        Some(4 * MIN),
        "no rid: the newest open run"
    );
    assert_eq!(
        j.open_runs
            .iter()
            .map(|r| r.rid.as_deref())
            .collect::<Vec<_>>(),
        [Some("y")]
    );
    assert_eq!(j.events.last().and_then(|e| e.duration), Some(4 * MIN));
    assert_eq!(state(&e, "a").0, State::Ok);
}

#[test]
fn rule_14_2_a_run_shorter_than_min_duration_is_too_fast() {
    let mut e = engine();
    set(
        &mut e,
        "a",
        SettingsChange {
            min_duration: Some(Some(MIN)),
            ..schedule(EVERY_5)
        },
        H0,
    );
    send(&mut e, "a", SignalKind::Start, None, H0);
    send(&mut e, "a", SignalKind::Success, None, H0 + 3_000);
    assert_eq!(state(&e, "a"), (State::Error, Some(Reason::TooFast)));
    assert_eq!(
        record(&e, "a").last_beat,
        crate::model::NEVER,
        "not a success"
    );
    send(&mut e, "a", SignalKind::Start, None, H0 + 10_000);
    send(
        &mut e,
        "a",
        SignalKind::Success,
        None,
        H0 + 10_000 + 2 * MIN,
    );
    assert_eq!(state(&e, "a"), (State::Ok, None));
}

#[test]
fn rule_14_2_fail_or_an_exit_code_is_error_failed_until_the_next_success() {
    let mut e = engine();
    set(&mut e, "a", schedule(EVERY_5), H0);
    send(&mut e, "a", SignalKind::Fail, None, H0 + MIN);
    assert_eq!(state(&e, "a"), (State::Error, Some(Reason::Failed)));
    send(&mut e, "a", SignalKind::Log, None, H0 + 2 * MIN);
    assert_eq!(
        state(&e, "a"),
        (State::Error, Some(Reason::Failed)),
        "a log changes nothing"
    );
    send(&mut e, "a", SignalKind::Exit(0), None, H0 + 3 * MIN);
    assert_eq!(state(&e, "a"), (State::Ok, None), "exit 0 is a success");
    send(&mut e, "a", SignalKind::Start, None, H0 + 4 * MIN);
    send(&mut e, "a", SignalKind::Exit(3), None, H0 + 5 * MIN);
    assert_eq!(state(&e, "a"), (State::Error, Some(Reason::Failed)));
    let j = job(&e, "a");
    assert_eq!((j.last_exit_code, j.last_duration), (Some(3), Some(MIN)));
    assert!(j.open_runs.is_empty(), "the failure closed the run");
    send(&mut e, "a", SignalKind::Exit(255), None, H0 + 6 * MIN);
    assert_eq!(job(&e, "a").last_exit_code, Some(255));
    send(&mut e, "a", SignalKind::Success, None, H0 + 7 * MIN);
    assert_eq!(state(&e, "a"), (State::Ok, None));
}

#[test]
fn rule_14_2_log_records_an_event_and_changes_nothing() {
    let mut e = engine();
    set(&mut e, "a", schedule(EVERY_5), H0);
    let before = record(&e, "a");
    send(&mut e, "a", SignalKind::Log, Some("r"), H0 + MIN);
    let after = record(&e, "a");
    assert_eq!(
        (after.state, after.last_beat, after.next_deadline),
        (before.state, before.last_beat, before.next_deadline)
    );
    let events = e.events("a").unwrap_or_default();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].kind, events[0].rid.as_deref(), events[0].ts),
        (SignalKind::Log, Some("r"), H0 + MIN)
    );
}

#[test]
fn rule_14_2_at_most_eight_runs_are_open_the_oldest_dropped() {
    let mut e = engine();
    for i in 0..MAX_OPEN_RUNS as i64 + 2 {
        send(&mut e, "a", SignalKind::Start, None, H0 + i * 1_000);
    }
    let j = job(&e, "a");
    assert_eq!(j.open_runs.len(), MAX_OPEN_RUNS);
    assert_eq!(j.running_since(), Some(H0 + 2_000));
}

#[test]
fn rule_14_2_a_start_older_than_72_hours_is_never_paired() {
    let mut e = engine();
    send(&mut e, "a", SignalKind::Start, Some("old"), H0);
    send(
        &mut e,
        "a",
        SignalKind::Success,
        Some("old"),
        H0 + MAX_PAIRING_MS + 1,
    );
    let j = job(&e, "a");
    assert_eq!(j.last_duration, None);
    assert!(j.open_runs.is_empty(), "forgotten");
    assert_eq!(j.events.last().and_then(|e| e.duration), None);
}

#[test]
fn rule_14_2_a_plain_beat_is_a_success_and_closes_the_run() {
    let mut e = engine();
    send(&mut e, "a", SignalKind::Start, None, H0);
    assert!(e
        .apply("a", Update::Beat, H0 + MIN, &mut Vec::new())
        .is_ok());
    let j = job(&e, "a");
    assert!(j.open_runs.is_empty());
    assert_eq!(j.last_duration, Some(MIN));
    assert_eq!(j.events.last().map(|e| e.kind), Some(SignalKind::Success));
}

#[test]
fn rule_14_2_a_muted_service_records_runs_but_stays_muted() {
    let mut e = engine();
    set(&mut e, "a", schedule(EVERY_5), H0);
    assert_eq!(e.set_muted("a", true, H0, &mut Vec::new()), Ok(()));
    send(&mut e, "a", SignalKind::Start, None, H0 + MIN);
    send(&mut e, "a", SignalKind::Exit(2), None, H0 + 2 * MIN);
    assert_eq!(record(&e, "a").state, State::Muted);
    assert_eq!(job(&e, "a").last_exit_code, Some(2));
    assert_eq!(
        e.set_muted("a", false, H0 + 3 * MIN, &mut Vec::new()),
        Ok(())
    );
    assert_eq!(state(&e, "a"), (State::Error, Some(Reason::Failed)));
}

#[test]
fn rule_14_2_statsd_start_fail_and_exit_are_signals() {
    let mut e = engine();
    let mut out = Vec::new();
    assert!(e
        .apply_from("a", Update::Start, Source::Udp, H0, &mut out)
        .is_ok());
    assert!(e
        .apply_from("a", Update::Exit(4), Source::Tcp, H0 + MIN, &mut out)
        .is_ok());
    let events = e.events("a").unwrap_or_default();
    let seen: Vec<_> = events
        .iter()
        .map(|e| (e.kind, e.source, e.duration))
        .collect();
    assert_eq!(
        seen,
        [
            (SignalKind::Start, Source::Udp, None),
            (SignalKind::Exit(4), Source::Tcp, Some(MIN))
        ]
    );
    assert_eq!(state(&e, "a"), (State::Error, Some(Reason::Failed)));
    assert!(e
        .apply_from("a", Update::Fail, Source::Udp, H0 + 2 * MIN, &mut out)
        .is_ok());
    assert_eq!(e.events("a").map(|v| v.len()), Ok(3));
    assert!(
        out.iter()
            .any(|ev| matches!(ev, Event::ServiceChanged { .. })),
        "told"
    );
}

#[test]
fn rule_14_3_plain_beats_of_plain_services_are_not_recorded() {
    let mut e = engine();
    assert!(e
        .apply("p", Update::SetTimeoutAndBeat(MIN), H0, &mut Vec::new())
        .is_ok());
    assert!(e
        .apply("p", Update::Beat, H0 + 2_000, &mut Vec::new())
        .is_ok());
    assert!(record(&e, "p").job.is_none());
    assert_eq!(e.events("p"), Ok(vec![]));
    assert!(e.jobs.is_empty(), "no job state at all");
    assert_eq!(std::mem::size_of::<service::Service>(), 72);
}
