//! The acknowledged-mutation client: threads that create `acked.<n>`
//! services with distinct timeouts, mute some, unmute some of those and
//! delete others, recording what the server acknowledged (200). A service
//! any of whose requests failed is left out of the checks (its outcome is
//! unknown) and counted. `check` compares the server's service list with
//! the records.

use crate::client::call;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(10);

/// What the acknowledged requests should have left behind.
#[derive(Clone, Debug, PartialEq)]
pub struct Expected {
    pub timeout_ms: i64,
    pub muted: bool,
    pub deleted: bool,
    /// Acknowledged requests for this service.
    pub acks: u64,
}

#[derive(Default)]
pub struct Records {
    pub expected: HashMap<String, Expected>,
    /// Requests that failed or were not a 200, with why.
    pub failures: Vec<String>,
}

/// The requests for service `n` and what they leave behind.
fn plan(n: u64) -> (Vec<(&'static str, String)>, Expected) {
    let name = format!("acked.{n}");
    let timeout = 3600 + n as i64;
    let mut steps = vec![("POST", format!("/api/services/{name}?timeout={timeout}"))];
    let mut muted = false;
    if n.is_multiple_of(3) {
        steps.push(("POST", format!("/api/services/{name}/mute")));
        muted = true;
        if n % 6 == 3 {
            steps.push(("POST", format!("/api/services/{name}/unmute")));
            muted = false;
        }
    }
    let deleted = n.is_multiple_of(5);
    if deleted {
        steps.push(("DELETE", format!("/api/services/{name}")));
    }
    let expected = Expected {
        timeout_ms: timeout * 1000,
        muted,
        deleted,
        acks: steps.len() as u64,
    };
    (steps, expected)
}

/// Starts `threads` clients that run until `stop`.
pub fn start(
    threads: u64,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    records: Arc<Mutex<Records>>,
) -> Vec<JoinHandle<()>> {
    (0..threads)
        .map(|t| {
            let stop = Arc::clone(&stop);
            let records = Arc::clone(&records);
            std::thread::spawn(move || {
                let mut n = t;
                while !stop.load(Ordering::Relaxed) {
                    let (steps, expected) = plan(n);
                    let mut failed = None;
                    for (method, path) in &steps {
                        match call(addr, method, path, TIMEOUT) {
                            Ok(r) if r.status == 200 => {}
                            Ok(r) => {
                                failed = Some(format!("{method} {path}: {}", r.status));
                                break;
                            }
                            Err(e) => {
                                failed = Some(format!("{method} {path}: {e}"));
                                break;
                            }
                        }
                    }
                    let mut records = records.lock().expect("records lock");
                    match failed {
                        Some(why) => records.failures.push(why),
                        None => {
                            records.expected.insert(format!("acked.{n}"), expected);
                        }
                    }
                    n += threads;
                }
            })
        })
        .collect()
}

/// Compares the service list (`GET /api/services` JSON) with the records;
/// returns one line per discrepancy.
pub fn check(services: &serde_json::Value, records: &Records) -> Vec<String> {
    let mut present: HashMap<&str, &serde_json::Value> = HashMap::new();
    for s in services["services"].as_array().into_iter().flatten() {
        if let Some(name) = s["name"].as_str() {
            present.insert(name, s);
        }
    }
    let mut problems = Vec::new();
    for (name, want) in &records.expected {
        match (present.get(name.as_str()), want.deleted) {
            (Some(_), true) => problems.push(format!("{name}: deleted (acknowledged) but present")),
            (None, true) => {}
            (None, false) => problems.push(format!("{name}: created (acknowledged) but missing")),
            (Some(s), false) => {
                let timeout = s["timeout"].as_i64();
                let muted = s["muted_since"].as_i64().is_some_and(|m| m != 0);
                let state_muted = s["state"] == "muted";
                if timeout != Some(want.timeout_ms) {
                    problems.push(format!(
                        "{name}: timeout {timeout:?}, want {}",
                        want.timeout_ms
                    ));
                }
                if muted != want.muted || state_muted != want.muted {
                    problems.push(format!(
                        "{name}: muted {muted} (state {}), want {}",
                        s["state"], want.muted
                    ));
                }
            }
        }
    }
    problems
}
