//! A mass outage against the real binary (issue 13, section 1): 100,000
//! services in 100 views, created over UDP, expiring together and then
//! recovering together. Every view must alert exactly once into ERROR and
//! once on recovery, in that order, at a real webhook receiver on
//! 127.0.0.1, and the event log must hold every change of both bursts.
//!
//! `LOVEBEAT_TEST_BIN` runs another build of the server (to measure an old
//! one); the figures are printed before they are asserted.

mod common;
#[path = "support/receiver.rs"]
mod receiver;

use common::{wait_until, Server, TempDir};
use receiver::Receiver;
use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

const VIEWS: usize = 100;
const MEMBERS: usize = 1_000;
const SERVICES: usize = VIEWS * MEMBERS;
/// Services per datagram.
const PER_DATAGRAM: usize = 250;
/// Longer than a view takes to send (and send again if UDP lost some), so
/// a view's members are all created before the first one expires.
const TIMEOUT_SECS: u64 = 15;
const WAIT: Duration = Duration::from_secs(90);

fn name(view: usize, member: usize) -> String {
    format!("m{view}.s{member}")
}

/// Sends `lines(name)` for every member of `view`, a few hundred services
/// per datagram.
fn send_view(socket: &UdpSocket, target: SocketAddr, view: usize, lines: &dyn Fn(&str) -> String) {
    let mut payload = String::new();
    for member in 0..MEMBERS {
        payload.push_str(&lines(&name(view, member)));
        if (member + 1) % PER_DATAGRAM == 0 || member + 1 == MEMBERS {
            socket.send_to(payload.as_bytes(), target).expect("send");
            payload.clear();
        }
    }
}

/// Sends `lines` for every service, a view at a time, each time waiting
/// (polling `/status` with a deadline) until `landed(status, views sent)`:
/// the debug build ingests slower than a sender can send, so without this
/// the socket buffer or the statsd backlog would drop datagrams. A view
/// that did not land is sent again (well within `TIMEOUT_SECS`). False if
/// one never landed.
fn send_views(
    server: &Server,
    lines: &dyn Fn(&str) -> String,
    landed: &dyn Fn((u64, u64), usize) -> bool,
) -> bool {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("udp bind");
    let target = server.udp.expect("udp listener");
    (0..VIEWS).all(|view| {
        (0..3).any(|_| {
            send_view(&socket, target, view, lines);
            wait_until(Duration::from_secs(4), || landed(status(server), view + 1))
        })
    })
}

/// `(num_ok, num_error)` from `/status`.
fn status(server: &Server) -> (u64, u64) {
    let r = server.request("GET", "/status", &[("Accept", "application/json")], b"");
    if r.status != 200 {
        return (0, 0);
    }
    let v = r.json();
    (
        v["num_ok"].as_u64().unwrap_or(0),
        v["num_error"].as_u64().unwrap_or(0),
    )
}

/// The webhook bodies, in arrival order: (view, to_state).
fn alerts(receiver: &Receiver) -> Vec<(String, String)> {
    receiver
        .requests("/hook")
        .iter()
        .map(|r| {
            let v = r.json();
            (
                v["name"].as_str().unwrap_or_default().to_string(),
                v["to_state"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn count_to(alerts: &[(String, String)], state: &str) -> usize {
    alerts.iter().filter(|(_, to)| to == state).count()
}

/// Event log lines per (type, previous, current).
fn eventlog_counts(path: &Path) -> BTreeMap<String, usize> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut counts = BTreeMap::new();
    for line in text.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        let kind = v["type"].as_str().unwrap_or_default().to_string();
        let body = &v[&kind];
        let key = match (body["previous"].as_str(), body["current"].as_str()) {
            (Some(p), Some(c)) => format!("{kind} {p}->{c}"),
            _ => kind,
        };
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

/// Lines of the file (cheap enough to poll).
fn line_count(path: &Path) -> usize {
    std::fs::read(path)
        .map(|d| d.iter().filter(|b| **b == b'\n').count())
        .unwrap_or(0)
}

#[test]
fn every_view_alerts_once_into_error_and_once_on_recovery_in_order() {
    let receiver = Receiver::start(Box::new(|_, _| 200));
    let dir = TempDir::new("mass-outage");
    let log_path = dir.path().join("events.log");
    let config = format!(
        "[eventlog]\npath = \"{}\"\n[[views]]\nname = \"mass$v\"\npattern = \"m$v.*\"\nalerts = [\"hook\"]\n[alerts.hook]\nwebhook = \"{}\"\n",
        log_path.display(),
        receiver.url("/hook"),
    );
    // At info level: a line per alert, none per service change.
    let server = Server::start_at_info_level(dir.path(), &config);

    // Every service beats with a timeout: 100 views go NEW -> OK (no alert).
    let created = send_views(
        &server,
        &|n| format!("{n}.beat:1|c\n{n}.timeout:{TIMEOUT_SECS}|g\n"),
        &|(ok, error), views| ok + error >= (views * MEMBERS) as u64,
    );
    // Then silence: all of them expire within the few seconds it took to
    // send them.
    let all_failed = wait_until(WAIT, || status(&server).1 == SERVICES as u64);
    wait_until(WAIT, || count_to(&alerts(&receiver), "ERROR") >= VIEWS);
    let error_alerts = count_to(&alerts(&receiver), "ERROR");

    // Everyone comes back at once, with no timeout (so nothing expires again).
    let recovered = send_views(
        &server,
        &|n| format!("{n}.beat:1|c\n{n}.timeout:-1|g\n"),
        &|(_, error), views| error <= (SERVICES - views * MEMBERS) as u64,
    );
    wait_until(WAIT, || count_to(&alerts(&receiver), "OK") >= VIEWS);
    // Per service: added, NEW -> OK, OK -> ERROR, ERROR -> OK; the same per
    // view.
    let expected_lines = 4 * SERVICES + 4 * VIEWS;
    let deadline = Instant::now() + WAIT;
    while line_count(&log_path) < expected_lines && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
    }
    let all = alerts(&receiver);
    let log = eventlog_counts(&log_path);
    let lines: usize = log.values().sum();
    eprintln!(
        "mass outage ({SERVICES} services, {VIEWS} views): ERROR alerts {error_alerts} then {} of {VIEWS}, \
         recovery alerts {} of {VIEWS}; event log lines {lines} of {expected_lines}: {log:?}",
        count_to(&all, "ERROR"),
        count_to(&all, "OK"),
    );

    assert!(
        created,
        "not every service was created: {:?}",
        status(&server)
    );
    assert!(
        all_failed,
        "not every service expired: {:?}",
        status(&server)
    );
    assert!(
        recovered,
        "not every service recovered: {:?}",
        status(&server)
    );
    assert_eq!(status(&server), (SERVICES as u64, 0));
    // Exactly one ERROR and then one recovery per view, in that order.
    let mut per_view: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (view, to) in &all {
        per_view.entry(view).or_default().push(to);
    }
    assert_eq!(per_view.len(), VIEWS, "views alerted: {per_view:?}");
    for (view, sequence) in &per_view {
        assert_eq!(sequence, &["ERROR", "OK"], "view {view}");
    }
    assert_eq!(all.len(), 2 * VIEWS);
    let views = server.json("/api/views");
    let views = views["views"].as_array().cloned().unwrap_or_default();
    assert_eq!(views.len(), VIEWS);
    assert!(
        views.iter().all(|v| v["incident_number"] == 1),
        "one incident per view"
    );
    // Every change of both bursts is in the event log, nothing skipped.
    let want = [
        ("service_added", SERVICES),
        ("service_state_changed new->ok", SERVICES),
        ("alarm_state_changed new->ok", VIEWS),
        ("service_state_changed ok->error", SERVICES),
        ("service_state_changed error->ok", SERVICES),
        ("alarm_added", VIEWS),
        ("alarm_state_changed ok->error", VIEWS),
        ("alarm_state_changed error->ok", VIEWS),
    ];
    for (key, n) in want {
        assert_eq!(log.get(key).copied().unwrap_or(0), n, "{key} in {log:?}");
    }
    assert_eq!(
        lines, expected_lines,
        "nothing else, nothing skipped: {log:?}"
    );
    assert!(
        !server.log_text().contains("lost"),
        "nothing reported lost:\n{}",
        server.log_text()
    );
}

#[test]
fn a_flood_of_service_changes_is_not_reported_as_lost_view_changes() {
    let receiver = Receiver::start(Box::new(|_, _| 200));
    let dir = TempDir::new("mass-flood");
    // One small view with an alert; the flood is outside of it.
    let config = format!(
        "[[views]]\nname = \"z\"\npattern = \"z.*\"\nalerts = [\"hook\"]\n[alerts.hook]\nwebhook = \"{}\"\n",
        receiver.url("/hook"),
    );
    let server = Server::start_at_info_level(dir.path(), &config);
    // 20 "views" worth of services (not in any view) fail at once: 40,000
    // service changes, far more than any queue of the alerter ever held.
    const FLOOD_VIEWS: usize = 20;
    let socket = UdpSocket::bind("127.0.0.1:0").expect("udp bind");
    let target = server.udp.expect("udp listener");
    for view in 0..FLOOD_VIEWS {
        let landed = (0..3).any(|_| {
            send_view(&socket, target, view, &|n| format!("{n}.timeout:0|g\n"));
            wait_until(Duration::from_secs(4), || {
                status(&server).1 >= ((view + 1) * MEMBERS) as u64
            })
        });
        assert!(landed, "view {view} never landed: {:?}", status(&server));
    }
    // The view's transition, queued after the whole flood, still alerts.
    let r = server.post("/api/services/z.a?timeout=0");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        wait_until(WAIT, || alerts(&receiver) == [("z".into(), "ERROR".into())]),
        "no alert for z: {:?}; log:\n{}",
        alerts(&receiver),
        server.log_text()
    );
    assert!(
        !server.log_text().contains("were lost"),
        "service changes reported as lost view changes:\n{}",
        server.log_text()
    );
}
