//! The database at start-up, failing closed (issue 13 §4):
//!
//! - `load_or_quarantine`: a file that cannot be *read* (permission, a
//!   directory in its place, EIO) is an error that stops start-up; a file
//!   that reads but does not *decode* is moved aside to
//!   `<filename>.corrupt-<ts>` and the server starts empty, unhealthy.
//! - the quarantine notices: every move aside is recorded in the sidecar
//!   file `<filename>.quarantine` (JSON lines) before the server starts, so
//!   the alarm survives restarts; `/status` is `good false` and names the
//!   moved file until an operator acknowledges (`DELETE /api/quarantine`),
//!   which removes the sidecar. `Quarantine` is the shared, in-memory copy.
//! - `remove_leftover_temps`: temporary files a crashed save left behind.
//!
//! Why a sidecar and not a line kind of our own in the database: the notice
//! must be durable before anything else happens (a crash right after the
//! move aside must not forget it), it must not depend on the next save, it
//! must survive the database being replaced by the S3 copy or a roll-back to
//! Lovebeat 1.x, and an operator sees it with `ls`.

use super::{decode, io_err, replace_file, sibling, split_path, sync_dir, Database, StoreError};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// The result of the start-up load (an I/O error is an `Err` instead).
#[derive(Debug)]
pub enum LoadOutcome {
    /// No database file yet: start empty.
    Missing,
    Loaded(Database),
    /// The file read but did not decode; it was moved to `moved_to` (bytes
    /// intact) and the server starts empty.
    Quarantined {
        moved_to: PathBuf,
        reason: String,
    },
}

impl LoadOutcome {
    /// The loaded database, or an empty one.
    pub fn into_database(self) -> Database {
        match self {
            LoadOutcome::Loaded(db) => db,
            _ => Database::default(),
        }
    }
}

/// Start-up load: a missing file is an empty database (`Missing`). A file
/// that cannot be read is `Err` naming the file and the error: start-up
/// must stop, since starting empty would report `good true` while every
/// service is forgotten. A file that reads but does not decode is renamed
/// to `<filename>.corrupt-<now_ms>` (or `...-<now_ms>.<n>` if that exists)
/// and logged; failing that rename is an `Err` too (the next save would
/// overwrite it).
pub fn load_or_quarantine(path: &Path, now_ms: i64) -> Result<LoadOutcome, StoreError> {
    load_with(path, now_ms, |p| fs::read(p))
}

/// `load_or_quarantine` with the read given, so that errors a test running
/// as root cannot provoke (EACCES, EIO) are tested too.
pub(super) fn load_with(
    path: &Path,
    now_ms: i64,
    read: impl FnOnce(&Path) -> io::Result<Vec<u8>>,
) -> Result<LoadOutcome, StoreError> {
    let bytes = match read(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(LoadOutcome::Missing),
        Err(e) => return Err(io_err("read the database", path)(e)),
        Ok(bytes) => bytes,
    };
    let reason = match decode(&bytes[..]) {
        Ok(db) => return Ok(LoadOutcome::Loaded(db)),
        Err(e) => e.to_string(),
    };
    let moved_to = quarantine(path, now_ms)?;
    log::error!(
        "database {} is unreadable ({reason}); moved it to {} and starting with an empty \
         database; /status reports good false until this is acknowledged (DELETE /api/quarantine)",
        path.display(),
        moved_to.display()
    );
    Ok(LoadOutcome::Quarantined { moved_to, reason })
}

/// The start-up load with its quarantine made durable: the database (empty
/// when missing or moved aside) and the unacknowledged notices, including
/// one for a file moved aside now. If that notice cannot be recorded, the
/// file is moved back (best effort) so that the next start cannot come up
/// empty and healthy, and start-up stops.
pub fn open_database(path: &Path, now_ms: i64) -> Result<(Database, Quarantine), StoreError> {
    let outcome = load_or_quarantine(path, now_ms)?;
    let notice = match &outcome {
        LoadOutcome::Quarantined { moved_to, reason } => Some(Notice {
            moved_to: moved_to.clone(),
            reason: reason.clone(),
            at: now_ms,
        }),
        _ => None,
    };
    match Quarantine::open(path, notice) {
        Ok(quarantine) => Ok((outcome.into_database(), quarantine)),
        Err(error) => {
            if let LoadOutcome::Quarantined { moved_to, .. } = &outcome {
                if let Err(e) = fs::rename(moved_to, path) {
                    log::error!(
                        "cannot move {} back to {}: {e}",
                        moved_to.display(),
                        path.display()
                    );
                }
            }
            Err(error)
        }
    }
}

/// Renames `path` to a `.corrupt-<ts>` name that does not exist yet.
pub(crate) fn quarantine(path: &Path, now_ms: i64) -> Result<PathBuf, StoreError> {
    let (dir, name) = split_path(path)?;
    let base = format!(".corrupt-{now_ms}");
    let free = (0..1000u32)
        .map(|n| match n {
            0 => sibling(&dir, name, &base),
            n => sibling(&dir, name, &format!("{base}.{n}")),
        })
        .find(|p| fs::symlink_metadata(p).is_err())
        .ok_or_else(|| StoreError::Io {
            action: "find a free .corrupt name for",
            path: path.to_path_buf(),
            error: io::Error::new(io::ErrorKind::AlreadyExists, "1000 names already taken"),
        })?;
    fs::rename(path, &free).map_err(io_err("move aside the unreadable database", path))?;
    sync_dir(&dir);
    Ok(free)
}

/// One database moved aside and not yet acknowledged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Where the unreadable file now is.
    pub moved_to: PathBuf,
    /// Why it could not be loaded.
    pub reason: String,
    /// When it was moved (ms since the epoch).
    pub at: i64,
}

/// `<filename>.quarantine`, the sidecar holding the notices.
pub fn notices_path(db_path: &Path) -> Result<PathBuf, StoreError> {
    let (dir, name) = split_path(db_path)?;
    Ok(sibling(&dir, name, ".quarantine"))
}

/// The notices recorded next to `db_path` (none when there is no sidecar).
/// A sidecar that cannot be read is an error (start-up stops); one whose
/// lines do not parse still means "unhealthy": each such line becomes a
/// notice naming the sidecar.
pub fn read_notices(db_path: &Path) -> Result<Vec<Notice>, StoreError> {
    let path = notices_path(db_path)?;
    let text = match fs::read(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("read", &path)(e)),
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
    };
    Ok(text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| Notice {
                moved_to: path.clone(),
                reason: format!("unreadable quarantine notice ({e}): {line}"),
                at: 0,
            })
        })
        .collect())
}

/// Writes `notices` to the sidecar atomically (or removes it when empty).
fn write_notices(db_path: &Path, notices: &[Notice]) -> Result<(), StoreError> {
    let path = notices_path(db_path)?;
    let (dir, _) = split_path(&path)?;
    if notices.is_empty() {
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(io_err("remove", &path)(e))
            }
            _ => {}
        }
        sync_dir(&dir);
        return Ok(());
    }
    let mut text = String::new();
    for notice in notices {
        // A struct of strings and an integer always serializes.
        text.push_str(&serde_json::to_string(notice).unwrap_or_default());
        text.push('\n');
    }
    replace_file(&path, ".tmp-", |file| file.write_all(text.as_bytes()))?;
    Ok(())
}

/// The unacknowledged quarantines, shared by the HTTP handlers: read at
/// start, cleared by an operator. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Quarantine {
    inner: Arc<Mutex<QuarantineInner>>,
}

#[derive(Debug, Default)]
struct QuarantineInner {
    /// The database path (for the sidecar); `None` in tests without one.
    db_path: Option<PathBuf>,
    notices: Vec<Notice>,
}

impl Quarantine {
    /// Records `new` (if any) in the sidecar of `db_path`, then holds every
    /// notice the sidecar has. An error means the alarm could not be made
    /// durable: start-up stops.
    pub fn open(db_path: &Path, new: Option<Notice>) -> Result<Quarantine, StoreError> {
        let mut notices = read_notices(db_path)?;
        if let Some(notice) = new {
            notices.push(notice);
            write_notices(db_path, &notices)?;
        }
        for notice in &notices {
            log::error!(
                "unacknowledged: database moved aside to {} ({}); /status reports good false \
                 until DELETE /api/quarantine",
                notice.moved_to.display(),
                notice.reason
            );
        }
        Ok(Quarantine {
            inner: Arc::new(Mutex::new(QuarantineInner {
                db_path: Some(db_path.to_path_buf()),
                notices,
            })),
        })
    }

    /// The unacknowledged notices (usually none).
    pub fn notices(&self) -> Vec<Notice> {
        self.lock().notices.clone()
    }

    /// The operator has seen them: removes the sidecar and forgets them.
    /// Returns how many were acknowledged.
    pub fn acknowledge(&self) -> Result<Vec<Notice>, StoreError> {
        let mut inner = self.lock();
        if let Some(db_path) = &inner.db_path {
            write_notices(db_path, &[])?;
        }
        let acknowledged = std::mem::take(&mut inner.notices);
        for notice in &acknowledged {
            log::warn!(
                "quarantine of {} acknowledged by an operator",
                notice.moved_to.display()
            );
        }
        Ok(acknowledged)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QuarantineInner> {
        // The data is a plain list: usable whatever a panicking holder did.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The suffixes of our temporary files next to the database, each followed
/// by a process id: the saver's and the sidecar's `.tmp-<pid>`, the S3
/// download's `.s3-<pid>`.
const TEMP_SUFFIXES: [&str; 3] = [".tmp-", ".quarantine.tmp-", ".s3-"];

/// True when `file` is `<name><suffix><pid>` for one of our suffixes.
/// Returns the pid.
pub(super) fn temp_pid(name: &str, file: &str) -> Option<u32> {
    let rest = file.strip_prefix(name)?;
    TEMP_SUFFIXES.iter().find_map(|suffix| {
        let digits = rest.strip_prefix(suffix)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    })
}

/// Removes the temporary files a crashed save (or download) left next to
/// the database: regular files named exactly like ours, of a process that
/// is gone (on Linux, `/proc/<pid>`; our own pid counts as gone, we have not
/// saved yet). Returns how many were removed; failures are logged.
pub fn remove_leftover_temps(db_path: &Path) -> usize {
    let Ok((dir, name)) = split_path(db_path) else {
        return 0;
    };
    let name = name.to_string_lossy();
    let Ok(entries) = fs::read_dir(&dir) else {
        return 0; // the load reports a missing or unreadable directory
    };
    let mut removed = 0;
    for entry in entries.filter_map(Result::ok) {
        let file = entry.file_name();
        let Some(pid) = temp_pid(&name, &file.to_string_lossy()) else {
            continue;
        };
        if pid != std::process::id() && process_alive(pid) {
            log::warn!(
                "leaving {}: process {pid} may still be writing it",
                entry.path().display()
            );
            continue;
        }
        let path = entry.path();
        if !fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
            continue;
        }
        match fs::remove_file(&path) {
            Ok(()) => {
                log::warn!("removed {} left by an interrupted save", path.display());
                removed += 1;
            }
            Err(e) => log::error!("cannot remove leftover {}: {e}", path.display()),
        }
    }
    if removed > 0 {
        sync_dir(&dir);
    }
    removed
}

fn process_alive(pid: u32) -> bool {
    #[cfg(target_os = "linux")]
    return Path::new(&format!("/proc/{pid}")).exists();
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        false
    }
}
