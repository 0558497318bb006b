//! SPEC 18, end-to-end: the history of state changes of services and views
//! as `/api/services/<name>/history` and `/api/views/<name>/history` serve
//! it from the real binary.

mod common;

use common::{lovebeat_1_0_3_config, wait_until, Server, TempDir};
use serde_json::Value;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);

const VIEWS: &str = r#"
[[views]]
name = "web"
includes = ["web.*"]
"#;

fn state_of(server: &Server, name: &str) -> String {
    server
        .service(name)
        .and_then(|s| s["state"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// (from, to, reason) of each change.
fn steps(history: &Value) -> Vec<(String, String, String)> {
    history["changes"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|c| {
                    let s = |k: &str| c[k].as_str().unwrap_or("?").to_owned();
                    (s("from"), s("to"), s("reason"))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn step(from: &str, to: &str, reason: &str) -> (String, String, String) {
    (from.into(), to.into(), reason.into())
}

/// Creates `web.a` (timeout 1 s), lets it expire, and brings it back.
fn fail_and_recover(server: &Server) {
    assert_eq!(server.post("/api/services/web.a?timeout=1").status, 200);
    assert!(wait_until(WAIT, || state_of(server, "web.a") == "error"));
    assert_eq!(server.post("/api/services/web.a").status, 200);
    assert_eq!(state_of(server, "web.a"), "ok");
}

#[test]
fn a_service_and_its_view_tell_their_changes_and_uptime() {
    let dir = TempDir::new("history");
    let server = Server::start(dir.path(), VIEWS);
    fail_and_recover(&server);

    let r = server.get("/api/services/web.a/history");
    assert_eq!(r.status, 200, "{}", r.text());
    let h = r.json();
    assert_eq!(h["name"], "web.a");
    assert_eq!(
        steps(&h),
        [
            step("ok", "error", "no beat for 1 s"),
            step("error", "ok", "beat")
        ]
    );
    let now = h["now"].as_i64().unwrap_or(0);
    assert_eq!(h["until"].as_i64(), Some(now));
    assert_eq!(h["since"].as_i64(), Some(now - 30 * 86_400_000));
    assert_eq!(h["state_at_since"], "new"); // created just now
    assert_eq!(h["dropped"], 0);
    let known = h["known_since"].as_i64().unwrap_or(0);
    let changes = h["changes"].as_array().cloned().unwrap_or_default();
    let (failed, back) = (
        changes[0]["at"].as_i64().unwrap_or(0),
        changes[1]["at"].as_i64().unwrap_or(0),
    );
    assert!(known <= failed && failed <= back && back <= now);
    // Uptime: the time in ERROR over the time known, the same for 1/7/30 d.
    let expected = 1.0 - (back - failed) as f64 / (now - known) as f64;
    for window in ["1d", "7d", "30d"] {
        let up = h["uptime"][window].as_f64().unwrap_or(-1.0);
        assert!((up - expected).abs() < 1e-9, "{window}: {up} vs {expected}");
    }
    assert!(expected < 1.0);

    // The view went along, saying which member failed.
    let v = server.json("/api/views/web/history");
    assert_eq!(
        steps(&v),
        [
            step("ok", "error", "web.a failed"),
            step("error", "ok", "no service failing")
        ]
    );

    // A window: only the changes inside it, and the state in force at its
    // start.
    let w = server.json(&format!(
        "/api/services/web.a/history?since={}&until={}",
        failed + 1,
        now
    ));
    assert_eq!(steps(&w), [step("error", "ok", "beat")]);
    assert_eq!(w["state_at_since"], "error");
    assert_eq!(w["since"].as_i64(), Some(failed + 1));
}

#[test]
fn unknown_names_and_bad_windows_are_refused_in_json() {
    let dir = TempDir::new("history-errors");
    let server = Server::start(dir.path(), VIEWS);
    assert_eq!(server.post("/api/services/web.a").status, 200);
    for path in [
        "/api/services/ghost/history",
        "/api/views/ghost/history",
        "/api/services/BAD%20NAME/history",
    ] {
        let r = server.get(path);
        assert_eq!(r.status, 404, "{path}");
        assert!(r.json()["error"].is_string(), "{path}: {}", r.text());
    }
    for query in ["since=yesterday", "until=1.5", "since=10&until=5"] {
        let r = server.get(&format!("/api/services/web.a/history?{query}"));
        assert_eq!(r.status, 400, "{query}");
        assert!(r.json()["error"].is_string(), "{query}: {}", r.text());
    }
    assert_eq!(server.post("/api/services/web.a/history").status, 405);
    // A service that only ever started: no changes, known since creation.
    let h = server.json("/api/services/web.a/history");
    assert_eq!(steps(&h), []);
    assert!(h["known_since"].is_i64());
    assert_eq!(h["uptime"]["1d"].as_f64(), Some(1.0));
}

fn database_text(dir: &std::path::Path) -> String {
    use std::io::Read;
    let bytes = std::fs::read(dir.join("lovebeat.db")).expect("the database");
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .expect("gzip");
    text
}

#[test]
fn a_restart_keeps_the_history_and_a_bad_hist_line_is_skipped() {
    use std::io::Write;
    let dir = TempDir::new("history-restart");
    let server = Server::start(dir.path(), VIEWS);
    fail_and_recover(&server);
    let before = server.json("/api/services/web.a/history");
    let view_before = server.json("/api/views/web/history");
    assert!(server.stop().success());

    // One compact line per subject, after 1.x's lines.
    let text = database_text(dir.path());
    let hist: Vec<&str> = text.lines().filter(|l| l.starts_with("HIST\t")).collect();
    assert_eq!(hist.len(), 2, "{text}");
    assert!(text.lines().next().unwrap_or("").starts_with("SERV\t"));
    // A damaged line appended (a second gzip member, read as one file).
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"HIST\t{\"service\":\"web.a\",\"changes\":42}\n")
        .expect("gzip");
    let member = gz.finish().expect("gzip");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("lovebeat.db"))
        .expect("open");
    file.write_all(&member).expect("append");
    drop(file);

    let server = Server::start(dir.path(), VIEWS);
    let after = server.json("/api/services/web.a/history");
    assert_eq!(steps(&after), steps(&before));
    assert_eq!(after["changes"], before["changes"]);
    assert_eq!(after["known_since"], before["known_since"]);
    let view_after = server.json("/api/views/web/history");
    assert_eq!(view_after["changes"], view_before["changes"]);
    assert!(wait_until(WAIT, || server
        .log_text()
        .contains("1 malformed HIST lines skipped")));
    // It goes on recording after the restart.
    assert!(wait_until(WAIT, || state_of(&server, "web.a") == "error"));
    let more = server.json("/api/services/web.a/history");
    assert_eq!(
        steps(&more).last().cloned(),
        Some(step("ok", "error", "no beat for 1 s"))
    );
    assert_eq!(steps(&more).len(), 3);
}

#[test]
fn the_lovebeat_1_0_3_database_loads_and_has_histories_to_tell() {
    let dir = TempDir::new("history-golden");
    let cfg = lovebeat_1_0_3_config(dir.path());
    let server = Server::start_with_config(dir.path(), &cfg);
    // A 1.x service in ERROR: known since its last change, no uptime.
    let never = server.service("never.happens").expect("never.happens");
    let h = server.json("/api/services/never.happens/history");
    assert_eq!(h["known_since"], never["last_state_change"]);
    assert_eq!(h["uptime"]["1d"].as_f64(), Some(0.0));
    let r = server.get("/api/views/web/history");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(!server.log_text().contains("HIST"));
}
