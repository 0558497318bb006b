//! The "s3-upload" thread: after each save the saver's hook calls
//! [`UploadTrigger::saved`], which only puts a token in a bounded(1)
//! channel and never blocks (a token already waiting covers the new save
//! too). The thread then reads the database file and PUTs it. Saves are
//! atomic renames, so the file it opens is always one complete database,
//! the newest at that moment; a slow store delays only the next upload,
//! never a beat or a save. A failed upload is logged, counted
//! (`s3_upload_failures`) and tried again after the next save.

use super::{RemoteStore, S3Error, S3Settings};
use crate::counters::Counters;
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Called from the saver's after-save hook.
pub struct UploadTrigger {
    tx: Sender<()>,
}

impl UploadTrigger {
    /// A save finished: upload the file soon. Never blocks.
    pub fn saved(&self) {
        // Full: an upload is already due and will read this newer file.
        let _ = self.tx.try_send(());
    }
}

/// The running uploader; [`finish`](Uploader::finish) it at shutdown.
pub struct Uploader {
    done: Receiver<()>,
    thread: JoinHandle<()>,
    url: String,
}

/// Starts the "s3-upload" thread for `db_path`. It stops once every
/// [`UploadTrigger`] is dropped and the last requested upload is done.
pub fn spawn_uploader(
    settings: S3Settings,
    db_path: PathBuf,
    counters: Arc<Counters>,
) -> std::io::Result<(UploadTrigger, Uploader)> {
    let (tx, rx) = bounded(1);
    let (done_tx, done) = bounded(1);
    let url = settings.describe();
    let thread = std::thread::Builder::new()
        .name("s3-upload".into())
        .spawn(move || {
            run(&settings, &db_path, &counters, &rx);
            let _ = done_tx.send(());
        })?;
    Ok((UploadTrigger { tx }, Uploader { done, thread, url }))
}

impl Uploader {
    /// Waits, at most `wait`, for the upload of the final save (call after
    /// the saver thread was joined, so its trigger is gone). Returns false,
    /// after logging an error, when the store did not answer in time.
    pub fn finish(self, wait: Duration) -> bool {
        match self.done.recv_timeout(wait) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                let _ = self.thread.join();
                true
            }
            Err(RecvTimeoutError::Timeout) => {
                log::error!(
                    "the last upload to {} did not finish within {} s; stopping without it",
                    self.url,
                    wait.as_secs()
                );
                false
            }
        }
    }
}

fn run(settings: &S3Settings, db_path: &Path, counters: &Counters, rx: &Receiver<()>) {
    let mut remote: Option<RemoteStore> = None;
    let mut failing = false;
    for () in rx.iter() {
        let start = Instant::now();
        match upload(settings, &mut remote, db_path) {
            Ok(bytes) => {
                Counters::add(&counters.s3_uploads, 1);
                let millis = start.elapsed().as_millis();
                if failing {
                    log::info!(
                        "uploaded {} to {} again ({bytes} bytes, {millis} ms)",
                        db_path.display(),
                        settings.describe()
                    );
                } else {
                    log::debug!(
                        "uploaded {} to {} ({bytes} bytes, {millis} ms)",
                        db_path.display(),
                        settings.describe()
                    );
                }
                failing = false;
            }
            Err(e) => {
                Counters::add(&counters.s3_upload_failures, 1);
                log::error!("S3 upload failed: {e}; trying again after the next save");
                if e.is_credentials_problem() {
                    // Look the credentials up again next time (a fixed
                    // credentials file, a renewed role).
                    remote = None;
                }
                failing = true;
            }
        }
    }
    log::debug!("s3-upload: no more saves, stopping");
}

fn upload(
    settings: &S3Settings,
    remote: &mut Option<RemoteStore>,
    db_path: &Path,
) -> Result<u64, S3Error> {
    let store = match remote {
        Some(store) => store,
        None => remote.insert(RemoteStore::connect(settings)?),
    };
    let bytes = std::fs::read(db_path).map_err(|error| S3Error::Local {
        action: "read the database to upload",
        path: db_path.to_path_buf(),
        error,
    })?;
    store.put(&bytes)?;
    Ok(bytes.len() as u64)
}
