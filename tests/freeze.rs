//! A freeze of the monitor itself (issue 13, section 5): the real binary is
//! stopped with SIGSTOP for 10 s while services beat every second on 4 s
//! timeouts, then continued. Services that keep beating must raise no alert;
//! a service that really stopped must still alert after the thaw.

mod common;
#[path = "support/receiver.rs"]
mod receiver;

use common::{wait_until, Server, TempDir};
use receiver::Receiver;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);
/// How long the server is stopped: more than two timeouts.
const FREEZE: Duration = Duration::from_secs(10);
const TIMEOUT_S: u64 = 4;
const LIVE: usize = 40;

fn live_names() -> Vec<String> {
    (0..LIVE)
        .map(|i| format!("live.{}.s{i}", if i % 2 == 0 { "a" } else { "b" }))
        .collect()
}

/// Beats every live service (and `dead.x` while `dead_beats`) once a second
/// over UDP until `running` goes false, freeze or not.
fn beater(
    server: &Server,
    running: Arc<AtomicBool>,
    dead_beats: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    let target = server.udp.expect("udp listener");
    std::thread::spawn(move || {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("udp bind");
        while running.load(Ordering::SeqCst) {
            let mut payload = String::new();
            for name in live_names() {
                payload.push_str(&format!("{name}.beat:1|c\n"));
            }
            if dead_beats.load(Ordering::SeqCst) {
                payload.push_str("dead.x.beat:1|c\n");
            }
            let _ = socket.send_to(payload.as_bytes(), target);
            std::thread::sleep(Duration::from_millis(1_000));
        }
    })
}

fn state(server: &Server, name: &str) -> String {
    server
        .service(name)
        .and_then(|s| s["state"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[test]
fn a_stopped_monitor_pages_nobody_on_waking_but_still_catches_the_dead() {
    let rx = Receiver::start(Box::new(|_, _| 200));
    let dir = TempDir::new("freeze");
    let views = "[[views]]\nname = \"live-a\"\npattern = \"live.a.*\"\nalerts = [\"live\"]\n\
                 [[views]]\nname = \"live-b\"\npattern = \"live.b.*\"\nalerts = [\"live\"]\n\
                 [[views]]\nname = \"dead\"\npattern = \"dead.*\"\nalerts = [\"dead\"]\n";
    let server = Server::start(
        dir.path(),
        &format!(
            "{views}[alerts.live]\nwebhook = \"{}\"\n[alerts.dead]\nwebhook = \"{}\"\n",
            rx.url("/live"),
            rx.url("/dead")
        ),
    );
    // Created with a beat and the timeout at once (never in ERROR).
    for name in live_names().iter().map(String::as_str).chain(["dead.x"]) {
        let r = server.post(&format!("/api/services/{name}?timeout={TIMEOUT_S}"));
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let running = Arc::new(AtomicBool::new(true));
    let dead_beats = Arc::new(AtomicBool::new(true));
    let beats = beater(&server, Arc::clone(&running), Arc::clone(&dead_beats));
    // Beating over UDP: a beat after the HTTP one is accepted for each.
    assert!(
        wait_until(WAIT, || {
            ["live.a.s0", "dead.x"].iter().all(|name| {
                server
                    .service(name)
                    .and_then(|s| s["beat_history"].as_array().map(|h| !h.is_empty()))
                    .unwrap_or(false)
            })
        }),
        "UDP beats never arrived; log:\n{}",
        server.log_text()
    );

    // dead.x stops for good; the monitor stops for FREEZE; the rest beat on.
    dead_beats.store(false, Ordering::SeqCst);
    server.signal("STOP");
    std::thread::sleep(FREEZE); // the length of the freeze, not a wait
    server.signal("CONT");
    let thawed = Instant::now();

    assert!(
        wait_until(WAIT, || !rx.requests("/dead").is_empty()),
        "the service that stopped was never alerted; log:\n{}",
        server.log_text()
    );
    assert!(
        server
            .log_text()
            .contains("the monitor was not running for"),
        "the freeze went unnoticed; log:\n{}",
        server.log_text()
    );
    // Keep beating well past every deadline the freeze could have moved
    // (thaw + settle + one timeout), then look: not one alert for them.
    let watch_until = thawed + Duration::from_secs(2 * TIMEOUT_S + 2);
    while Instant::now() < watch_until {
        std::thread::sleep(Duration::from_millis(200));
    }
    let live_alerts = rx.requests("/live");
    running.store(false, Ordering::SeqCst);
    let _ = beats.join();
    assert!(
        live_alerts.is_empty(),
        "{} alert(s) for services that kept beating, first: {}; log:\n{}",
        live_alerts.len(),
        live_alerts[0].text(),
        server.log_text()
    );
    for name in live_names() {
        assert_eq!(state(&server, &name), "ok", "{name}");
    }
    assert_eq!(state(&server, "dead.x"), "error");
    let metrics = server.get("/metrics").text();
    let freezes: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("lovebeat_freezes_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    assert!(freezes >= 1, "the freeze is counted:\n{metrics}");
}
