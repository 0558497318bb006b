//! Engine unit tests of jobs beyond the run rules: the event ring and the
//! body budget (SPEC 14.3), the save and load round trip, `[[services]]`
//! block precedence and their reload.

use super::job_tests::*;
use super::pattern::ServicePattern;
use super::*;
use crate::cron;
use crate::jobs::{
    Body, JobRecord, JobSettings, Reason, SettingsChange, Signal, SignalKind, Source,
};
use crate::model::{ServiceRecord, ServiceSnapshot, TIMEOUT_NONE};
use std::sync::Arc;

// ----- 14.3 events and bodies -------------------------------------------------

fn body(len: usize) -> Option<Body> {
    Some(Body {
        bytes: Arc::from(vec![b'x'; len]),
        truncated: false,
    })
}

fn send_body(e: &mut Engine, name: &str, len: usize, now: Millis) {
    let signal = Signal {
        body: body(len),
        ..Signal::new(SignalKind::Log, Source::Http(None))
    };
    assert!(e
        .job(
            name,
            &SettingsChange::default(),
            Some(signal),
            now,
            &mut Vec::new()
        )
        .is_ok());
}

#[test]
fn rule_14_3_the_last_events_per_service_are_kept_with_stable_numbers() {
    let mut c = config(vec![], H0);
    c.jobs.events_per_service = 3;
    let mut e = Engine::new(c);
    for i in 0..5 {
        send(&mut e, "a", SignalKind::Log, None, H0 + i);
    }
    let ns: Vec<u64> = e
        .events("a")
        .unwrap_or_default()
        .iter()
        .map(|e| e.n)
        .collect();
    assert_eq!(ns, [3, 4, 5]);
}

#[test]
fn rule_14_3_bodies_beyond_the_budget_are_dropped_oldest_first_of_any_service() {
    let mut c = config(vec![], H0);
    c.jobs.event_body_memory = 250;
    let mut e = Engine::new(c);
    send_body(&mut e, "a", 100, H0);
    send_body(&mut e, "b", 100, H0 + 1);
    assert_eq!(e.body_stats(), (200, 0));
    send_body(&mut e, "a", 100, H0 + 2);
    assert_eq!(e.body_stats(), (200, 1));
    let a = e.events("a").unwrap_or_default();
    assert!(a[0].body.is_none() && a[0].body_dropped, "the oldest, of a");
    assert!(a[1].body.is_some() && !a[1].body_dropped);
    assert!(e.events("b").unwrap_or_default()[0].body.is_some());
    assert_eq!(a.len(), 2, "the events stay");
    // A deleted service gives its bodies back.
    assert_eq!(e.delete_service("b", H0 + 3, &mut Vec::new()), Ok(()));
    assert_eq!(e.body_stats(), (100, 1));
    // Events leaving the ring give theirs back too.
    let mut c = config(vec![], H0);
    c.jobs.events_per_service = 1;
    let mut e = Engine::new(c);
    for i in 0..3000 {
        send_body(&mut e, "a", 10, H0 + i);
    }
    assert_eq!(e.body_stats(), (10, 0));
    assert!(
        e.bodies.fifo.len() < 2100,
        "stale entries compacted: {}",
        e.bodies.fifo.len()
    );
}

// ----- records and load --------------------------------------------------------

#[test]
fn a_saved_job_loads_back_with_every_field() {
    let mut e = engine();
    let change = SettingsChange {
        tz: Some(Some("Europe/Paris".into())),
        grace: Some(Some(2 * MIN)),
        max_runtime: Some(Some(30 * MIN)),
        min_duration: Some(Some(1_000)),
        ..schedule(EVERY_5)
    };
    set(&mut e, "a", change, H0);
    send(&mut e, "a", SignalKind::Start, Some("r1"), H0 + MIN);
    send(&mut e, "a", SignalKind::Exit(7), Some("r1"), H0 + 2 * MIN);
    send(&mut e, "a", SignalKind::Start, Some("r2"), H0 + 3 * MIN);
    send_body(&mut e, "a", 5, H0 + 4 * MIN);
    let mut snapshot = ServiceSnapshot::with_capacity(1);
    e.snapshot_for_save(&mut 0, 10, &mut snapshot);
    let saved: Vec<ServiceRecord> = snapshot.iter().map(ServiceRecord::from).collect();
    let gap = cron::Schedule::parse(EVERY_5, "Europe/Paris")
        .ok()
        .and_then(|s| s.longest_gap(H0));
    let stored = gap.map(|g| g + 2 * MIN);
    assert_eq!(
        Some(saved[0].timeout),
        stored,
        "stored for 1.0.3: longest gap + grace"
    );
    let mut r = Engine::new(config(vec![], H0 + 5 * MIN));
    let report = r.load(saved, vec![], H0 + 5 * MIN);
    assert!(report.bad_schedules.is_empty());
    let (before, after) = (job(&e, "a"), job(&r, "a"));
    assert_eq!(after, before);
    assert_eq!(after.reason, Some(Reason::Failed));
    assert_eq!(after.events.len(), 4);
    assert_eq!(r.body_stats().0, 5);
    assert_eq!(Some(record(&r, "a").timeout_in_force), stored);
    // Numbers go on from the loaded ones.
    send(&mut r, "a", SignalKind::Log, None, H0 + 6 * MIN);
    assert_eq!(
        r.events("a").unwrap_or_default().last().map(|e| e.n),
        Some(5)
    );
}

#[test]
fn a_stored_schedule_that_no_longer_parses_loads_as_a_period_and_is_reported() {
    let record = ServiceRecord {
        name: "a".into(),
        state: State::Ok,
        last_beat: H0,
        timeout: 7 * MIN,
        last_state_change: H0,
        timeout_in_force: 7 * MIN,
        job: Some(Box::new(JobRecord {
            own: JobSettings {
                schedule: Some("not a cron".into()),
                ..JobSettings::default()
            },
            ..JobRecord::default()
        })),
        ..ServiceRecord::default()
    };
    let mut r = Engine::new(config(vec![], H0));
    let report = r.load(vec![record], vec![], H0);
    assert_eq!(report.services, 1);
    assert_eq!(report.bad_schedules.len(), 1);
    assert!(
        report.bad_schedules[0].why.contains("not a cron"),
        "{:?}",
        report.bad_schedules
    );
    assert_eq!(job(&r, "a").effective.schedule, None);
    assert_eq!(record_timeout(&r), 7 * MIN);
}

fn record_timeout(e: &Engine) -> Millis {
    record(e, "a").timeout_in_force
}

// ----- blocks and reload -----------------------------------------------------

fn block(pattern: &str, timeout: Option<Millis>, settings: JobSettings) -> ServiceBlock {
    ServiceBlock {
        pattern: ServicePattern::compile(pattern).unwrap_or_else(|e| panic!("{e:?}")),
        timeout,
        settings,
    }
}

#[test]
fn the_first_matching_block_gives_defaults_and_own_settings_win() {
    let blocks = vec![
        block(
            "backup.*",
            None,
            JobSettings {
                schedule: Some("@hourly".into()),
                grace: Some(5 * MIN),
                ..JobSettings::default()
            },
        ),
        block("*", Some(10 * MIN), JobSettings::default()),
    ];
    let mut e = Engine::new(config(blocks, H0 - HOUR));
    send(&mut e, "backup.db", SignalKind::Success, None, H0);
    let j = job(&e, "backup.db");
    assert_eq!(
        j.effective.schedule.as_deref(),
        Some("@hourly"),
        "first block"
    );
    assert_eq!(j.effective.grace, Some(5 * MIN));
    assert_eq!(j.own, JobSettings::default());
    assert_eq!(
        record(&e, "backup.db").next_deadline,
        Some(next_fire("@hourly", H0) + 5 * MIN)
    );
    // The second block gives only a period: no job state.
    assert!(e.apply("web", Update::Beat, H0, &mut Vec::new()).is_ok());
    assert!(record(&e, "web").job.is_none());
    assert_eq!(record(&e, "web").timeout_in_force, 10 * MIN);
    // Own settings win over the block.
    set(
        &mut e,
        "backup.db",
        SettingsChange {
            grace: Some(Some(MIN)),
            ..Default::default()
        },
        H0,
    );
    assert_eq!(job(&e, "backup.db").effective.grace, Some(MIN));
    set(
        &mut e,
        "backup.db",
        SettingsChange {
            timeout: Some(2 * MIN),
            ..Default::default()
        },
        H0,
    );
    assert_eq!(
        job(&e, "backup.db").effective.schedule,
        None,
        "an own period beats the block's schedule"
    );
    assert!(e
        .apply("web", Update::SetTimeout(3 * MIN), H0, &mut Vec::new())
        .is_ok());
    assert_eq!(record(&e, "web").timeout_in_force, 3 * MIN);
}

#[test]
fn a_reload_gives_services_their_new_blocks_and_deadlines() {
    let blocks = vec![block("*", Some(10 * MIN), JobSettings::default())];
    let mut e = Engine::new(config(blocks, H0 - HOUR));
    assert!(e.apply("a", Update::Beat, H0, &mut Vec::new()).is_ok());
    assert!(e
        .apply("own", Update::SetTimeoutAndBeat(MIN), H0, &mut Vec::new())
        .is_ok());
    assert_eq!(record(&e, "a").next_deadline, Some(H0 + 10 * MIN));
    let new = JobConfig {
        blocks: vec![block(
            "*",
            None,
            JobSettings {
                schedule: Some(EVERY_5.into()),
                grace: Some(MIN),
                ..JobSettings::default()
            },
        )],
        ..JobConfig::default()
    };
    let mut out = Vec::new();
    e.set_job_config(new, H0 + MIN, &mut out);
    let j = job(&e, "a");
    assert_eq!(j.effective.schedule.as_deref(), Some(EVERY_5));
    assert_eq!(j.schedule_since, Some(H0 + MIN));
    let due = next_fire(EVERY_5, H0 + MIN) + MIN;
    assert_eq!(record(&e, "a").next_deadline, Some(due));
    assert_eq!(
        record(&e, "own").timeout_in_force,
        MIN,
        "its own period is kept"
    );
    assert!(out
        .iter()
        .any(|ev| matches!(ev, Event::ServiceChanged { service, .. } if service.name == "a")));
    tick(&mut e, due);
    assert_eq!(state(&e, "a"), (State::Error, Some(Reason::Missed)));
    // And back: no block, no period of its own.
    e.set_job_config(JobConfig::default(), H0 + HOUR, &mut Vec::new());
    assert_eq!(job(&e, "a").effective.schedule, None);
    assert_eq!(record(&e, "a").timeout_in_force, TIMEOUT_NONE);
}

#[test]
fn a_settings_change_is_told_and_marks_the_database_dirty() {
    let mut e = engine();
    set(&mut e, "a", schedule(EVERY_5), H0);
    assert!(e.take_dirty());
    let mut out = Vec::new();
    let change = SettingsChange {
        grace: Some(Some(MIN)),
        ..Default::default()
    };
    assert!(e.job("a", &change, None, H0, &mut out).is_ok());
    assert!(e.take_dirty());
    assert!(
        matches!(&out[..], [Event::ServiceChanged { .. }]),
        "{out:?}"
    );
}

#[test]
fn a_job_stored_with_its_blocks_schedule_loads_with_that_schedule() {
    let blocks = || {
        vec![block(
            "*",
            None,
            JobSettings {
                schedule: Some(EVERY_5.into()),
                ..JobSettings::default()
            },
        )]
    };
    let mut e = Engine::new(config(blocks(), H0 - HOUR));
    send(&mut e, "a", SignalKind::Success, None, H0);
    let mut snapshot = ServiceSnapshot::with_capacity(1);
    e.snapshot_for_save(&mut 0, 10, &mut snapshot);
    let saved: Vec<ServiceRecord> = snapshot.iter().map(ServiceRecord::from).collect();
    assert!(saved[0].timeout > 0, "stored for 1.0.3");
    let mut r = Engine::new(config(blocks(), H0 + MIN));
    r.load(saved, vec![], H0 + MIN);
    assert_eq!(job(&r, "a").effective.schedule.as_deref(), Some(EVERY_5));
    assert_eq!(
        record(&r, "a").timeout,
        TIMEOUT_NONE,
        "the stored timeout is not a period of its own"
    );
}

#[test]
fn loaded_bodies_count_against_the_budget_even_when_numbers_have_gaps() {
    let event = |n: u64| crate::jobs::JobEvent {
        n,
        ts: H0 + n as i64,
        kind: SignalKind::Log,
        rid: None,
        duration: None,
        source: Source::Udp,
        body: body(100),
        body_dropped: false,
    };
    let stored = ServiceRecord {
        name: "a".into(),
        state: State::Ok,
        last_beat: H0,
        timeout: TIMEOUT_NONE,
        last_state_change: H0,
        job: Some(Box::new(JobRecord {
            events: vec![event(2), event(7), event(9)],
            ..JobRecord::default()
        })),
        ..ServiceRecord::default()
    };
    let mut c = config(vec![], H0);
    c.jobs.event_body_memory = 150;
    let mut r = Engine::new(c);
    r.load(vec![stored], vec![], H0);
    assert_eq!(r.body_stats(), (100, 2), "the two oldest dropped");
    let kept: Vec<bool> = r
        .events("a")
        .unwrap_or_default()
        .iter()
        .map(|e| e.body.is_some())
        .collect();
    assert_eq!(kept, [false, false, true]);
    send(&mut r, "a", SignalKind::Log, None, H0 + MIN);
    assert_eq!(
        r.events("a").unwrap_or_default().last().map(|e| e.n),
        Some(10)
    );
}

// ----- durations a client reports (SPEC 17) -----------------------------------

fn send_timed(
    e: &mut Engine,
    name: &str,
    kind: SignalKind,
    rid: Option<&str>,
    ms: Millis,
    now: Millis,
) {
    let signal = Signal {
        reported_duration: Some(ms),
        ..signal_with(kind, rid)
    };
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

#[test]
fn a_reported_duration_with_no_start_is_the_runs_duration() {
    let mut e = engine();
    // A plain success with a duration makes a job service: the duration
    // must be kept somewhere.
    send_timed(&mut e, "kuma", SignalKind::Success, None, 1_250, H0);
    let j = job(&e, "kuma");
    assert_eq!(j.last_duration, Some(1_250));
    assert_eq!(j.events.last().and_then(|ev| ev.duration), Some(1_250));
    assert_eq!(state(&e, "kuma").0, State::Ok);
    // A failure keeps its duration too.
    send_timed(&mut e, "kuma", SignalKind::Fail, None, 40, H0 + MIN);
    let j = job(&e, "kuma");
    assert_eq!(
        (j.last_duration, j.reason),
        (Some(40), Some(Reason::Failed))
    );
}

#[test]
fn a_reported_duration_wins_over_the_paired_start_which_still_closes() {
    let mut e = engine();
    send(&mut e, "etl", SignalKind::Start, Some("r1"), H0);
    send_timed(
        &mut e,
        "etl",
        SignalKind::Success,
        Some("r1"),
        2 * MIN,
        H0 + 5 * MIN,
    );
    let j = job(&e, "etl");
    assert_eq!(
        j.last_duration,
        Some(2 * MIN),
        "the client's own measurement"
    );
    assert!(j.open_runs.is_empty(), "the paired run is closed");
    assert_eq!(j.events.last().and_then(|ev| ev.duration), Some(2 * MIN));
    // Without a reported one, the pairing measures as before.
    send(&mut e, "etl", SignalKind::Start, Some("r2"), H0 + 10 * MIN);
    send(
        &mut e,
        "etl",
        SignalKind::Success,
        Some("r2"),
        H0 + 13 * MIN,
    );
    assert_eq!(job(&e, "etl").last_duration, Some(3 * MIN));
}

#[test]
fn a_reported_duration_is_judged_against_min_duration() {
    let mut e = engine();
    set(
        &mut e,
        "fast",
        SettingsChange {
            min_duration: Some(Some(MIN)),
            ..SettingsChange::default()
        },
        H0,
    );
    send(&mut e, "fast", SignalKind::Start, None, H0);
    // Paired it took 5 minutes; the job says 10 s.
    send_timed(
        &mut e,
        "fast",
        SignalKind::Success,
        None,
        10_000,
        H0 + 5 * MIN,
    );
    assert_eq!(state(&e, "fast"), (State::Error, Some(Reason::TooFast)));
}

#[test]
fn a_reported_duration_on_a_start_or_log_is_not_a_duration() {
    let mut e = engine();
    send_timed(&mut e, "s", SignalKind::Start, Some("r"), 5_000, H0);
    send_timed(&mut e, "s", SignalKind::Log, None, 5_000, H0 + 1);
    let j = job(&e, "s");
    assert_eq!(j.open_runs.len(), 1);
    assert_eq!(j.last_duration, None);
    assert!(j.events.iter().all(|ev| ev.duration.is_none()));
}

#[test]
fn a_block_declares_only_the_name_it_gives_exactly() {
    let settings = JobSettings::default();
    let e = Engine::new(config(
        vec![
            block(
                "hc.5bf66975-d4c7-4bf5-bcc8-b8d8a82ea278",
                Some(HOUR),
                settings.clone(),
            ),
            block("backup.*", Some(HOUR), settings),
        ],
        H0,
    ));
    assert!(e.declared("hc.5bf66975-d4c7-4bf5-bcc8-b8d8a82ea278"));
    assert!(!e.declared("hc.00000000-d4c7-4bf5-bcc8-b8d8a82ea278"));
    assert!(!e.declared("backup.db"), "a pattern declares no name");
    assert!(!e.contains("hc.5bf66975-d4c7-4bf5-bcc8-b8d8a82ea278"));
}
