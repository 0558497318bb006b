//! Start-up fails closed (issue 13 §4): a database that cannot be read
//! stops start-up; one that does not decode is moved aside and keeps the
//! server unhealthy (status, nagios) across restarts until acknowledged;
//! leftover temporary files of ours are removed; a failed final save exits
//! non-zero and a save that works again after failures says so.

mod common;

use common::{run_expecting_exit, wait_until, Server, TempDir};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);
const PLUGIN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/nagios/check_lovebeat");
const VIEW: &str = "[[views]]\nname = \"web\"\npattern = \"web.*\"\n";

fn nagios(addr: &str) -> (i32, String) {
    let out = Command::new("bash")
        .arg(PLUGIN)
        .arg(addr)
        .env("CHECK_LOVEBEAT_TIMEOUT", "5")
        .output()
        .expect("run check_lovebeat");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim_end().to_string(),
    )
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_directory_in_place_of_the_database_stops_start_up() {
    let dir = TempDir::new("eisdir");
    let db = dir.path().join("lovebeat.db");
    std::fs::create_dir(&db).expect("mkdir");
    let (code, log) = run_expecting_exit(dir.path(), &common::base_config(dir.path()));
    assert_ne!(code, 0, "{log}");
    assert!(
        log.contains(&db.display().to_string()),
        "names the file: {log}"
    );
    assert!(log.contains("Is a directory"), "names the error: {log}");
    // Nothing was moved or created.
    assert!(db.is_dir());
    assert_eq!(names(dir.path()), ["lovebeat.db", "lovebeat.toml"]);
}

/// Every status form of a quarantined server: good false, naming `moved`.
fn assert_unhealthy(server: &Server, moved: &str) {
    for path in [
        "/status",
        "/api/status",
        "/api/status?view=web",
        "/api/views/web/status",
    ] {
        let text = server.get(path).text();
        assert!(text.contains("good false\n"), "{path}: {text}");
        assert!(
            text.contains(&format!("quarantined {moved}\n")),
            "{path}: {text}"
        );
        let json = common::request(
            server.http,
            "GET",
            path,
            &[("Accept", "application/json")],
            b"",
        )
        .json();
        assert_eq!(json["good"], false, "{path}: {json}");
        assert_eq!(json["quarantined"][0]["file"], moved, "{path}: {json}");
    }
    let (code, line) = nagios(&server.http.to_string());
    assert_eq!(code, 2, "{line}");
    assert!(line.starts_with("CRITICAL"), "{line}");
    assert!(line.contains(moved), "{line}");
}

#[test]
fn a_corrupt_database_keeps_status_unhealthy_until_acknowledged() {
    let dir = TempDir::new("quarantine");
    std::fs::write(dir.path().join("lovebeat.db"), b"this is not a database").expect("write");
    let server = Server::start(dir.path(), VIEW);
    let moved = names(dir.path())
        .into_iter()
        .find(|n| n.starts_with("lovebeat.db.corrupt-"))
        .map(|n| dir.path().join(n).display().to_string())
        .expect("moved aside");
    assert_eq!(
        std::fs::read(&moved).expect("kept"),
        b"this is not a database"
    );
    assert_eq!(server.post("/api/services/web.a").status, 200);
    assert_unhealthy(&server, &moved);

    // A restart (the database is fine by now) does not forget it.
    assert!(server.stop().success());
    let server = Server::start(dir.path(), VIEW);
    assert!(server.service("web.a").is_some());
    assert_unhealthy(&server, &moved);

    // Acknowledged by an operator: healthy, and still after a restart.
    let r = common::request(server.http, "DELETE", "/api/quarantine", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["acknowledged"][0]["file"], moved.as_str());
    let text = server.get("/status").text();
    assert!(
        text.contains("good true\n") && !text.contains("quarantined"),
        "{text}"
    );
    let (code, line) = nagios(&server.http.to_string());
    assert_eq!(code, 0, "{line}");
    assert!(server.stop().success());
    let server = Server::start(dir.path(), VIEW);
    assert!(server.get("/status").text().contains("good true\n"));
    assert_eq!(
        server.json("/api/quarantine")["quarantined"],
        serde_json::json!([])
    );
    // The moved file stays where it is.
    assert!(Path::new(&moved).exists());
}

#[test]
fn acknowledging_needs_the_access_token() {
    let dir = TempDir::new("quarantine-auth");
    std::fs::write(dir.path().join("lovebeat.db"), b"garbage").expect("write");
    let http = "[http]\nlisten = \"127.0.0.1:0\"\n";
    let config = common::base_config(dir.path())
        .replace(http, &format!("{http}auth_token = \"s3cret-token-123\"\n"));
    let server = Server::start_with_config(dir.path(), &config);
    let r = common::request(server.http, "DELETE", "/api/quarantine", &[], b"");
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(server.get("/status").text().contains("good false\n"));
    let r = common::request(
        server.http,
        "DELETE",
        "/api/quarantine",
        &[("Authorization", "Bearer s3cret-token-123")],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(server.get("/status").text().contains("good true\n"));
}

#[test]
fn leftover_temporary_files_of_ours_are_removed_at_start() {
    let dir = TempDir::new("leftovers");
    // Pids above the kernel's limit: their processes are surely gone.
    let ours = [
        "lovebeat.db.tmp-4194305",
        "lovebeat.db.tmp-4194306",
        "lovebeat.db.s3-4194307",
    ];
    let theirs = [
        "lovebeat.db.tmp-backup",
        "other.db.tmp-4194305",
        "lovebeat.db.corrupt-1",
    ];
    for name in ours.iter().chain(&theirs) {
        std::fs::write(dir.path().join(name), vec![0u8; 4096]).expect("write");
    }
    let server = Server::start(dir.path(), "");
    for name in ours {
        assert!(!dir.path().join(name).exists(), "{name} left");
    }
    for name in theirs {
        assert!(dir.path().join(name).exists(), "{name} removed");
    }
    assert!(server.log_text().contains("left by an interrupted save"));
}

#[test]
fn save_failures_recovery_is_logged_and_a_failed_final_save_exits_non_zero() {
    let dir = TempDir::new("final-save");
    let db_dir = dir.path().join("data");
    let config = common::base_config(dir.path()).replace(
        &format!("{:?}", dir.path().join("lovebeat.db").display().to_string()),
        &format!("{:?}", db_dir.join("lovebeat.db").display().to_string()),
    );
    assert!(config.contains("data"));
    let server = Server::start_with_config(dir.path(), &config);
    // The directory is missing: the save of this change fails...
    assert_eq!(server.post("/api/services/f.a?timeout=1h").status, 200);
    assert!(wait_until(WAIT, || server
        .log_text()
        .contains("save failed")));
    // ...until it exists: the retry says that saving works again.
    std::fs::create_dir(&db_dir).expect("mkdir");
    assert!(
        wait_until(WAIT, || server.log_text().contains("save recovered")),
        "log:\n{}",
        server.log_text()
    );
    // Gone again at shutdown: the final save fails, and the exit says so.
    std::fs::remove_dir_all(&db_dir).expect("rm");
    let status = server.stop();
    assert!(!status.success(), "exit status {status:?}");
}
