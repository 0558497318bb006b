//! `bench --ws`: websocket dashboards against the real server (see
//! `ws_bench`). Kept apart from the other modes so each stays small.

use super::{create_services, die, rss_bytes, start, stop, wait_for};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the websocket clients of `ws_bench` saw.
#[derive(Default)]
struct WsTally {
    /// Clients that received their first snapshot.
    synced: AtomicU64,
    /// Messages received (snapshots included).
    messages: AtomicU64,
    /// Clients closed by the server or failed.
    lost: AtomicU64,
    /// Refused handshakes (each retried after 500 ms for up to 2 minutes).
    refused: AtomicU64,
}

/// One dashboard: connects, then reads and discards until `stop`.
fn ws_client(addr: SocketAddr, tally: &WsTally, stop: &AtomicBool) {
    let url = format!("ws://{addr}/ws");
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut ws = loop {
        let Ok(stream) = TcpStream::connect(addr) else {
            tally.lost.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(120)));
        match tungstenite::client(url.as_str(), stream) {
            Ok((ws, _)) => break ws,
            Err(_) if Instant::now() < deadline => {
                tally.refused.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(_) => {
                tally.lost.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
    };
    // Short reads from here on, to notice `stop`.
    let _ = ws
        .get_mut()
        .set_read_timeout(Some(Duration::from_millis(200)));
    let mut first = true;
    while !stop.load(Ordering::Relaxed) {
        match ws.read() {
            Ok(tungstenite::Message::Text(_)) => {
                if first {
                    tally.synced.fetch_add(1, Ordering::Relaxed);
                    first = false;
                }
                tally.messages.fetch_add(1, Ordering::Relaxed);
            }
            Ok(tungstenite::Message::Close(_)) => break,
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    if !stop.load(Ordering::Relaxed) {
        tally.lost.fetch_add(1, Ordering::Relaxed);
    }
}

/// `--ws`: `services` services, then `clients` dashboards connecting at
/// once: the server's RSS before, with them connected, and its peak while
/// ~50k beats/s (every service every 2 s at 100k) flow to them for 10 s;
/// clients the server closed or refused are counted.
pub fn ws_bench(bin: &Path, dir: &Path, services: usize, clients: usize) {
    let (server, _) = start(bin, dir);
    let pid = server.child.id();
    let mib = |b: u64| b as f64 / 1048576.0;
    create_services(&server, 0, services);
    std::thread::sleep(Duration::from_secs(1));
    let base = rss_bytes(pid);
    println!(
        "ws: {services} services, RSS {:.0} MiB before any client",
        mib(base)
    );
    let tally = Arc::new(WsTally::default());
    let stop_flag = Arc::new(AtomicBool::new(false));
    let connecting = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (tally, stop_flag, addr) =
                (Arc::clone(&tally), Arc::clone(&stop_flag), server.http);
            std::thread::spawn(move || ws_client(addr, &tally, &stop_flag))
        })
        .collect();
    let mut peak = base;
    wait_for("every client's snapshot", Duration::from_secs(300), || {
        peak = peak.max(rss_bytes(pid));
        let t = &tally;
        t.synced.load(Ordering::Relaxed) + t.lost.load(Ordering::Relaxed) >= clients as u64
    });
    let synced_in = connecting.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    let connected = rss_bytes(pid);
    println!(
        "ws: {} of {clients} clients synced in {:.1} s ({} refusals retried); RSS {:.0} MiB \
         connected ({:.2} MiB per client), {:.0} MiB peak while connecting",
        tally.synced.load(Ordering::Relaxed),
        synced_in.as_secs_f64(),
        tally.refused.load(Ordering::Relaxed),
        mib(connected),
        mib(connected.saturating_sub(base)) / clients.max(1) as f64,
        mib(peak.max(connected))
    );
    // ~50k beats/s over UDP, 1,000 lines a datagram every 20 ms.
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|e| die(&format!("udp: {e}")));
    let before = tally.messages.load(Ordering::Relaxed);
    let lost_before = tally.lost.load(Ordering::Relaxed);
    let mut peak = connected;
    let started = Instant::now();
    let mut next = 0usize;
    let mut sent = 0u64;
    while started.elapsed() < Duration::from_secs(10) {
        let mut payload = String::with_capacity(30_000);
        for _ in 0..1000 {
            payload.push_str(&format!(
                "bench.svc.{:07}.beat:1|c\n",
                next % services.max(1)
            ));
            next += 1;
        }
        let _ = udp.send_to(payload.as_bytes(), server.udp);
        sent += 1000;
        peak = peak.max(rss_bytes(pid));
        let due = started + Duration::from_millis(20 * (sent / 1000));
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    std::thread::sleep(Duration::from_secs(2));
    let after = rss_bytes(pid);
    println!(
        "ws: {:.0} beats/s for 10 s: {} messages to clients, {} clients lost, \
         RSS peak {:.0} MiB, {:.0} MiB after",
        sent as f64 / started.elapsed().as_secs_f64(),
        tally.messages.load(Ordering::Relaxed) - before,
        tally.lost.load(Ordering::Relaxed) - lost_before,
        mib(peak),
        mib(after)
    );
    stop_flag.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let log = stop(server);
    let slow = log.iter().filter(|l| l.contains("too slow")).count();
    println!("ws: server log lines saying \"too slow\": {slow}");
}
