//! The state thread's saves: a snapshot taken a chunk at a time between
//! commands and handed to the saver (`advance_save`, `hand_over`), the
//! saver's answer fed back to the policy, and the synchronous save on
//! request and at shutdown (`save_now`, `stop_now`, `final_save`).

use super::{SaveOutcome, Snapshot, StateThread, SNAPSHOT_CHUNK};
use crate::counters::Counters;
use crate::model::ServiceSnapshot;
use crate::state::save_policy::{Due, SAVE_RETRY_DELAY};
use crate::state::Command;
use crate::store::SaveJob;
use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use std::time::{Duration, Instant};

/// How long the final save at shutdown may take before we give up waiting.
const FINAL_SAVE_TIMEOUT: Duration = Duration::from_secs(60);

impl StateThread {
    /// Starts a snapshot when a save is due, or takes its next step.
    pub(super) fn advance_save(&mut self) {
        let now = Instant::now();
        if self.snapshot.is_none() {
            match self.policy.due(now) {
                Due::No => return,
                Due::IfChanged if !self.engine.take_changed() => {
                    self.policy.skipped(now); // nothing new since the last save
                    return;
                }
                Due::IfChanged | Due::Save => {}
            }
            self.engine.take_changed();
            self.policy.started(now);
            self.snapshot = Some(Snapshot {
                cursor: 0,
                services: ServiceSnapshot::with_capacity(self.engine.len()),
            });
        }
        let Some(snapshot) = self.snapshot.as_mut() else {
            return;
        };
        let done = self.engine.snapshot_for_save(
            &mut snapshot.cursor,
            SNAPSHOT_CHUNK,
            &mut snapshot.services,
        );
        if !done {
            return;
        }
        let Some(snapshot) = self.snapshot.take() else {
            return;
        };
        let (done, reply) = bounded(1);
        let job = SaveJob {
            services: snapshot.services,
            views: self.engine.views(),
            maintenance: self.engine.api_windows(),
            history: self.engine.history_snapshot(),
            done: Some(done),
        };
        match hand_over(&self.saver, self.saver_queue.as_ref(), job) {
            // The answer for an older save still being written no longer
            // matters: this newer one covers it.
            Ok(()) => self.pending_save = Some(reply),
            Err(TrySendError::Full(_)) => {
                // Only without `saver_queue`: the saver is still busy with
                // earlier saves: try again soon.
                log::warn!("database saver is behind; this save is postponed");
                self.policy.postponed(now);
            }
            Err(TrySendError::Disconnected(_)) => {
                log::error!("database saver thread is gone; changes are not being saved");
                Counters::add(&self.counters.save_failures, 1);
            }
        }
    }

    /// The saver's answer for the last save handed over: a failure (disk
    /// full, a vanished directory) makes the policy plan another try.
    pub(super) fn save_finished(&mut self, outcome: SaveOutcome) {
        self.pending_save = None;
        if let Err(error) = &outcome {
            log::warn!(
                "the last database save failed ({error}); trying again within {} s",
                SAVE_RETRY_DELAY.as_secs()
            );
        }
        self.policy.finished(Instant::now(), outcome.is_ok());
    }

    /// A complete synchronous save (shutdown, or asked for explicitly).
    pub(super) fn save_now(&mut self) -> Result<(), String> {
        self.snapshot = None;
        let mut services = ServiceSnapshot::with_capacity(self.engine.len());
        let mut cursor = 0;
        while !self
            .engine
            .snapshot_for_save(&mut cursor, usize::MAX, &mut services)
        {}
        let (done, result) = bounded(1);
        let mut job = SaveJob {
            services,
            views: self.engine.views(),
            maintenance: self.engine.api_windows(),
            history: self.engine.history_snapshot(),
            done: Some(done),
        };
        if let Some(queue) = &self.saver_queue {
            job = supersede(queue, job);
        }
        self.saver
            .send_timeout(job, FINAL_SAVE_TIMEOUT)
            .map_err(|_| "the saver thread is not accepting work".to_string())?;
        // This save covers everything so far, an older one still pending too.
        self.policy.started(Instant::now());
        self.pending_save = None;
        let outcome = result
            .recv_timeout(FINAL_SAVE_TIMEOUT)
            .map_err(|_| "the saver thread did not answer".to_string())
            .and_then(|outcome| outcome.map(|_| ()));
        self.policy.finished(Instant::now(), outcome.is_ok());
        outcome
    }

    /// Applies the acknowledged updates still queued (`UpdateKnown`: their
    /// senders were answered before the stop flag was up, see
    /// `StateHandle::update`), drops the rest, and saves a last time.
    pub(super) fn stop_now(&mut self, commands: &Receiver<Command>) {
        self.take_parked();
        while let Ok(command) = commands.try_recv() {
            if let Command::UpdateKnown { .. } = command {
                self.handle(command);
            }
        }
        self.final_save();
    }

    pub(super) fn final_save(&mut self) {
        let started = Instant::now();
        match self.save_now() {
            Ok(()) => log::info!(
                "database saved on shutdown ({} services, {} ms)",
                self.engine.len(),
                started.elapsed().as_millis()
            ),
            Err(error) => {
                Counters::add(&self.counters.save_failures, 1);
                log::error!("database save on shutdown failed: {error}");
                self.final_save_error = Some(format!("database save on shutdown failed: {error}"));
            }
        }
    }
}

/// Takes back the jobs still waiting in the saver's queue: `job` is a newer
/// snapshot of everything they hold. A waiter of theirs moves to `job` when
/// it has none; else it is dropped (it can only be the state thread's own
/// reply for an older save, which it stops waiting for once `job` is
/// handed over).
fn supersede(queue: &Receiver<SaveJob>, mut job: SaveJob) -> SaveJob {
    while let Ok(stale) = queue.try_recv() {
        if job.done.is_none() {
            job.done = stale.done;
        }
    }
    job
}

/// Hands a snapshot to the saver without waiting. Snapshots the saver has
/// not picked up yet are replaced by this newer one, so that while the
/// saver is writing, the next thing it writes is always the newest state.
/// (Before, a queue full of older snapshots refused the newest one, and a
/// change in it waited for two more complete writes: under load, past the
/// 1 s promise of SPEC 8.) Only the state thread sends, so after taking the
/// queue back the `try_send` finds room.
pub(in crate::state) fn hand_over(
    saver: &Sender<SaveJob>,
    queue: Option<&Receiver<SaveJob>>,
    job: SaveJob,
) -> Result<(), TrySendError<()>> {
    let job = match queue {
        Some(queue) => supersede(queue, job),
        None => job,
    };
    // The refused job is dropped: the snapshot is taken again when retried.
    saver.try_send(job).map_err(|e| match e {
        TrySendError::Full(_) => TrySendError::Full(()),
        TrySendError::Disconnected(_) => TrySendError::Disconnected(()),
    })
}
