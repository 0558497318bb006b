//! A small HTTP/1.1 client with a deadline on every step (connect, write,
//! each read), for the load test's probes: under load a request may fail or
//! be slow, and the caller must learn which, not hang.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// One answered request.
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    pub took: Duration,
}

impl Reply {
    pub fn json(&self) -> Result<serde_json::Value, String> {
        serde_json::from_slice(&self.body)
            .map_err(|e| format!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// Sends `method path` (Connection: close, empty body) and reads the whole
/// reply. Errors name what failed (connect, write, read, no reply).
pub fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    timeout: Duration,
) -> Result<Reply, String> {
    let start = Instant::now();
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| format!("set timeout: {e}"))?;
    let length = if method == "GET" {
        ""
    } else {
        "Content-Length: 0\r\n"
    };
    let head =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{length}\r\n");
    stream
        .write_all(head.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut data = Vec::new();
    let deadline = start + timeout;
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if Instant::now() > deadline {
            return Err(format!("no complete reply within {timeout:?}"));
        }
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => data.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(format!("read after {:?}: {e}", start.elapsed())),
        }
    }
    if !data.windows(4).any(|w| w == b"\r\n\r\n") {
        return Err(format!("no HTTP reply ({} bytes)", data.len()));
    }
    let parsed = crate::common::parse_response(&data);
    Ok(Reply {
        status: parsed.status,
        body: parsed.body,
        took: start.elapsed(),
    })
}

/// Median and maximum of `values` (zero when empty).
pub fn median_max(values: &[Duration]) -> (Duration, Duration) {
    let mut sorted = values.to_vec();
    sorted.sort();
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or_default();
    let max = sorted.last().copied().unwrap_or_default();
    (median, max)
}
