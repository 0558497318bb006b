//! Snapshots shared among websocket clients: the `SNAPSHOT` text is taken
//! and rendered once (on a short-lived "ws-snapshot" thread) and handed by
//! `Arc` to every client that asked while it was being taken, so 200
//! dashboards connecting together cost one copy of the services, not 200.
//!
//! Ordering: a client asks (`Snapshots::ticket`) only after its
//! subscription was sent to the state thread. A ticket is served by a
//! fetch that *started* after the ticket was made: that fetch's listing
//! command is queued behind the subscription, so every change the snapshot
//! does not show reaches the client as an event.

use crate::clock::now_ms;
use crate::state::StateHandle;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// What a fetch produced: the rendered text, or why there is none.
pub type Fetched = Result<Arc<str>, String>;

/// Hands out tickets and runs at most one fetch at a time.
#[derive(Clone)]
pub struct Snapshots {
    state: StateHandle,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    inner: Mutex<Inner>,
    done: Condvar,
}

#[derive(Default)]
struct Inner {
    /// Fetches started so far (the number of the newest).
    started: u64,
    /// A fetch is running.
    busy: bool,
    /// The newest finished fetch, kept only while tickets are open.
    latest: Option<(u64, Fetched)>,
    /// Tickets not yet served or dropped.
    open: usize,
}

/// A client's claim on the next snapshot that starts after it was made.
pub struct Ticket {
    snapshots: Snapshots,
    need: u64,
    served: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Snapshots {
    pub fn new(state: StateHandle) -> Self {
        Snapshots {
            state,
            shared: Arc::default(),
        }
    }

    /// A claim on a snapshot taken from now on (see the module comment).
    pub fn ticket(&self) -> Ticket {
        let mut inner = self.shared.lock();
        inner.open += 1;
        Ticket {
            snapshots: self.clone(),
            need: inner.started + 1,
            served: false,
        }
    }

    /// Starts a fetch on its own thread; the caller holds the lock and saw
    /// that none is running.
    fn start(&self, inner: &mut Inner) {
        inner.busy = true;
        inner.started += 1;
        let number = inner.started;
        let me = self.clone();
        let spawned = std::thread::Builder::new()
            .name("ws-snapshot".into())
            .spawn(move || {
                let fetched = me.fetch();
                let mut inner = me.shared.lock();
                inner.busy = false;
                inner.latest = Some((number, fetched));
                me.shared.done.notify_all();
            });
        if let Err(e) = spawned {
            inner.busy = false;
            inner.latest = Some((number, Err(format!("no thread to take it: {e}"))));
            self.shared.done.notify_all();
        }
    }

    /// Copies the services and views and renders the message.
    fn fetch(&self) -> Fetched {
        let failed = |e: crate::state::StateError| format!("the state did not hand it over: {e}");
        let mut services = self.state.services(None).map_err(failed)?;
        let mut views = self.state.views().map_err(failed)?;
        let text = super::message::snapshot(&mut services, &mut views, now_ms());
        Ok(Arc::from(text))
    }
}

impl Ticket {
    /// Waits up to `timeout` for the snapshot; `None` if it is not ready.
    pub fn wait(&mut self, timeout: Duration) -> Option<Fetched> {
        if self.served {
            return None;
        }
        let shared = Arc::clone(&self.snapshots.shared);
        let mut inner = shared.lock();
        let mut waited = false;
        loop {
            if let Some((number, fetched)) = &inner.latest {
                if *number >= self.need {
                    let fetched = fetched.clone();
                    self.served = true;
                    close(&mut inner);
                    return Some(fetched);
                }
            }
            if !inner.busy {
                self.snapshots.start(&mut inner);
                continue;
            }
            if waited {
                return None;
            }
            inner = shared
                .done
                .wait_timeout(inner, timeout)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            waited = true;
        }
    }
}

/// One ticket fewer; the last one lets go of the shared text.
fn close(inner: &mut Inner) {
    inner.open = inner.open.saturating_sub(1);
    if inner.open == 0 {
        inner.latest = None;
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.served {
            close(&mut self.snapshots.shared.lock());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Command;
    use crossbeam_channel::{bounded, Receiver};
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    /// A state stand-in: each listing waits for a token on the returned
    /// gate and is counted.
    fn gated_state() -> (StateHandle, crossbeam_channel::Sender<()>, Arc<AtomicUsize>) {
        let (tx, rx): (_, Receiver<Command>) = bounded(16);
        let (gate_tx, gate) = bounded::<()>(16);
        let listings = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&listings);
        std::thread::spawn(move || {
            for command in rx {
                match command {
                    Command::ListServices { reply, .. } => {
                        counted.fetch_add(1, SeqCst);
                        let _ = gate.recv();
                        let _ = reply.send(Ok(Vec::new()));
                    }
                    Command::ListViews { reply } => {
                        let _ = reply.send(Ok(Vec::new()));
                    }
                    _ => {}
                }
            }
        });
        (StateHandle::new(tx), gate_tx, listings)
    }

    fn wait_ready(ticket: &mut Ticket) -> Arc<str> {
        for _ in 0..500 {
            if let Some(fetched) = ticket.wait(Duration::from_millis(20)) {
                return fetched.expect("a snapshot");
            }
        }
        panic!("no snapshot within 10 s");
    }

    #[test]
    fn one_fetch_serves_every_ticket_made_before_it_started() {
        let (state, gate, listings) = gated_state();
        let snapshots = Snapshots::new(state);
        let mut a = snapshots.ticket();
        let mut b = snapshots.ticket();
        assert!(a.wait(Duration::ZERO).is_none(), "the fetch has started");
        // Made after the fetch started: it may miss what this client's
        // subscription will not see, so it needs the next fetch.
        let mut c = snapshots.ticket();
        gate.send(()).expect("gate");
        let (sa, sb) = (wait_ready(&mut a), wait_ready(&mut b));
        assert!(Arc::ptr_eq(&sa, &sb), "a and b share one text");
        assert!(sa.contains("SNAPSHOT"));
        gate.send(()).expect("gate");
        let sc = wait_ready(&mut c);
        assert!(!Arc::ptr_eq(&sa, &sc), "c got a later fetch");
        assert_eq!(listings.load(SeqCst), 2);
        // Nobody waits: the shared text is let go.
        assert!(snapshots.shared.lock().latest.is_none());
    }
}
