//! One websocket client, on its connection's own thread: writes the snapshot
//! and then every event from its bounded subscription, reads (pongs, close,
//! anything else is ignored), pings when idle, and gives up on a client that
//! falls behind. The socket is non-blocking, so neither a silent nor a
//! stalled client can hold the thread; it wakes for events at once and
//! otherwise every `TICK`.

use crate::events::Event;
use crossbeam_channel::{Receiver, RecvTimeoutError};
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tungstenite::error::ProtocolError;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Error as WsError, Message, WebSocket};

/// How often the loop looks at the socket when no event arrives.
const TICK: Duration = Duration::from_millis(200);
/// A ping goes out after this long without one (proxies such as nginx close
/// a connection silent for 60 s by default).
const PING_EVERY: Duration = Duration::from_secs(15);
/// A client we heard nothing from (not even a pong) for this long is gone.
const PEER_TIMEOUT: Duration = Duration::from_secs(65);
/// Output waiting with no byte taken by the client for this long: too slow.
const WRITE_STALL: Duration = Duration::from_secs(10);
/// Events written per turn before the loop reads and flushes again.
const BATCH: usize = 256;

/// The upgraded stream, counting the bytes the client takes (to tell a
/// stalled client from one that is slowly catching up).
pub struct Counted<S> {
    inner: S,
    written: u64,
}

impl<S> Counted<S> {
    pub fn new(inner: S) -> Self {
        Counted { inner, written: 0 }
    }
}

impl<S: Read> Read for Counted<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl<S: Write> Write for Counted<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Why a session ended (logged).
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// The client closed the websocket or the connection.
    ClientLeft,
    /// Events came faster than the client took them.
    TooSlow(&'static str),
    /// Nothing heard from the client for `PEER_TIMEOUT`.
    Silent,
    /// The client broke the protocol (garbage, an oversized frame).
    Protocol(String),
    /// The event stream ended: the server is stopping.
    ServerStopping,
}

pub struct Session<S: Read + Write> {
    pub ws: WebSocket<Counted<S>>,
    pub events: Receiver<Arc<Event>>,
    /// Events our subscription lost because its queue was full.
    pub dropped: Arc<AtomicU64>,
}

/// What a write did.
fn wrote(r: Result<(), WsError>) -> Result<(), End> {
    match r {
        Ok(()) => Ok(()),
        // Queued in the write buffer; a later flush sends it.
        Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
        Err(WsError::WriteBufferFull(_)) => Err(End::TooSlow("write buffer full")),
        Err(e) => Err(gone(e)),
    }
}

fn gone(e: WsError) -> End {
    match e {
        WsError::ConnectionClosed
        | WsError::AlreadyClosed
        | WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => End::ClientLeft,
        WsError::Io(e) => {
            log::debug!("websocket I/O error: {e}");
            End::ClientLeft
        }
        other => End::Protocol(other.to_string()),
    }
}

impl<S: Read + Write> Session<S> {
    /// Sends `snapshot`, then events until the client leaves or falls
    /// behind. The socket must already be non-blocking.
    pub fn run(mut self, snapshot: String) -> End {
        let end = self.serve(snapshot);
        let (code, reason) = match &end {
            End::TooSlow(_) => (CloseCode::Policy, "too slow: reconnect and resync"),
            End::Protocol(_) => (CloseCode::Protocol, "protocol error"),
            End::ServerStopping => (CloseCode::Away, "server stopping"),
            End::ClientLeft | End::Silent => (CloseCode::Normal, ""),
        };
        // Best effort: a stalled client never gets it, and is not waited for.
        let _ = self.ws.close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }));
        end
    }

    fn serve(&mut self, snapshot: String) -> End {
        match self.pump(snapshot) {
            Ok(never) => match never {},
            Err(end) => end,
        }
    }

    /// The loop; only ever ends with the reason.
    fn pump(&mut self, snapshot: String) -> Result<std::convert::Infallible, End> {
        wrote(self.ws.write(Message::text(snapshot)))?;
        let mut heard = Instant::now();
        let mut pinged = Instant::now();
        let mut stalled: Option<(Instant, u64)> = None;
        loop {
            match self.events.recv_timeout(TICK) {
                Ok(event) => {
                    self.send(&event)?;
                    for _ in 0..BATCH {
                        match self.events.try_recv() {
                            Ok(event) => self.send(&event)?,
                            Err(_) => break,
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Err(End::ServerStopping),
            }
            if self.dropped.load(Relaxed) > 0 {
                return Err(End::TooSlow("event queue full"));
            }
            if pinged.elapsed() >= PING_EVERY {
                wrote(self.ws.write(Message::Ping(Default::default())))?;
                pinged = Instant::now();
            }
            stalled = self.flush(stalled)?;
            if self.read_all()? {
                heard = Instant::now();
            }
            if heard.elapsed() >= PEER_TIMEOUT {
                return Err(End::Silent);
            }
        }
    }

    fn send(&mut self, event: &Event) -> Result<(), End> {
        wrote(self.ws.write(Message::text(super::message::event(event))))
    }

    /// Flushes what it can. `stalled` is when output started waiting and
    /// how many bytes the client had taken then.
    fn flush(&mut self, stalled: Option<(Instant, u64)>) -> Result<Option<(Instant, u64)>, End> {
        match self.ws.flush() {
            Ok(()) => Ok(None),
            Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                let written = self.ws.get_ref().written;
                match stalled {
                    Some((since, at)) if at == written => {
                        if since.elapsed() >= WRITE_STALL {
                            Err(End::TooSlow("the client stopped reading"))
                        } else {
                            Ok(stalled)
                        }
                    }
                    _ => Ok(Some((Instant::now(), written))),
                }
            }
            Err(e) => Err(gone(e)),
        }
    }

    /// Reads every frame that has arrived; true if anything did. Pings are
    /// answered by tungstenite; text and binary messages are ignored.
    fn read_all(&mut self) -> Result<bool, End> {
        let mut any = false;
        loop {
            match self.ws.read() {
                Ok(Message::Close(_)) => return Err(End::ClientLeft),
                Ok(_) => any = true,
                Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => return Ok(any),
                Err(WsError::Io(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(gone(e)),
            }
        }
    }
}
