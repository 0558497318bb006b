//! `[limits] max_services` reached over statsd: the sender gets no answer,
//! so every refused update is counted in /metrics and the log says so,
//! once per interval, with the count and an example name.

mod common;

use common::{wait_until, Server, TempDir};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
const WARNING: &str = "update(s) for new services refused: [limits] max_services = 2";

fn refused(server: &Server) -> u64 {
    let metrics = server.get("/metrics").text();
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("lovebeat_refused_services_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn statsd_updates_beyond_max_services_are_counted_and_warned_about_once() {
    let dir = TempDir::new("limits");
    let server = Server::start_at_info_level(dir.path(), "[limits]\nmax_services = 2\n");
    server.udp_send(b"kept.a.beat:1|c\nkept.b.beat:1|c\nnew.c.beat:1|c\nnew.d.beat:1|c\n");
    assert!(
        wait_until(WAIT, || refused(&server) == 2),
        "refusals not counted; log:\n{}",
        server.log_text()
    );
    assert!(server.service("kept.a").is_some() && server.service("kept.b").is_some());
    assert!(server.service("new.c").is_none());
    let warned = |server: &Server| {
        server
            .log_text()
            .lines()
            .filter(|l| l.contains(WARNING))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert!(
        wait_until(WAIT, || !warned(&server).is_empty()),
        "no warning; log:\n{}",
        server.log_text()
    );
    let first = warned(&server).concat();
    assert!(
        first.contains("2 update(s)") && first.contains("\"new.c\""),
        "the warning names the count and an example: {first}"
    );

    // More refusals within the interval: counted, not warned about again.
    for i in 0..20 {
        server.udp_send(format!("more.{i}.beat:1|c\n").as_bytes());
    }
    assert!(
        wait_until(WAIT, || refused(&server) == 22),
        "refusals not counted; log:\n{}",
        server.log_text()
    );
    // A round trip through the state thread: whatever it logged for those
    // batches is written by now; give the log reader a moment to see it.
    assert_eq!(server.get("/api/services/kept.a").status, 200);
    assert!(
        !wait_until(Duration::from_millis(500), || warned(&server).len() > 1),
        "rate-limited to one warning per interval:\n{}",
        server.log_text()
    );
}

/// A database with more services than `max_services` loads the first ones;
/// the log names the rest (what `Engine::load` reported skipping).
#[test]
fn a_database_over_max_services_loads_the_first_and_logs_the_rest() {
    let dir = TempDir::new("limits-load");
    let server = Server::start(dir.path(), "");
    for name in ["db.a", "db.b", "db.c", "db.d"] {
        assert_eq!(server.post(&format!("/api/services/{name}")).status, 200);
    }
    assert!(server.stop().success());
    let server = Server::start_at_info_level(dir.path(), "[limits]\nmax_services = 2\n");
    let line = "database: 2 services not loaded (";
    assert!(
        wait_until(WAIT, || server.log_text().contains(line)),
        "no report of the skipped services; log:\n{}",
        server.log_text()
    );
    let log = server.log_text();
    let reported = log.lines().find(|l| l.contains(line)).unwrap_or_default();
    assert!(reported.contains("max_services = 2"), "{reported}");
    let loaded = ["db.a", "db.b", "db.c", "db.d"]
        .iter()
        .filter(|name| server.service(name).is_some())
        .count();
    assert_eq!(loaded, 2);
}
