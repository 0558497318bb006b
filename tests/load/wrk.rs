//! HTTP beat load with wrk (Debian's package): a Lua script POSTs beats
//! over keep-alive connections to `wrk.<0..999>` services. `run` starts it
//! and `Summary::parse` reads its report.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Distinct services the script beats.
pub const SERVICES: u64 = 1000;

const SCRIPT: &str = r#"
math.randomseed(os.time())
request = function()
  local path = "/api/services/wrk." .. math.random(0, 999) .. "?timeout=600"
  return wrk.format("POST", path, nil, "")
end
"#;

/// Starts wrk for `seconds` against `addr`; fails the test (with the install
/// command) when wrk is missing.
pub fn start(addr: SocketAddr, seconds: u64, dir: &Path) -> Child {
    let script = dir.join("beats.lua");
    std::fs::write(&script, SCRIPT).expect("write wrk script");
    Command::new("wrk")
        .args(["-t", "2", "-c", "32", "--timeout", "10s", "--latency"])
        .arg(format!("-d{seconds}s"))
        .arg("-s")
        .arg(&script)
        .arg(format!("http://{addr}/"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run wrk ({e}); install it: apt-get install -y wrk (.ci/run does)")
        })
}

/// The figures of wrk's report the test uses.
#[derive(Debug, Default)]
pub struct Summary {
    pub requests: u64,
    pub per_second: f64,
    pub latency_avg: String,
    pub latency_p50: String,
    pub latency_p99: String,
    pub non_2xx: u64,
    pub socket_errors: String,
}

impl Summary {
    pub fn parse(report: &str) -> Summary {
        let mut s = Summary::default();
        for line in report.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["Latency", avg, _stdev, _max, _within] => s.latency_avg = avg.to_string(),
                ["50%", v] => s.latency_p50 = v.to_string(),
                ["99%", v] => s.latency_p99 = v.to_string(),
                [n, "requests", "in", ..] => s.requests = n.parse().unwrap_or(0),
                ["Requests/sec:", v] => s.per_second = v.parse().unwrap_or(0.0),
                ["Non-2xx", "or", "3xx", "responses:", n] => s.non_2xx = n.parse().unwrap_or(0),
                ["Socket", "errors:", ..] => s.socket_errors = line.trim().to_string(),
                _ => {}
            }
        }
        s
    }
}
