//! The database file (SPEC 8): Lovebeat 1.x's gzip `SERV`/`ALARM` lines,
//! atomic saves (temp file, fsync, rename, fsync dir), corrupt files kept
//! aside, and the saver thread that writes snapshots off the state thread.
//!
//! - `format`: the bytes (encode / decode), both ways compatible with 1.x;
//!   `jobkeys` and `policykeys`: the keys after 1.x's (SPEC 14, SPEC 15)
//!   and the `MAINT` lines of maintenance windows.
//! - this file: errors, `write_atomic`.
//! - `startup`: the load that fails closed, corrupt files moved aside and
//!   the quarantine notices that keep `/status` unhealthy until
//!   acknowledged, leftover temporary files.
//! - `saver`: the "saver" thread and its jobs.
//! - `s3`: the S3 copy (download at start, upload after each save).

#[cfg(test)]
mod adaptive_tests;
mod format;
mod histlines;
#[cfg(test)]
mod histlines_tests;
mod jobkeys;
#[cfg(test)]
mod jobkeys_tests;
#[cfg(test)]
mod policy_tests;
mod policykeys;
pub mod s3;
mod saver;
mod startup;
#[cfg(test)]
mod startup_tests;
#[cfg(test)]
mod tests;

pub use format::{decode, encode, encode_with_history};
pub use jobkeys::KeyProblems;
pub use saver::{spawn_saver, AfterSave, SaveJob, SaveReport};
pub(crate) use startup::quarantine;
pub use startup::{
    load_or_quarantine, notices_path, open_database, read_notices, remove_leftover_temps,
    LoadOutcome, Notice, Quarantine,
};

use crate::engine::{LoadReport, SkipReason};
use crate::model::{ServiceRecord, ServiceSnapshot, ViewRecord};
use crate::policy::window::Window;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// What a database file holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Database {
    /// In the order of the file.
    pub services: Vec<ServiceRecord>,
    /// In the order of the file (`ALARM` and `VIEW` lines).
    pub views: Vec<ViewRecord>,
    /// Maintenance windows made through the API (`MAINT` lines, SPEC 15),
    /// in the order of the file.
    pub maintenance: Vec<Window>,
    /// Non-blank lines of kinds other than `SERV`, `ALARM`, `VIEW` and
    /// `MAINT`.
    pub skipped_lines: usize,
    /// Malformed job keys of `SERV` lines, skipped (the services loaded).
    pub job_key_problems: KeyProblems,
    /// Malformed alert policy keys (`muted_until`, `alerted_at`) skipped
    /// (their lines loaded) and `MAINT` lines skipped.
    pub policy_key_problems: KeyProblems,
    /// The history of state changes (`HIST` lines, SPEC 18), by subject.
    pub history: Vec<(crate::history::Kind, String, crate::history::Subject)>,
    /// `HIST` lines skipped (malformed).
    pub history_problems: KeyProblems,
}

/// Why the database could not be read or written.
#[derive(Debug)]
pub enum StoreError {
    /// A file operation failed.
    Io {
        /// What was being done ("create", "write", "rename", ...).
        action: &'static str,
        path: PathBuf,
        error: io::Error,
    },
    /// The contents are not a Lovebeat database. `line` is the 1-based line
    /// of the decompressed text, 0 when the problem is the file as a whole.
    Corrupt { line: usize, reason: String },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Io {
                action,
                path,
                error,
            } => {
                write!(f, "cannot {action} {}: {error}", path.display())?;
                match error.kind() {
                    io::ErrorKind::PermissionDenied => write!(
                        f,
                        " (check that the lovebeat user may read and write this file and its directory)"
                    ),
                    io::ErrorKind::NotFound => write!(
                        f,
                        " (check that the directory of [database] filename exists)"
                    ),
                    _ => Ok(()),
                }
            }
            StoreError::Corrupt { line: 0, reason } => {
                write!(f, "not a readable Lovebeat database: {reason}")
            }
            StoreError::Corrupt { line, reason } => {
                write!(f, "not a readable Lovebeat database: line {line}: {reason}")
            }
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Io { error, .. } => Some(error),
            StoreError::Corrupt { .. } => None,
        }
    }
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |error| StoreError::Io {
        action,
        path: path.to_path_buf(),
        error,
    }
}

/// The directory holding `path` (`.` for a bare file name) and its file name.
fn split_path(path: &Path) -> Result<(PathBuf, &std::ffi::OsStr), StoreError> {
    let name = path.file_name().ok_or_else(|| StoreError::Io {
        action: "use",
        path: path.to_path_buf(),
        error: io::Error::new(
            io::ErrorKind::InvalidInput,
            "the database filename must name a file",
        ),
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((dir, name))
}

/// `<dir>/<name><suffix>`.
fn sibling(dir: &Path, name: &std::ffi::OsStr, suffix: &str) -> PathBuf {
    let mut file = name.to_os_string();
    file.push(suffix);
    dir.join(file)
}

/// Makes a rename in `dir` durable. Some filesystems cannot fsync a
/// directory; that is logged, not an error: the file itself is complete.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        log::warn!("cannot fsync directory {}: {e}", dir.display());
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Logs what `Engine::load` left out of the database: each invalid or
/// duplicate name on its own line (rare: an old or hand-edited file), the
/// services over `[limits] max_services` in one line (there may be many).
pub fn log_load_report(report: &LoadReport) {
    let mut over = Vec::new();
    for skipped in &report.skipped {
        match skipped.reason {
            SkipReason::OverMaxServices { .. } => over.push(skipped),
            reason => log::warn!("database: skipping service {:?}: {reason}", skipped.name),
        }
    }
    if let Some(first) = over.first() {
        let names: Vec<&str> = over.iter().take(5).map(|s| s.name.as_str()).collect();
        let more = if over.len() > names.len() {
            ", ..."
        } else {
            ""
        };
        log::error!(
            "database: {} services not loaded ({}{more}): {}",
            over.len(),
            names.join(", "),
            first.reason
        );
    }
    for bad in &report.bad_schedules {
        log::warn!("database: service {:?}: {}", bad.name, bad.why);
    }
}

/// Writes atomically: `<filename>.tmp-<pid>` in the same directory, write,
/// fsync the file, rename over `path`, fsync the directory. Returns bytes
/// written. A crash at any moment leaves the old file or the new one; on an
/// error the temporary file is removed and `path` is untouched.
pub fn write_atomic(
    path: &Path,
    services: &ServiceSnapshot,
    views: &[ViewRecord],
    maintenance: &[Window],
) -> Result<u64, StoreError> {
    write_atomic_with_history(path, services, views, maintenance, &[])
}

/// `write_atomic` with the history's `HIST` lines (SPEC 18).
pub fn write_atomic_with_history(
    path: &Path,
    services: &ServiceSnapshot,
    views: &[ViewRecord],
    maintenance: &[Window],
    history: &[crate::history::Saved],
) -> Result<u64, StoreError> {
    replace_file(path, ".tmp-", |file| {
        encode_with_history(services, views, maintenance, history, file)
    })
}

/// Logs the `HIST` lines skipped (one line, the first few named).
pub fn log_history_problems(problems: &KeyProblems) {
    if problems.count > 0 {
        log::warn!(
            "database: {} malformed HIST lines skipped (those histories start afresh): {}",
            problems.count,
            problems.samples.join("; ")
        );
    }
}

/// Logs what was skipped of the alert policy's part of the database (one
/// line, the first few problems named).
pub fn log_policy_problems(problems: &KeyProblems) {
    if problems.count > 0 {
        log::warn!(
            "database: {} malformed alert policy keys or MAINT lines skipped (the rest loaded): {}",
            problems.count,
            problems.samples.join("; ")
        );
    }
}

/// Replaces `path` with what `fill` writes, atomically: a temporary file
/// `<name><temp_tag><pid>` in the same directory (the tags are the ones
/// `startup` cleans up after a crash), fsync, rename over `path`, fsync the
/// directory. Returns the bytes written. On an error the temporary file is
/// removed and `path` is untouched.
pub(crate) fn replace_file(
    path: &Path,
    temp_tag: &str,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<u64, StoreError> {
    let (dir, name) = split_path(path)?;
    let tmp = sibling(&dir, name, &format!("{temp_tag}{}", std::process::id()));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(io_err("create temporary file", &tmp))?;
        fill(&mut file).map_err(io_err("write", &tmp))?;
        file.sync_all().map_err(io_err("fsync", &tmp))?;
        let bytes = file.metadata().map_err(io_err("stat", &tmp))?.len();
        drop(file);
        fs::rename(&tmp, path).map_err(|error| StoreError::Io {
            action: "rename temporary file over",
            path: path.to_path_buf(),
            error,
        })?;
        Ok(bytes)
    })();
    if result.is_err() {
        // Best effort: the error being reported is the one that matters.
        let _ = fs::remove_file(&tmp);
    } else {
        sync_dir(&dir);
    }
    result
}
