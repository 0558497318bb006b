//! The saver thread: receives snapshots from the state thread and writes
//! them with `write_atomic`, off the state thread's hot path. Keeps the save
//! counters, answers whoever waits for a save, and runs the after-save hook
//! (S3 upload, lovebeat-to-lovebeat notify).

use super::write_atomic_with_history;
use crate::counters::Counters;
use crate::model::{ServiceSnapshot, ViewRecord};
use crate::policy::window::Window;
use crossbeam_channel::{Receiver, Sender};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

/// A snapshot to write.
pub struct SaveJob {
    pub services: ServiceSnapshot,
    pub views: Vec<ViewRecord>,
    /// The maintenance windows made through the API (SPEC 15).
    pub maintenance: Vec<Window>,
    /// The history of state changes (SPEC 18), shared with the engine.
    pub history: Vec<crate::history::Saved>,
    /// Answered once the file is written (or the write failed). An `Err`
    /// holds a message for the user.
    pub done: Option<Sender<Result<SaveReport, String>>>,
}

/// What a successful save wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SaveReport {
    pub services: usize,
    pub views: usize,
    /// Size of the file.
    pub bytes: u64,
    /// Time to serialize, compress, write and fsync.
    pub millis: u64,
}

/// Called on the saver thread after each successful save, with the database
/// path. Runs after the `done` answers are sent, so a slow upload never
/// delays a waiter; a panic in it is caught and logged.
pub type AfterSave = Box<dyn FnMut(&Path, &SaveReport) + Send>;

/// Spawns the saver thread ("saver"): receives jobs until the channel
/// closes; for each, `write_atomic`, updates the counters (saves /
/// save_failures / last_save_ms), logs failures with `log::error!`, and
/// sends the result on `done` if given. When several jobs are queued only
/// the newest is written; every `done` sender still gets the answer of that
/// write (its data is covered by the newer snapshot). Join the handle after
/// dropping the job sender to be sure the last save and its hook finished.
pub fn spawn_saver(
    path: PathBuf,
    counters: Arc<Counters>,
    jobs: Receiver<SaveJob>,
    after_save: AfterSave,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("saver".into())
        .spawn(move || run(&path, &counters, &jobs, after_save))
}

fn run(path: &Path, counters: &Counters, jobs: &Receiver<SaveJob>, mut after_save: AfterSave) {
    let mut failing = Failing::default();
    while let Ok(mut job) = jobs.recv() {
        let mut waiters = Vec::new();
        while let Ok(newer) = jobs.try_recv() {
            waiters.extend(job.done.take());
            job = newer;
        }
        waiters.extend(job.done.take());

        let result = save(path, counters, &job);
        if let Some(line) = failing.note(&result) {
            log::warn!("{line}");
        }
        drop(job);
        for waiter in waiters {
            // A waiter that gave up is fine.
            let _ = waiter.send(result.clone());
        }
        if let Ok(report) = result {
            if catch_unwind(AssertUnwindSafe(|| after_save(path, &report))).is_err() {
                log::error!("the after-save hook panicked (the database itself was saved)");
            }
        }
    }
    log::debug!("saver: job channel closed, stopping");
}

/// Failed saves since the last good one, so that the first good one after
/// them says that saving works again (the failures were logged as errors).
#[derive(Debug, Default)]
pub(super) struct Failing {
    count: u64,
    first: Option<String>,
}

impl Failing {
    /// Notes a save's outcome; after failures, a success returns the line
    /// to log.
    pub(super) fn note(&mut self, result: &Result<SaveReport, String>) -> Option<String> {
        match result {
            Err(message) => {
                self.count += 1;
                self.first.get_or_insert_with(|| message.clone());
                None
            }
            Ok(_) if self.count == 0 => None,
            Ok(report) => {
                let line = format!(
                    "database save recovered: saved {} services after {} failed attempt(s) (the first: {})",
                    report.services,
                    self.count,
                    self.first.as_deref().unwrap_or("?")
                );
                *self = Failing::default();
                Some(line)
            }
        }
    }
}

fn save(path: &Path, counters: &Counters, job: &SaveJob) -> Result<SaveReport, String> {
    let (services, views) = (&job.services, &job.views);
    let start = Instant::now();
    match write_atomic_with_history(path, services, views, &job.maintenance, &job.history) {
        Ok(bytes) => {
            let millis = start.elapsed().as_millis().try_into().unwrap_or(u64::MAX);
            counters.saves.fetch_add(1, Relaxed);
            counters.last_save_ms.store(millis, Relaxed);
            log::debug!(
                "saved {} services and {} views to {} ({bytes} bytes, {millis} ms)",
                services.len(),
                views.len(),
                path.display()
            );
            Ok(SaveReport {
                services: services.len(),
                views: views.len(),
                bytes,
                millis,
            })
        }
        Err(e) => {
            counters.save_failures.fetch_add(1, Relaxed);
            let message = format!("database save failed: {e}");
            log::error!("{message}");
            Err(message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(services: usize) -> Result<SaveReport, String> {
        Ok(SaveReport {
            services,
            views: 0,
            bytes: 1,
            millis: 1,
        })
    }

    #[test]
    fn saver_a_success_after_failures_says_it_recovered_once() {
        let mut failing = Failing::default();
        assert_eq!(failing.note(&report(1)), None, "nothing to recover from");
        assert_eq!(failing.note(&Err("disk full".into())), None);
        assert_eq!(failing.note(&Err("still full".into())), None);
        let line = failing.note(&report(7)).unwrap_or_default();
        assert!(line.contains("recovered"), "{line}");
        assert!(line.contains("7 services"), "{line}");
        assert!(line.contains("2 failed"), "{line}");
        assert!(line.contains("disk full"), "{line}");
        assert_eq!(failing.note(&report(7)), None, "said once");
    }
}
