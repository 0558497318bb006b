//! The alert policy's part of the database (SPEC 15) in the real binary: a
//! file with `muted_until` / `alerted_at` keys and `MAINT` lines, some of
//! them malformed, loads (never quarantined), the log names what was
//! skipped, and what the server writes back loads cleanly.

mod common;

use common::{wait_until, Server, TempDir};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

fn gzip(text: &str) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, text.as_bytes()).expect("gzip");
    gz.finish().expect("gzip")
}

#[test]
fn a_database_with_policy_keys_and_bad_maint_lines_loads_and_says_what_it_skipped() {
    let dir = TempDir::new("store-policy");
    let lines = [
        r#"SERV	{"name":"web.snoozed","last_beat":1700000000000,"timeout":-1,"state":"muted","muted_since":1700000000000,"last_state_change":1700000000000,"in_alarms":["web"],"muted_until":9223372036854775807}"#,
        r#"SERV	{"name":"web.odd","last_beat":1700000000000,"timeout":-1,"state":"ok","muted_since":0,"last_state_change":1700000000000,"muted_until":"tomorrow"}"#,
        r#"ALARM	{"name":"web","state":"error","incident_nbr":4,"failed_services":["web.snoozed"],"last_state_change":1700000000000,"muted_until":1700000060000,"alerted_at":1700000000005}"#,
        r#"MAINT	{"id":"nightly","views":["web"],"schedule":"0 2 * * *","duration":3600000,"tz":"Europe/Berlin"}"#,
        r#"MAINT	{"id":"broken","views":["web"],"schedule":"not cron","duration":1000}"#,
        r#"MAINT	{"id":"once","views":["*"],"from":"2026-11-29T02:00:00Z","until":"2026-11-29T03:00:00Z"}"#,
    ];
    let db_path = dir.path().join("lovebeat.db");
    std::fs::write(&db_path, gzip(&(lines.join("\n") + "\n"))).expect("write database");
    let server = Server::start(dir.path(), "");
    for name in ["web.snoozed", "web.odd"] {
        assert!(server.service(name).is_some(), "{name} loaded");
    }
    assert!(
        wait_until(WAIT, || {
            let log = server.log_text();
            log.contains("2 malformed alert policy keys or MAINT lines skipped")
                && log.contains("key muted_until")
                && log.contains("line 5: MAINT skipped")
        }),
        "the skipped keys are logged; log:\n{}",
        server.log_text()
    );
    let status = server.get("/api/status");
    assert_eq!(status.status, 200, "{}", status.text());
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.contains("corrupt")),
        "nothing quarantined: {names:?}"
    );
    assert!(server.stop().success(), "clean exit");
    // The final save is a database that loads without a problem.
    let saved = lovebeat::store::decode(std::fs::File::open(&db_path).expect("saved file"))
        .expect("the saved file loads");
    let mut saved_names: Vec<&str> = saved.services.iter().map(|s| s.name.as_str()).collect();
    saved_names.sort();
    assert_eq!(saved_names, ["web.odd", "web.snoozed"]);
    assert_eq!(saved.policy_key_problems.count, 0);
    assert_eq!(saved.job_key_problems.count, 0);
    assert_eq!(saved.skipped_lines, 0);
}
