//! `[metrics]` (SPEC 7): Lovebeat's own figures sent to a statsd server over
//! UDP, in Lovebeat 1.x's names, from a thread of its own ("metrics").
//!
//! - `started.count` (1) once at start;
//! - every `interval` (default 10 s): the counters `beats.count`,
//!   `lines.invalid.count` and `db.save.count` as deltas of the process
//!   counters, `db.save.duration` (ms, when a save happened) and the gauges
//!   `service.count` and `alarm.count`;
//! - on each change: `service.state.<name>` and `alarm.state.<name>`
//!   (0 new, 1 ok, 2 error, 3 muted), from a subscription to the state
//!   thread's events.
//!
//! The subscription's queue is bounded; the state thread never waits for
//! it, and events lost because it was full are added to
//! `Counters::metrics_dropped`. Sending UDP never blocks for long; send
//! errors (nobody listening) are logged at debug level and otherwise
//! ignored. The server name is resolved at start and again at each flush
//! until it resolves. Dropping the [`MetricsThread`] stops the thread (a
//! config reload that changes `[metrics]` starts a new one).

mod lines;

pub use lines::{flush_lines, pack, CounterValues, Namer, MAX_PACKET};

use crate::counters::Counters;
use crate::events::{Event, Interest};
use crate::state::StateHandle;
use crossbeam_channel::{never, Receiver, RecvTimeoutError};
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Change events waiting for the metrics thread, at most.
pub const EVENT_QUEUE: usize = 1024;
/// Events handled before the pending lines are sent.
const BATCH: usize = 256;

/// What to send where.
#[derive(Clone, Debug)]
pub struct MetricsOptions {
    /// statsd `host:port`.
    pub server: String,
    pub prefix: String,
    /// Period of the counter flush.
    pub interval: Duration,
}

/// The running metrics thread; dropping this stops it (a config reload
/// replaces it), without waiting for it.
pub struct MetricsThread {
    _stop: crossbeam_channel::Sender<()>,
    pub thread: JoinHandle<()>,
}

/// Starts the metrics thread.
pub fn spawn(
    opts: MetricsOptions,
    counters: Arc<Counters>,
    state: StateHandle,
) -> std::io::Result<MetricsThread> {
    let (stop_tx, stop) = crossbeam_channel::bounded::<()>(0);
    let thread = std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            let (rx, dropped) = match state.subscribe_events(Interest::StateChanges, EVENT_QUEUE) {
                Ok(subscription) => subscription,
                Err(_) => {
                    log::error!(
                        "metrics: cannot subscribe to state changes; per-service gauges are off"
                    );
                    // A queue that never delivers (and never disconnects):
                    // the periodic flush goes on without gauges.
                    (never(), Arc::new(AtomicU64::new(0)))
                }
            };
            let mut sender = Sender::new(&opts.server);
            run(&opts, &counters, &state, &rx, &stop, &dropped, &mut sender);
        })?;
    Ok(MetricsThread {
        _stop: stop_tx,
        thread,
    })
}

fn run(
    opts: &MetricsOptions,
    counters: &Counters,
    state: &StateHandle,
    events: &Receiver<Arc<Event>>,
    stop: &Receiver<()>,
    dropped: &AtomicU64,
    sender: &mut Sender,
) {
    let namer = Namer::new(&opts.prefix);
    sender.send(&[namer.counter("started.count", 1)]);
    let mut last = CounterValues::default();
    let mut next = Instant::now();
    loop {
        let received = crossbeam_channel::select! {
            recv(events) -> event => event.map_err(|_| RecvTimeoutError::Disconnected),
            // Only ever disconnected: the `MetricsThread` was dropped.
            recv(stop) -> _ => return,
            default(next.saturating_duration_since(Instant::now())) => {
                Err(RecvTimeoutError::Timeout)
            }
        };
        match received {
            Ok(event) => {
                let mut out: Vec<String> = namer.state_gauge(&event).into_iter().collect();
                for event in events.try_iter().take(BATCH) {
                    out.extend(namer.state_gauge(&event));
                }
                sender.send(&out);
            }
            Err(RecvTimeoutError::Timeout) => {}
            // The state thread is gone: the process is stopping.
            Err(RecvTimeoutError::Disconnected) => return,
        }
        // Checked after every batch too, so a steady flow of state changes
        // never starves the periodic flush.
        if Instant::now() < next {
            continue;
        }
        let now = CounterValues::read(counters);
        let stats = state.stats().ok();
        let save_ms = Counters::get(&counters.last_save_ms);
        sender.send(&flush_lines(&namer, last, now, save_ms, stats.as_ref()));
        last = now;
        let lost = dropped.swap(0, Relaxed);
        if lost > 0 {
            Counters::add(&counters.metrics_dropped, lost);
            log::warn!(
                "metrics: {lost} state changes were not sent as gauges (queue full); \
                 they are counted in metrics_dropped"
            );
        }
        next = Instant::now() + opts.interval;
    }
}

/// The UDP socket and the resolved server.
struct Sender {
    server: String,
    target: Option<SocketAddr>,
    socket: Option<UdpSocket>,
    failures: u64,
}

impl Sender {
    fn new(server: &str) -> Sender {
        Sender {
            server: server.to_owned(),
            target: None,
            socket: None,
            failures: 0,
        }
    }

    /// Resolves the server and binds a socket of its family, once.
    fn ready(&mut self) -> Option<(&UdpSocket, SocketAddr)> {
        if self.target.is_none() {
            match self.server.to_socket_addrs().map(|mut a| a.next()) {
                Ok(Some(addr)) => {
                    let local = if addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
                    match UdpSocket::bind(local) {
                        Ok(socket) => {
                            log::info!("metrics: sending statsd to {addr} ({})", self.server);
                            self.socket = Some(socket);
                            self.target = Some(addr);
                        }
                        Err(e) => log::error!("metrics: cannot open a UDP socket: {e}"),
                    }
                }
                Ok(None) => log::error!("metrics: {} resolves to no address", self.server),
                Err(e) => log::error!(
                    "metrics: cannot resolve [metrics] server {:?}: {e}; retrying at the next flush",
                    self.server
                ),
            }
        }
        Some((self.socket.as_ref()?, self.target?))
    }

    fn send(&mut self, lines: &[String]) {
        if lines.is_empty() {
            return;
        }
        let Some((socket, target)) = self.ready() else {
            return;
        };
        let mut failed = None;
        for packet in pack(lines) {
            if let Err(e) = socket.send_to(packet.as_bytes(), target) {
                failed = Some(e);
            }
        }
        if let Some(e) = failed {
            self.failures += 1;
            if self.failures == 1 {
                log::warn!(
                    "metrics: sending to {target} failed: {e} (further failures at debug level)"
                );
            } else {
                log::debug!("metrics: sending to {target} failed: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sender_delivers_packets_to_a_udp_socket() {
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        receiver
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let addr = receiver.local_addr().unwrap();
        let mut sender = Sender::new(&addr.to_string());
        sender.send(&["a:1|c".to_string(), "b:2|g".to_string()]);
        let mut buf = [0u8; 2048];
        let n = receiver.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"a:1|c\nb:2|g");
    }

    /// Datagrams until one contains `text` (or 10 s pass).
    fn wait_for(receiver: &UdpSocket, text: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 2048];
        while Instant::now() < deadline {
            if let Ok(n) = receiver.recv(&mut buf) {
                if String::from_utf8_lossy(&buf[..n]).contains(text) {
                    return true;
                }
            }
        }
        false
    }

    #[test]
    fn without_a_subscription_the_counters_are_still_flushed() {
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        receiver
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        // A state thread that is gone: subscribing fails at once.
        let (tx, rx) = crossbeam_channel::bounded(1);
        drop(rx);
        let counters = Arc::new(Counters::default());
        let opts = MetricsOptions {
            server: receiver.local_addr().unwrap().to_string(),
            prefix: "lb".into(),
            interval: Duration::from_millis(20),
        };
        let metrics = spawn(opts, Arc::clone(&counters), StateHandle::new(tx)).unwrap();
        assert!(wait_for(&receiver, "lb.started.count:1|c"));
        // Flushes go on, flush after flush (the thread did not end).
        for n in [5, 7] {
            Counters::add(&counters.beats, n);
            assert!(
                wait_for(&receiver, &format!("lb.beats.count:{n}|c")),
                "no flush of {n} beats"
            );
        }
        // Dropping the handle (a reload) stops the thread.
        let MetricsThread { _stop, thread } = metrics;
        drop(_stop);
        assert!(thread.join().is_ok());
    }

    #[test]
    fn unresolvable_server_sends_nothing_and_does_not_panic() {
        let mut sender = Sender::new("no port here");
        sender.send(&["a:1|c".to_string()]);
        assert!(sender.target.is_none());
    }
}
