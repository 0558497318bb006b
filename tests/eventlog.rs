//! The event log (SPEC 7) of a real server: the JSON lines for services and
//! views being added, changing state and removed, the mode of the file it
//! creates, and reopening after the file is moved away and on SIGHUP.

mod common;

use common::{wait_until, Server, TempDir};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

fn events(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The first event of `kind` about service or view `name`.
fn find(path: &Path, kind: &str, name: &str) -> Option<serde_json::Value> {
    events(path).into_iter().find(|e| {
        let body = &e[kind];
        e["type"] == kind && (body["service"]["name"] == name || body["alarm"]["name"] == name)
    })
}

#[test]
fn event_log_lines_mode_and_reopen() {
    let dir = TempDir::new("eventlog");
    let path = dir.path().join("events.log");
    // 666 is wider than the usual umask (022) allows: the mode must be set
    // explicitly.
    // A `$word` view appears with its first member (alarm_added).
    let server = Server::start(
        dir.path(),
        &format!(
            "[eventlog]\npath = \"{}\"\nmode = \"666\"\n[[views]]\nname = \"eview-$k\"\npattern = \"e.$k\"\n",
            path.display()
        ),
    );
    assert!(wait_until(WAIT, || path.exists()), "created at start");
    let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o666, "mode {mode:o}");

    assert_eq!(server.post("/api/services/e.one?timeout=1").status, 200);
    assert!(wait_until(WAIT, || find(&path, "service_added", "e.one").is_some()));
    assert!(wait_until(WAIT, || find(&path, "alarm_added", "eview-one").is_some()));
    // Expiry: ok -> error for the service and for its view.
    assert!(
        wait_until(WAIT, || events(&path).iter().any(|e| {
            let b = &e["service_state_changed"];
            b["service"]["name"] == "e.one" && b["previous"] == "ok" && b["current"] == "error"
        })),
        "no state change in {:?}",
        events(&path)
    );
    assert!(wait_until(WAIT, || events(&path).iter().any(|e| {
        let b = &e["alarm_state_changed"];
        b["alarm"]["name"] == "eview-one" && b["current"] == "error"
    })));
    let e = events(&path)
        .into_iter()
        .find(|e| e["service_state_changed"]["current"] == "error")
        .expect("event");
    assert!(e["ts"].as_i64().expect("ts in ms") > 1_600_000_000_000);
    let service = &e["service_state_changed"]["service"];
    assert_eq!(service["state"], "error");
    assert_eq!(service["timeout"], 1000);
    assert_eq!(
        service["in_alarms"],
        serde_json::json!(["eview-one"]),
        "1.x keys"
    );
    let alarm = &find(&path, "alarm_state_changed", "eview-one").expect("event")
        ["alarm_state_changed"]["alarm"];
    assert!(alarm.get("incident_nbr").is_some(), "1.x keys: {alarm}");

    // logrotate: the file is moved away; the next event goes to a new file.
    let rotated = dir.path().join("events.log.1");
    std::fs::rename(&path, &rotated).expect("mv");
    assert_eq!(server.post("/api/services/e.two?timeout=1h").status, 200);
    assert!(
        wait_until(WAIT, || find(&path, "service_added", "e.two").is_some()),
        "no new file after mv; log:\n{}",
        server.log_text()
    );
    assert!(find(&rotated, "service_added", "e.two").is_none());
    assert!(find(&rotated, "service_added", "e.one").is_some());
    let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o666);

    // SIGHUP: the file is reopened (created again) without waiting for an
    // event.
    let rotated2 = dir.path().join("events.log.2");
    std::fs::rename(&path, &rotated2).expect("mv");
    server.signal("HUP");
    assert!(
        wait_until(WAIT, || path.exists()),
        "SIGHUP did not reopen; log:\n{}",
        server.log_text()
    );
    assert_eq!(
        server
            .request("DELETE", "/api/services/e.two", &[], b"")
            .status,
        200
    );
    assert!(wait_until(WAIT, || find(&path, "service_removed", "e.two").is_some()));
    assert!(find(&rotated2, "service_removed", "e.two").is_none());
    // A view is removed once it has no members.
    assert_eq!(
        server
            .request("DELETE", "/api/services/e.one", &[], b"")
            .status,
        200
    );
    assert_eq!(
        server
            .request("DELETE", "/api/views/eview-one", &[], b"")
            .status,
        200
    );
    assert!(wait_until(WAIT, || find(
        &path,
        "alarm_removed",
        "eview-one"
    )
    .is_some()));

    // Every line has exactly ts, type and the body under the type's name.
    for e in events(&path).iter().chain(events(&rotated).iter()) {
        let kind = e["type"].as_str().expect("type");
        let keys: Vec<&String> = e.as_object().expect("object").keys().collect();
        assert_eq!(keys.len(), 3, "{e}");
        assert!(e.get(kind).is_some(), "{e}");
    }
    assert!(server
        .get("/metrics")
        .text()
        .contains("lovebeat_eventlog_failures_total 0\n"));
    assert_eq!(server.stop().code(), Some(0));
}

#[test]
fn unwritable_event_log_is_counted_not_fatal() {
    let dir = TempDir::new("eventlog-bad");
    // A directory where the file should be: every open fails.
    let path = dir.path().join("events.log");
    std::fs::create_dir(&path).expect("mkdir");
    let server = Server::start(
        dir.path(),
        &format!("[eventlog]\npath = \"{}\"\n", path.display()),
    );
    assert_eq!(server.post("/api/services/bad.one?timeout=1h").status, 200);
    assert!(
        wait_until(WAIT, || !server
            .get("/metrics")
            .text()
            .contains("lovebeat_eventlog_failures_total 0\n")),
        "failure not counted"
    );
    assert_eq!(server.service("bad.one").expect("bad.one")["state"], "ok");
    assert!(server.log_text().contains("eventlog: cannot open"));
    assert_eq!(server.stop().code(), Some(0));
}
