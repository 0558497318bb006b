//! lovebeat patch: connections served through a `ConnectionHandler` are
//! accepted by the threads that serve them (leader/followers). Parked
//! threads wait in `accept` on the shared listener; the one the kernel
//! wakes first makes sure another is left waiting (starting one if none
//! is), then serves its connection from start to close, and goes back to
//! waiting in `accept`. Still one thread per connection, but a new
//! connection costs no thread creation and no hand-over from an accept
//! thread to a worker (each a context switch).
//!
//! Parked threads beyond one leave after `idle_timeout` without a
//! connection (the listener's read timeout, which accepted sockets also
//! inherit as their read and write timeouts), and at most `MAX_PARKED`
//! stay parked at all.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::client::ClientConnection;
use crate::connection::{Connection, Listener};
use crate::front::{Conn, RateLog, Registry};
use crate::util::RefinedTcpStream;
use crate::ConnectionHandler;

/// Threads waiting in `accept` at most; more leave after their connection.
const MAX_PARKED: usize = 16;

pub(crate) struct Acceptors {
    listener: Listener,
    handler: ConnectionHandler,
    idle_timeout: Option<Duration>,
    close: Arc<AtomicBool>,
    registry: Registry,
    /// Threads in `accept` now.
    waiting: AtomicUsize,
    /// Accept errors, refusals, failed thread starts: rate-limited warnings.
    logs: Mutex<[RateLog; 3]>,
}

impl Acceptors {
    /// Starts the first accepting thread.
    pub(crate) fn start(
        listener: Listener,
        handler: ConnectionHandler,
        idle_timeout: Option<Duration>,
        close: Arc<AtomicBool>,
    ) -> std::io::Result<()> {
        if let (Listener::Tcp(l), Some(idle)) = (&listener, idle_timeout) {
            // Inherited by every accepted socket (Linux copies them), and
            // what bounds a parked thread's wait in accept.
            let sock = socket2_like::Sock(l);
            sock.set_timeouts(idle)?;
        }
        let acceptors = Arc::new(Acceptors {
            listener,
            handler,
            idle_timeout,
            close,
            registry: Registry::default(),
            waiting: AtomicUsize::new(0),
            logs: Mutex::new([RateLog::new(), RateLog::new(), RateLog::new()]),
        });
        spawn(acceptors)
    }

    fn warn(&self, which: usize, what: std::fmt::Arguments<'_>) {
        if let Ok(mut logs) = self.logs.lock() {
            logs[which].warn(what);
        }
    }
}

fn spawn(acceptors: Arc<Acceptors>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("http-conn".into())
        .spawn(move || run(acceptors))
        .map(|_| ())
}

/// One thread: accept, serve, repeat.
fn run(a: Arc<Acceptors>) {
    while !a.close.load(Relaxed) {
        a.waiting.fetch_add(1, Relaxed);
        let accepted = a.listener.accept();
        let others = a.waiting.fetch_sub(1, Relaxed) - 1;
        let (sock, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                // Parked for `idle_timeout` with nothing to do: leave,
                // unless nobody else would be accepting.
                if others > 0 {
                    return;
                }
                continue;
            }
            Err(e) => {
                // An accept error (EMFILE when file descriptors run out, a
                // connection reset before accept) is passing; upstream
                // ended its accept loop here for good. Out of descriptors
                // (EMFILE 24, ENFILE 23, ENOBUFS 105, ENOMEM 12 on Linux),
                // the oldest idle connection is closed to make room.
                let out = matches!(e.raw_os_error(), Some(24 | 23 | 105 | 12));
                let room = out && a.registry.evict_oldest();
                a.warn(
                    0,
                    format_args!(
                        "HTTP: error accepting a connection: {}{}",
                        e,
                        if room { " (closed the oldest idle connection)" } else { "" }
                    ),
                );
                std::thread::sleep(Duration::from_millis(if room { 2 } else { 50 }));
                continue;
            }
        };
        if others == 0 {
            // Someone must go on accepting while this thread serves.
            if let Err(e) = spawn(Arc::clone(&a)) {
                a.warn(2, format_args!("HTTP: no thread for new connections: {}", e));
            }
        }
        serve(&a, sock, peer);
        if a.waiting.load(Relaxed) >= MAX_PARKED {
            return;
        }
    }
}

/// Serves one accepted connection on this thread, if the cap allows.
fn serve(a: &Acceptors, sock: Connection, peer: Option<SocketAddr>) {
    // At the cap, the connection idle (or dribbling its head) the longest
    // makes room; a few closed ones may still be ending, hence the slack.
    let open = &a.handler.open;
    let max = a.handler.max_connections;
    let n = open.load(Relaxed);
    if n >= max && (n >= max + max / 8 + 8 || !a.registry.evict_oldest()) {
        a.warn(
            1,
            format_args!(
                "HTTP: refused a connection from {:?}: {} connections open, all busy",
                peer, max
            ),
        );
        return; // dropping the socket closes it
    }
    if let (Some(timeout), false) = (a.idle_timeout, matches!(sock, Connection::Tcp(_))) {
        sock.set_timeouts(timeout); // TCP sockets have them from the listener
    }
    open.fetch_add(1, Relaxed);
    let mut conn = Conn::new(sock, a.idle_timeout, a.handler.limits);
    conn.peer = peer;
    let conn = Arc::new(conn);
    let id = a.registry.insert(Arc::clone(&conn));
    struct Slot<'a>(&'a AtomicUsize, &'a Registry, u64);
    impl Drop for Slot<'_> {
        fn drop(&mut self) {
            self.1.remove(self.2);
            self.0.fetch_sub(1, Relaxed);
        }
    }
    let _slot = Slot(open, &a.registry, id);
    let (read, write) = RefinedTcpStream::new(Arc::clone(&conn));
    let client = ClientConnection::new(write, read);
    for mut rq in client {
        rq.tcp = Some(Arc::clone(&conn));
        (a.handler.handle)(rq);
    }
}

/// Socket options on a listener through std's API.
mod socket2_like {
    pub(super) struct Sock<'a>(pub(super) &'a std::net::TcpListener);

    impl Sock<'_> {
        /// SO_RCVTIMEO and SO_SNDTIMEO on the listening socket. std has no
        /// setter for a listener, so a duplicate is viewed as a stream:
        /// the options belong to the socket, not to the descriptor.
        pub(super) fn set_timeouts(&self, t: std::time::Duration) -> std::io::Result<()> {
            let fd: std::os::fd::OwnedFd = self.0.try_clone()?.into();
            let stream = std::net::TcpStream::from(fd);
            stream.set_read_timeout(Some(t))?;
            stream.set_write_timeout(Some(t))?;
            // TCP_NODELAY too, which Linux copies to every accepted socket
            // like the timeouts (no system call per connection): a reply
            // written in more than one piece (a chunked body's last chunk)
            // otherwise waits for the peer's delayed ACK, 40 ms on Linux.
            stream.set_nodelay(true)
            // dropping `stream` closes the duplicate only
        }
    }
}
