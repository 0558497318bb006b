//! SIGHUP reloads the configuration (issue 14): the real binary, its config
//! file rewritten between signals. Views follow the new templates with
//! their members, state (services, beats, incident numbers) is kept, a bad
//! file is refused and the old configuration stays, and an alert defined
//! by a reload fires.

mod common;
#[path = "support/receiver.rs"]
mod receiver;

use common::{log_count, reload, view_names, wait_until, Server, TempDir};
use receiver::Receiver;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

fn view(name: &str, pattern: &str, alerts: &[&str]) -> String {
    let alerts: Vec<String> = alerts.iter().map(|a| format!("{a:?}")).collect();
    format!(
        "[[views]]\nname = \"{name}\"\npattern = \"{pattern}\"\nalerts = [{}]\n",
        alerts.join(", ")
    )
}

fn members(server: &Server, view: &str) -> Vec<String> {
    let json = server.json(&format!("/api/views/{view}"));
    let mut names: Vec<String> = json["services"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|s| s["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn post(server: &Server, path: &str) {
    let r = server.post(path);
    assert_eq!(r.status, 200, "{path}: {}", r.text());
}

#[test]
fn views_follow_a_reload_state_is_kept_and_a_bad_file_is_refused() {
    let dir = TempDir::new("reload-views");
    let server = Server::start(dir.path(), &view("web", "web.*", &[]));
    post(&server, "/api/services/web.1?timeout=0"); // web: incident 1
    post(&server, "/api/services/web.1?timeout=none"); // and over
    post(&server, "/api/services/db.1?timeout=none");
    post(&server, "/api/services/db.2?timeout=none");
    let web_before = server.json("/api/views/web")["view"].clone();
    assert_eq!(web_before["incident_number"], 1);
    let beat_before = server.service("db.1").expect("db.1")["last_beat"].clone();
    assert_eq!(view_names(&server), ["web"]);

    // A new view appears with the existing services as members; one
    // without members yet exists too (as at start-up).
    let two = format!(
        "{}{}{}",
        view("web", "web.*", &[]),
        view("db", "db.*", &[]),
        view("idle", "idle.*", &[])
    );
    reload(
        &server,
        dir.path(),
        &two,
        "reload: views: 2 added (db, idle)",
    );
    assert_eq!(view_names(&server), ["db", "idle", "web"]);
    assert_eq!(members(&server, "db"), ["db.1", "db.2"]);
    assert_eq!(server.json("/api/views/db")["view"]["state"], "ok");
    assert!(members(&server, "idle").is_empty());
    assert_eq!(server.json("/api/views/idle")["view"]["state"], "new");
    // Nothing else moved: the old view, its incident, the services' beats.
    let web_after = server.json("/api/views/web")["view"].clone();
    assert_eq!(web_after, web_before);
    assert_eq!(
        server.service("db.1").expect("db.1")["last_beat"],
        beat_before
    );
    assert_eq!(
        server.service("db.1").expect("db.1")["views"],
        serde_json::json!(["db"])
    );

    // A removed view disappears; its services stay. A restart-only key is
    // named at warn.
    let only_db = format!("{}[limits]\nmax_ws_clients = 3\n", view("db", "db.*", &[]));
    reload(
        &server,
        dir.path(),
        &only_db,
        "reload: views: 2 removed (web, idle)",
    );
    assert!(wait_until(WAIT, || log_count(
        &server,
        "applied only after a restart: [limits] max_ws_clients"
    ) == 1));
    assert_eq!(view_names(&server), ["db"]);
    assert_eq!(server.get("/api/views/web").status, 404);
    assert!(server.service("web.1").is_some());

    // A bad file is refused: the old configuration goes on, unchanged.
    let bad = format!("{}[[views]]\nname = \"x\"\n", view("db", "db.*", &[]));
    reload(&server, dir.path(), &bad, "reload: configuration error");
    let error = server
        .log
        .lock()
        .expect("log lock")
        .iter()
        .rev()
        .find(|l| l.contains("reload: configuration error"))
        .cloned()
        .unwrap_or_default();
    assert!(
        error.contains("lovebeat.toml") && error.contains("pattern"),
        "the error names the file and the key: {error}"
    );
    assert_eq!(view_names(&server), ["db"]);
    assert_eq!(members(&server, "db"), ["db.1", "db.2"]);
    // Still serving, still applying the old templates to new services.
    post(&server, "/api/services/db.3?timeout=none");
    post(&server, "/api/services/x.1?timeout=none");
    assert_eq!(members(&server, "db"), ["db.1", "db.2", "db.3"]);
    assert_eq!(view_names(&server), ["db"]);

    // The same file again: nothing to do, and said so.
    reload(
        &server,
        dir.path(),
        &only_db,
        "reload: configuration unchanged",
    );
    assert_eq!(view_names(&server), ["db"]);
}

#[test]
fn an_alert_defined_by_a_reload_fires() {
    let rx = Receiver::start(Box::new(|_, _| 200));
    let dir = TempDir::new("reload-alerts");
    let server = Server::start(dir.path(), &view("web", "web.*", &[]));
    post(&server, "/api/services/web.1?timeout=none");
    post(&server, "/api/services/db.1?timeout=0"); // failing, in no view
    let config = format!(
        "[alerts.hook]\nwebhook = \"{}\"\n{}{}",
        rx.url("/hook"),
        view("web", "web.*", &["hook"]),
        view("db", "db.*", &["hook"]),
    );
    reload(&server, dir.path(), &config, "reload: views: 1 added (db)");
    assert!(
        log_count(&server, "alerts: hook added") == 1,
        "log:\n{}",
        server.log_text()
    );
    // The new view starts in ERROR (its member fails): a real incident,
    // alerted with the new alert.
    let db = server.json("/api/views/db")["view"].clone();
    assert_eq!(db["state"], "error");
    assert_eq!(db["incident_number"], 1);
    assert!(
        wait_until(WAIT, || rx.requests("/hook").len() == 1),
        "log:\n{}",
        server.log_text()
    );
    assert_eq!(rx.requests("/hook")[0].json()["name"], "db");
    assert_eq!(rx.requests("/hook")[0].json()["to_state"], "ERROR");
    // An existing view now carries the new alert too.
    post(&server, "/api/services/web.1?timeout=0");
    assert!(
        wait_until(WAIT, || rx.requests("/hook").len() == 2),
        "log:\n{}",
        server.log_text()
    );
    let web = rx.requests("/hook")[1].json();
    assert_eq!(
        (web["name"].as_str(), web["to_state"].as_str()),
        (Some("web"), Some("ERROR"))
    );
}

#[test]
fn notify_and_metrics_start_with_a_reload() {
    let peer = Receiver::start(Box::new(|_, _| 200));
    let statsd = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind statsd");
    statsd
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let dir = TempDir::new("reload-outputs");
    let server = Server::start(dir.path(), "");
    let config = format!(
        "[[notify]]\nlovebeat = \"{}\"\n[metrics]\nserver = \"{}\"\nprefix = \"reloaded\"\n",
        peer.url(""),
        statsd.local_addr().expect("addr"),
    );
    reload(
        &server,
        dir.path(),
        &config,
        "reload: views unchanged; alerts unchanged; notify: 0 -> 1 targets",
    );
    // The new notify thread posts `.monitor` at once.
    assert!(
        wait_until(WAIT, || peer.all().iter().any(|r| r.method == "POST"
            && r.path.starts_with("/api/services/lovebeat.")
            && r.path.ends_with(".monitor"))),
        "log:\n{}",
        server.log_text()
    );
    // The new metrics thread sends `started.count` with the new prefix.
    let mut buf = [0u8; 2048];
    assert!(
        wait_until(WAIT, || match statsd.recv(&mut buf) {
            Ok(n) => String::from_utf8_lossy(&buf[..n]).contains("reloaded.started.count:1|c"),
            Err(_) => false,
        }),
        "log:\n{}",
        server.log_text()
    );
}

#[test]
fn services_blocks_and_event_limits_reload_and_a_bad_block_is_refused() {
    let dir = TempDir::new("reload-services");
    let server = Server::start(dir.path(), "");
    post(&server, "/api/services/backup.db1?timeout=none");
    let block =
        "[[services]]\npattern = \"backup.*\"\nschedule = \"0 2 * * *\"\ntz = \"Europe/Berlin\"\n";
    reload(&server, dir.path(), block, "services: 0 -> 1 blocks");
    let limits = format!("{block}[limits]\nevents_per_service = 5\nmax_body_bytes = 100\n");
    reload(
        &server,
        dir.path(),
        &limits,
        "limits: events_per_service 20 -> 5",
    );
    assert!(
        log_count(
            &server,
            "changed but applied only after a restart: [limits] max_body_bytes"
        ) >= 1,
        "{}",
        server.log_text()
    );
    // A bad block: refused, naming the block and the key; nothing changes.
    let bad = "[[services]]\npattern = \"backup.*\"\nschedule = \"*/0 * * * *\"\n";
    reload(&server, dir.path(), bad, "services[0].schedule");
    assert!(log_count(&server, "still running on the previous configuration") >= 1);
    // The good configuration again: nothing to apply.
    reload(
        &server,
        dir.path(),
        &limits,
        "reload: configuration unchanged",
    );
    assert_eq!(log_count(&server, "services: 1 -> 1 blocks"), 0);
    assert!(server.service("backup.db1").is_some(), "state kept");
}
