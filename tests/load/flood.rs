//! The UDP statsd flood: sender threads blasting ~60 KiB datagrams that all
//! have the same shape, `VALID` valid lines for `load.<i>` services and
//! `GARBAGE` invalid ones (random bytes, bad UTF-8, huge numbers, a line
//! over 4 KiB, negative timeouts, unknown metrics and types). Because the
//! kernel drops whole datagrams, the server's counters must come out as
//! exact multiples: lines = D * (VALID + GARBAGE), invalid = D * GARBAGE.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub const VALID: u64 = 1400;
pub const GARBAGE: u64 = 600;
pub const LINES: u64 = VALID + GARBAGE;
/// `load.<i>` services the valid lines name.
pub const SERVICES: u64 = 2000;
/// Different datagrams each sender cycles through.
const VARIANTS: u64 = 16;
/// Largest datagram built (loopback takes up to 65507 bytes).
const MAX_BYTES: usize = 65_000;

/// A tiny deterministic generator (xorshift).
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn valid_line(rng: &mut Rng, out: &mut Vec<u8>) {
    let i = rng.below(SERVICES);
    let line = match rng.below(10) {
        0..=6 => format!("load.{i}.beat:1|c"),
        7 | 8 => format!("load.{i}.timeout:{}|g", 1 + rng.below(30)),
        _ => format!("load.{i}.autobeat:1|c"),
    };
    out.extend_from_slice(line.as_bytes());
}

/// One invalid line; `k` picks the kind. Never contains `\n` or `\r`.
fn garbage_line(rng: &mut Rng, k: u64, out: &mut Vec<u8>) {
    let i = rng.below(SERVICES);
    match k % 10 {
        0 | 1 => {
            // Random bytes without ':' (so never a valid line), '\n', '\r'.
            let len = 1 + rng.below(24);
            for _ in 0..len {
                let b = (rng.next() % 256) as u8;
                out.push(match b {
                    b':' | b'\n' | b'\r' => 0xfe,
                    b => b,
                });
            }
        }
        2 => {
            out.extend_from_slice(format!("load.{i}.beat").as_bytes());
            out.extend_from_slice(&[0xff, 0xc3, 0x28]);
            out.extend_from_slice(b":1|c");
        }
        3 => out
            .extend_from_slice(format!("load.{i}.timeout:99999999999999999999999999|g").as_bytes()),
        4 => out.extend_from_slice(format!("load.{i}.beat:1e400|c").as_bytes()),
        5 => {
            out.extend_from_slice(format!("load.{i}.timeout:-{}|g", 3 + rng.below(1000)).as_bytes())
        }
        6 => out.extend_from_slice(format!("load.{i}.timeout:-0.5|g").as_bytes()),
        7 => out.extend_from_slice(format!("load.{i}.frob:1|c").as_bytes()),
        8 => out.extend_from_slice(format!("load.{i}.beat:1|q").as_bytes()),
        _ => out.extend_from_slice(format!("LOAD.{i}.beat:1|c").as_bytes()),
    }
}

/// A datagram of exactly `VALID` valid and `GARBAGE` invalid lines, one of
/// them over 4 KiB (a 5000-character name: valid shape, invalid name).
pub fn datagram(rng: &mut Rng) -> Vec<u8> {
    let mut kinds: Vec<bool> = (0..LINES).map(|n| n < VALID).collect();
    for n in (1..kinds.len()).rev() {
        let j = rng.below(n as u64 + 1) as usize;
        kinds.swap(n, j);
    }
    let mut out = Vec::with_capacity(MAX_BYTES);
    let mut long_done = false;
    for (n, valid) in kinds.into_iter().enumerate() {
        if n > 0 {
            out.push(b'\n');
        }
        if valid {
            valid_line(rng, &mut out);
        } else if !long_done {
            long_done = true;
            out.extend_from_slice(b"load.");
            out.extend(std::iter::repeat_n(b'x', 5000));
            out.extend_from_slice(b".beat:1|c");
        } else {
            let k = rng.next();
            garbage_line(rng, k, &mut out);
        }
    }
    assert!(out.len() <= MAX_BYTES, "datagram of {} bytes", out.len());
    out
}

/// Counts of what the senders sent.
#[derive(Default)]
pub struct Sent {
    pub datagrams: AtomicU64,
    pub errors: AtomicU64,
}

/// Starts `threads` senders to `target` that run until `stop`.
pub fn start(
    threads: u64,
    target: SocketAddr,
    stop: Arc<AtomicBool>,
    sent: Arc<Sent>,
) -> Vec<JoinHandle<()>> {
    (0..threads)
        .map(|t| {
            let stop = Arc::clone(&stop);
            let sent = Arc::clone(&sent);
            std::thread::spawn(move || {
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (t + 1).wrapping_mul(0x2545_f491));
                let datagrams: Vec<Vec<u8>> = (0..VARIANTS).map(|_| datagram(&mut rng)).collect();
                let pause = std::env::var("LOVEBEAT_LOAD_UDP_PAUSE_US")
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .map(Duration::from_micros);
                let socket = UdpSocket::bind("127.0.0.1:0").expect("udp bind");
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    match socket.send_to(&datagrams[n % datagrams.len()], target) {
                        Ok(_) => sent.datagrams.fetch_add(1, Ordering::Relaxed),
                        Err(_) => sent.errors.fetch_add(1, Ordering::Relaxed),
                    };
                    n += 1;
                    if let Some(pause) = pause {
                        std::thread::sleep(pause);
                    }
                }
            })
        })
        .collect()
}
