//! Probes that run beside the flood until told to stop: the server's RSS
//! from `/proc/<pid>/status` every 250 ms, and `GET /api/status` every
//! 100 ms with a 5 s client timeout, every answer and failure recorded.

use crate::client::call;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// VmRSS of `pid` in KiB, None when unreadable.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Samples RSS (elapsed, KiB) until `stop`.
pub fn sample_rss(pid: u32, stop: Arc<AtomicBool>) -> JoinHandle<Vec<(Duration, u64)>> {
    std::thread::spawn(move || {
        let start = Instant::now();
        let mut samples = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            if let Some(kib) = rss_kib(pid) {
                samples.push((start.elapsed(), kib));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        samples
    })
}

/// What the status poller saw.
#[derive(Default)]
pub struct StatusPolls {
    pub latencies: Vec<Duration>,
    pub failures: Vec<String>,
}

/// Polls `/api/status` every 100 ms until `stop`.
pub fn poll_status(addr: SocketAddr, stop: Arc<AtomicBool>) -> JoinHandle<StatusPolls> {
    std::thread::spawn(move || {
        let mut polls = StatusPolls::default();
        let start = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let at = Instant::now();
            match call(addr, "GET", "/api/status", Duration::from_secs(5)) {
                Ok(r) if r.status == 200 && r.body.starts_with(b"num_ok ") => {
                    polls.latencies.push(r.took)
                }
                Ok(r) => polls.failures.push(format!(
                    "at {:?}: status {}: {}",
                    at - start,
                    r.status,
                    String::from_utf8_lossy(&r.body)
                )),
                Err(e) => polls.failures.push(format!("at {:?}: {e}", at - start)),
            }
            if let Some(rest) = Duration::from_millis(100).checked_sub(at.elapsed()) {
                std::thread::sleep(rest);
            }
        }
        polls
    })
}
