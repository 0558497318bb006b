//! The state thread's loop: apply commands to the engine, expire services at
//! their deadlines, publish events, and schedule saves. A save snapshots the
//! services a chunk at a time between commands, so even with a million
//! services beats are never held up for more than a few milliseconds; the
//! saver thread serializes and writes. When to save is decided by
//! `SavePolicy` (sans-IO); every save carries a reply channel, whose answer
//! the loop waits for alongside commands and feeds back to the policy.
//! The saves themselves are `thread_save.rs`'s.

use super::parked::{Parked, Taker};
use super::refusals::Refusals;
use super::save_policy::SavePolicy;
use super::watch::Watch;
use super::Command;
use super::StateError;
use crate::clock::now_ms;
use crate::counters::Counters;
use crate::engine::{Engine, EngineError};
use crate::events::{Bus, Event};
use crate::model::{Millis, ServiceRecord, ServiceSnapshot};
use crate::store::{SaveJob, SaveReport};
use crossbeam_channel::{never, select, Receiver, RecvTimeoutError, Sender};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Services copied per step of a save snapshot or a big list (about 2 ms).
const SNAPSHOT_CHUNK: usize = 5_000;

pub struct StateOptions {
    /// Periodic save interval.
    pub save_interval: Duration,
    /// `StateHandle::stop_flag`: stop (after a final save) once set.
    pub stop: Arc<AtomicBool>,
    /// The receiving end of the saver's queue: a new snapshot takes back
    /// the older ones still waiting there (see `hand_over`).
    pub saver_queue: Option<Receiver<SaveJob>>,
    /// `StateHandle::parked`: updates of known services to take (without
    /// it, they all come as commands).
    pub parked: Option<Arc<Parked>>,
}

/// Starts the state thread ("state"). It ends after `Command::Shutdown`
/// (with a final save) or when every `StateHandle` is gone; it returns the
/// final save's error, if that failed.
pub fn spawn(
    engine: Engine,
    commands: Receiver<Command>,
    saver: Sender<SaveJob>,
    counters: Arc<Counters>,
    options: StateOptions,
) -> std::io::Result<JoinHandle<Result<(), String>>> {
    std::thread::Builder::new()
        .name("state".into())
        .spawn(move || {
            if let Some(parked) = &options.parked {
                parked.enable();
            }
            let mut state = StateThread {
                engine,
                bus: Bus::default(),
                saver,
                saver_queue: options.saver_queue,
                counters,
                events: Vec::new(),
                policy: SavePolicy::new(Instant::now(), options.save_interval),
                snapshot: None,
                stop: options.stop,
                pending_save: None,
                listings: Vec::new(),
                watch: Watch::new(Instant::now(), now_ms()),
                refusals: Refusals::default(),
                final_save_error: None,
                parked: Taker::new(options.parked),
            };
            state.run(commands);
            state.final_save_error.map_or(Ok(()), Err)
        })
}

/// Listings of every service copied at once, at most; more get a 503.
pub(super) const MAX_LISTINGS: usize = 8;

/// A `GET /api/services` over many services, copied in steps like a save.
struct Listing {
    cursor: usize,
    services: Vec<ServiceRecord>,
    reply: Sender<Result<Vec<ServiceRecord>, StateError>>,
}

/// A save being snapshotted in steps.
struct Snapshot {
    cursor: usize,
    services: ServiceSnapshot,
}

struct StateThread {
    engine: Engine,
    bus: Bus,
    saver: Sender<SaveJob>,
    saver_queue: Option<Receiver<SaveJob>>,
    counters: Arc<Counters>,
    events: Vec<Event>,
    /// When to save (see `save_policy`).
    policy: SavePolicy,
    snapshot: Option<Snapshot>,
    stop: Arc<AtomicBool>,
    /// The saver's answer for the last save handed over, not received yet.
    pending_save: Option<Receiver<SaveOutcome>>,
    /// Service lists being copied in steps.
    listings: Vec<Listing>,
    /// Notices a freeze of the thread (see `watch`).
    watch: Watch,
    /// statsd updates refused at `max_services`, for a rate-limited warning.
    refusals: Refusals,
    /// Why the final save failed (the process then exits non-zero).
    final_save_error: Option<String>,
    /// Updates of known services parked by their senders.
    parked: Taker,
}

/// What the saver answers for a save.
type SaveOutcome = Result<SaveReport, String>;

impl StateThread {
    fn run(&mut self, commands: Receiver<Command>) {
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return self.stop_now(&commands);
            }
            let now = self.look();
            // A beat that arrived before a deadline keeps its service.
            self.take_parked();
            self.engine.tick(now, &mut self.events);
            self.publish();
            self.note_dirty();
            self.advance_save();
            self.advance_listings();
            self.warn_refusals();

            let wake = self.wake_at(now);
            self.watch.sleep_until(Some(wake));
            let reply = self.pending_save.clone().unwrap_or_else(never);
            let wait = wake.saturating_duration_since(Instant::now());
            let command = select! {
                recv(commands) -> command => command.map_err(|_| RecvTimeoutError::Disconnected),
                recv(reply) -> outcome => {
                    self.save_finished(outcome.unwrap_or_else(|_| {
                        Err("the saver dropped the save without answering".into())
                    }));
                    continue;
                }
                default(wait) => Err(RecvTimeoutError::Timeout),
            };
            match command {
                Ok(Command::Shutdown) => return self.stop_now(&commands),
                Ok(command) => {
                    self.handle(command);
                    // Drain what is already queued before looking at timers
                    // again (bounded, so expiry stays punctual).
                    for _ in 0..256 {
                        let deadline_due =
                            self.engine.next_deadline().is_some_and(|d| d <= now_ms());
                        if deadline_due || self.stop.load(Ordering::SeqCst) {
                            break;
                        }
                        match commands.try_recv() {
                            Ok(Command::Shutdown) => return self.stop_now(&commands),
                            Ok(command) => self.handle(command),
                            Err(_) => break,
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.final_save();
                    return;
                }
            }
        }
    }

    /// When the loop must wake up without a command.
    fn wake_at(&self, now: Millis) -> Instant {
        if self.snapshot.is_some() || !self.listings.is_empty() {
            return Instant::now();
        }
        let mut wake = self.policy.deadline();
        if let Some(poll_at) = self.parked.poll_at() {
            wake = wake.min(poll_at);
        }
        if let Some(deadline) = self.engine.next_deadline() {
            let wait = Duration::from_millis(deadline.saturating_sub(now).max(0) as u64);
            wake = wake.min(Instant::now() + wait);
        }
        wake
    }

    fn publish(&mut self) {
        if !self.events.is_empty() {
            let (services, views) = self.engine.state_counts();
            self.bus
                .set_sizes(services.iter().sum(), views.iter().sum());
            self.bus.publish(self.events.drain(..));
            // Subscribers that went away no longer need beat events.
            self.engine.set_emit_beats(self.bus.wants_everything());
        }
    }

    /// Tells the policy of a change other than a beat.
    fn note_dirty(&mut self) {
        if self.engine.take_dirty() {
            self.policy.changed(Instant::now());
        }
    }

    /// Reads the clock; if the thread was stopped meanwhile, tells the
    /// engine before anything is evaluated with the new time.
    fn look(&mut self) -> Millis {
        let now = now_ms();
        if let Some((from, to)) = self.watch.observe(Instant::now(), now) {
            Counters::add(&self.counters.freezes, 1);
            log::warn!(
                "the monitor was not running for {:.1} s (process stopped, host stalled or \
                 VM suspended): deadlines that fell in that time are moved {:.1} s later",
                (now - from) as f64 / 1000.0,
                (to - from) as f64 / 1000.0
            );
            self.engine.note_unwatched(from, to);
        }
        now
    }

    fn warn_refusals(&mut self) {
        if let Some(warning) = self.refusals.due(Instant::now()) {
            log::warn!("{warning}");
        }
    }

    fn take_parked(&mut self) {
        let counters = &self.counters;
        self.parked
            .take(&mut self.engine, &mut self.events, |beat| {
                Counters::add(&counters.beats, beat as u64)
            });
    }

    fn handle(&mut self, command: Command) {
        // Parked before this command was sent: applied before it.
        self.take_parked();
        let now = self.look();
        let events = &mut self.events;
        match command {
            Command::Ingest(batch) => {
                let mut beats = 0;
                let mut refused = 0;
                let source = batch.source;
                for (name, update) in batch.iter() {
                    match self.engine.apply_from(name, update, source, now, events) {
                        Ok(applied) => beats += applied.beat as u64,
                        Err(EngineError::TooManyServices { max }) => {
                            refused += 1;
                            self.refusals.note(name, max);
                        }
                        Err(error) => {
                            Counters::add(&self.counters.invalid_lines, 1);
                            log::debug!("statsd update dropped: {error}");
                        }
                    }
                }
                Counters::add(&self.counters.beats, beats);
                if refused > 0 {
                    Counters::add(&self.counters.refused_services, refused);
                    Counters::add(&self.counters.invalid_lines, refused);
                    self.warn_refusals();
                }
            }
            Command::Update {
                name,
                update,
                reply,
            } => {
                let result = self.engine.apply(&name, update, now, events);
                match &result {
                    Ok(applied) => Counters::add(&self.counters.beats, applied.beat as u64),
                    Err(EngineError::TooManyServices { .. }) => {
                        Counters::add(&self.counters.refused_services, 1)
                    }
                    Err(_) => {}
                }
                let _ = reply.send(result.map(|_| ()).map_err(StateError::from));
            }
            Command::Job {
                name,
                change,
                signal,
                reply,
            } => {
                let result = self.engine.job(&name, &change, signal, now, events);
                match &result {
                    Ok(applied) => Counters::add(&self.counters.beats, applied.beat as u64),
                    Err(EngineError::TooManyServices { .. }) => {
                        Counters::add(&self.counters.refused_services, 1)
                    }
                    Err(_) => {}
                }
                let _ = reply.send(result.map(|_| ()).map_err(StateError::from));
            }
            Command::PeerSignal {
                name,
                signal,
                create,
                reply,
            } => {
                // A name a `[[services]]` block gives exactly is known
                // before its first signal.
                let existed = self.engine.contains(&name) || self.engine.declared(&name);
                let result = if existed || create {
                    let change = crate::jobs::SettingsChange::default();
                    let result = self.engine.job(&name, &change, Some(signal), now, events);
                    match &result {
                        Ok(applied) => Counters::add(&self.counters.beats, applied.beat as u64),
                        Err(EngineError::TooManyServices { .. }) => {
                            Counters::add(&self.counters.refused_services, 1)
                        }
                        Err(_) => {}
                    }
                    result.map(|_| Some(existed))
                } else {
                    Ok(None)
                };
                let _ = reply.send(result.map_err(StateError::from));
            }
            Command::History {
                kind,
                name,
                since,
                until,
                reply,
            } => {
                let until = until.unwrap_or(now);
                let since = since.unwrap_or(now.saturating_sub(30 * crate::history::DAY_MS));
                let result = match kind {
                    crate::history::Kind::Service => {
                        self.engine.service_history(&name, since, until, now)
                    }
                    crate::history::Kind::View => {
                        self.engine.view_history(&name, since, until, now)
                    }
                };
                let _ = reply.send(result.map_err(StateError::from));
            }
            Command::Events { name, reply } => {
                let result = self.engine.events(&name).map(|events| (events, now));
                let _ = reply.send(result.map_err(StateError::from));
            }
            Command::Wake => {} // taken above
            Command::UpdateKnown { name, update } => {
                // Gone: a delete came between (the update counts as done
                // just before it), so it must not create the service again.
                if self.engine.contains(&name) {
                    if let Ok(applied) = self.engine.apply(&name, update, now, events) {
                        Counters::add(&self.counters.beats, applied.beat as u64);
                    }
                }
            }
            Command::Mute { name, muted, reply } => {
                let _ = reply.send(
                    self.engine
                        .set_muted(&name, muted, now, events)
                        .map_err(StateError::from),
                );
            }
            Command::Policy(command) => {
                super::policy::apply(&mut self.engine, command, now, events)
            }
            Command::DeleteService { name, reply } => {
                let _ = reply.send(
                    self.engine
                        .delete_service(&name, now, events)
                        .map_err(StateError::from),
                );
            }
            Command::DeleteView { name, reply } => {
                let _ = reply.send(
                    self.engine
                        .delete_view(&name, events)
                        .map_err(StateError::from),
                );
            }
            Command::GetService {
                name,
                details,
                reply,
            } => {
                let _ = reply.send(
                    self.engine
                        .service(&name, details)
                        .map_err(StateError::from),
                );
            }
            Command::ListServices { view: None, reply } if self.engine.len() > SNAPSHOT_CHUNK => {
                // Many services: copied a step at a time between commands.
                // A bounded number at once, so that clients asking again and
                // again cannot pile up copies of everything.
                if self.listings.len() >= MAX_LISTINGS {
                    let _ = reply.send(Err(StateError::Unavailable));
                } else {
                    self.listings.push(Listing {
                        cursor: 0,
                        services: Vec::with_capacity(self.engine.len()),
                        reply,
                    });
                }
            }
            Command::ListServices { view, reply } => {
                let _ = reply.send(
                    self.engine
                        .services(view.as_deref())
                        .map_err(StateError::from),
                );
            }
            Command::ListViews { reply } => {
                let _ = reply.send(Ok(self.engine.views()));
            }
            Command::GetView { name, reply } => {
                let _ = reply.send(
                    self.engine
                        .view_with_members(&name)
                        .map_err(StateError::from),
                );
            }
            Command::Status { view, reply } => {
                let _ = reply.send(
                    self.engine
                        .status(view.as_deref())
                        .map_err(StateError::from),
                );
            }
            Command::Stats { reply } => {
                let (services, views) = self.engine.state_counts();
                let (event_body_bytes, event_bodies_dropped) = self.engine.body_stats();
                let _ = reply.send(Ok(super::Stats {
                    services,
                    views,
                    event_body_bytes,
                    event_bodies_dropped,
                    history_bytes: self.engine.history_bytes(),
                    history_dropped: self.engine.history_dropped(),
                }));
            }
            Command::Subscribe(subscriber) => {
                if subscriber.interest == crate::events::Interest::Alerts {
                    // The alerter listens: the policy may decide now.
                    self.engine.hold_alerts(false);
                }
                self.bus.subscribe(subscriber);
                self.engine.set_emit_beats(self.bus.wants_everything());
            }
            Command::Save { reply } => {
                let result = self.save_now().map_err(|error| {
                    log::error!("save requested over the API failed: {error}");
                    StateError::Unavailable
                });
                // Waiting for the disk is not a freeze.
                self.watch.excuse(Instant::now(), now_ms());
                let _ = reply.send(result);
            }
            Command::Reload {
                templates,
                max_services,
                jobs,
                policy,
                reply,
            } => {
                self.engine.set_max_services(max_services);
                let done = templates
                    .map(|t| self.engine.set_templates(t, now, events))
                    .unwrap_or_default();
                if let Some(jobs) = jobs {
                    self.engine.set_job_config(jobs, now, events);
                }
                if let Some(policy) = policy {
                    self.engine.set_policy_settings(policy, now, events);
                }
                let _ = reply.send(Ok(done));
            }
            Command::Shutdown => {}
        }
        self.publish();
        self.note_dirty();
    }

    /// Takes one step of the oldest listing in progress (so a loop turn
    /// costs one step however many are waiting); answers it when finished.
    fn advance_listings(&mut self) {
        let Some(listing) = self.listings.first_mut() else {
            return;
        };
        let done = self.engine.snapshot_for_api(
            &mut listing.cursor,
            SNAPSHOT_CHUNK,
            &mut listing.services,
        );
        if done {
            let listing = self.listings.remove(0);
            let _ = listing.reply.send(Ok(listing.services));
        }
    }
}

#[path = "thread_save.rs"]
mod save;
#[cfg(test)]
pub(super) use save::hand_over;
