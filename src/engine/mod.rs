//! The engine: all services and views, every rule of SPEC 2, as plain code.
//! Time comes in as an argument and changes go out as `Event`s; there are no
//! threads, clocks or sockets here (a sans-IO core), so every rule is a fast
//! unit test. The state thread is the only caller.
//!
//! # What it owns
//!
//! Every service (name, timeout, last beat, beat history, mute, state) and
//! every view (members, failing members, incident number), the expiry
//! schedule, the windows of time nobody watched (freezes), and the counts
//! per state. It owns no time source, no I/O and no subscribers: it is told
//! the time, and it hands back what changed.
//!
//! # Calling order
//!
//! The caller drives it, in the manner of quinn-proto's `Connection`:
//!
//! 1. Construct with [`Engine::new`] from an [`EngineConfig`] (templates,
//!    `max_services`, the process start for the restart grace). Views whose
//!    names have no `$word` exist from here.
//! 2. Call [`Engine::load`] once, before any input, with the database; log
//!    the [`LoadReport`] it returns (what was skipped, and why). Then hand
//!    it the rest of the file: [`Engine::restore_history`] (SPEC 18's
//!    `HIST` lines) and [`Engine::load_windows`] (SPEC 15's `MAINT` lines),
//!    and [`Engine::set_policy_settings`] / [`Engine::set_history_limits`]
//!    from the configuration. [`Engine::hold_alerts`]`(true)` until the
//!    alerter listens: nothing is decided for it before.
//! 3. For each input, call [`Engine::apply`] (a beat and/or a timeout;
//!    [`Engine::apply_from`] for statsd, whose run signals record their
//!    source), [`Engine::job`] (job settings and run signals, SPEC 14),
//!    [`Engine::set_muted`] (or [`Engine::set_muted_until`] for a timed
//!    mute, [`Engine::set_view_muted`] for a view's alerts), the
//!    maintenance windows' [`Engine::add_window`] / [`Engine::delete_window`],
//!    [`Engine::delete_service`] or
//!    [`Engine::delete_view`] with the current wall-clock `now` (ms since
//!    the epoch). Reads ([`Engine::service`], [`Engine::services`],
//!    [`Engine::view_with_members`], [`Engine::status`],
//!    [`Engine::service_history`] / [`Engine::view_history`], the
//!    snapshots) change nothing.
//! 4. Call [`Engine::tick`]`(now)` whenever `now >= `[`Engine::next_deadline`]
//!    (sleep until then otherwise; `None` means nothing is scheduled). A
//!    tick too early is harmless; one late only delays the ERROR.
//! 5. After every call that takes `out`, drain the events pushed onto it
//!    (the engine never blocks on a consumer; what to do with an event is
//!    the caller's business). Beats that change nothing but the last beat
//!    are only told while [`Engine::set_emit_beats`] is on.
//! 6. Ask [`Engine::take_dirty`] (something other than a beat changed: save
//!    soon) and [`Engine::take_changed`] (anything changed: a periodic save
//!    is worth it) after each call, and save with
//!    [`Engine::snapshot_for_save`] in steps.
//! 7. On a configuration reload (any time after `load`), call
//!    [`Engine::set_max_services`] and [`Engine::set_templates`]`(templates,
//!    now, out)`: views follow the new templates, state is kept.
//!    With `[[services]]` blocks or `[limits]` of jobs changed, call
//!    [`Engine::set_job_config`]`(config, now, out)` too.
//! 8. When the monitor was not watching (the process stopped, the host
//!    froze), call [`Engine::note_unwatched`]`(from, to)` before the next
//!    input or tick: deadlines that fell inside move later instead of
//!    failing everything at once.
//!
//! # Invariants
//!
//! - `now` is the wall clock and may go backwards (NTP steps); nothing
//!   panics or underflows. A beat from a clock that went back still counts
//!   (and moves the deadline with it) but adds no interval to the history;
//!   a tick with an earlier `now` fires only what is due by it.
//! - No call but the snapshots, the load and the rare compactions touches
//!   more than the one service (and its views) it is about: the cost of a
//!   beat does not grow with the number of services.
//! - Every service in state OK with a timeout in force has a live entry in
//!   the expiry schedule at or before its real deadline (see `timers`).
//! - A job service (SPEC 14) has one deadline too: its open run's limit,
//!   else its schedule's next fire after its last success (or after the
//!   schedule was set) plus grace, else its period plus grace. `last_beat`
//!   is its last success (a start or a log does not move it). The restart
//!   grace of a scheduled service: not before the first fire after the
//!   start plus grace.
//! - Errors ([`EngineError`]) are about the request (a name, a view, the
//!   limit) and leave the state unchanged.
//!
//! # Layout
//!
//! Services live in a slab (`Vec<Option<Service>>`, ids reused via a
//! free list) and are found by name through a `HashTable` of ids that hashes
//! the name stored inside the service, so each name is stored once. Views
//! live in a second slab with a name index. Expiry is scheduled per service
//! in `timers` (see there); nothing here walks all services except snapshots
//! and the rare heap compaction. Finding services and views in their slabs
//! and making new ones is `slab.rs`'s.

pub mod adaptive;
#[cfg(test)]
mod adaptive_engine_tests;
mod alerting;
#[cfg(test)]
mod alerting_tests;
mod apply;
pub mod auto;
#[cfg(test)]
mod deadline_tests;
mod error;
mod failures;
#[cfg(test)]
mod failures_tests;
mod history;
#[cfg(test)]
mod history_tests;
mod job;
mod job_events;
#[cfg(test)]
mod job_record_tests;
#[cfg(test)]
mod job_tests;
mod jobs;
mod judge;
mod load;
#[cfg(test)]
mod load_tests;
mod names;
pub mod pattern;
mod query;
mod reload;
#[cfg(test)]
mod reload_tests;
mod service;
pub mod simulate;
mod slab;
#[cfg(test)]
mod tests;
mod timers;
mod unwatched;
#[cfg(test)]
mod unwatched_tests;
mod view;

pub use error::EngineError;
use hashbrown::{DefaultHashBuilder, HashMap, HashTable};
pub use load::{BadSchedule, LoadReport, SkipReason, Skipped};
pub use reload::ViewsReloaded;
use std::hash::BuildHasher;

use crate::events::Event;
#[cfg(test)] // the unit tests take it from here (`use super::*`)
use crate::model::Update;
use crate::model::{Millis, State};
use job::{BlockRt, Job};
use job_events::BodyBudget;
use names::Names;
use pattern::ViewTemplate;
use service::{Service, HAS_JOB};
use timers::{Timers, UNSCHEDULED};
use unwatched::Unwatched;
use view::View;

/// Beats closer than this to the previous accepted beat are dropped.
pub const RATE_LIMIT_MS: Millis = 1000;

/// What the engine is built from.
pub struct EngineConfig {
    pub templates: Vec<ViewTemplate>,
    pub max_services: usize,
    /// When this process started (the restart grace counts from here).
    pub started_at: Millis,
    /// `[[services]]` blocks and the event limits (SPEC 14).
    pub jobs: JobConfig,
}

/// What the engine needs for jobs (SPEC 14.3–14.4).
#[derive(Clone, Debug)]
pub struct JobConfig {
    /// `[[services]]` blocks, in file order: the first whose pattern
    /// matches gives a service its defaults.
    pub blocks: Vec<ServiceBlock>,
    /// `[limits] events_per_service`: events kept per service.
    pub events_per_service: usize,
    /// `[limits] event_body_memory`: bytes of bodies kept, all services
    /// together; beyond it the oldest bodies are dropped.
    pub event_body_memory: usize,
    /// `[limits] history_days` and `history_memory` (SPEC 18).
    pub history: crate::history::HistoryLimits,
}

impl Default for JobConfig {
    fn default() -> Self {
        JobConfig {
            blocks: Vec::new(),
            events_per_service: 20,
            event_body_memory: 64 << 20,
            history: crate::history::HistoryLimits::default(),
        }
    }
}

/// A `[[services]]` block: defaults for the services its pattern matches.
#[derive(Clone, Debug)]
pub struct ServiceBlock {
    pub pattern: pattern::ServicePattern,
    /// The period (ms, or `TIMEOUT_NONE` / `TIMEOUT_AUTO` / 0).
    pub timeout: Option<Millis>,
    pub settings: crate::jobs::JobSettings,
}

/// The result of applying one update.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Applied {
    /// A beat was accepted (not rate-limited).
    pub beat: bool,
}

pub struct Engine {
    config: EngineConfig,
    services: Vec<Option<Service>>,
    free_services: Vec<u32>,
    names: Names,
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
    views: Vec<Option<View>>,
    free_views: Vec<u32>,
    view_index: HashMap<String, u32>,
    timers: Timers,
    /// Windows of time the monitor was not watching (a freeze).
    unwatched: Unwatched,
    live: usize,
    /// Services per state, indexed by `State::gauge()`.
    service_counts: [usize; 4],
    /// Views per state, indexed by `State::gauge()`.
    view_counts: [usize; 4],
    /// Something other than a beat changed since `take_dirty`.
    dirty: bool,
    /// Anything at all (beats included) changed since `take_changed`.
    changed: bool,
    /// Build events for plain beats too (someone subscribed to everything).
    emit_beats: bool,
    /// The job state of the services that use jobs (flag `HAS_JOB`), by id:
    /// plain services carry nothing (SPEC 14.3).
    jobs: HashMap<u32, Box<Job>>,
    /// `config.jobs.blocks` with their schedules parsed.
    blocks: Vec<BlockRt>,
    /// The bodies of all events, within `event_body_memory`.
    bodies: BodyBudget,
    /// Counts `Job`s ever made (their epochs).
    job_epoch: u64,
    /// When alerts go out (SPEC 15).
    policy: crate::policy::Policy,
    /// When timed mutes of services end.
    mute_ends: alerting::MuteEnds,
    /// The policy's deadlines wait (see `hold_alerts`).
    alerts_held: bool,
    /// Every state change of services and views (SPEC 18), recorded where
    /// it happens.
    history: crate::history::History,
    /// What the call in progress did, for a change's reason when it is no
    /// failure (`beat`, `run succeeded`): set at the entry points.
    cause: &'static str,
}

impl Engine {
    /// An engine with no services; the views of templates without a `$word`
    /// in their name exist already (state NEW, no members).
    pub fn new(config: EngineConfig) -> Engine {
        let blocks = BlockRt::build(&config.jobs.blocks, config.started_at);
        let history = crate::history::History::new(config.jobs.history);
        let mut engine = Engine {
            config,
            services: Vec::new(),
            free_services: Vec::new(),
            names: Names::default(),
            index: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            views: Vec::new(),
            free_views: Vec::new(),
            view_index: HashMap::new(),
            timers: Timers::default(),
            unwatched: Unwatched::default(),
            live: 0,
            service_counts: [0; 4],
            view_counts: [0; 4],
            dirty: false,
            changed: false,
            emit_beats: false,
            jobs: HashMap::new(),
            blocks,
            bodies: BodyBudget::default(),
            job_epoch: 0,
            policy: crate::policy::Policy::new(),
            mute_ends: alerting::MuteEnds::default(),
            alerts_held: false,
            history,
            cause: history::RECOVERED,
        };
        engine.create_fixed_views();
        engine
    }

    /// Whether a beat that changes nothing but `last_beat` (and the
    /// history) is told as a `ServiceChanged` event: only wanted while some
    /// subscriber follows everything (the dashboard), since it costs a
    /// record per beat. Off at construction.
    pub fn set_emit_beats(&mut self, emit: bool) {
        self.emit_beats = emit;
    }

    /// Number of services.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// True if a service of this name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// True (once) when something other than a beat changed: the database
    /// should be saved soon.
    pub fn take_dirty(&mut self) -> bool {
        let dirty = std::mem::take(&mut self.dirty);
        self.changed |= dirty;
        dirty
    }

    /// True (once) when anything, beats included, changed since the last
    /// call: a periodic save with nothing new to write is skipped.
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed) | self.dirty
    }

    /// Records that the monitor was not watching during `(from, to]`
    /// (wall-clock ms; e.g. the process was stopped): every deadline that
    /// falls inside moves later by `to - from` (see `unwatched`). Lazy: each
    /// one is moved when it pops, so this is O(1) whatever the services.
    pub fn note_unwatched(&mut self, from: Millis, to: Millis) {
        self.unwatched.note(from, to);
    }

    /// The earliest moment `tick` has something to do.
    pub fn next_deadline(&self) -> Option<Millis> {
        [
            self.timers.next_deadline(),
            self.policy_deadline(),
            self.history.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // ----- rules ---------------------------------------------------------

    /// Re-evaluates a service, records a state change (and its views'), and
    /// schedules its next expiry. Returns the previous state.
    fn reevaluate(&mut self, id: u32, now: Millis, out: &mut Vec<Event>) -> State {
        let s = self.svc(id);
        let previous = s.state;
        let (state, reason, deadline) = self.evaluate(id, s, now);
        if s.flags & HAS_JOB != 0 {
            if let Some(job) = self.jobs.get_mut(&id) {
                job.reason = reason;
            }
        }
        if state != previous {
            self.dirty = true;
            let s = self.svc_mut(id);
            let since = s.last_state_change;
            s.state = state;
            s.last_state_change = now;
            self.record_service_change(id, since, previous, reason, now);
            self.service_counts[previous.gauge() as usize] -= 1;
            self.service_counts[state.gauge() as usize] += 1;
            let views = self.svc(id).views.clone();
            for vid in views.iter().copied() {
                let v = self.view_mut(vid);
                if state == State::Error {
                    v.failed.insert(id);
                } else {
                    v.failed.remove(&id);
                }
            }
            for vid in views.iter().copied() {
                self.update_view_state(vid, now, out);
            }
        }
        if let Some(at) = deadline {
            let (timers, services) = (&mut self.timers, &mut self.services);
            if let Some(s) = services[id as usize].as_mut() {
                timers.schedule(id, at, &mut s.scheduled);
            }
        }
        previous
    }

    /// Recomputes a view's state from its failing members; going into ERROR
    /// opens a new incident.
    fn update_view_state(&mut self, vid: u32, now: Millis, out: &mut Vec<Event>) {
        let v = self.view_mut(vid);
        let state = if v.failed.is_empty() {
            State::Ok
        } else {
            State::Error
        };
        if state == v.state {
            return;
        }
        let previous = v.state;
        let since = v.last_state_change;
        v.state = state;
        v.last_state_change = now;
        if state == State::Error {
            v.incident_number += 1;
        }
        self.record_view_change(vid, since, previous, now);
        self.view_counts[previous.gauge() as usize] -= 1;
        self.view_counts[state.gauge() as usize] += 1;
        self.dirty = true;
        out.push(Event::ViewChanged {
            view: self.view_record(vid),
            previous,
        });
        self.policy_view_changed(vid, previous, now, out);
    }

    /// Mutes or unmutes a service (idempotent).
    pub fn set_muted(
        &mut self,
        name: &str,
        muted: bool,
        now: Millis,
        out: &mut Vec<Event>,
    ) -> Result<(), EngineError> {
        // Until an unmute (a plain mute also ends a timed one).
        self.set_muted_until(name, muted, 0, now, out)
    }

    pub fn delete_service(
        &mut self,
        name: &str,
        now: Millis,
        out: &mut Vec<Event>,
    ) -> Result<(), EngineError> {
        let id = self
            .find(name)
            .ok_or_else(|| EngineError::ServiceNotFound(name.to_owned()))?;
        let record = self.service_record(id, false);
        self.mute_ends.set(id, 0);
        let hash = self.hasher.hash_one(name);
        if let Ok(entry) = self.index.find_entry(hash, |&other| other == id) {
            entry.remove();
        }
        let service = self.services[id as usize].take();
        self.history.forget(crate::history::Kind::Service, name);
        if let Some(s) = service {
            self.names.remove(s.name);
            if let Some(job) = self.jobs.remove(&id) {
                self.forget_job(&job);
            }
            self.service_counts[s.state.gauge() as usize] -= 1;
            for &vid in s.views.iter() {
                let v = self.view_mut(vid);
                v.members.remove(&id);
                v.failed.remove(&id);
            }
            for &vid in s.views.iter() {
                self.update_view_state(vid, now, out);
            }
        }
        self.free_services.push(id);
        self.live -= 1;
        self.dirty = true;
        out.push(Event::ServiceRemoved { service: record });
        self.maybe_compact_timers();
        if self.names.wants_compaction() {
            let live = self.services.iter_mut().flatten().map(|s| &mut s.name);
            self.names.compact(live);
        }
        Ok(())
    }

    /// Deletes a view that has no members (it reappears with a new member).
    pub fn delete_view(&mut self, name: &str, out: &mut Vec<Event>) -> Result<(), EngineError> {
        let vid = self
            .find_view(name)
            .ok_or_else(|| EngineError::ViewNotFound(name.to_owned()))?;
        let members = self.view(vid).members.len();
        if members > 0 {
            return Err(EngineError::ViewHasMembers {
                view: name.to_owned(),
                members,
            });
        }
        let record = self.view_record(vid);
        self.view_counts[record.state.gauge() as usize] -= 1;
        self.views[vid as usize] = None;
        self.view_index.remove(name);
        self.free_views.push(vid);
        self.history.forget(crate::history::Kind::View, name);
        self.dirty = true;
        let name = record.name.clone();
        out.push(Event::ViewRemoved { view: record });
        self.policy_view_removed(&name, out);
        Ok(())
    }

    /// Expires every service whose deadline is at or before `now`.
    pub fn tick(&mut self, now: Millis, out: &mut Vec<Event>) {
        self.unwatched.prune(now);
        self.history.prune(now);
        self.cause = history::RECOVERED;
        while let Some((deadline, id)) = self.timers.pop_due(now) {
            let Some(s) = self.services.get_mut(id as usize).and_then(Option::as_mut) else {
                continue;
            };
            if s.scheduled != deadline {
                continue; // stale: superseded by an earlier deadline
            }
            s.scheduled = UNSCHEDULED;
            let previous = self.reevaluate(id, now, out);
            if self.svc(id).state != previous {
                out.push(Event::ServiceChanged {
                    service: self.service_record(id, false),
                    previous,
                });
            }
        }
        self.policy_tick(now, out);
    }

    /// Drops stale timer entries when they outnumber live ones.
    fn maybe_compact_timers(&mut self) {
        if self.timers.len() > 2 * self.live + 1024 {
            let live = self
                .services
                .iter()
                .enumerate()
                .filter_map(|(id, s)| s.as_ref().map(|s| (s.scheduled, id as u32)))
                .filter(|(d, _)| *d != UNSCHEDULED);
            self.timers.rebuild(live);
        }
    }
}
