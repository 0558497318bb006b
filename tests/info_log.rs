//! What the real binary logs at the default level (no `-debug`, no alert
//! configured): each service and view changing state, rate-limited in a
//! burst with a summary line; and a rate-limited warning about invalid
//! statsd lines, with an example and the rule it broke.

mod common;

use common::{wait_until, Server, TempDir};
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

fn lines_with(server: &Server, needle: &str) -> Vec<String> {
    server
        .log_text()
        .lines()
        .filter(|l| l.contains(needle))
        .map(String::from)
        .collect()
}

#[test]
fn a_service_and_its_view_going_to_error_are_logged_at_info() {
    let dir = TempDir::new("infolog");
    let views = "[[views]]\nname = \"backups\"\nincludes = [\"backup.*\"]\n";
    let server = Server::start_at_info_level(dir.path(), views);
    assert!(!server.log_text().contains("[DEBUG]"), "not at debug level");
    assert_eq!(
        server.post("/api/services/backup.db1?timeout=1").status,
        200
    );
    let logged = wait_until(WAIT, || {
        let log = server.log_text();
        log.contains("service backup.db1 ok -> error")
            && log.contains("view backups ok -> error (incident 1)")
    });
    assert!(logged, "no state change logged:\n{}", server.log_text());
    // The API agrees with what was logged.
    let view = server.json("/api/views/backups");
    assert_eq!(view["view"]["state"], "error");
    // Recovery is logged too.
    assert_eq!(
        server.post("/api/services/backup.db1?timeout=3600").status,
        200
    );
    let logged = wait_until(WAIT, || {
        let log = server.log_text();
        log.contains("service backup.db1 error -> ok") && log.contains("view backups error -> ok")
    });
    assert!(logged, "no recovery logged:\n{}", server.log_text());
}

/// Parses "N ok->error" out of a summary line ("... (4,980 ok->error)").
fn held(line: &str, transition: &str) -> u64 {
    let Some(end) = line.find(&format!(" {transition}")) else {
        return 0;
    };
    let start = line[..end]
        .rfind(|c: char| !(c.is_ascii_digit() || c == ','))
        .map_or(0, |i| i + 1);
    line[start..end].replace(',', "").parse().unwrap_or(0)
}

/// "N service changes ... not seen" (lost from a full queue).
fn not_seen(line: &str) -> u64 {
    let Some(end) = line.find(" service changes in the last second not seen") else {
        return 0;
    };
    let start = line[..end].rfind(' ').map_or(0, |i| i + 1);
    line[start..end].replace(',', "").parse().unwrap_or(0)
}

#[test]
fn a_burst_of_expiring_services_gives_a_bounded_number_of_lines_and_a_summary() {
    const N: usize = 5_000;
    let dir = TempDir::new("infolog-burst");
    let server = Server::start_at_info_level(dir.path(), "");
    // 5,000 services with a 1 s timeout, over one TCP connection.
    let mut text = String::new();
    for i in 0..N {
        text.push_str(&format!("burst.s{i}.beat:1|c\nburst.s{i}.timeout:1|g\n"));
    }
    let mut stream = TcpStream::connect(server.tcp.expect("tcp")).expect("connect");
    stream.write_all(text.as_bytes()).expect("write");
    drop(stream);
    // All of them expire, about together.
    let all_failed = wait_until(Duration::from_secs(60), || {
        let v = server.json("/api/services");
        let list = v["services"].as_array().cloned().unwrap_or_default();
        list.len() == N && list.iter().all(|s| s["state"] == "error")
    });
    assert!(all_failed, "the services did not all expire");
    // Every one of the 5,000 ok->error changes is accounted for: logged
    // alone, or counted in a summary (held back, or not seen).
    let accounted = || {
        let one_by_one = lines_with(&server, "-> error")
            .iter()
            .filter(|l| l.contains("service burst.s") && l.contains("ok -> error"))
            .count() as u64;
        let summaries = lines_with(&server, "more service state changes");
        let counted: u64 = summaries
            .iter()
            .map(|l| held(l, "ok->error") + not_seen(l))
            .sum();
        one_by_one + counted
    };
    let done = wait_until(WAIT, || accounted() == N as u64);
    let log = server.log_text();
    assert!(done, "{} of {N} changes accounted for:\n{log}", accounted());
    let change_lines = log
        .lines()
        .filter(|l| l.contains("service burst.s"))
        .count();
    let summaries = lines_with(&server, "more service state changes");
    assert!(!summaries.is_empty(), "no summary line:\n{log}");
    // At most 20 lines a window, and each window with more has a summary.
    assert!(
        change_lines <= 20 * (summaries.len() + 1),
        "{change_lines} lines for {} summaries:\n{log}",
        summaries.len()
    );
    assert!(
        change_lines < 400,
        "{change_lines} lines for a burst of {N}"
    );
    assert!(
        summaries
            .iter()
            .any(|l| l.contains("in the last second (") && l.contains("ok->error")),
        "{summaries:?}"
    );
}

#[test]
fn an_invalid_udp_line_gives_a_warning_with_the_line_and_the_rule() {
    let dir = TempDir::new("infolog-statsd");
    let server = Server::start_at_info_level(dir.path(), "");
    server.udp_send(b"MyApp.Backup.beat:1|c\n");
    let warned = wait_until(WAIT, || {
        server.log_text().contains(
            "statsd: dropped invalid line \"MyApp.Backup.beat:1|c\": invalid service name",
        )
    });
    assert!(warned, "no warning:\n{}", server.log_text());
    let warning = lines_with(&server, "dropped invalid line");
    assert_eq!(warning.len(), 1, "{warning:?}");
    assert!(warning[0].contains("[WARN]"), "{}", warning[0]);
    // More bad lines right after are counted, not logged one by one.
    for _ in 0..50 {
        server.udp_send(b"Bad.Name.beat:1|c\n");
    }
    server.udp_send(b"good.one.beat:1|c\n");
    assert!(wait_until(WAIT, || server.service("good.one").is_some()));
    assert_eq!(lines_with(&server, "dropped invalid line").len(), 1);
    // The bad line changed nothing.
    assert!(server.service("myapp.backup").is_none());
}
