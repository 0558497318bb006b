//! Self-monitoring (SPEC 7) against real receivers: statsd metrics caught by
//! a UDP socket, `/metrics` checked by Prometheus' own parser (`promtool`),
//! and two lovebeat processes watching each other through `[[notify]]`.

mod common;

use common::tools::{self, Tool};
use common::{wait_until, Server, TempDir};
use std::net::{TcpListener, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// Every statsd line a UDP socket on 127.0.0.1 receives, collected by a
/// thread.
struct StatsdReceiver {
    addr: std::net::SocketAddr,
    lines: Arc<Mutex<Vec<String>>>,
}

impl StatsdReceiver {
    fn start() -> StatsdReceiver {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind statsd receiver");
        let addr = socket.local_addr().expect("addr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while let Ok(n) = socket.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                let mut sink = sink.lock().expect("lock");
                sink.extend(text.split('\n').map(str::to_owned));
            }
        });
        StatsdReceiver { addr, lines }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("lock").clone()
    }

    fn has(&self, line: &str) -> bool {
        self.lines().iter().any(|l| l == line)
    }

    /// Sum of the values of counter `name` (`name:N|c` lines).
    fn counter_sum(&self, name: &str) -> u64 {
        let prefix = format!("{name}:");
        self.lines()
            .iter()
            .filter_map(|l| {
                l.strip_prefix(&prefix)?
                    .strip_suffix("|c")?
                    .parse::<u64>()
                    .ok()
            })
            .sum()
    }

    /// The last value of gauge `name`.
    fn last_gauge(&self, name: &str) -> Option<u64> {
        let prefix = format!("{name}:");
        self.lines()
            .iter()
            .rev()
            .find_map(|l| l.strip_prefix(&prefix)?.strip_suffix("|g")?.parse().ok())
    }
}

#[test]
fn statsd_metrics_reach_a_real_udp_receiver() {
    let receiver = StatsdReceiver::start();
    let dir = TempDir::new("statsd-metrics");
    let server = Server::start(
        dir.path(),
        &format!(
            "[metrics]\nserver = \"{}\"\nprefix = \"lbt\"\ninterval = 1\n\
             [[views]]\nname = \"mview\"\npattern = \"m.*\"\n",
            receiver.addr
        ),
    );
    assert!(
        wait_until(WAIT, || receiver.has("lbt.started.count:1|c")),
        "no started.count; got {:?}",
        receiver.lines()
    );
    // Three beats (of three services: beats of one service closer than the
    // rate limit count once), one with a 1 s timeout so that it expires.
    assert_eq!(server.post("/api/services/m.one?timeout=1h").status, 200);
    assert_eq!(server.post("/api/services/m.two?timeout=1h").status, 200);
    assert_eq!(server.post("/api/services/m.short?timeout=1").status, 200);
    server.udp_send(b"BAD LINE\n");
    assert!(
        wait_until(WAIT, || receiver.counter_sum("lbt.beats.count") == 3),
        "beats.count: {:?}",
        receiver.lines()
    );
    assert!(
        wait_until(WAIT, || receiver.counter_sum("lbt.lines.invalid.count")
            == 1),
        "lines.invalid.count: {:?}",
        receiver.lines()
    );
    // Per-change gauges: ok (1) when it beat, error (2) when it expired.
    assert!(wait_until(WAIT, || receiver.has("lbt.service.state.m.short:1|g")));
    assert!(
        wait_until(WAIT, || receiver.last_gauge("lbt.service.state.m.short")
            == Some(2)),
        "no error gauge: {:?}",
        receiver.lines()
    );
    assert!(wait_until(WAIT, || receiver
        .last_gauge("lbt.service.count")
        == Some(3)));
    assert!(wait_until(WAIT, || receiver.last_gauge("lbt.alarm.count") == Some(1)));
    assert!(
        wait_until(WAIT, || receiver.last_gauge("lbt.alarm.state.mview")
            == Some(2)),
        "no view error gauge: {:?}",
        receiver.lines()
    );
    // New services are saved within a second; the save shows up.
    assert!(
        wait_until(WAIT, || receiver.counter_sum("lbt.db.save.count") >= 1),
        "db.save.count: {:?}",
        receiver.lines()
    );
    assert!(receiver.last_gauge("lbt.db.save.duration").is_some());
    // Every line is <prefix>.<name>:<integer>|c or |g.
    for line in receiver.lines() {
        let (name, rest) = line.split_once(':').expect("name:value");
        assert!(name.starts_with("lbt."), "{line}");
        let (value, kind) = rest.split_once('|').expect("value|type");
        assert!(value.parse::<u64>().is_ok(), "{line}");
        assert!(kind == "c" || kind == "g", "{line}");
    }
    server.stop();
}

/// Runs `promtool check metrics` on `text`; panics (fails the test) when
/// promtool is missing: .ci/run installs it.
fn promtool_check(text: &str) -> (bool, String) {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool not found: install Debian's `prometheus` package (see .ci/run)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool output");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), report)
}

#[test]
fn prometheus_metrics_pass_promtool() {
    if !tools::available("the /metrics check", &[Tool::Program("promtool")]) {
        return;
    }
    // The parser is really there and really rejects bad input.
    let (ok, _) = promtool_check("lovebeat_x{state=\"ok\" 1\n");
    assert!(!ok, "promtool accepted garbage");

    let dir = TempDir::new("promtool");
    let server = Server::start(dir.path(), "");
    assert_eq!(server.post("/api/services/p.a?timeout=1h").status, 200);
    assert_eq!(server.post("/api/services/p.b?timeout=1h").status, 200);
    assert_eq!(server.post("/api/services/p.b/mute").status, 200);
    server.udp_send(b"x y z\n");
    assert!(wait_until(WAIT, || server
        .get("/metrics")
        .text()
        .contains("lovebeat_invalid_lines_total 1\n")));
    let r = server.get("/metrics");
    assert_eq!(r.status, 200);
    let text = r.text();
    let (ok, report) = promtool_check(&text);
    assert!(ok, "promtool check metrics failed:\n{report}\n---\n{text}");
    for want in [
        "lovebeat_services{state=\"ok\"} 1\n",
        "lovebeat_services{state=\"muted\"} 1\n",
        "lovebeat_views{state=\"error\"} 0\n",
        "lovebeat_beats_total 2\n",
        "lovebeat_notify_failures_total 0\n",
        "lovebeat_metrics_dropped_total 0\n",
        "lovebeat_eventlog_failures_total 0\n",
        "lovebeat_alerts_sent_total 0\n",
        "lovebeat_s3_uploads_total 0\n",
        "# TYPE lovebeat_db_save_seconds gauge\n",
        "# TYPE lovebeat_start_time_seconds gauge\n",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    server.stop();
}

/// A port nothing listens on (bound, read, closed).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn our_host() -> String {
    lovebeat::notify::service_host(&lovebeat::notify::hostname())
}

/// Starts a server whose HTTP port is fixed (so that another can be told
/// about it before it starts).
fn start_on_port(dir: &std::path::Path, port: u16, extra: &str) -> Server {
    let config = format!(
        "[udp]\nlisten = \"127.0.0.1:0\"\n[tcp]\nlisten = \"\"\n[http]\nlisten = \"127.0.0.1:{port}\"\n[database]\nfilename = \"{}\"\n{extra}",
        dir.join("lovebeat.db").display()
    );
    let mut server = Server::start_with_config(dir, &config);
    server.http = format!("127.0.0.1:{port}").parse().expect("addr");
    let log = Arc::clone(&server.log);
    let up = wait_until(WAIT, || {
        log.lock()
            .expect("log")
            .iter()
            .any(|l| l.contains("HTTP listening on"))
    });
    assert!(up, "no HTTP listener; log:\n{}", server.log_text());
    server
}

#[test]
fn two_instances_watch_each_other() {
    let (port_a, port_b) = (free_port(), free_port());
    let (dir_a, dir_b) = (TempDir::new("notify-a"), TempDir::new("notify-b"));
    let notify = |port: u16| format!("[[notify]]\nlovebeat = \"http://127.0.0.1:{port}\"\n");
    let a = start_on_port(dir_a.path(), port_a, &notify(port_b));
    let b = start_on_port(dir_b.path(), port_b, &notify(port_a));
    let host = our_host();
    for (name, server) in [("A", &a), ("B", &b)] {
        for kind in ["monitor", "save", "alerter"] {
            let service = format!("lovebeat.{host}.{kind}");
            let mut last = None;
            let seen = wait_until(Duration::from_secs(60), || {
                last = server.service(&service);
                last.is_some()
            });
            assert!(
                seen,
                "{name} never got {service}; log:\n{}",
                server.log_text()
            );
            let s = last.expect("service");
            assert_eq!(s["timeout"], -2, "{name} {service}: {s}");
            assert_eq!(s["state"], "ok", "{name} {service}: {s}");
        }
    }
    a.stop();
    b.stop();
}

#[test]
fn notify_to_a_dead_port_changes_nothing_else() {
    let dead = free_port();
    let dir = TempDir::new("notify-dead");
    let server = Server::start(
        dir.path(),
        &format!("[[notify]]\nlovebeat = \"http://127.0.0.1:{dead}\"\n"),
    );
    // The failure is counted...
    assert!(
        wait_until(WAIT, || !server
            .get("/metrics")
            .text()
            .contains("lovebeat_notify_failures_total 0\n")),
        "no notify failure counted:\n{}",
        server.get("/metrics").text()
    );
    // ...and beats, statsd, the API and saves work as ever.
    assert_eq!(server.post("/api/services/d.http?timeout=1h").status, 200);
    server.udp_send(b"d.udp.beat:1|c\n");
    assert!(wait_until(WAIT, || server.service("d.udp").is_some()));
    assert_eq!(server.service("d.http").expect("d.http")["state"], "ok");
    let db = dir.path().join("lovebeat.db");
    assert!(wait_until(WAIT, || !server
        .get("/metrics")
        .text()
        .contains("lovebeat_db_saves_total 0\n")
        && db.exists()));
    assert!(
        server.log_text().contains("notify: POST"),
        "the failure is logged"
    );
    assert_eq!(server.stop().code(), Some(0));
    let restarted = Server::start(dir.path(), "");
    assert!(restarted.service("d.http").is_some(), "saved");
    assert!(restarted.service("d.udp").is_some(), "saved");
}
