//! The UDP statsd listener: one thread ("statsd-udp") that owns the socket,
//! reads datagrams of up to 64 KiB and hands the state thread one batch per
//! burst: it blocks for the first datagram, then drains whatever else is
//! already queued (non-blocking) up to `BATCH_LINES` lines.
//!
//! The kernel receive buffer is left at the system default: std cannot set
//! SO_RCVBUF without libc. Raise `net.core.rmem_default` for very bursty
//! senders.

use super::parse::parse_packet;
use super::{hand_over, LogLimiter};
use crate::counters::Counters;
use crate::model::Batch;
use crate::state::StateHandle;
use std::io::{self, ErrorKind};
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Largest datagram read whole (bigger ones are cut by the kernel).
pub const MAX_DATAGRAM: usize = 64 * 1024;
/// A batch is handed over once it holds this many lines (checked between
/// datagrams, so one big datagram may exceed it).
const BATCH_LINES: usize = 1000;
/// How long a batch stays open for more datagrams once the first arrived.
const COALESCE: Duration = Duration::from_millis(2);
/// Pause after a receive error, so a persistent one cannot spin a core.
const ERROR_PAUSE: Duration = Duration::from_millis(10);

/// Binds `addr` (e.g. `[::]:8127`, see `crate::net`) and starts the listener thread, which
/// runs for the life of the process. Returns the bound address.
pub fn spawn_udp(
    addr: &str,
    state: StateHandle,
    counters: Arc<Counters>,
) -> io::Result<(SocketAddr, JoinHandle<()>)> {
    let socket = crate::net::bind_udp(addr)?;
    socket.set_nonblocking(false)?;
    let local = socket.local_addr()?;
    let handle = thread::Builder::new()
        .name("statsd-udp".into())
        .spawn(move || run(socket, state, counters))?;
    Ok((local, handle))
}

fn run(socket: UdpSocket, state: StateHandle, counters: Arc<Counters>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let drops = LogLimiter::new();
    let errors = LogLimiter::new();
    // While datagrams flow, reads time out after `COALESCE` and a batch is
    // handed over when it is full or `COALESCE` after its first datagram:
    // one recv per datagram, one hand-over (one wake-up of the state
    // thread) per batch, no mode switches. Only an idle socket blocks
    // without a timeout.
    let mut timeout_set = false;
    loop {
        let mut batch = Batch::with_capacity(64);
        let mut lines = 0;
        let mut opened: Option<Instant> = None;
        loop {
            if opened.is_some_and(|t| t.elapsed() >= COALESCE) || lines >= BATCH_LINES {
                break;
            }
            match socket.recv(&mut buf) {
                Ok(n) => {
                    if opened.is_none() {
                        opened = Some(Instant::now());
                        if !timeout_set {
                            timeout_set = set_timeout(&socket, Some(COALESCE), &errors);
                        }
                    }
                    let (valid, invalid) = parse_packet(&buf[..n], &mut batch, &counters);
                    lines += valid + invalid;
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    if opened.is_some() {
                        break;
                    }
                    // Idle: wait for the next datagram without a timeout.
                    timeout_set = !set_timeout(&socket, None, &errors);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    if let Some(held_back) = errors.check() {
                        log::warn!(
                            "statsd udp: receive failed: {e} ({held_back} similar errors suppressed)"
                        );
                    }
                    if opened.is_some() {
                        break;
                    }
                    thread::sleep(ERROR_PAUSE);
                }
            }
        }
        hand_over(batch, &state, &counters, &drops, "udp", None);
    }
}

/// Sets the socket's read timeout (None: block). Returns whether that
/// worked.
fn set_timeout(socket: &UdpSocket, timeout: Option<Duration>, errors: &LogLimiter) -> bool {
    match socket.set_read_timeout(timeout) {
        Ok(()) => true,
        Err(e) => {
            if let Some(held_back) = errors.check() {
                log::warn!("statsd udp: cannot set a read timeout: {e} ({held_back} suppressed)");
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Update;
    use crate::statsd::testutil::{collect, fake_state, wait_for};

    const WAIT: Duration = Duration::from_secs(5);

    type Rx = crossbeam_channel::Receiver<crate::state::Command>;

    fn start_with(state: StateHandle) -> (Arc<Counters>, UdpSocket) {
        let counters = Arc::new(Counters::default());
        let (addr, _handle) = spawn_udp("127.0.0.1:0", state, counters.clone()).unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client.connect(addr).unwrap();
        (counters, client)
    }

    fn start(cap: usize) -> (SocketAddr, Rx, Arc<Counters>, UdpSocket) {
        let (state, rx) = fake_state(cap);
        let (counters, client) = start_with(state);
        let addr = client.peer_addr().unwrap();
        (addr, rx, counters, client)
    }

    #[test]
    fn three_lines_in_one_datagram() {
        let (_addr, rx, counters, client) = start(16);
        client
            .send(b"a.beat:1|c\nb.timeout:30|g\nc.autobeat:1|c\n")
            .unwrap();
        let got = collect(&rx, 3, WAIT);
        assert_eq!(
            got,
            vec![
                ("a".to_string(), Update::Beat),
                ("b".to_string(), Update::SetTimeout(30_000)),
                ("c".to_string(), Update::AUTOBEAT),
            ]
        );
        assert!(wait_for(WAIT, || Counters::get(&counters.lines) == 3));
        assert_eq!(Counters::get(&counters.invalid_lines), 0);
    }

    #[test]
    fn big_datagram_is_parsed_whole() {
        let (_addr, rx, counters, client) = start(16);
        let mut packet = String::new();
        let mut n = 0;
        while packet.len() < 60_000 {
            packet.push_str(&format!("svc.{n:05}.beat:1|c\n"));
            n += 1;
        }
        client.send(packet.as_bytes()).unwrap();
        let got = collect(&rx, n, WAIT);
        assert_eq!(got.len(), n);
        assert_eq!(got[0].0, "svc.00000");
        assert_eq!(got[n - 1].0, format!("svc.{:05}", n - 1));
        assert!(wait_for(WAIT, || Counters::get(&counters.lines) == n as u64));
    }

    #[test]
    fn garbage_is_counted_invalid_and_listener_survives() {
        let (_addr, rx, counters, client) = start(16);
        client.send(b"\x00\xff\xfe garbage\n\x01\x02|:@\n").unwrap();
        assert!(wait_for(WAIT, || Counters::get(&counters.invalid_lines) == 2));
        client.send(b"ok.beat:1|c").unwrap();
        assert_eq!(
            collect(&rx, 1, WAIT),
            vec![("ok".to_string(), Update::Beat)]
        );
        assert_eq!(Counters::get(&counters.lines), 3);
    }

    #[test]
    fn full_queue_counts_drops() {
        let (tx, rx) = crossbeam_channel::bounded(1);
        // Fill the one-slot queue so the listener's hand-over fails.
        tx.send(crate::state::Command::Ingest(Batch::default().into()))
            .unwrap();
        let (counters, client) = start_with(StateHandle::new(tx));
        client.send(b"a.beat:1|c\nb.beat:1|c\nc.beat:1|c").unwrap();
        assert!(wait_for(WAIT, || Counters::get(&counters.queue_drops) == 3));
        assert_eq!(rx.len(), 1);
    }
}
