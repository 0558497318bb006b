//! Crash consistency (issue 9): a server with 100,000 services and
//! `interval = 1` is killed with SIGKILL 50 times at random moments, half of
//! them while a save is being written (its temporary file exists), and
//! restarted each time on the same database. Every time the database must
//! load (no quarantine), no service may be lost, and every mutation the API
//! acknowledged more than 1.5 s before the kill must be there: creations,
//! timeouts, mutes, deletions and beats.

mod common;

use common::{Server, TempDir};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SERVICES: usize = 100_000;
const DELETABLE: usize = 2_000;
const ROUNDS: usize = 50;
const SAFE_AGE: Duration = Duration::from_millis(1500);

/// One acknowledged change and what it should leave behind.
#[derive(Clone, Debug)]
enum Mutation {
    Created(String),
    Timeout(String, i64),
    Muted(String),
    Deleted(String),
    Beat(String, i64),
}

/// A tiny deterministic generator (no crate needed for this).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn config(dir: &std::path::Path) -> String {
    // base_config already has a [database] table: put interval in it.
    common::base_config(dir).replace("[database]\n", "[database]\ninterval = 1\n")
        + "[limits]\nmax_services = 200000\n"
}

fn count_services(server: &Server) -> usize {
    let text = server.get("/api/services").text();
    text.matches("\"name\":").count()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Every timeout ever sent, acknowledged or not, per service: a change in
/// flight at the kill may or may not have been applied and saved.
type Attempted = Arc<Mutex<HashMap<String, Vec<i64>>>>;

/// Sends mutations until `stop`, recording those the server acknowledged.
fn mutate(
    server_http: std::net::SocketAddr,
    round: usize,
    seed: u64,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<(Instant, Mutation)>>>,
    deleted: Arc<Mutex<Vec<bool>>>,
    attempted: Attempted,
) {
    let mut rng = Rng(seed | 1);
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let (method, path, mutation) = match rng.below(5) {
            0 => {
                let name = format!("crash.r{round}.n{n}");
                (
                    "POST",
                    format!("/api/services/{name}"),
                    Mutation::Created(name),
                )
            }
            1 => {
                let name = format!("svc.{:06}", rng.below(SERVICES as u64));
                let secs = 1000 + (round as i64) * 100_000 + n as i64;
                (
                    "POST",
                    format!("/api/services/{name}?timeout={secs}"),
                    Mutation::Timeout(name, secs * 1000),
                )
            }
            2 => {
                let name = format!("svc.{:06}", rng.below(SERVICES as u64));
                (
                    "POST",
                    format!("/api/services/{name}/mute"),
                    Mutation::Muted(name),
                )
            }
            3 => {
                let k = rng.below(DELETABLE as u64) as usize;
                if deleted.lock().expect("lock")[k] {
                    continue;
                }
                let name = format!("del.{k:05}");
                (
                    "DELETE",
                    format!("/api/services/{name}"),
                    Mutation::Deleted(name),
                )
            }
            _ => {
                let name = format!("svc.{:06}", rng.below(SERVICES as u64));
                let before = now_ms();
                (
                    "POST",
                    format!("/api/services/{name}"),
                    Mutation::Beat(name, before),
                )
            }
        };
        if let Mutation::Timeout(name, ms) = &mutation {
            attempted
                .lock()
                .expect("lock")
                .entry(name.clone())
                .or_default()
                .push(*ms);
        }
        let Some(status) = try_request(server_http, method, &path) else {
            return; // the server is gone
        };
        if status == 200 {
            if let Mutation::Deleted(name) = &mutation {
                let k: usize = name[4..].parse().expect("index");
                deleted.lock().expect("lock")[k] = true;
            }
            acked.lock().expect("lock").push((Instant::now(), mutation));
        }
    }
}

/// One request on a fresh connection; `None` when the server is gone.
fn try_request(addr: std::net::SocketAddr, method: &str, path: &str) -> Option<u16> {
    use std::io::Read;
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).ok()?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).ok()?;
    let status = String::from_utf8_lossy(reply.get(9..12)?).parse().ok()?;
    Some(status)
}

/// Kills at the first sight of a save's temporary file (or after 3 s).
fn kill_mid_save(server: Server) {
    let dir = server.dir.clone();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        let saving = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .any(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            })
            .unwrap_or(false);
        if saving {
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    server.kill9();
}

#[test]
fn sigkill_at_random_moments_never_loses_data() {
    let dir = TempDir::new("crash");
    let cfg = config(dir.path());
    let server = Server::start_with_config(dir.path(), &cfg);
    let mut lines = String::with_capacity((SERVICES + DELETABLE) * 24);
    for i in 0..SERVICES {
        lines.push_str(&format!("svc.{i:06}.timeout:-1|g\n"));
    }
    for k in 0..DELETABLE {
        lines.push_str(&format!("del.{k:05}.beat:1|c\n"));
    }
    let mut tcp = TcpStream::connect(server.tcp.expect("tcp")).expect("connect");
    tcp.write_all(lines.as_bytes()).expect("send");
    drop(tcp);
    assert!(
        common::wait_until(Duration::from_secs(60), || count_services(&server)
            == SERVICES + DELETABLE),
        "the services were not created"
    );
    // Wait for them to be on disk, then start killing.
    server.stop();

    let mut rng = Rng(0x5eed_1234_abcd);
    let mut acked_all: Vec<(Instant, Mutation)> = Vec::new();
    let deleted = Arc::new(Mutex::new(vec![false; DELETABLE]));
    let attempted: Attempted = Arc::default();
    let mut mid_save_kills = 0;
    for round in 0..ROUNDS {
        let server = Server::start_with_config(dir.path(), &cfg);
        let log = server.log_text();
        assert!(
            !log.contains("corrupt") && log.contains("database"),
            "round {round}: the database did not load cleanly:\n{log}"
        );
        verify(&server, round, &acked_all, &attempted);

        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let worker = {
            let (http, stop, acked, deleted, attempted) = (
                server.http,
                stop.clone(),
                acked.clone(),
                deleted.clone(),
                attempted.clone(),
            );
            let seed = rng.next();
            std::thread::spawn(move || mutate(http, round, seed, stop, acked, deleted, attempted))
        };
        std::thread::sleep(Duration::from_millis(300 + rng.below(1700)));
        let kill_at = if round % 2 == 0 {
            mid_save_kills += 1;
            kill_mid_save(server);
            Instant::now()
        } else {
            server.kill9();
            Instant::now()
        };
        stop.store(true, Ordering::Relaxed);
        let _ = worker.join();
        let acked = std::mem::take(&mut *acked.lock().expect("lock"));
        // Only what was acknowledged long enough before the kill must survive.
        acked_all.extend(
            acked
                .into_iter()
                .filter(|(at, _)| *at + SAFE_AGE <= kill_at),
        );
    }
    let server = Server::start_with_config(dir.path(), &cfg);
    verify(&server, ROUNDS, &acked_all, &attempted);
    eprintln!(
        "crash test: {ROUNDS} kills ({mid_save_kills} aimed at saves), {} mutations checked",
        acked_all.len()
    );
    server.stop();
    let quarantined = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("corrupt"))
        .count();
    assert_eq!(quarantined, 0, "a database was quarantined");
}

/// Checks that the loaded state holds every safe mutation and every
/// service that was never deleted.
fn verify(server: &Server, round: usize, acked: &[(Instant, Mutation)], attempted: &Attempted) {
    let listing = server.get("/api/services").text();
    let names: HashSet<&str> = listing
        .split("\"name\": \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    let lost: Vec<String> = (0..SERVICES)
        .map(|i| format!("svc.{i:06}"))
        .filter(|name| !names.contains(name.as_str()))
        .take(5)
        .collect();
    assert!(lost.is_empty(), "round {round}: services lost: {lost:?}");
    // The latest expectation per service wins.
    let mut timeouts: HashMap<&str, i64> = HashMap::new();
    let mut beats: HashMap<&str, i64> = HashMap::new();
    for (_, m) in acked {
        match m {
            Mutation::Created(name) => {
                assert!(
                    names.contains(name.as_str()),
                    "round {round}: created service {name} is lost"
                );
            }
            Mutation::Deleted(name) => {
                assert!(
                    !names.contains(name.as_str()),
                    "round {round}: deleted service {name} is back"
                );
            }
            Mutation::Timeout(name, ms) => {
                timeouts.insert(name, *ms);
            }
            Mutation::Beat(name, at) => {
                let e = beats.entry(name).or_insert(*at);
                *e = (*e).max(*at);
            }
            Mutation::Muted(_) => {}
        }
    }
    let muted: Vec<&str> = acked
        .iter()
        .filter_map(|(_, m)| match m {
            Mutation::Muted(name) => Some(name.as_str()),
            _ => None,
        })
        .collect();
    for name in muted.iter().take(200) {
        let s = server
            .service(name)
            .unwrap_or_else(|| panic!("{name} lost"));
        assert_eq!(s["state"], "muted", "round {round}: mute of {name} lost");
    }
    let attempted = attempted.lock().expect("lock");
    for (name, ms) in timeouts.iter().take(200) {
        let s = server
            .service(name)
            .unwrap_or_else(|| panic!("{name} lost"));
        let actual = s["timeout"].as_i64().unwrap_or(i64::MIN);
        // The safe value, or one sent after it (values grow with time).
        let later = attempted
            .get(*name)
            .is_some_and(|sent| sent.contains(&actual) && actual > *ms);
        assert!(
            actual == *ms || later,
            "round {round}: timeout {ms} of {name} lost (it is {actual})"
        );
    }
    for (name, at) in beats.iter().take(200) {
        let s = server
            .service(name)
            .unwrap_or_else(|| panic!("{name} lost"));
        let last = s["last_beat"].as_i64().unwrap_or(-1);
        // A beat within 1 s of the previous accepted one is dropped (the
        // rate limit), so the stored beat may be up to 1 s older.
        assert!(
            last >= *at - 1000,
            "round {round}: beat of {name} at {at} lost (last_beat {last})"
        );
    }
}
