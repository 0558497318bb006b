//! The state thread: the one owner of the engine (all services and views).
//! Everything else talks to it through `StateHandle`, which sends `Command`s
//! over a bounded crossbeam channel; replies come back on one-shot channels.
//! The thread sleeps until the next command or the engine's next deadline.

use crate::clock::now_ms;
use crate::engine::pattern::ViewTemplate;
use crate::engine::ViewsReloaded;
use crate::events::{Interest, Limit, Losses, Subscriber, Subscription};
use crate::jobs::{JobEvent, SettingsChange, Signal};
use crate::model::{Batch, Millis, ServiceRecord, StatusSummary, Update, ViewRecord};
use crate::store::Quarantine;
use crossbeam_channel::{bounded, unbounded, Sender, TrySendError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long an API caller waits for the state thread before giving up.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// Commands waiting for the state thread, at most.
pub const COMMAND_QUEUE: usize = 4096;
/// How often a TCP reader waiting for room in the statsd backlog looks again.
const BACKLOG_RETRY: Duration = Duration::from_millis(1);

type Reply<T> = Sender<Result<T, StateError>>;

/// A request to the state thread.
pub enum Command {
    /// statsd lines, fire and forget (counted in the backlog until dropped).
    Ingest(Ingest),
    Update {
        name: String,
        update: Update,
        reply: Reply<()>,
    },
    /// Job settings and/or a run signal (SPEC 14), applied together: all
    /// or nothing. Creates the service when new.
    Job {
        name: String,
        change: SettingsChange,
        signal: Option<Signal>,
        reply: Reply<()>,
    },
    /// A run signal from a peer's route (SPEC 17): applied to a service
    /// that exists or that a `[[services]]` block names exactly, or creates
    /// it when `create`; answers whether it was known so (`None`: it was
    /// not, and nothing was done). One command, so a
    /// delete cannot come between the look-up and the signal.
    PeerSignal {
        name: String,
        signal: Signal,
        create: bool,
        reply: Reply<Option<bool>>,
    },
    /// The events a service keeps, oldest first, and the engine's `now`.
    Events {
        name: String,
        reply: Reply<(Vec<JobEvent>, Millis)>,
    },
    /// An update of a service the sender knew to exist (see `known`), fire
    /// and forget: it cannot be refused. Dropped if the service is gone (a
    /// delete raced it: the update counts as done just before the delete).
    UpdateKnown {
        name: String,
        update: Update,
    },
    /// Updates were parked while the thread waited (see `parked`).
    Wake,
    Mute {
        name: String,
        muted: bool,
        reply: Reply<()>,
    },
    /// Timed mutes, view mutes, maintenance windows (SPEC 15).
    Policy(policy::PolicyCommand),
    DeleteService {
        name: String,
        reply: Reply<()>,
    },
    DeleteView {
        name: String,
        reply: Reply<()>,
    },
    GetService {
        name: String,
        details: bool,
        reply: Reply<ServiceRecord>,
    },
    /// The history of a service or a view (SPEC 18); the window defaults
    /// to the 30 days before the state thread's `now`.
    History {
        kind: crate::history::Kind,
        name: String,
        since: Option<Millis>,
        until: Option<Millis>,
        reply: Reply<crate::history::HistoryReply>,
    },
    ListServices {
        view: Option<String>,
        reply: Reply<Vec<ServiceRecord>>,
    },
    ListViews {
        reply: Reply<Vec<ViewRecord>>,
    },
    GetView {
        name: String,
        reply: Reply<(ViewRecord, Vec<ServiceRecord>)>,
    },
    Status {
        view: Option<String>,
        reply: Reply<StatusSummary>,
    },
    /// Services and views per state (O(1)).
    Stats {
        reply: Reply<Stats>,
    },
    Subscribe(Subscriber),
    /// Save now (and reply when the file is written).
    Save {
        reply: Reply<()>,
    },
    /// A configuration reload (SIGHUP): new view templates (`None`:
    /// unchanged) and `max_services` (see `Engine::set_templates`), and new
    /// `[[services]]` blocks and event limits (`None`: unchanged; see
    /// `Engine::set_job_config`), and new alert policy settings (`None`:
    /// unchanged; applied after the templates, whose order they follow).
    Reload {
        templates: Option<Vec<ViewTemplate>>,
        max_services: usize,
        jobs: Option<crate::engine::JobConfig>,
        policy: Option<crate::policy::PolicySettings>,
        reply: Reply<ViewsReloaded>,
    },
    /// Save and stop the thread.
    Shutdown,
}

/// Services and views per state, indexed by `State::gauge()`
/// (new, ok, error, muted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub services: [usize; 4],
    pub views: [usize; 4],
    /// Bytes of event bodies held, all services together (SPEC 14.3).
    pub event_body_bytes: usize,
    /// Event bodies dropped to stay within `[limits] event_body_memory`.
    pub event_bodies_dropped: u64,
    /// Bytes of state-change history held (SPEC 18).
    pub history_bytes: usize,
    /// State changes dropped to stay within `[limits] history_days` and
    /// `history_memory`, all services and views, since start.
    pub history_dropped: u64,
}

/// A cheap, clonable handle to the state thread.
#[derive(Clone)]
pub struct StateHandle {
    tx: Sender<Command>,
    /// Set by `shutdown`; seen by the state thread even when the command
    /// queue is full.
    stop: Arc<AtomicBool>,
    /// statsd updates queued (bounded by `INGEST_BACKLOG`).
    backlog: Backlog,
    /// Databases moved aside at start and not yet acknowledged: while there
    /// are any, every status is `good false`.
    quarantine: Quarantine,
    /// Services known to exist: their updates need no answer.
    known: Arc<known::Known>,
    /// Updates of known services waiting for the state thread.
    parked: Arc<parked::Parked>,
}

impl StateHandle {
    pub fn new(tx: Sender<Command>) -> Self {
        StateHandle {
            tx,
            stop: Arc::default(),
            backlog: Backlog::default(),
            quarantine: Quarantine::default(),
            known: Arc::default(),
            parked: Arc::default(),
        }
    }

    /// The same handle, reporting these unacknowledged quarantines.
    pub fn with_quarantine(mut self, quarantine: Quarantine) -> Self {
        self.quarantine = quarantine;
        self
    }

    /// The unacknowledged quarantines (`/status`, `DELETE /api/quarantine`).
    pub fn quarantine(&self) -> &Quarantine {
        &self.quarantine
    }

    /// Where updates of known services are parked, for the state thread
    /// (`StateOptions::parked`).
    pub fn parked(&self) -> Arc<parked::Parked> {
        Arc::clone(&self.parked)
    }

    /// The flag `shutdown` sets, for the state thread to watch.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stop)
    }

    /// Hands a statsd batch over without waiting. Returns false when the
    /// queue or the statsd backlog is full, or the thread is gone (the
    /// batch is dropped).
    pub fn ingest(&self, batch: Batch) -> bool {
        let Ok(ingest) = self.backlog.admit(batch) else {
            return false;
        };
        match self.tx.try_send(Command::Ingest(ingest)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => false,
        }
    }

    /// Hands a statsd batch over, waiting up to `timeout` for room in the
    /// backlog and the queue (a TCP connection can hold its own client back
    /// instead of dropping its lines). Returns false when it was dropped.
    pub fn ingest_waiting(&self, batch: Batch, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut batch = batch;
        let ingest = loop {
            match self.backlog.admit(batch) {
                Ok(ingest) => break ingest,
                Err(refused) if Instant::now() < deadline => {
                    batch = refused;
                    std::thread::sleep(BACKLOG_RETRY);
                }
                Err(_) => return false,
            }
        };
        self.tx
            .send_deadline(Command::Ingest(ingest), deadline)
            .is_ok()
    }

    fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, StateError> {
        let (reply, rx) = bounded(1);
        self.tx
            .send_timeout(make(reply), REPLY_TIMEOUT)
            .map_err(|_| StateError::Unavailable)?;
        rx.recv_timeout(REPLY_TIMEOUT)
            .map_err(|_| StateError::Unavailable)?
    }

    /// Beat and/or set the timeout; creates the service when new.
    ///
    /// An update of a service known to exist cannot be refused, so it is
    /// queued without waiting for the state thread's answer (a round trip
    /// of thread switches that was a third of an HTTP beat's cost). Queued
    /// before `shutdown` is seen, it is applied before the final save; if
    /// the stop flag is up once it is queued, it may come too late, and the
    /// caller is told so (a repeated beat is harmless).
    pub fn update(&self, name: &str, update: Update) -> Result<(), StateError> {
        if self.known.contains(name) {
            let (name, update) = match self.parked.park(name.to_owned(), update, now_ms()) {
                parked::Parking::Refused(name, update) => (name, update),
                parking => {
                    if let parked::Parking::Wake = parking {
                        // Full: the thread is busy and will look anyway.
                        if let Err(TrySendError::Disconnected(_)) = self.tx.try_send(Command::Wake)
                        {
                            return Err(StateError::Unavailable);
                        }
                    }
                    if self.stop.load(Ordering::SeqCst) {
                        return Err(StateError::Unavailable);
                    }
                    return Ok(());
                }
            };
            let command = Command::UpdateKnown { name, update };
            match self.tx.try_send(command) {
                Ok(()) if self.stop.load(Ordering::SeqCst) => return Err(StateError::Unavailable),
                Ok(()) => return Ok(()),
                Err(TrySendError::Disconnected(_)) => return Err(StateError::Unavailable),
                Err(TrySendError::Full(_)) => {} // wait for room, as any caller
            }
        }
        let epoch = self.known.epoch();
        self.ask(|reply| Command::Update {
            name: name.to_owned(),
            update,
            reply,
        })?;
        self.known.insert(name, epoch);
        Ok(())
    }

    /// Changes job settings and/or applies a run signal (SPEC 14); creates
    /// the service when new. A bad setting changes nothing.
    pub fn job(
        &self,
        name: &str,
        change: SettingsChange,
        signal: Option<Signal>,
    ) -> Result<(), StateError> {
        self.ask(|reply| Command::Job {
            name: name.to_owned(),
            change,
            signal,
            reply,
        })
    }

    /// A peer's run signal (SPEC 17): `Some(existed)` once applied, `None`
    /// when the service does not exist and `create` is false.
    pub fn peer_signal(
        &self,
        name: &str,
        signal: Signal,
        create: bool,
    ) -> Result<Option<bool>, StateError> {
        self.ask(|reply| Command::PeerSignal {
            name: name.to_owned(),
            signal,
            create,
            reply,
        })
    }

    /// The events `name` keeps, oldest first, and the time of the answer.
    pub fn events(&self, name: &str) -> Result<(Vec<JobEvent>, Millis), StateError> {
        self.ask(|reply| Command::Events {
            name: name.to_owned(),
            reply,
        })
    }

    pub fn mute(&self, name: &str, muted: bool) -> Result<(), StateError> {
        self.ask(|reply| Command::Mute {
            name: name.to_owned(),
            muted,
            reply,
        })
    }

    pub fn delete_service(&self, name: &str) -> Result<(), StateError> {
        // Before the delete is queued. An update that still found the name
        // known came in before this delete; queued after it, it is dropped
        // by the state thread (as if done just before the delete).
        self.known.forget_all();
        self.ask(|reply| Command::DeleteService {
            name: name.to_owned(),
            reply,
        })
    }

    pub fn delete_view(&self, name: &str) -> Result<(), StateError> {
        self.ask(|reply| Command::DeleteView {
            name: name.to_owned(),
            reply,
        })
    }

    /// One service; `details` fills `beat_history`.
    pub fn service(&self, name: &str, details: bool) -> Result<ServiceRecord, StateError> {
        self.ask(|reply| Command::GetService {
            name: name.to_owned(),
            details,
            reply,
        })
    }

    /// The state changes of service `name` over `since..=until` (default:
    /// the 30 days before now) and its uptime (SPEC 18).
    pub fn service_history(
        &self,
        name: &str,
        since: Option<Millis>,
        until: Option<Millis>,
    ) -> Result<crate::history::HistoryReply, StateError> {
        self.history(crate::history::Kind::Service, name, since, until)
    }

    /// The state changes of view `name`, as `service_history`.
    pub fn view_history(
        &self,
        name: &str,
        since: Option<Millis>,
        until: Option<Millis>,
    ) -> Result<crate::history::HistoryReply, StateError> {
        self.history(crate::history::Kind::View, name, since, until)
    }

    fn history(
        &self,
        kind: crate::history::Kind,
        name: &str,
        since: Option<Millis>,
        until: Option<Millis>,
    ) -> Result<crate::history::HistoryReply, StateError> {
        self.ask(|reply| Command::History {
            kind,
            name: name.to_owned(),
            since,
            until,
            reply,
        })
    }

    /// All services, or the members of one view (ViewNotFound if unknown).
    pub fn services(&self, view: Option<&str>) -> Result<Vec<ServiceRecord>, StateError> {
        self.ask(|reply| Command::ListServices {
            view: view.map(str::to_owned),
            reply,
        })
    }

    pub fn views(&self) -> Result<Vec<ViewRecord>, StateError> {
        self.ask(|reply| Command::ListViews { reply })
    }

    /// One view and its member services.
    pub fn view(&self, name: &str) -> Result<(ViewRecord, Vec<ServiceRecord>), StateError> {
        self.ask(|reply| Command::GetView {
            name: name.to_owned(),
            reply,
        })
    }

    /// The health summary, of everything or of one view.
    pub fn status(&self, view: Option<&str>) -> Result<StatusSummary, StateError> {
        self.ask(|reply| Command::Status {
            view: view.map(str::to_owned),
            reply,
        })
    }

    pub fn stats(&self) -> Result<Stats, StateError> {
        self.ask(|reply| Command::Stats { reply })
    }

    pub fn subscribe(&self, subscriber: Subscriber) -> Result<(), StateError> {
        self.tx
            .send_timeout(Command::Subscribe(subscriber), REPLY_TIMEOUT)
            .map_err(|_| StateError::Unavailable)
    }

    /// Subscribes a new bounded queue of `capacity` events: its receiving
    /// end and what it lost because it was full.
    pub fn subscribe_events(
        &self,
        interest: Interest,
        capacity: usize,
    ) -> Result<Subscription, StateError> {
        let (tx, rx) = bounded(capacity);
        let losses = Arc::new(Losses::default());
        self.subscribe(Subscriber::new(tx, interest, Arc::clone(&losses)))?;
        Ok(Subscription::new(rx, losses))
    }

    /// Subscribes a queue bounded by `limit` (which follows the size of the
    /// state, see `events::Limit`): its receiving end and what it lost
    /// because it was full.
    pub fn subscribe_limited(
        &self,
        interest: Interest,
        limit: Limit,
    ) -> Result<Subscription, StateError> {
        let (tx, rx) = unbounded();
        let losses = Arc::new(Losses::default());
        self.subscribe(Subscriber {
            limit,
            ..Subscriber::new(tx, interest, Arc::clone(&losses))
        })?;
        Ok(Subscription::new(rx, losses))
    }

    /// Applies new view templates (when `Some`), `max_services`, new
    /// job settings and new alert policy settings (each when `Some`) (a
    /// reload), in one command so no tick sees templates and policy
    /// settings that do not match; replies with what happened to the views.
    pub fn reload(
        &self,
        templates: Option<Vec<ViewTemplate>>,
        max_services: usize,
        jobs: Option<crate::engine::JobConfig>,
        policy: Option<crate::policy::PolicySettings>,
    ) -> Result<ViewsReloaded, StateError> {
        self.ask(|reply| Command::Reload {
            templates,
            max_services,
            jobs,
            policy,
            reply,
        })
    }

    pub fn save(&self) -> Result<(), StateError> {
        self.ask(|reply| Command::Save { reply })
    }

    /// Asks the state thread to save and stop. Never waits: with a full
    /// queue the thread sees the flag after the command at hand.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.tx.try_send(Command::Shutdown);
    }
}

mod backlog;
mod error;
mod known;
mod parked;
mod policy;
mod refusals;
mod save_policy;
mod thread;
mod watch;

pub use backlog::{Backlog, Ingest, INGEST_BACKLOG};
pub use error::StateError;
pub use policy::PolicyCommand;
pub use thread::{spawn, StateOptions};

#[cfg(test)]
mod tests;
