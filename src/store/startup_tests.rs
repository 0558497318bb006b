//! Tests of the start-up load: read errors stop start-up, undecodable files
//! are moved aside with a durable notice, our leftover temporary files go.

use super::startup::{load_with, temp_pid};
use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "lovebeat-startup-{}-{n}-{test}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(&self.0)
            .expect("read dir")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn startup_a_directory_in_place_of_the_database_is_an_error() {
    let dir = TempDir::new("eisdir");
    let path = dir.path("lovebeat.db");
    fs::create_dir(&path).expect("mkdir");
    let error = load_or_quarantine(&path, 7).expect_err("a directory must not load");
    let text = error.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("directory"), "{text}");
    // Nothing moved aside.
    assert_eq!(dir.names(), ["lovebeat.db"]);
}

#[test]
fn startup_permission_and_eio_are_errors_naming_the_file() {
    let dir = TempDir::new("eacces");
    let path = dir.path("lovebeat.db");
    fs::write(&path, b"whatever").expect("write");
    for (error, expect) in [
        (io::Error::from(io::ErrorKind::PermissionDenied), "may read"),
        (io::Error::from_raw_os_error(5), "Input/output error"),
    ] {
        let result = load_with(&path, 7, |_| Err(error));
        let text = result.expect_err("must fail").to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains(expect), "{text}");
    }
    // The file is left alone.
    assert_eq!(dir.names(), ["lovebeat.db"]);
}

#[test]
fn startup_undecodable_file_is_moved_aside() {
    let dir = TempDir::new("corrupt");
    let path = dir.path("lovebeat.db");
    fs::write(&path, b"not gzip").expect("write");
    match load_or_quarantine(&path, 42) {
        Ok(LoadOutcome::Quarantined { moved_to, reason }) => {
            assert_eq!(moved_to, dir.path("lovebeat.db.corrupt-42"));
            assert!(reason.contains("gzip"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(dir.names(), ["lovebeat.db.corrupt-42"]);
}

#[test]
fn startup_notices_survive_a_restart_until_acknowledged() {
    let dir = TempDir::new("notices");
    let db = dir.path("lovebeat.db");
    let notice = Notice {
        moved_to: dir.path("lovebeat.db.corrupt-42"),
        reason: "not a gzip file".into(),
        at: 42,
    };
    let q = Quarantine::open(&db, Some(notice.clone())).expect("open");
    assert_eq!(q.notices(), std::slice::from_ref(&notice));
    assert_eq!(dir.names(), ["lovebeat.db.quarantine"]);
    // A restart (no new notice) still has it; a second one adds to it.
    let again = Quarantine::open(&db, None).expect("reopen");
    assert_eq!(again.notices(), std::slice::from_ref(&notice));
    let second = Notice {
        at: 43,
        ..notice.clone()
    };
    let q = Quarantine::open(&db, Some(second.clone())).expect("open");
    assert_eq!(q.notices(), [notice.clone(), second.clone()]);
    // Acknowledged: the sidecar is gone, and so is the alarm after a restart.
    assert_eq!(q.acknowledge().expect("ack"), [notice, second]);
    assert!(q.notices().is_empty());
    assert!(dir.names().is_empty(), "{:?}", dir.names());
    assert!(Quarantine::open(&db, None)
        .expect("reopen")
        .notices()
        .is_empty());
}

#[test]
fn startup_a_garbled_notice_file_still_means_unhealthy() {
    let dir = TempDir::new("garbled");
    let db = dir.path("lovebeat.db");
    fs::write(dir.path("lovebeat.db.quarantine"), b"{half a line\n").expect("write");
    let notices = read_notices(&db).expect("read");
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].moved_to, dir.path("lovebeat.db.quarantine"));
}

#[test]
fn startup_temp_names_are_only_ours() {
    let db = "lovebeat.db";
    assert_eq!(temp_pid(db, "lovebeat.db.tmp-123"), Some(123));
    assert_eq!(temp_pid(db, "lovebeat.db.s3-9"), Some(9));
    assert_eq!(temp_pid(db, "lovebeat.db.quarantine.tmp-77"), Some(77));
    for other in [
        "lovebeat.db",
        "lovebeat.db.tmp-",
        "lovebeat.db.tmp-12x",
        "lovebeat.db.tmp-12.bak",
        "lovebeat.db.corrupt-123",
        "lovebeat.db.quarantine",
        "other.db.tmp-123",
        "xlovebeat.db.tmp-123",
        "lovebeat.dbx.tmp-123",
    ] {
        assert_eq!(temp_pid(db, other), None, "{other}");
    }
}

#[test]
fn startup_leftover_temps_of_dead_processes_are_removed() {
    let dir = TempDir::new("leftovers");
    let db = dir.path("lovebeat.db");
    // A pid that cannot be alive (above the kernel's pid_max limit).
    let dead = 4_194_305u32;
    for name in [
        format!("lovebeat.db.tmp-{dead}"),
        format!("lovebeat.db.tmp-{}", std::process::id()),
        format!("lovebeat.db.s3-{dead}"),
        format!("lovebeat.db.quarantine.tmp-{dead}"),
        "lovebeat.db".to_string(),
        "lovebeat.db.corrupt-5".to_string(),
        "lovebeat.db.quarantine".to_string(),
        "other.db.tmp-1".to_string(),
        "notes.txt".to_string(),
    ] {
        fs::write(dir.path(&name), b"x").expect("write");
    }
    // A directory with our name pattern is not ours to remove.
    fs::create_dir(dir.path(&format!("lovebeat.db.tmp-{}", dead + 1))).expect("mkdir");
    assert_eq!(remove_leftover_temps(&db), 4);
    assert_eq!(
        dir.names(),
        [
            "lovebeat.db".to_string(),
            "lovebeat.db.corrupt-5".into(),
            "lovebeat.db.quarantine".into(),
            format!("lovebeat.db.tmp-{}", dead + 1),
            "notes.txt".into(),
            "other.db.tmp-1".into(),
        ]
    );
}

#[test]
fn startup_a_quarantine_that_cannot_be_recorded_is_undone() {
    let dir = TempDir::new("unrecorded");
    let db = dir.path("lovebeat.db");
    fs::write(&db, b"garbage").expect("write");
    // A directory where the sidecar goes: the notice cannot be written.
    fs::create_dir(dir.path("lovebeat.db.quarantine")).expect("mkdir");
    assert!(open_database(&db, 9).is_err());
    assert_eq!(fs::read(&db).expect("moved back"), b"garbage");
    assert_eq!(dir.names(), ["lovebeat.db", "lovebeat.db.quarantine"]);
}

#[test]
fn startup_open_database_records_the_move() {
    let dir = TempDir::new("recorded");
    let db = dir.path("lovebeat.db");
    fs::write(&db, b"garbage").expect("write");
    let (database, quarantine) = open_database(&db, 9).expect("open");
    assert_eq!(database, Database::default());
    let notices = quarantine.notices();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].moved_to, dir.path("lovebeat.db.corrupt-9"));
    assert_eq!(read_notices(&db).expect("read"), notices);
}
