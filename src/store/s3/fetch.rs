//! The start-up download: GET the object on an "s3-fetch" thread, wait for
//! it at most [`FETCH_BUDGET`], and only then, on the calling thread, check
//! that it is a readable database and rename it over the local file. A
//! download that fails, is late or is not a database leaves the local file
//! untouched (a late one is dropped: its thread can no longer reach anyone).

use super::{Object, RemoteStore, S3Error, S3Settings};
use crate::store::{decode, quarantine, replace_file, StoreError};
use crossbeam_channel::{bounded, RecvTimeoutError};
use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// Longest start-up waits for the store before going on without it.
pub const FETCH_BUDGET: Duration = Duration::from_secs(10);

/// What the start-up download did (already logged).
#[derive(Debug)]
pub enum Fetched {
    /// The object was written over the local file.
    Replaced { bytes: u64 },
    /// There is no such object yet: the local file, if any, is used.
    Missing,
    /// The store could not be used: the local file, if any, is used.
    Failed(S3Error),
}

/// Downloads the object over `db_path`, waiting at most `budget`, and logs
/// the outcome (info on success, a warning for a missing object, an error
/// naming the URL otherwise).
pub fn fetch_at_start(settings: &S3Settings, db_path: &Path, budget: Duration) -> Fetched {
    let outcome = fetch(settings, db_path, budget);
    let url = settings.describe();
    let local = if db_path.exists() {
        format!("the local file {}", db_path.display())
    } else {
        "an empty database".to_string()
    };
    match &outcome {
        Fetched::Replaced { bytes } => {
            log::info!("downloaded {url} ({bytes} bytes) to {}", db_path.display())
        }
        Fetched::Missing => log::warn!("{url} does not exist yet; starting from {local}"),
        Fetched::Failed(e) => log::error!("S3 download failed: {e}; starting from {local}"),
    }
    outcome
}

fn fetch(settings: &S3Settings, db_path: &Path, budget: Duration) -> Fetched {
    let (tx, rx) = bounded(1);
    let thread_settings = settings.clone();
    let spawned = std::thread::Builder::new()
        .name("s3-fetch".into())
        .spawn(move || {
            let result = RemoteStore::connect(&thread_settings).and_then(|r| r.get());
            // Nobody listens any more when the budget ran out: dropped.
            let _ = tx.send(result);
        });
    if let Err(e) = spawned {
        return Fetched::Failed(S3Error::Unreachable {
            url: settings.describe(),
            detail: format!("cannot start the download thread: {e}"),
        });
    }
    match rx.recv_timeout(budget) {
        Ok(Ok(Object::Found(bytes))) => match install(settings, db_path, &bytes) {
            Ok(bytes) => Fetched::Replaced { bytes },
            Err(e) => Fetched::Failed(e),
        },
        Ok(Ok(Object::Missing)) => Fetched::Missing,
        Ok(Err(e)) => Fetched::Failed(e),
        Err(RecvTimeoutError::Timeout) => Fetched::Failed(S3Error::TimedOut {
            url: settings.describe(),
            after: budget,
        }),
        Err(RecvTimeoutError::Disconnected) => Fetched::Failed(S3Error::Unreachable {
            url: settings.describe(),
            detail: "the download thread failed".into(),
        }),
    }
}

/// Checks that `bytes` is a database, then writes it over `db_path`
/// atomically (temporary file, fsync, rename, fsync the directory).
fn install(settings: &S3Settings, db_path: &Path, bytes: &[u8]) -> Result<u64, S3Error> {
    decode(bytes).map_err(|e| S3Error::Corrupt {
        url: settings.describe(),
        reason: e.to_string(),
    })?;
    keep_unreadable_local(db_path);
    replace_file(db_path, ".s3-", |file| file.write_all(bytes)).map_err(|e| match e {
        StoreError::Io {
            action,
            path,
            error,
        } => S3Error::Local {
            action,
            path,
            error,
        },
        other => S3Error::Local {
            action: "write the download over",
            path: db_path.to_path_buf(),
            error: std::io::Error::other(other.to_string()),
        },
    })
}

/// The S3 copy is about to replace the local file: a local file that reads
/// but does not decode is moved aside first (`.corrupt-<ts>`, as the load
/// would), so its bytes are kept; the server is healthy, since the S3 copy
/// stands in for it. A local file that cannot be read at all is left for
/// the rename to fail on (and the load to report).
fn keep_unreadable_local(db_path: &Path) {
    let Ok(bytes) = fs::read(db_path) else {
        return;
    };
    let Err(e) = decode(&bytes[..]) else {
        return;
    };
    match quarantine(db_path, crate::clock::now_ms()) {
        Ok(moved_to) => log::warn!(
            "the local database {} is unreadable ({e}); moved it to {} and using the S3 copy",
            db_path.display(),
            moved_to.display()
        ),
        Err(q) => log::error!(
            "the local database {} is unreadable ({e}) and could not be moved aside ({q}); \
             the S3 copy replaces it",
            db_path.display()
        ),
    }
}
