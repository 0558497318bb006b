//! One websocket client, on its connection's own thread. Each turn it
//! drains its bounded subscription into `Pending` (latest event per name),
//! writes the shared snapshot and then the coalesced changes only as fast
//! as the socket takes them (a client's buffered output stays under
//! `LOW_WATER`), reads (pongs, close; anything else is ignored) and pings
//! when idle. The socket is non-blocking, so neither a silent nor a stalled
//! client can hold the thread.
//!
//! A client that reads keeps up however fast services beat: beats of one
//! service while the socket is busy collapse into one message. When the
//! subscription lost events (its queue was full) or more than
//! `MAX_PENDING` names wait, the client is *resynced*: what waits is
//! discarded and a fresh snapshot (shared with other clients) follows.
//! Only a client that takes no byte for `WRITE_STALL`, or says nothing for
//! `PEER_TIMEOUT`, is dropped.

use super::pending::{Pending, MAX_PENDING};
use super::snapshot::{Snapshots, Ticket};
use crate::events::Subscription;
use crossbeam_channel::{RecvTimeoutError, TryRecvError};
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tungstenite::error::ProtocolError;
use tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tungstenite::protocol::frame::Frame;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Error as WsError, Message, WebSocket};

/// How often the loop looks at the socket when nothing happens.
const TICK: Duration = Duration::from_millis(200);
/// Longest pause while output waits for a socket that takes no more.
const BLOCKED_MAX: Duration = Duration::from_millis(50);
/// A ping goes out after this long without one (proxies such as nginx close
/// a connection silent for 60 s by default).
const PING_EVERY: Duration = Duration::from_secs(15);
/// A client we heard nothing from (not even a pong) for this long is gone.
const PEER_TIMEOUT: Duration = Duration::from_secs(65);
/// Output waiting with no byte taken by the client for this long: too slow.
const WRITE_STALL: Duration = Duration::from_secs(10);
/// Output handed to tungstenite and not yet taken by the socket, at most
/// (before the next message is rendered).
const LOW_WATER: u64 = 256 * 1024;
/// The snapshot goes out as one text message in fragments of this size,
/// copied from the shared text one at a time.
const FRAGMENT: usize = 64 * 1024;

/// The upgraded stream, counting the bytes the client takes.
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
    /// The client stopped taking bytes.
    TooSlow(&'static str),
    /// Nothing heard from the client for `PEER_TIMEOUT`.
    Silent,
    /// The client broke the protocol (garbage, an oversized frame).
    Protocol(String),
    /// The event stream ended: the server is stopping.
    ServerStopping,
    /// A resync needed a snapshot the state did not hand over.
    NoSnapshot(String),
}

/// The snapshot being written: the shared text and how far we are.
struct Outgoing {
    text: Arc<str>,
    at: usize,
}

/// A subscription and what was gathered from it while the first snapshot
/// was taken.
pub struct Synced {
    /// The queue, and what it lost because it was full (a loss not taken
    /// yet, even from before the first snapshot, means: resync).
    pub events: Subscription,
    /// Resync at once (too much gathered while the snapshot was taken).
    pub resync_now: bool,
    pub pending: Pending,
    pub snapshots: Snapshots,
}

pub struct Session<S: Read + Write> {
    ws: WebSocket<Counted<S>>,
    events: Subscription,
    resync_now: bool,
    pending: Pending,
    snapshots: Snapshots,
    /// Fresh snapshots sent after the first (for the log).
    pub resyncs: u64,
    outgoing: Option<Outgoing>,
    ticket: Option<Ticket>,
    /// Bytes handed to tungstenite (frames included).
    fed: u64,
}

/// Drains `events` into `pending`. False when the sender is gone.
pub fn drain(events: &Subscription, pending: &mut Pending) -> bool {
    loop {
        match events.try_recv() {
            Ok(event) => pending.push(event),
            Err(TryRecvError::Empty) => return true,
            Err(TryRecvError::Disconnected) => return false,
        }
    }
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
    pub fn new(ws: WebSocket<Counted<S>>, client: Synced) -> Self {
        Session {
            ws,
            events: client.events,
            resync_now: client.resync_now,
            pending: client.pending,
            snapshots: client.snapshots,
            resyncs: 0,
            outgoing: None,
            ticket: None,
            fed: 0,
        }
    }

    /// Sends `snapshot`, then changes until the client leaves or stalls.
    /// The socket must already be non-blocking.
    pub fn run(&mut self, snapshot: Arc<str>) -> End {
        self.outgoing = Some(Outgoing {
            text: snapshot,
            at: 0,
        });
        let end = match self.pump() {
            Ok(never) => match never {},
            Err(end) => end,
        };
        let (code, reason) = match &end {
            End::TooSlow(_) => (CloseCode::Policy, "too slow: reconnect and resync"),
            End::Protocol(_) => (CloseCode::Protocol, "protocol error"),
            End::ServerStopping => (CloseCode::Away, "server stopping"),
            End::NoSnapshot(_) => (CloseCode::Again, "no snapshot: reconnect later"),
            End::ClientLeft | End::Silent => (CloseCode::Normal, ""),
        };
        // Best effort: a stalled client never gets it, and is not waited for.
        let _ = self.ws.close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }));
        end
    }

    /// Output handed over and not yet taken by the socket.
    fn buffered(&self) -> u64 {
        self.fed.saturating_sub(self.ws.get_ref().written)
    }

    /// The loop; only ever ends with the reason.
    fn pump(&mut self) -> Result<std::convert::Infallible, End> {
        let mut heard = Instant::now();
        let mut pinged = Instant::now();
        let mut stalled: Option<(Instant, u64)> = None;
        let mut pause = Duration::ZERO;
        loop {
            match self.events.recv_timeout(pause) {
                Ok(event) => self.pending.push(event),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Err(End::ServerStopping),
            }
            if !drain(&self.events, &mut self.pending) {
                return Err(End::ServerStopping);
            }
            let lost = self.events.take_lost() > 0;
            if lost || self.resync_now || self.pending.waiting() > MAX_PENDING {
                self.resync()?;
            }
            self.take_snapshot()?;
            self.feed()?;
            if pinged.elapsed() >= PING_EVERY {
                wrote(self.ws.write(Message::Ping(Default::default())))?;
                pinged = Instant::now();
            }
            let before = self.ws.get_ref().written;
            stalled = self.flush(stalled)?;
            let progressed = self.ws.get_ref().written != before;
            if self.read_all()? {
                heard = Instant::now();
            }
            if heard.elapsed() >= PEER_TIMEOUT {
                return Err(End::Silent);
            }
            // How long to wait for events before the next turn.
            let blocked = self.buffered() >= LOW_WATER || stalled.is_some();
            let more =
                self.outgoing.is_some() || (self.ticket.is_none() && !self.pending.is_empty());
            pause = if blocked {
                if progressed {
                    Duration::from_millis(1)
                } else {
                    (pause * 2).clamp(Duration::from_millis(1), BLOCKED_MAX)
                }
            } else if more {
                Duration::ZERO
            } else if self.ticket.is_some() {
                Duration::from_millis(10)
            } else {
                TICK
            };
        }
    }

    /// Drops what waits and asks for a fresh snapshot. Everything still in
    /// the queue was published before the snapshot's listing is sent, so
    /// it is discarded too; a loss from here on shows in `events` again.
    fn resync(&mut self) -> Result<(), End> {
        self.resync_now = false;
        self.pending.clear();
        if !drain(&self.events, &mut self.pending) {
            return Err(End::ServerStopping);
        }
        self.pending.clear();
        self.ticket = Some(self.snapshots.ticket());
        Ok(())
    }

    /// Starts writing a resync's snapshot once it is ready and the previous
    /// one (a message cannot be interrupted) is written.
    fn take_snapshot(&mut self) -> Result<(), End> {
        if self.outgoing.is_some() {
            return Ok(());
        }
        let Some(ticket) = &mut self.ticket else {
            return Ok(());
        };
        match ticket.wait(Duration::ZERO) {
            None => Ok(()),
            Some(Err(why)) => Err(End::NoSnapshot(why)),
            Some(Ok(text)) => {
                self.ticket = None;
                self.resyncs += 1;
                self.outgoing = Some(Outgoing { text, at: 0 });
                Ok(())
            }
        }
    }

    /// Renders and hands over output while the socket keeps up.
    fn feed(&mut self) -> Result<(), End> {
        while self.buffered() < LOW_WATER {
            let frame = if let Some(out) = &mut self.outgoing {
                let first = out.at == 0;
                let mut end = (out.at + FRAGMENT).min(out.text.len());
                while !out.text.is_char_boundary(end) {
                    end -= 1;
                }
                let last = end == out.text.len();
                let chunk = out.text.as_bytes()[out.at..end].to_vec();
                out.at = end;
                if last {
                    self.outgoing = None;
                }
                let kind = if first { Data::Text } else { Data::Continue };
                Frame::message(chunk, OpCode::Data(kind), last)
            } else if self.ticket.is_some() {
                // Changes wait for the fresh snapshot they follow.
                return Ok(());
            } else if let Some((event, added)) = self.pending.next() {
                let text = super::message::change(&event, added);
                Frame::message(text.into_bytes(), OpCode::Data(Data::Text), true)
            } else {
                return Ok(());
            };
            self.fed += frame.len() as u64;
            wrote(self.ws.write(Message::Frame(frame)))?;
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Event;
    use crate::model::{ServiceRecord, State};
    use crate::state::{Command, StateHandle};
    use std::sync::Mutex;
    use tungstenite::protocol::Role;

    /// A non-blocking socket stand-in: reads would block, writes are kept.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Read for Sink {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::ErrorKind::WouldBlock.into())
        }
    }

    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("sink").extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().expect("sink")).into_owned()
        }
    }

    fn service(state: State) -> ServiceRecord {
        ServiceRecord {
            name: "svc".into(),
            state,
            ..Default::default()
        }
    }

    /// A state thread stand-in whose one service is in `*state`.
    fn fake_state(state: Arc<Mutex<State>>) -> StateHandle {
        let (tx, rx) = crossbeam_channel::bounded(16);
        std::thread::spawn(move || {
            for command in rx {
                match command {
                    Command::ListServices { reply, .. } => {
                        let now = *state.lock().expect("state");
                        let _ = reply.send(Ok(vec![service(now)]));
                    }
                    Command::ListViews { reply } => {
                        let _ = reply.send(Ok(Vec::new()));
                    }
                    _ => {}
                }
            }
        });
        StateHandle::new(tx)
    }

    fn wait(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "no {what} within 10 s");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_lost_event_means_a_fresh_snapshot_not_a_disconnection() {
        let state = Arc::new(Mutex::new(State::Ok));
        let snapshots = Snapshots::new(fake_state(Arc::clone(&state)));
        let (tx, events) = crossbeam_channel::bounded(4);
        let losses = Arc::new(crate::events::Losses::default());
        let sink = Sink::default();
        let ws = WebSocket::from_raw_socket(Counted::new(sink.clone()), Role::Server, None);
        let mut session = Session::new(
            ws,
            Synced {
                events: Subscription::new(events, Arc::clone(&losses)),
                resync_now: false,
                pending: Pending::default(),
                snapshots,
            },
        );
        let first: Arc<str> = Arc::from(r#"{"type":"SNAPSHOT","services":[]}"#);
        let client = std::thread::spawn(move || {
            let end = session.run(first);
            (end, session.resyncs)
        });
        wait("first snapshot", || sink.text().contains("SNAPSHOT"));
        tx.send(Arc::new(Event::ServiceAdded {
            service: service(State::Ok),
        }))
        .expect("send");
        wait("the addition", || sink.text().contains("ADD_SERVICE"));
        // The bus loses an event (the service went red): the client gets
        // the truth in a fresh snapshot.
        *state.lock().expect("state") = State::Error;
        losses.add(&Event::ServiceAdded {
            service: service(State::Error),
        });
        wait("a second snapshot", || {
            let text = sink.text();
            text.matches("SNAPSHOT").count() == 2 && text.contains(r#""state":"error""#)
        });
        drop(tx);
        let (end, resyncs) = client.join().expect("session thread");
        assert_eq!(
            end,
            End::ServerStopping,
            "only the end of the stream ended it"
        );
        assert_eq!(resyncs, 1);
    }
}
