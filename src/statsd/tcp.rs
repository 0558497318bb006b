//! The TCP statsd listener: an accept thread ("statsd-tcp") and one thread
//! per connection ("statsd-tcp-conn"), at most `max_connections` at a time;
//! at the cap the connection whose last complete line is oldest (or, having
//! sent none, that was accepted first) is closed to make room, so bytes
//! dribbled without a `\n` never count as activity. A connection may stream
//! lines for as long as it likes; it is closed after `TCP_IDLE_TIMEOUT`
//! without a complete line. Memory per connection is fixed: an
//! 8 KiB read buffer and one partial line of at most `MAX_LINE_LEN` bytes;
//! longer lines are skipped up to the next `\n` and counted invalid.

use super::parse::{count, log_invalid, parse_into};
use super::{hand_over, LogLimiter};
use crate::counters::Counters;
use crate::jobs::Source;
use crate::model::Batch;
use crate::state::StateHandle;
use std::collections::HashMap;
use std::io::{self, ErrorKind, Read};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Longest accepted line, without its `\n`.
pub const MAX_LINE_LEN: usize = 4096;
/// A connection that completes no line for this long is closed.
pub const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(600);
const READ_BUF: usize = 8192;
/// How long a TCP connection waits for room in the state queue before its
/// lines are dropped (the client is slowed down, not the server).
const TCP_QUEUE_WAIT: Duration = Duration::from_secs(5);
/// Pause after an accept error (e.g. out of file descriptors), so it cannot
/// spin a core.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// What the accept thread shares with the connection threads.
struct Shared {
    state: StateHandle,
    counters: Arc<Counters>,
    open: AtomicUsize,
    drops: LogLimiter,
    /// The open connections, to find the longest idle one at the cap.
    conns: Mutex<HashMap<u64, OpenConn>>,
    /// Activity stamps: a counter, so "oldest" is exact, with no clock ties.
    stamps: AtomicU64,
}

struct OpenConn {
    /// A handle on the socket, to shut it down from the accept thread.
    stream: TcpStream,
    /// `Shared::stamp` of the last complete line, or of the accept.
    last_line: Arc<AtomicU64>,
}

impl Shared {
    fn conns(&self) -> std::sync::MutexGuard<'_, HashMap<u64, OpenConn>> {
        self.conns.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next activity stamp (later activity, larger stamp).
    fn stamp(&self) -> u64 {
        self.stamps.fetch_add(1, SeqCst)
    }

    /// Closes the connection whose last complete line (or accept) is the
    /// oldest. Only at the cap, so the scan of at most `max_connections`
    /// entries is off the beat path. Returns whether one was closed.
    fn evict_idlest(&self) -> bool {
        let conns = self.conns();
        let idlest = conns
            .values()
            .filter(|c| c.last_line.load(SeqCst) != u64::MAX)
            .min_by_key(|c| c.last_line.load(SeqCst));
        match idlest {
            Some(c) => {
                let _ = c.stream.shutdown(Shutdown::Both);
                // Never picked twice while its thread winds down.
                c.last_line.store(u64::MAX, SeqCst);
                true
            }
            None => false,
        }
    }
}

/// One open-connection slot; frees itself when dropped.
struct Slot {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.shared.conns().remove(&self.id);
        self.shared.open.fetch_sub(1, SeqCst);
    }
}

/// Binds `addr` (e.g. `[::]:8127`, see `crate::net`) and starts the accept thread, which
/// runs for the life of the process. Returns the bound address.
pub fn spawn_tcp(
    addr: &str,
    state: StateHandle,
    counters: Arc<Counters>,
    max_connections: usize,
) -> io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = crate::net::bind_tcp(addr)?;
    let local = listener.local_addr()?;
    let shared = Arc::new(Shared {
        state,
        counters,
        open: AtomicUsize::new(0),
        drops: LogLimiter::new(),
        conns: Mutex::new(HashMap::new()),
        stamps: AtomicU64::new(0),
    });
    let handle = thread::Builder::new()
        .name("statsd-tcp".into())
        .spawn(move || accept_loop(listener, shared, max_connections))?;
    Ok((local, handle))
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>, max_connections: usize) {
    let refused = LogLimiter::new();
    let errors = LogLimiter::new();
    let mut next_id = 0u64;
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(conn) => conn,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                if let Some(held_back) = errors.check() {
                    log::warn!("statsd tcp: accept failed: {e} ({held_back} similar suppressed)");
                }
                thread::sleep(ACCEPT_ERROR_PAUSE);
                continue;
            }
        };
        if shared.open.fetch_add(1, SeqCst) >= max_connections && !shared.evict_idlest() {
            shared.open.fetch_sub(1, SeqCst);
            drop(stream);
            Counters::add(&shared.counters.tcp_refused, 1);
            if let Some(held_back) = refused.check() {
                log::warn!(
                    "statsd tcp: refused connection from {peer}: {max_connections} connections \
                     already open ({held_back} more refusals not logged); raise the limit or \
                     have clients close idle connections"
                );
            }
            continue;
        }
        next_id += 1;
        let last_line = Arc::new(AtomicU64::new(shared.stamp()));
        if let Ok(handle) = stream.try_clone() {
            let conn = OpenConn {
                stream: handle,
                last_line: Arc::clone(&last_line),
            };
            shared.conns().insert(next_id, conn);
        }
        let slot = Slot {
            shared: shared.clone(),
            id: next_id,
        };
        let spawned = thread::Builder::new()
            .name("statsd-tcp-conn".into())
            .spawn(move || serve(stream, peer, slot, last_line));
        // On failure the closure, stream and slot are dropped: closed, freed.
        if let Err(e) = spawned {
            if let Some(held_back) = errors.check() {
                log::warn!(
                    "statsd tcp: no thread for connection from {peer}: {e} \
                     ({held_back} similar suppressed)"
                );
            }
        }
    }
}

fn serve(mut stream: TcpStream, peer: SocketAddr, slot: Slot, last_line: Arc<AtomicU64>) {
    let shared = &slot.shared;
    let mut buf = [0u8; READ_BUF];
    let mut lines = LineSplitter::new();
    let mut line_at = Instant::now();
    // A read times out after `TCP_IDLE_TIMEOUT`; the loop then looks at the
    // time since the last complete line, not the last byte, so a client
    // dribbling a line that never ends is closed within twice the timeout.
    if let Err(e) = stream.set_read_timeout(Some(TCP_IDLE_TIMEOUT)) {
        log::warn!("statsd tcp: cannot set read timeout for {peer}: {e}; closing");
        return;
    }
    loop {
        if line_at.elapsed() >= TCP_IDLE_TIMEOUT {
            log::debug!("statsd tcp: closing {peer}: no complete line for {TCP_IDLE_TIMEOUT:?}");
            break;
        }
        let n = match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(e) => {
                log::debug!("statsd tcp: closing {peer}: {e}");
                break;
            }
        };
        let mut batch = Batch::with_capacity(16);
        batch.source = Source::Tcp;
        let (valid, invalid) = lines.feed(&buf[..n], &mut batch);
        if valid + invalid > 0 {
            line_at = Instant::now();
            // Unless the accept thread has just picked it for eviction.
            let _ =
                last_line.fetch_update(SeqCst, SeqCst, |s| (s != u64::MAX).then(|| shared.stamp()));
        }
        count(&shared.counters, valid, invalid);
        hand_over(
            batch,
            &shared.state,
            &shared.counters,
            &shared.drops,
            "tcp",
            Some(TCP_QUEUE_WAIT),
        );
    }
    let mut batch = Batch::with_capacity(1);
    batch.source = Source::Tcp;
    let (valid, invalid) = lines.finish(&mut batch);
    count(&shared.counters, valid, invalid);
    hand_over(
        batch,
        &shared.state,
        &shared.counters,
        &shared.drops,
        "tcp",
        Some(TCP_QUEUE_WAIT),
    );
}

/// Splits a byte stream into lines with bounded memory.
struct LineSplitter {
    /// The start of a line whose `\n` has not arrived yet.
    partial: Vec<u8>,
    /// Skipping the rest of an over-long line (already counted).
    discarding: bool,
}

impl LineSplitter {
    fn new() -> Self {
        LineSplitter {
            partial: Vec::with_capacity(MAX_LINE_LEN),
            discarding: false,
        }
    }

    /// Parses every line completed by `data` into `batch`, keeps the rest.
    /// Returns (valid, invalid).
    fn feed(&mut self, data: &[u8], batch: &mut Batch) -> (usize, usize) {
        let (mut valid, mut invalid) = (0, 0);
        let mut rest = data;
        while let Some(i) = rest.iter().position(|&b| b == b'\n') {
            let piece = &rest[..i];
            rest = &rest[i + 1..];
            if self.discarding {
                self.discarding = false;
            } else if self.partial.is_empty() {
                if piece.len() > MAX_LINE_LEN {
                    too_long(piece, &mut invalid);
                } else {
                    parse_into(piece, batch, &mut valid, &mut invalid);
                }
            } else if self.partial.len() + piece.len() > MAX_LINE_LEN {
                too_long(&self.partial, &mut invalid);
                self.partial.clear();
            } else {
                self.partial.extend_from_slice(piece);
                parse_into(&self.partial, batch, &mut valid, &mut invalid);
                self.partial.clear();
            }
        }
        if !self.discarding && !rest.is_empty() {
            if self.partial.len() + rest.len() > MAX_LINE_LEN {
                too_long(&self.partial, &mut invalid);
                self.partial.clear();
                self.discarding = true;
            } else {
                self.partial.extend_from_slice(rest);
            }
        }
        (valid, invalid)
    }

    /// At end of stream: parses a last line that had no `\n`.
    fn finish(&mut self, batch: &mut Batch) -> (usize, usize) {
        let (mut valid, mut invalid) = (0, 0);
        if !self.discarding && !self.partial.is_empty() {
            parse_into(&self.partial, batch, &mut valid, &mut invalid);
        }
        self.partial.clear();
        self.discarding = false;
        (valid, invalid)
    }
}

fn too_long(start: &[u8], invalid: &mut usize) {
    *invalid += 1;
    log_invalid(
        start,
        &format_args!("line longer than {MAX_LINE_LEN} bytes"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Update;
    use crate::state::Command;
    use crate::statsd::testutil::{collect, fake_state, wait_for};
    use crossbeam_channel::Receiver;
    use std::io::Write;

    const WAIT: Duration = Duration::from_secs(5);

    fn start(max: usize) -> (SocketAddr, Receiver<Command>, Arc<Counters>) {
        let (state, rx) = fake_state(64);
        let counters = Arc::new(Counters::default());
        let (addr, _h) = spawn_tcp("127.0.0.1:0", state, counters.clone(), max).unwrap();
        (addr, rx, counters)
    }

    fn beat(name: &str) -> (String, Update) {
        (name.to_string(), Update::Beat)
    }

    #[test]
    fn splitter_reassembles_and_bounds_lines() {
        let mut s = LineSplitter::new();
        let mut batch = Batch::default();
        assert_eq!(s.feed(b"a.be", &mut batch), (0, 0));
        assert_eq!(s.feed(b"at:1|c\nb.beat:1|c\r\nc.bea", &mut batch), (2, 0));
        let long = vec![b'x'; MAX_LINE_LEN + 1];
        // Over-long line arriving in pieces: counted once, then skipped.
        assert_eq!(s.feed(b"t:1|c\n", &mut batch), (1, 0));
        assert_eq!(s.feed(&long[..3000], &mut batch), (0, 0));
        assert_eq!(s.feed(&long[3000..], &mut batch), (0, 1));
        assert_eq!(s.feed(&long, &mut batch), (0, 0));
        assert_eq!(s.feed(b"xx\nd.beat:1|c\n", &mut batch), (1, 0));
        // Over-long line in one piece.
        let mut data = long.clone();
        data.extend_from_slice(b"\ne.beat:1|c\n");
        assert_eq!(s.feed(&data, &mut batch), (1, 1));
        // Exactly MAX_LINE_LEN is fine (and invalid only as a line).
        let mut exact = b"f.beat:1|c|@".to_vec();
        exact.resize(MAX_LINE_LEN, b'1');
        exact.push(b'\n');
        assert_eq!(s.feed(&exact, &mut batch), (1, 0));
        // A partial line over the limit once completed.
        assert_eq!(s.feed(&exact[..4000], &mut batch), (0, 0));
        assert_eq!(s.feed(&long[..200], &mut batch), (0, 1));
        assert_eq!(s.feed(b"\ng.beat:1|c", &mut batch), (0, 0));
        assert_eq!(s.finish(&mut batch), (1, 0));
        let names: Vec<_> = batch.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["a", "b", "c", "d", "e", "f", "g"]);
        assert!(s.partial.capacity() <= MAX_LINE_LEN * 2);
    }

    #[test]
    fn stream_across_writes() {
        let (addr, rx, counters) = start(4);
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(b"a.beat:1|c\nb.time").unwrap();
        c.flush().unwrap();
        assert_eq!(collect(&rx, 1, WAIT), vec![beat("a")]);
        thread::sleep(Duration::from_millis(20));
        c.write_all(b"out:10|g\nc.autobeat:1|c").unwrap();
        assert_eq!(
            collect(&rx, 1, WAIT),
            vec![("b".to_string(), Update::SetTimeout(10_000))]
        );
        // The unterminated last line is parsed at EOF.
        drop(c);
        assert_eq!(
            collect(&rx, 1, WAIT),
            vec![("c".to_string(), Update::AUTOBEAT)]
        );
        assert!(wait_for(WAIT, || Counters::get(&counters.lines) == 3));
    }

    #[test]
    fn long_line_dropped_next_line_parsed() {
        let (addr, rx, counters) = start(4);
        let mut c = TcpStream::connect(addr).unwrap();
        let mut data = b"x".repeat(10_000);
        data.extend_from_slice(b".beat:1|c\nafter.beat:1|c\n");
        c.write_all(&data).unwrap();
        assert_eq!(collect(&rx, 1, WAIT), vec![beat("after")]);
        assert!(wait_for(WAIT, || Counters::get(&counters.invalid_lines) == 1));
        assert_eq!(Counters::get(&counters.lines), 2);
    }

    #[test]
    fn garbage_stream_is_counted_and_survived() {
        let (addr, rx, counters) = start(4);
        let mut c = TcpStream::connect(addr).unwrap();
        let garbage: Vec<u8> = (0..20_000u32).map(|i| (i * 7919 % 251) as u8).collect();
        c.write_all(&garbage).unwrap();
        c.write_all(b"\nok.beat:1|c\n").unwrap();
        assert_eq!(collect(&rx, 1, WAIT), vec![beat("ok")]);
        assert!(Counters::get(&counters.invalid_lines) > 0);
    }

    /// True when the server closed `s` (EOF or reset) within a short wait.
    fn closed(s: &mut TcpStream) -> bool {
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut byte = [0u8; 1];
        match s.read(&mut byte) {
            Ok(0) => true,
            Err(e) => e.kind() == ErrorKind::ConnectionReset,
            Ok(_) => false,
        }
    }

    #[test]
    fn at_the_cap_the_oldest_complete_line_makes_room() {
        let (addr, rx, counters) = start(2);
        let mut a = TcpStream::connect(addr).unwrap();
        let mut b = TcpStream::connect(addr).unwrap();
        a.write_all(b"a.beat:1|c\n").unwrap();
        assert_eq!(collect(&rx, 1, WAIT), vec![beat("a")]);
        b.write_all(b"b.beat:1|c\n").unwrap();
        assert_eq!(collect(&rx, 1, WAIT), vec![beat("b")]);
        // Bytes without a `\n` are not activity: `a` stays the oldest.
        a.write_all(b"a.be").unwrap();
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(b"c.beat:1|c\n").unwrap();
        assert_eq!(collect(&rx, 1, WAIT), vec![beat("c")]);
        assert!(closed(&mut a), "the oldest complete line was not closed");
        b.write_all(b"b2.beat:1|c\n").unwrap();
        assert_eq!(collect(&rx, 1, WAIT), vec![beat("b2")]);
        assert_eq!(Counters::get(&counters.tcp_refused), 0);
        // Now `c` has the oldest line (b2 came later): the next one closes it.
        let mut d = TcpStream::connect(addr).unwrap();
        d.write_all(b"d.beat:1|c\n").unwrap();
        assert_eq!(collect(&rx, 1, WAIT), vec![beat("d")]);
        assert!(closed(&mut c));
        b.write_all(b"b3.beat:1|c\n").unwrap();
        assert_eq!(collect(&rx, 1, WAIT), vec![beat("b3")]);
    }

    #[test]
    fn dribblers_without_a_line_make_room_oldest_accept_first() {
        let (addr, rx, counters) = start(2);
        let mut first = TcpStream::connect(addr).unwrap();
        first.write_all(b"x").unwrap();
        let mut second = TcpStream::connect(addr).unwrap();
        second.write_all(b"y").unwrap();
        // The accept thread takes connections in the order they were made,
        // so both hold a slot when `real` is accepted.
        let mut real = TcpStream::connect(addr).unwrap();
        real.write_all(b"real.beat:1|c\n").unwrap();
        assert_eq!(collect(&rx, 1, WAIT), vec![beat("real")]);
        assert!(closed(&mut first), "the oldest accept was not closed");
        second.write_all(b".beat:1|c\n").unwrap();
        assert_eq!(collect(&rx, 1, WAIT), vec![beat("y")]);
        assert_eq!(Counters::get(&counters.tcp_refused), 0);
    }
}
