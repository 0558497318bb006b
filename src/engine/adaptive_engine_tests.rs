//! Engine unit tests of `timeout = adaptive` (SPEC 19): the deadline is the
//! model's, restart grace applies as for auto, a save/load round trip
//! keeps the model (stored whole; rebuilt from the beat history only when
//! the database has no usable state), and plain services do not grow.

use super::adaptive::Adaptive;
use super::service::Service;
use super::*;
use crate::model::{ServiceRecord, TIMEOUT_ADAPTIVE, TIMEOUT_AUTO, TIMEOUT_NONE};

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

fn record(e: &Engine, name: &str) -> ServiceRecord {
    match e.service(name, true) {
        Ok(s) => s,
        Err(err) => panic!("{err}"),
    }
}

/// Irregular beats: 60 s ± a jitter that is not periodic.
fn beats() -> Vec<Millis> {
    let mut at = T0;
    (0..40)
        .map(|i| {
            at += 60_000 + (i * 7_919 % 23) * 1_000;
            at
        })
        .collect()
}

#[test]
fn adaptive_service_expires_at_the_models_deadline() {
    let mut e = engine(T0 - 3_600_000);
    let mut model = Adaptive::new();
    apply(&mut e, "a", Update::SetTimeoutAndBeat(TIMEOUT_ADAPTIVE), T0);
    model.observe(T0);
    assert_eq!(
        (
            record(&e, "a").timeout_in_force,
            record(&e, "a").next_deadline
        ),
        (TIMEOUT_NONE, None),
        "nothing learnt from one beat"
    );
    for at in beats() {
        apply(&mut e, "a", Update::Beat, at);
        model.observe(at);
    }
    let (Some(timeout), Some(deadline)) = (model.timeout(), model.deadline()) else {
        panic!("the model learnt nothing");
    };
    let r = record(&e, "a");
    assert_eq!(r.timeout, TIMEOUT_ADAPTIVE);
    assert_eq!(
        (r.timeout_in_force, r.next_deadline),
        (timeout, Some(deadline))
    );
    assert_ne!(
        timeout,
        auto::auto_timeout(&r.beat_history),
        "the adaptive model, not auto"
    );
    let mut out = Vec::new();
    e.tick(deadline - 1, &mut out);
    assert_eq!(record(&e, "a").state, State::Ok);
    e.tick(deadline, &mut out);
    assert_eq!(record(&e, "a").state, State::Error);
}

#[test]
fn adaptive_survives_a_save_and_load_with_the_same_deadline() {
    let mut e = engine(T0 - 3_600_000);
    apply(&mut e, "a", Update::SetTimeoutAndBeat(TIMEOUT_ADAPTIVE), T0);
    for at in beats() {
        apply(&mut e, "a", Update::Beat, at);
    }
    let before = record(&e, "a");
    assert!(before.next_deadline.is_some());
    let now = *beats().last().unwrap_or(&T0) + 1;

    // Loaded by an engine started before the last beat: no restart grace
    // moves the deadline, so it must be the model's again.
    let mut loaded = engine(T0 - 3_600_000);
    loaded.load(vec![before.clone()], vec![], now);
    let after = record(&loaded, "a");
    assert_eq!(after.timeout, TIMEOUT_ADAPTIVE);
    assert_eq!(
        (after.timeout_in_force, after.next_deadline),
        (before.timeout_in_force, before.next_deadline)
    );
    // And it goes on learning from there as the original does.
    let next = now + 61_000;
    apply(&mut e, "a", Update::Beat, next);
    apply(&mut loaded, "a", Update::Beat, next);
    assert_eq!(
        record(&loaded, "a").next_deadline,
        record(&e, "a").next_deadline
    );

    // Restarted later: restart grace, one timeout after the start.
    let started = now + 3_600_000;
    let mut restarted = engine(started);
    restarted.load(vec![before.clone()], vec![], started);
    let r = record(&restarted, "a");
    assert_eq!(
        r.next_deadline,
        Some(started + before.timeout_in_force),
        "grace as for auto"
    );
}

#[test]
fn leaving_adaptive_drops_the_model_and_auto_is_auto_again() {
    let mut e = engine(T0 - 3_600_000);
    apply(&mut e, "a", Update::SetTimeoutAndBeat(TIMEOUT_ADAPTIVE), T0);
    for at in beats() {
        apply(&mut e, "a", Update::Beat, at);
    }
    let last = *beats().last().unwrap_or(&T0);
    let id = e.find("a").unwrap_or(u32::MAX);
    assert!(e.svc(id).model().is_some());
    apply(&mut e, "a", Update::SetTimeout(TIMEOUT_AUTO), last + 1);
    assert!(e.svc(id).model().is_none());
    let r = record(&e, "a");
    assert_eq!(r.timeout, TIMEOUT_AUTO);
    assert_eq!(r.timeout_in_force, auto::auto_timeout(&r.beat_history));
    // Becoming adaptive again replays the history it kept.
    apply(&mut e, "a", Update::SetTimeout(TIMEOUT_ADAPTIVE), last + 2);
    let mut model = Adaptive::new();
    let mut at = r.last_beat - r.beat_history.iter().sum::<Millis>();
    model.observe(at);
    for &i in &r.beat_history {
        at += i;
        model.observe(at);
    }
    assert!(model.deadline().is_some());
    assert_eq!(record(&e, "a").next_deadline, model.deadline());
}

#[test]
fn plain_services_stay_72_bytes_and_carry_no_model() {
    assert_eq!(std::mem::size_of::<Service>(), 72);
    let mut e = engine(T0 - 3_600_000);
    apply(&mut e, "plain", Update::SetTimeoutAndBeat(TIMEOUT_AUTO), T0);
    apply(&mut e, "plain", Update::Beat, T0 + 60_000);
    let id = e.find("plain").unwrap_or(u32::MAX);
    assert!(e.svc(id).model().is_none());
}

/// A past longer than the history: 200 intervals where every 10th is a
/// 10-minute stall, then 100 regular minutes. The last 100 intervals (all
/// the history keeps) show none of the stalls; the model remembers them.
fn long_past() -> Vec<Millis> {
    let mut at = T0;
    (0..300)
        .map(|i| {
            at += if i < 200 && i % 10 == 9 {
                600_000
            } else {
                60_000
            };
            at
        })
        .collect()
}

/// Saves `e` as the saver does (snapshot, 1.x's file) and reads it back.
fn save_and_read(e: &Engine) -> crate::store::Database {
    let mut snapshot = crate::model::ServiceSnapshot::with_capacity(1);
    let mut cursor = 0;
    while !e.snapshot_for_save(&mut cursor, 100, &mut snapshot) {}
    let mut bytes = Vec::new();
    if let Err(err) = crate::store::encode(&snapshot, &[], &[], &mut bytes) {
        panic!("encode: {err}");
    }
    match crate::store::decode(&bytes[..]) {
        Ok(db) => db,
        Err(err) => panic!("decode: {err}"),
    }
}

/// SPEC 19: the model is stored, so a restart keeps the deadline of a
/// service with more than 100 beats; rebuilt from the history alone (a file
/// without the model's key) it would be another.
#[test]
fn adaptive_model_survives_a_restart_beyond_the_history() {
    let mut e = engine(T0 - 3_600_000);
    apply(&mut e, "a", Update::SetTimeoutAndBeat(TIMEOUT_ADAPTIVE), T0);
    let beats = long_past();
    for &at in &beats {
        apply(&mut e, "a", Update::Beat, at);
    }
    let before = record(&e, "a");
    assert_eq!(before.beat_history.len(), crate::model::HISTORY_LEN);
    assert!(before.next_deadline.is_some());
    let now = beats[beats.len() - 1] + 1;

    let db = save_and_read(&e);
    assert_eq!(
        db.model_key_problems.count, 0,
        "{:?}",
        db.model_key_problems
    );
    let stored = db.services[0].clone();
    assert_eq!(stored.model.as_deref(), e.svc(0).model());
    let mut loaded = engine(T0 - 3_600_000);
    loaded.load(db.services, vec![], now);
    let after = record(&loaded, "a");
    assert_eq!(
        (after.timeout_in_force, after.next_deadline),
        (before.timeout_in_force, before.next_deadline)
    );
    // It keeps learning as the original does.
    let next = now + 60_000;
    apply(&mut e, "a", Update::Beat, next);
    apply(&mut loaded, "a", Update::Beat, next);
    assert_eq!(
        record(&loaded, "a").next_deadline,
        record(&e, "a").next_deadline
    );

    // What the key is for: from the history alone the stalls are forgotten
    // and the deadline comes sooner.
    let mut rebuilt = engine(T0 - 3_600_000);
    rebuilt.load(
        vec![ServiceRecord {
            model: None,
            ..stored
        }],
        vec![],
        now,
    );
    let rebuilt = record(&rebuilt, "a");
    assert!(
        rebuilt.timeout_in_force < before.timeout_in_force,
        "{} vs {}",
        rebuilt.timeout_in_force,
        before.timeout_in_force
    );
}

/// A stored model that does not end at the record's last beat (an edited
/// file) is not used: the model is rebuilt from the history.
#[test]
fn a_stored_model_of_another_past_is_not_used() {
    let mut e = engine(T0 - 3_600_000);
    apply(&mut e, "a", Update::SetTimeoutAndBeat(TIMEOUT_ADAPTIVE), T0);
    for at in beats() {
        apply(&mut e, "a", Update::Beat, at);
    }
    let good = record(&e, "a");
    let mut other = Adaptive::new();
    for i in 0..50 {
        other.observe(T0 + i * 3_600_000);
    }
    let now = good.last_beat + 1;
    let mut loaded = engine(T0 - 3_600_000);
    loaded.load(
        vec![ServiceRecord {
            model: Some(Box::new(other)),
            ..good.clone()
        }],
        vec![],
        now,
    );
    assert_eq!(record(&loaded, "a").next_deadline, good.next_deadline);
}
