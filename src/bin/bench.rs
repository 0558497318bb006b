//! `bench`: starts the real `lovebeat` server and measures it from outside,
//! reading the server's own CPU time and RSS from `/proc/<pid>` so the
//! sender's cost does not count. Run with
//!
//! ```text
//! cargo build --release --bins && ./target/release/bench [--services N] [--http]
//! ```
//!
//! `--http` measures only HTTP beats, on keep-alive connections and on a
//! new connection per beat, closed first by the client (curl from cron) or
//! by the server (ab), side by side (see `http`). `--http-against ADDR PID`
//! measures another server the same way (nginx's worker, the Go original).
//! `LOVEBEAT_BIN` names another server binary to measure.
//!
//! It reports: server CPU per statsd line over UDP (1 and 20 lines per
//! datagram), HTTP beats (both modes: beats/s, server CPU, latency), RSS per service at
//! 100k and N (default 1M) services, save and load time, the longest stall
//! of an HTTP request during a save, idle CPU, and expiry latency.
//!
//! `bench --engine [--services N]` measures the engine alone, in process
//! (see `engine`): ns per plain beat and per scheduled success beat, RSS
//! per plain service.
//!
//! `bench --db [--services N]` measures the database in-process instead
//! (see `db_bench`): save and load time and file size of N plain services
//! and of N services with schedules and 20 events each.
//!
//! `bench --ws [--services N] [--clients C]` measures dashboards instead
//! (see `ws_bench`): RSS with C websocket clients (default 64) at N
//! services (default 100k), and whether reading clients survive ~50k
//! beats/s.
//!
//! `bench --cron` measures `lovebeat::cron` in-process: ns per next fire
//! time (over a year and around DST changes) and per parse.
//!
//! `bench --history` measures `/api/services/<name>/history` (SPEC 18) over
//! 30 days of a service flapping every minute (see `history`), through the
//! real server and in-process.
//!
//! `bench --policy [--views N]` measures the alert policy in-process (see
//! `policy`): the CPU of an hour of reminders every minute for N views
//! (default 1,000) in ERROR, as a share of one core.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "bench/cron.rs"]
mod cron;
#[path = "bench/db.rs"]
mod db;
#[path = "bench/engine.rs"]
mod engine;
#[path = "bench/history.rs"]
mod history;
#[path = "bench/http.rs"]
mod http;
#[path = "bench/policy.rs"]
mod policy;
#[path = "bench/ws.rs"]
mod ws;

type Log = Arc<Mutex<Vec<String>>>;

struct Server {
    child: Child,
    http: SocketAddr,
    udp: SocketAddr,
    tcp: SocketAddr,
    log: Log,
}

fn die(message: &str) -> ! {
    eprintln!("bench: {message}");
    std::process::exit(1)
}

fn logged_addr(log: &Log, prefix: &str) -> Option<SocketAddr> {
    let log = log.lock().ok()?;
    log.iter().find_map(|line| {
        let rest = &line[line.find(prefix)? + prefix.len()..];
        rest.split_whitespace().next()?.parse().ok()
    })
}

// The child moves into `Server` and is waited for in `stop`.
#[allow(clippy::zombie_processes)]
fn start(bin: &Path, dir: &Path) -> (Server, Duration) {
    let config = format!(
        "[udp]\nlisten = \"127.0.0.1:0\"\n[tcp]\nlisten = \"127.0.0.1:0\"\n[http]\nlisten = \"127.0.0.1:0\"\n\
         [database]\nfilename = {:?}\ninterval = 3600\n[limits]\nmax_services = 5000000\n",
        dir.join("lovebeat.db").display().to_string()
    );
    let path = dir.join("bench.toml");
    if let Err(e) = std::fs::write(&path, config) {
        die(&format!("cannot write {}: {e}", path.display()));
    }
    let started = Instant::now();
    let mut child = Command::new(bin)
        .arg("-config")
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| die(&format!("cannot start {}: {e}", bin.display())));
    let log: Log = Arc::default();
    if let Some(stderr) = child.stderr.take() {
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut l) = sink.lock() {
                    l.push(line);
                }
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if let (Some(http), Some(udp), Some(tcp)) = (
            logged_addr(&log, "HTTP listening on "),
            logged_addr(&log, "statsd UDP listening on "),
            logged_addr(&log, "statsd TCP listening on "),
        ) {
            return (
                Server {
                    child,
                    http,
                    udp,
                    tcp,
                    log,
                },
                started.elapsed(),
            );
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            die("server did not start");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// Server CPU time (user + system), seconds.
fn cpu_seconds(pid: u32, ticks: f64) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let stime: f64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    (utime + stime) / ticks
}

/// Server resident set size, bytes.
fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// One HTTP request on a keep-alive connection; returns status and body.
fn http_on(stream: &mut TcpStream, method: &str, path: &str) -> Option<(u16, Vec<u8>)> {
    let req = format!("{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Length: 0\r\n\r\n");
    stream.write_all(req.as_bytes()).ok()?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).ok()?;
    Some((status, body))
}

fn get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| die(&format!("connect: {e}")));
    http_on(&mut stream, "GET", path)
        .map(|(_, body)| String::from_utf8_lossy(&body).into_owned())
        .unwrap_or_default()
}

fn metric(addr: SocketAddr, name: &str) -> f64 {
    let text = get(addr, "/metrics");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0.0)
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        if Instant::now() > deadline {
            die(&format!("timed out waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `lines` over UDP in datagrams of `per_datagram` lines, paced so
/// the kernel buffer does not overflow (without asking the server anything
/// meanwhile, which would cost it CPU); returns server CPU ns per line that
/// arrived.
fn udp_cost(server: &Server, ticks: f64, names: usize, lines: usize, per_datagram: usize) -> f64 {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|e| die(&format!("udp: {e}")));
    let pid = server.child.id();
    let lines_before = metric(server.http, "lovebeat_statsd_lines_total");
    let datagrams: Vec<String> = (0..names)
        .map(|start| {
            (0..per_datagram)
                .map(|k| format!("bench.udp.{}.beat:1|c\n", (start + k) % names))
                .collect()
        })
        .collect();
    let cpu_before = cpu_seconds(pid, ticks);
    let mut sent = 0usize;
    let mut n = 0usize;
    while sent < lines {
        let _ = socket.send_to(datagrams[n % names].as_bytes(), server.udp);
        sent += per_datagram;
        n += 1;
        if n.is_multiple_of(64) {
            std::thread::sleep(Duration::from_micros(50));
        }
    }
    let target = lines_before + lines as f64;
    let mut last = -1.0;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let now = metric(server.http, "lovebeat_statsd_lines_total");
        if now >= target || now == last || Instant::now() > deadline {
            break;
        }
        last = now;
    }
    let cpu = cpu_seconds(pid, ticks) - cpu_before;
    let received = metric(server.http, "lovebeat_statsd_lines_total") - lines_before;
    if received < lines as f64 * 0.95 {
        println!("  (note: {received} of {lines} lines arrived; the kernel dropped the rest)");
    }
    cpu * 1e9 / received.max(1.0)
}

/// Creates services `from..to` (each with a one-day timeout and a beat)
/// over TCP statsd, which waits for the server instead of dropping.
fn create_services(server: &Server, from: usize, to: usize) {
    let before = count_services(server);
    let mut stream = TcpStream::connect(server.tcp).unwrap_or_else(|e| die(&format!("tcp: {e}")));
    let mut chunk = String::new();
    for i in from..to {
        chunk.push_str(&format!(
            "bench.svc.{i:07}.timeout:86400|g\nbench.svc.{i:07}.beat:1|c\n"
        ));
        if chunk.len() > 60_000 {
            if let Err(e) = stream.write_all(chunk.as_bytes()) {
                die(&format!("tcp write: {e}"));
            }
            chunk.clear();
        }
    }
    let _ = stream.write_all(chunk.as_bytes());
    drop(stream);
    wait_for("services to be created", Duration::from_secs(300), || {
        count_services(server) >= before + (to - from) as f64
    });
}

fn count_services(server: &Server) -> f64 {
    let text = get(server.http, "/metrics");
    text.lines()
        .filter(|l| l.starts_with("lovebeat_services{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn stop(mut server: Server) -> Vec<String> {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(server.child.id().to_string())
        .status();
    let _ = server.child.wait();
    std::thread::sleep(Duration::from_millis(100));
    server.log.lock().map(|l| l.clone()).unwrap_or_default()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--cron") {
        cron::cron_bench();
        return;
    }
    if args.iter().any(|a| a == "--policy") {
        let views = args
            .iter()
            .position(|a| a == "--views")
            .and_then(|i| args.get(i + 1)?.parse().ok())
            .unwrap_or(1_000);
        policy::policy_bench(views);
        return;
    }
    let total: usize = args
        .iter()
        .position(|a| a == "--services")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(1_000_000);
    let bin = std::env::var_os("LOVEBEAT_BIN")
        .map(PathBuf::from)
        .or_else(|| Some(std::env::current_exe().ok()?.parent()?.join("lovebeat")))
        .unwrap_or_else(|| die("cannot find the lovebeat binary; set LOVEBEAT_BIN"));
    let dir = std::env::temp_dir().join(format!("lovebeat-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let ticks = clock_ticks();
    if let Some(i) = args.iter().position(|a| a == "--http-against") {
        let addr = args.get(i + 1).and_then(|a| a.parse().ok());
        let pid = args.get(i + 2).and_then(|p| p.parse().ok());
        let (Some(addr), Some(pid)) = (addr, pid) else {
            die("usage: bench --http-against ADDR PID (e.g. 127.0.0.1:8080 and nginx's worker)");
        };
        println!("HTTP beats against {addr}, process {pid}");
        http::http_beats(addr, pid, ticks, false);
        return;
    }
    if args.iter().any(|a| a == "--engine") {
        engine::engine_bench(total);
        return;
    }
    if args.iter().any(|a| a == "--history") {
        history::history_bench(&bin, &dir);
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    if args.iter().any(|a| a == "--db") {
        db::db_bench(&dir, total);
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    if args.iter().any(|a| a == "--ws") {
        let services = if args.iter().any(|a| a == "--services") {
            total
        } else {
            100_000
        };
        let clients = args
            .iter()
            .position(|a| a == "--clients")
            .and_then(|i| args.get(i + 1)?.parse().ok())
            .unwrap_or(64);
        ws::ws_bench(&bin, &dir, services, clients);
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    println!(
        "lovebeat bench: {} on {} cores",
        bin.display(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );

    let (server, _) = start(&bin, &dir);
    let pid = server.child.id();
    let http_only = args.iter().any(|a| a == "--http");
    if http_only {
        http::http_beats(server.http, pid, ticks, true);
        stop(server);
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }

    // 1. statsd CPU per line.
    let per1 = udp_cost(&server, ticks, 1000, 200_000, 1);
    println!("statsd UDP, 1 line/datagram:   {per1:8.0} ns server CPU per line");
    let per20 = udp_cost(&server, ticks, 1000, 2_000_000, 20);
    println!("statsd UDP, 20 lines/datagram: {per20:8.0} ns server CPU per line  (Lovebeat 1.0.3: 4300 ns)");

    // 2. HTTP beats, on keep-alive connections and one connection per beat.
    http::http_beats(server.http, pid, ticks, true);

    // 3. RSS per service.
    let base_services = count_services(&server);
    let base_rss = rss_bytes(pid);
    let first = 100_000.min(total);
    create_services(&server, 0, first);
    let rss_100k = rss_bytes(pid);
    println!(
        "RSS per service at {first}: {:6.0} bytes  (Lovebeat 1.0.3: 473)",
        (rss_100k - base_rss) as f64 / first as f64
    );
    create_services(&server, first, total);
    let rss_total = rss_bytes(pid);
    println!(
        "RSS per service at {total}: {:6.0} bytes  (total RSS {:.0} MiB, {} other services)",
        (rss_total - base_rss) as f64 / total as f64,
        rss_total as f64 / 1048576.0,
        base_services
    );

    // 4. A save of everything, and how long an API request waits meanwhile.
    let saves = metric(server.http, "lovebeat_db_saves_total");
    let prober = StatusProber::start(server.http);
    // A timeout change is saved within a second.
    let mut s = TcpStream::connect(server.http).unwrap_or_else(|e| die(&format!("{e}")));
    http_on(&mut s, "POST", "/api/services/bench.trigger?timeout=1h");
    wait_for("a save", Duration::from_secs(120), || {
        metric(server.http, "lovebeat_db_saves_total") > saves
    });
    let longest_status_ms = prober.stop();
    println!(
        "save of {total} services: {:.0} ms in the saver thread; longest /api/status round trip meanwhile: {:.1} ms",
        metric(server.http, "lovebeat_db_save_seconds") * 1000.0,
        longest_status_ms
    );

    // 5. Idle CPU.
    std::thread::sleep(Duration::from_secs(2));
    let cpu_before = cpu_seconds(pid, ticks);
    let idle_for = Duration::from_secs(30);
    std::thread::sleep(idle_for);
    let idle = (cpu_seconds(pid, ticks) - cpu_before) / idle_for.as_secs_f64();
    println!(
        "idle CPU at {total} services: {:.3}% of a core  (Lovebeat 1.0.3: 1-1.6% at 150k)",
        idle * 100.0
    );

    // 6. Shutdown save and load.
    let log = stop(server);
    if let Some(line) = log
        .iter()
        .find(|l| l.contains("database saved on shutdown"))
    {
        println!(
            "shutdown: {}",
            line.split("INFO").last().unwrap_or(line).trim()
        );
    }
    let (server, startup) = start(&bin, &dir);
    println!(
        "load of {total} services: {:.0} ms from start to listening",
        startup.as_secs_f64() * 1000.0
    );

    // 7. Expiry latency, with the big timer heap in place.
    let mut stream = TcpStream::connect(server.http).unwrap_or_else(|e| die(&format!("{e}")));
    let n = 200;
    for i in 0..n {
        http_on(
            &mut stream,
            "POST",
            &format!("/api/services/bench.exp.{i}?timeout=2"),
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(2_500));
    let mut late = Vec::new();
    for i in 0..n {
        let body = http_on(&mut stream, "GET", &format!("/api/services/bench.exp.{i}"))
            .map(|(_, b)| b)
            .unwrap_or_default();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let s = &v["service"];
        if s["state"] == "error" {
            let deadline = s["last_beat"].as_i64().unwrap_or(0) + 2000;
            late.push(s["last_state_change"].as_i64().unwrap_or(0) - deadline);
        }
    }
    late.sort_unstable();
    if late.is_empty() {
        println!("expiry: no service expired?");
    } else {
        println!(
            "expiry latency ({} services, {total} in the heap): median {} ms, max {} ms  (Lovebeat 1.0.3: 560 / 990 ms)",
            late.len(),
            late[late.len() / 2],
            late[late.len() - 1]
        );
    }
    // 8. A config reload (SIGHUP) that adds a view over every service: the
    // one whole-set pass on the state thread, and how long an API request
    // waits meanwhile.
    reload_cost(&server, &dir, total);
    stop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

fn reload_cost(server: &Server, dir: &Path, total: usize) {
    let path = dir.join("bench.toml");
    let config = std::fs::read_to_string(&path).unwrap_or_default();
    let view = "[[views]]\nname = \"bench-all\"\npattern = \"bench.svc.*\"\n";
    if let Err(e) = std::fs::write(&path, format!("{config}{view}")) {
        die(&format!("cannot write {}: {e}", path.display()));
    }
    let summaries = |log: &Log| {
        log.lock()
            .map(|l| l.iter().filter(|l| l.contains("reload: views:")).count())
            .unwrap_or(0)
    };
    let before = summaries(&server.log);
    let prober = StatusProber::start(server.http);
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let _ = Command::new("kill")
        .arg("-HUP")
        .arg(server.child.id().to_string())
        .status();
    wait_for("the reload", Duration::from_secs(300), || {
        summaries(&server.log) > before
    });
    let took = started.elapsed();
    let longest_status_ms = prober.stop();
    println!(
        "reload adding a view over {total} services: {:.0} ms from SIGHUP to applied; longest /api/status round trip meanwhile: {:.1} ms",
        took.as_secs_f64() * 1000.0,
        longest_status_ms
    );
}

/// Polls `/api/status` on one keep-alive connection until stopped, keeping
/// the longest round trip: how long an API request waited meanwhile.
struct StatusProber {
    longest_us: Arc<AtomicU64>,
    probing: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl StatusProber {
    fn start(addr: SocketAddr) -> StatusProber {
        let longest_us = Arc::new(AtomicU64::new(0));
        let probing = Arc::new(AtomicBool::new(true));
        let thread = {
            let (longest_us, probing) = (Arc::clone(&longest_us), Arc::clone(&probing));
            std::thread::spawn(move || {
                let Ok(mut stream) = TcpStream::connect(addr) else {
                    return;
                };
                while probing.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    if http_on(&mut stream, "GET", "/api/status").is_none() {
                        return;
                    }
                    longest_us.fetch_max(t.elapsed().as_micros() as u64, Ordering::Relaxed);
                }
            })
        };
        StatusProber {
            longest_us,
            probing,
            thread,
        }
    }

    /// Stops probing; the longest round trip seen, in ms.
    fn stop(self) -> f64 {
        self.probing.store(false, Ordering::Relaxed);
        let _ = self.thread.join();
        self.longest_us.load(Ordering::Relaxed) as f64 / 1000.0
    }
}
