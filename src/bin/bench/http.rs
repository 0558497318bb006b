//! HTTP beats from 4 client threads for 5 s each, in three ways a beat
//! arrives, side by side (issue 13 §3):
//! - keep-alive: one connection per client, beat after beat (wrk);
//! - new connection, client closes: an HTTP/1.1 request as curl sends it,
//!   the reply, then the client closes first (curl from cron exits);
//! - new connection, server closes: an HTTP/1.0 request as ApacheBench
//!   (`ab`) sends it, which the server answers and then closes first.
//!
//! The two new-connection modes cost a server differently: whoever closes
//! second handles the other side's FIN while it goes to TIME_WAIT, and on
//! loopback that work is charged to the closing process. Reference figures
//! measured with `ab` are comparable to the last mode.
//!
//! The server's CPU comes from `/proc/<pid>/stat`, so neither the client
//! threads nor anything else on the machine counts. `bench --http-against
//! ADDR PID` measures another server (nginx, Lovebeat 1.0.3) the same way.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a client sends its beats.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    KeepAlive,
    CurlNewConnection,
    AbNewConnection,
}

impl Mode {
    const ALL: [Mode; 3] = [
        Mode::KeepAlive,
        Mode::CurlNewConnection,
        Mode::AbNewConnection,
    ];

    fn label(self) -> &'static str {
        match self {
            Mode::KeepAlive => "keep-alive                         ",
            Mode::CurlNewConnection => "new connection, client closes (curl)",
            Mode::AbNewConnection => "new connection, server closes (ab)  ",
        }
    }

    /// Lovebeat 1.0.3's figures from issue 13 (measured with wrk and ab).
    fn go_figure(self) -> &'static str {
        match self {
            Mode::KeepAlive => "84 us",
            Mode::CurlNewConnection => "not measured",
            Mode::AbNewConnection => "176 us, 5,900/s",
        }
    }
}

/// One beat; reads the reply (by its Content-Length, or to the end when
/// the server closes). Returns false on failure.
fn beat(stream: &mut BufReader<TcpStream>, path: &str, mode: Mode) -> bool {
    let req = match mode {
        Mode::AbNewConnection => format!(
            "POST {path} HTTP/1.0\r\nHost: bench\r\nUser-Agent: ApacheBench/2.3\r\nAccept: */*\r\nContent-Length: 0\r\n\r\n"
        ),
        _ => format!(
            "POST {path} HTTP/1.1\r\nHost: bench\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\nContent-Length: 0\r\n\r\n"
        ),
    };
    if stream.get_mut().write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut len = 0usize;
    let mut status_ok = false;
    let mut line = String::new();
    loop {
        line.clear();
        match stream.read_line(&mut line) {
            Ok(0) | Err(_) => return false,
            Ok(_) => {}
        }
        if line == "\r\n" {
            break;
        }
        if line.starts_with("HTTP/1.1 200") || line.starts_with("HTTP/1.0 200") {
            status_ok = true;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; len];
    if !(status_ok && stream.read_exact(&mut body).is_ok()) {
        return false;
    }
    if mode == Mode::AbNewConnection {
        // ab reads until the server closes
        let mut rest = Vec::new();
        return stream.read_to_end(&mut rest).is_ok();
    }
    true
}

/// (beats/s, server CPU µs per beat, p50 ms, p99 ms) of one mode.
fn measure(addr: SocketAddr, pid: u32, ticks: f64, mode: Mode) -> (f64, f64, f64, f64) {
    let stop_flag = Arc::new(AtomicBool::new(false));
    let cpu_before = super::cpu_seconds(pid, ticks);
    let started = Instant::now();
    let clients: Vec<_> = (0..4)
        .map(|t| {
            let stop_flag = Arc::clone(&stop_flag);
            std::thread::spawn(move || {
                let mut latencies = Vec::with_capacity(100_000);
                let mut conn: Option<BufReader<TcpStream>> = None;
                let mut k = 0u64;
                while !stop_flag.load(Ordering::Relaxed) {
                    let path = format!("/api/services/bench.http.{t}.{}", k % 100);
                    let t0 = Instant::now();
                    if conn.is_none() {
                        conn = TcpStream::connect(addr).ok().map(BufReader::new);
                    }
                    let Some(stream) = conn.as_mut() else {
                        continue;
                    };
                    if !beat(stream, &path, mode) {
                        conn = None;
                        continue;
                    }
                    if mode != Mode::KeepAlive {
                        conn = None; // dropped: the client's end closes
                    }
                    latencies.push(t0.elapsed());
                    k += 1;
                }
                latencies
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(5));
    stop_flag.store(true, Ordering::Relaxed);
    let mut latencies: Vec<Duration> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap_or_default())
        .collect();
    let secs = started.elapsed().as_secs_f64();
    let cpu = super::cpu_seconds(pid, ticks) - cpu_before;
    latencies.sort();
    let n = latencies.len().max(1) as f64;
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    (
        latencies.len() as f64 / secs,
        cpu * 1e6 / n,
        pct(0.50),
        pct(0.99),
    )
}

/// Every mode against the server at `addr` whose process is `pid`;
/// `reference` prints Lovebeat 1.0.3's figures beside ours.
pub fn http_beats(addr: SocketAddr, pid: u32, ticks: f64, reference: bool) {
    for mode in Mode::ALL {
        let (rate, cpu, p50, p99) = measure(addr, pid, ticks, mode);
        let go = if reference {
            format!("  (Lovebeat 1.0.3: {})", mode.go_figure())
        } else {
            String::new()
        };
        println!(
            "HTTP beats, {} (4 clients): {rate:8.0} beats/s, {cpu:5.1} us server CPU per beat, \
             p50 {p50:.2} ms, p99 {p99:.2} ms{go}",
            mode.label()
        );
    }
}
