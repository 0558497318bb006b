//! The state thread as a whole, with a real engine and channels standing in
//! for the saver and subscribers.

use super::*;
use crate::counters::Counters;
use crate::engine::{Engine, EngineConfig};
use crate::events::{Event, Interest, Subscriber};
use crate::model::State;
use crate::store::SaveJob;
use crossbeam_channel::{Receiver, Sender};
use std::time::Instant;

const WAIT: Duration = Duration::from_secs(10);

type StateThread = std::thread::JoinHandle<Result<(), String>>;

fn start(save_interval: Duration) -> (StateHandle, Receiver<SaveJob>, StateThread) {
    let (handle, _, saves, thread) = start_with(save_interval, false);
    (handle, saves, thread)
}

/// `start`, also giving the saver queue's sender; with `take_back`, the
/// state thread gets the queue's receiver as the server gives it.
fn start_with(
    save_interval: Duration,
    take_back: bool,
) -> (StateHandle, Sender<SaveJob>, Receiver<SaveJob>, StateThread) {
    let engine = Engine::new(EngineConfig {
        templates: vec![],
        max_services: 50_000,
        started_at: crate::clock::now_ms(),
        jobs: Default::default(),
    });
    let (tx, rx) = bounded(COMMAND_QUEUE);
    let handle = StateHandle::new(tx);
    let (save_tx, save_rx) = bounded(2);
    let thread = spawn(
        engine,
        rx,
        save_tx.clone(),
        Arc::new(Counters::default()),
        StateOptions {
            save_interval,
            stop: handle.stop_flag(),
            saver_queue: take_back.then(|| save_rx.clone()),
            parked: Some(handle.parked()),
        },
    )
    .unwrap_or_else(|e| panic!("spawn: {e}"));
    (handle, save_tx, save_rx, thread)
}

fn next_job(saves: &Receiver<SaveJob>) -> SaveJob {
    let job = saves
        .recv_timeout(WAIT)
        .unwrap_or_else(|_| panic!("no save job"));
    if let Some(done) = &job.done {
        let _ = done.send(Ok(crate::store::SaveReport {
            services: job.services.len(),
            views: job.views.len(),
            bytes: 0,
            millis: 0,
        }));
    }
    job
}

#[test]
fn expires_on_its_own_deadline_and_tells_subscribers() {
    let (handle, _saves, _thread) = start(Duration::from_secs(3600));
    let (tx, events) = bounded(64);
    handle
        .subscribe(Subscriber::new(tx, Interest::StateChanges, Arc::default()))
        .unwrap_or_else(|e| panic!("{e}"));
    handle
        .update("a", Update::SetTimeoutAndBeat(300))
        .unwrap_or_else(|e| panic!("{e}"));
    // No command arrives after this: the thread must wake by itself.
    let deadline = Instant::now() + WAIT;
    let mut expired = false;
    while !expired && Instant::now() < deadline {
        if let Ok(event) = events.recv_timeout(Duration::from_millis(100)) {
            expired = matches!(&*event, Event::ServiceChanged { service, previous: State::Ok }
                if service.state == State::Error);
        }
    }
    assert!(expired, "no expiry event");
    assert_eq!(handle.status(None), Ok(StatusSummary::new(0, 1)));
}

#[test]
fn a_change_is_saved_soon_and_a_quiet_server_does_not_save() {
    let (handle, saves, _thread) = start(Duration::from_millis(200));
    handle
        .update("a", Update::SetTimeout(60_000))
        .unwrap_or_else(|e| panic!("{e}"));
    let job = next_job(&saves);
    assert_eq!(job.services.len(), 1);
    assert_eq!(job.services.iter().next().map(|s| s.timeout), Some(60_000));
    // Nothing changes any more: periodic saves (every 200 ms) are skipped
    // (the timing rules themselves are `save_policy`'s unit tests).
    assert!(saves.recv_timeout(Duration::from_millis(700)).is_err());
    // A beat alone is saved by the next periodic save.
    handle
        .update("a", Update::Beat)
        .unwrap_or_else(|e| panic!("{e}"));
    let job = next_job(&saves);
    assert!(job.services.iter().next().is_some_and(|s| s.last_beat > 0));
}

/// The thread learns a save's outcome from the saver's reply (the counters
/// are never touched here): a failed save is tried again although nothing
/// changes afterwards. (The retry delay itself is `save_policy`'s test.)
#[test]
fn a_save_the_saver_answers_failed_is_tried_again_without_a_new_change() {
    let (handle, saves, _thread) = start(Duration::from_secs(3600));
    handle
        .update("a", Update::SetTimeout(60_000))
        .unwrap_or_else(|e| panic!("{e}"));
    let job = saves
        .recv_timeout(WAIT)
        .unwrap_or_else(|_| panic!("no save job"));
    let done = job
        .done
        .as_ref()
        .unwrap_or_else(|| panic!("every save carries a reply"));
    let _ = done.send(Err("database save failed: disk full".into()));
    let retry = next_job(&saves);
    assert_eq!(retry.services.len(), 1);
    assert_eq!(
        retry.services.iter().next().map(|s| s.timeout),
        Some(60_000)
    );
}

#[test]
fn shutdown_saves_even_with_a_full_queue() {
    let (handle, saves, thread) = start(Duration::from_secs(3600));
    handle
        .update("a", Update::Beat)
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = next_job(&saves); // the creation
                              // Fill the queue, then ask to stop: the flag gets through regardless.
    for _ in 0..1_000_000 {
        if !handle.ingest(crate::model::Batch::default()) {
            break;
        }
    }
    handle.shutdown();
    let job = next_job(&saves);
    assert_eq!(job.services.len(), 1);
    assert!(job.done.is_some(), "the final save waits for the saver");
    let saved = thread
        .join()
        .unwrap_or_else(|_| panic!("state thread panicked"));
    assert_eq!(saved, Ok(()), "the final save succeeded");
}

#[test]
fn an_update_answered_without_waiting_is_in_the_final_save() {
    let (handle, saves, thread) = start(Duration::from_secs(3600));
    handle
        .update("a", Update::SetTimeoutAndBeat(60_000))
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = next_job(&saves); // the creation
    assert!(handle.known.contains("a"), "answered: now known to exist");
    // Known: queued without an answer, then the stop flag goes up at once.
    handle
        .update("a", Update::SetTimeout(120_000))
        .unwrap_or_else(|e| panic!("{e}"));
    handle.shutdown();
    let job = next_job(&saves);
    let timeouts: Vec<_> = job.services.iter().map(|s| s.timeout).collect();
    assert_eq!(timeouts, vec![120_000], "the acknowledged update was saved");
    let saved = thread
        .join()
        .unwrap_or_else(|_| panic!("state thread panicked"));
    assert_eq!(saved, Ok(()));
}

#[test]
fn a_parked_update_is_seen_by_the_next_request_at_the_time_it_arrived() {
    let (handle, _saves, _thread) = start(Duration::from_secs(3600));
    handle
        .update("a", Update::SetTimeoutAndBeat(60_000))
        .unwrap_or_else(|e| panic!("{e}"));
    // Known now: parked without an answer; the next request sees it.
    handle
        .update("a", Update::SetTimeout(120_000))
        .unwrap_or_else(|e| panic!("{e}"));
    let a = handle.service("a", false).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.timeout, 120_000, "read your writes");
    // A beat that arrived a while before the thread took it keeps its time.
    let arrived = crate::clock::now_ms() - 500;
    handle.parked.park("a".into(), Update::Beat, arrived);
    let a = handle.service("a", false).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.last_beat, arrived);
}

#[test]
fn a_lone_parked_update_wakes_the_thread() {
    let (handle, _saves, _thread) = start(Duration::from_secs(3600));
    handle
        .update("a", Update::Beat)
        .unwrap_or_else(|e| panic!("{e}"));
    handle
        .update("a", Update::Beat)
        .unwrap_or_else(|e| panic!("{e}"));
    // Taken without any other command coming.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !handle.parked.is_empty() {
        assert!(Instant::now() < deadline, "the parked beat was never taken");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn an_update_racing_a_delete_does_not_bring_the_service_back() {
    let (handle, _saves, _thread) = start(Duration::from_secs(3600));
    handle
        .update("a", Update::Beat)
        .unwrap_or_else(|e| panic!("{e}"));
    handle.delete_service("a").unwrap_or_else(|e| panic!("{e}"));
    assert!(!handle.known.contains("a"), "a delete forgets known names");
    // One that found "a" known just before the delete, queued after it.
    let late = Command::UpdateKnown {
        name: "a".into(),
        update: Update::Beat,
    };
    handle.tx.send(late).unwrap_or_else(|e| panic!("{e}"));
    assert!(handle.service("a", false).is_err(), "still deleted");
    // A beat after the delete asks, and creates it again.
    handle
        .update("a", Update::Beat)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(handle.service("a", false).is_ok());
}

#[test]
fn big_lists_are_copied_in_steps_and_complete() {
    let (handle, _saves, _thread) = start(Duration::from_secs(3600));
    let mut batch = crate::model::Batch::with_capacity(25_000);
    for i in 0..25_000 {
        batch.push(&format!("svc.{i:05}"), Update::Beat);
    }
    assert!(handle.ingest(batch));
    // Two lists at once, over more than one step each, and a status
    // question in between: all answered, all complete.
    let h2 = handle.clone();
    let other = std::thread::spawn(move || h2.services(None));
    let list = handle.services(None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(handle.status(None), Ok(StatusSummary::new(25_000, 0)));
    let list2 = other
        .join()
        .unwrap_or_else(|_| panic!("lister panicked"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(list.len(), 25_000);
    assert_eq!(list2.len(), 25_000);
    let mut names: Vec<&str> = list.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 25_000, "every service once");
    assert!(list.iter().all(|s| s.beat_history.is_empty()));
}

#[test]
fn many_big_lists_at_once_are_capped_not_piled_up() {
    let (handle, _saves, _thread) = start(Duration::from_secs(3600));
    let mut batch = crate::model::Batch::with_capacity(25_000);
    for i in 0..25_000 {
        batch.push(&format!("svc.{i:05}"), Update::Beat);
    }
    assert!(handle.ingest(batch));
    assert_eq!(handle.status(None), Ok(StatusSummary::new(25_000, 0)));
    // 40 listings asked for at once (each takes 5 steps, one step per loop
    // turn): the first MAX_LISTINGS are served, the rest told to retry.
    let replies: Vec<_> = (0..40)
        .map(|_| {
            let (reply, answer) = bounded(1);
            handle
                .tx
                .send(Command::ListServices { view: None, reply })
                .unwrap_or_else(|e| panic!("{e}"));
            answer
        })
        .collect();
    let mut served = 0;
    let mut refused = 0;
    for answer in replies {
        match answer.recv_timeout(WAIT).unwrap_or_else(|e| panic!("{e}")) {
            Ok(list) => {
                assert_eq!(list.len(), 25_000);
                served += 1;
            }
            Err(StateError::Unavailable) => refused += 1,
            Err(other) => panic!("{other}"),
        }
    }
    assert!(served >= super::thread::MAX_LISTINGS, "served {served}");
    assert!(refused > 0, "40 listings at once were all accepted");
    assert_eq!(served + refused, 40);
}

#[test]
fn every_view_transition_of_a_mass_expiry_reaches_the_view_subscriber() {
    use crate::engine::pattern::ViewTemplate;
    use crate::events::Limit;
    let template = ViewTemplate::new("v$x", &["v$x.*".to_string()], &[], vec![])
        .unwrap_or_else(|e| panic!("{e}"));
    let engine = Engine::new(EngineConfig {
        templates: vec![template],
        max_services: 50_000,
        started_at: crate::clock::now_ms(),
        jobs: Default::default(),
    });
    let (tx, rx) = bounded(COMMAND_QUEUE);
    let handle = StateHandle::new(tx);
    let (save_tx, _saves) = bounded(2);
    let _thread = spawn(
        engine,
        rx,
        save_tx,
        Arc::new(Counters::default()),
        StateOptions {
            save_interval: Duration::from_secs(3600),
            stop: handle.stop_flag(),
            saver_queue: None,
            parked: Some(handle.parked()),
        },
    )
    .unwrap_or_else(|e| panic!("spawn: {e}"));
    // A small queue that the flood of service changes overflows (never read)...
    let flood = handle
        .subscribe_events(Interest::StateChanges, 64)
        .unwrap_or_else(|e| panic!("{e}"));
    // ...and the view transitions, bounded by 4 per view, never read until
    // the end either.
    let views = handle
        .subscribe_limited(
            Interest::ViewErrorChanges,
            Limit::Views {
                base: 0,
                per_view: 4,
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    const VIEWS: usize = 20;
    const MEMBERS: usize = 250;
    for member in 0..MEMBERS {
        for view in 0..VIEWS {
            handle
                .update(
                    &format!("v{view}.s{member}"),
                    Update::SetTimeoutAndBeat(1_000),
                )
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
    let all_failed = StatusSummary::new(0, (VIEWS * MEMBERS) as u64);
    let deadline = Instant::now() + WAIT;
    while handle.status(None) != Ok(all_failed) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(handle.status(None), Ok(all_failed));
    assert!(flood.take_lost() > 0, "the flood overflowed");
    assert_eq!(flood.len(), 64);
    let mut into_error = std::collections::BTreeMap::new();
    for event in views.try_iter() {
        assert!(
            event.is_view_error_change(),
            "only ERROR changes: {event:?}"
        );
        if let Event::ViewChanged { view, previous } = &*event {
            if view.state == State::Error {
                assert_ne!(*previous, State::Error);
                *into_error.entry(view.name.clone()).or_insert(0) += 1;
            }
        }
    }
    assert_eq!(into_error.len(), VIEWS, "{into_error:?}");
    assert!(into_error.values().all(|n| *n == 1), "{into_error:?}");
    assert_eq!(views.take_losses(), [0; crate::events::KINDS]);
}

fn empty_job() -> SaveJob {
    SaveJob {
        history: Vec::new(),
        services: crate::model::ServiceSnapshot::with_capacity(0),
        views: Vec::new(),
        maintenance: Vec::new(),
        done: None,
    }
}

/// crash.rs "created service ... is lost": while the saver is writing, the
/// state thread kept making snapshots; two filled the saver's queue, and
/// the next one, holding a new service, was refused and retried only once
/// the saver had written both older ones: two more whole writes (seconds
/// with 100k services under load) after the 1 s promise. Now a new
/// snapshot takes back the older ones still waiting.
#[test]
fn a_new_snapshot_replaces_older_ones_waiting_for_a_busy_saver() {
    let (handle, save_tx, saves, _thread) = start_with(Duration::from_secs(3600), true);
    // The saver is busy: two older snapshots are already waiting.
    save_tx.send(empty_job()).unwrap_or_else(|e| panic!("{e}"));
    save_tx.send(empty_job()).unwrap_or_else(|e| panic!("{e}"));
    handle
        .update("created", Update::Beat)
        .unwrap_or_else(|e| panic!("{e}"));
    // Without taking the older ones back, the queue stays full forever.
    let deadline = Instant::now() + WAIT;
    while saves.len() != 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(saves.len(), 1, "older snapshots still block the new one");
    let job = next_job(&saves);
    assert_eq!(job.services.len(), 1);
    assert!(job.services.iter().any(|s| s.name == "created"));
}

#[test]
fn hand_over_takes_back_stale_jobs_and_keeps_their_waiter() {
    let (tx, rx) = bounded(2);
    let (waiter, answer) = bounded(1);
    let mut stale = empty_job();
    stale.done = Some(waiter);
    tx.send(stale).unwrap_or_else(|e| panic!("{e}"));
    tx.send(empty_job()).unwrap_or_else(|e| panic!("{e}"));
    // The old way: refused.
    assert!(super::thread::hand_over(&tx, None, empty_job()).is_err());
    let mut newest = empty_job();
    newest.views = vec![crate::model::ViewRecord::default()];
    assert!(super::thread::hand_over(&tx, Some(&rx), newest).is_ok());
    assert_eq!(rx.len(), 1);
    let job = rx.try_recv().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(job.views.len(), 1, "the newest snapshot is the one queued");
    let done = job.done.unwrap_or_else(|| panic!("the waiter was dropped"));
    let _ = done.send(Err("x".into()));
    assert!(answer.try_recv().is_ok());
}
