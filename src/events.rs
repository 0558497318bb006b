//! The typed stream of changes out of the state thread, and the bus that fans
//! it out to subscribers (alerts, websocket clients, event log, metrics).
//! The state thread never waits for a subscriber: every send is a
//! `try_send`, and each subscriber's queue is bounded, either by its
//! channel's capacity or by a [`Limit`] that follows the size of the state
//! (so one burst in which everything changes at once fits). An event beyond
//! the bound is lost for that subscriber and counted, in total and per kind
//! ([`Losses`]), for the subscriber to report. A subscriber holds both ends
//! of that in one [`Subscription`].

use crate::model::{ServiceRecord, State, ViewRecord};
use crate::policy::AlertNotice;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError, TrySendError};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One change, with the new snapshot and the state before it.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    ServiceAdded {
        service: ServiceRecord,
    },
    /// Any change of a service: a state change (`previous != service.state`),
    /// a new timeout, a mute, or (only for subscribers that want them) a beat.
    ServiceChanged {
        service: ServiceRecord,
        previous: State,
    },
    ServiceRemoved {
        service: ServiceRecord,
    },
    ViewAdded {
        view: ViewRecord,
    },
    ViewChanged {
        view: ViewRecord,
        previous: State,
    },
    ViewRemoved {
        view: ViewRecord,
    },
    /// A message the alert policy (SPEC 15) says is due now: the first
    /// ERROR message of an incident (after any delay and holds), a
    /// reminder, or a recovery. Only the alerter wants it.
    Alert {
        notice: Box<AlertNotice>,
    },
}

impl Event {
    /// True for a plain beat or timeout change: the state did not move.
    pub fn is_state_change(&self) -> bool {
        match self {
            Event::ServiceChanged { service, previous } => service.state != *previous,
            Event::ViewChanged { view, previous } => view.state != *previous,
            Event::Alert { .. } => false,
            _ => true,
        }
    }

    /// True for a view going into ERROR or leaving it.
    pub fn is_view_error_change(&self) -> bool {
        match self {
            Event::ViewChanged { view, previous } => {
                (view.state == State::Error) != (*previous == State::Error)
            }
            _ => false,
        }
    }

    /// Which of the six kinds (an index into [`Losses::take`]): a service
    /// change that is no state change counts as `service_changed` too.
    pub fn kind(&self) -> usize {
        match self {
            Event::ServiceAdded { .. } => 0,
            Event::ServiceChanged { .. } => 1,
            Event::ServiceRemoved { .. } => 2,
            Event::ViewAdded { .. } => 3,
            Event::ViewChanged { .. } => 4,
            Event::ViewRemoved { .. } => 5,
            Event::Alert { .. } => 6,
        }
    }
}

/// Names of the kinds, in [`Event::kind`]'s order.
pub const KIND_NAMES: [&str; KINDS] = [
    "service_added",
    "service_changed",
    "service_removed",
    "view_added",
    "view_changed",
    "view_removed",
    "alert",
];

/// How many kinds of events there are.
pub const KINDS: usize = 7;

/// What a subscriber wants to receive.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Interest {
    /// Additions, removals and state changes only (event log, metrics).
    StateChanges,
    /// Every change, beats included (websocket clients).
    Everything,
    /// Views going into or out of ERROR only (the alerter): rare (two per
    /// incident), never behind a flood of service changes, nor behind the
    /// NEW/OK churn of views while their services are being created.
    ViewErrorChanges,
    /// The alert policy's messages ([`Event::Alert`]) only: the alerter.
    Alerts,
}

impl Interest {
    /// True when a subscriber with this interest receives `event`.
    pub fn wants(self, event: &Event) -> bool {
        match self {
            Interest::Everything => !matches!(event, Event::Alert { .. }),
            Interest::Alerts => matches!(event, Event::Alert { .. }),
            Interest::StateChanges => event.is_state_change(),
            Interest::ViewErrorChanges => event.is_view_error_change(),
        }
    }
}

/// How many events a subscriber's queue holds at most.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Limit {
    /// The capacity of its bounded channel.
    Channel,
    /// `base + per_view × views`, checked on an unbounded channel before
    /// each send (the state thread is its only sender, so the check holds):
    /// memory follows what is actually queued.
    Views { base: usize, per_view: usize },
    /// `base + per_item × (services + views)`: with `per_item` ≥ 1, a burst
    /// in which every service and view changes at once fits.
    State { base: usize, per_item: usize },
}

impl Limit {
    /// The bound for a state of `services` and `views`; `None` = the
    /// channel's own.
    pub fn bound(self, services: usize, views: usize) -> Option<usize> {
        match self {
            Limit::Channel => None,
            Limit::Views { base, per_view } => {
                Some(base.saturating_add(per_view.saturating_mul(views)))
            }
            Limit::State { base, per_item } => {
                Some(base.saturating_add(per_item.saturating_mul(services.saturating_add(views))))
            }
        }
    }
}

/// Events a subscriber lost, per kind (see [`Event::kind`]).
#[derive(Debug, Default)]
pub struct Losses([AtomicU64; KINDS]);

impl Losses {
    pub fn add(&self, event: &Event) {
        self.0[event.kind()].fetch_add(1, Relaxed);
    }

    /// The losses since the last call, per kind (zeroes them).
    pub fn take(&self) -> [u64; KINDS] {
        let mut out = [0; KINDS];
        for (slot, count) in out.iter_mut().zip(&self.0) {
            *slot = count.swap(0, Relaxed);
        }
        out
    }

    /// All losses not taken yet (leaves them).
    pub fn total(&self) -> u64 {
        self.0.iter().map(|count| count.load(Relaxed)).sum()
    }
}

/// A subscriber's end: its queue, and what the bus could not put in it.
/// Every subscriber (alerter, event log, changelog, metrics, websocket
/// clients) receives and reports its losses through this one type.
pub struct Subscription {
    rx: Receiver<Arc<Event>>,
    losses: Arc<Losses>,
}

impl Subscription {
    pub fn new(rx: Receiver<Arc<Event>>, losses: Arc<Losses>) -> Self {
        Subscription { rx, losses }
    }

    /// A subscription that never delivers nor ends (for a subscriber that
    /// could not subscribe but goes on with its other work).
    pub fn never() -> Self {
        Subscription::new(crossbeam_channel::never(), Arc::default())
    }

    /// The queue itself, for `select!`.
    pub fn receiver(&self) -> &Receiver<Arc<Event>> {
        &self.rx
    }

    pub fn recv(&self) -> Result<Arc<Event>, RecvTimeoutError> {
        self.rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
    }

    pub fn recv_timeout(&self, wait: Duration) -> Result<Arc<Event>, RecvTimeoutError> {
        self.rx.recv_timeout(wait)
    }

    pub fn recv_deadline(&self, at: Instant) -> Result<Arc<Event>, RecvTimeoutError> {
        self.rx.recv_deadline(at)
    }

    pub fn try_recv(&self) -> Result<Arc<Event>, TryRecvError> {
        self.rx.try_recv()
    }

    /// Events waiting in the queue.
    pub fn len(&self) -> usize {
        self.rx.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }

    /// What is queued now, without waiting.
    pub fn try_iter(&self) -> impl Iterator<Item = Arc<Event>> + '_ {
        self.rx.try_iter()
    }

    /// Events lost since the last take, per kind ([`Event::kind`]).
    pub fn take_losses(&self) -> [u64; KINDS] {
        self.losses.take()
    }

    /// Events lost since the last take, in all.
    pub fn take_lost(&self) -> u64 {
        self.losses.take().iter().sum()
    }

    /// Takes the losses, adds their total to `counter` and returns it, for
    /// the caller to log when it is not zero.
    pub fn count_lost(&self, counter: &AtomicU64) -> u64 {
        let lost = self.take_lost();
        if lost > 0 {
            counter.fetch_add(lost, Relaxed);
        }
        lost
    }
}

/// A subscription handed to the state thread.
pub struct Subscriber {
    pub tx: Sender<Arc<Event>>,
    pub interest: Interest,
    /// Its queue's bound.
    pub limit: Limit,
    /// Events this subscriber lost because its queue was full, per kind.
    pub losses: Arc<Losses>,
}

impl Subscriber {
    /// A subscriber bounded by its channel's capacity.
    pub fn new(tx: Sender<Arc<Event>>, interest: Interest, losses: Arc<Losses>) -> Self {
        Subscriber {
            tx,
            interest,
            limit: Limit::Channel,
            losses,
        }
    }

    /// Sends without waiting; false when the receiver is gone.
    fn offer(&self, event: &Arc<Event>, bound: Option<usize>) -> bool {
        if bound.is_some_and(|bound| self.tx.len() >= bound) {
            self.lose(event);
            return true;
        }
        match self.tx.try_send(Arc::clone(event)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.lose(event);
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    fn lose(&self, event: &Event) {
        self.losses.add(event);
    }
}

/// Fans events out to subscribers; owned by the state thread.
#[derive(Default)]
pub struct Bus {
    subscribers: Vec<Subscriber>,
    /// Services and views now (for the limits that follow the state).
    services: usize,
    views: usize,
}

impl Bus {
    pub fn subscribe(&mut self, subscriber: Subscriber) {
        self.subscribers.push(subscriber);
    }

    /// The size of the state, for [`Limit::Views`] and [`Limit::State`]
    /// (the state thread sets it before each publish; O(1)).
    pub fn set_sizes(&mut self, services: usize, views: usize) {
        self.services = services;
        self.views = views;
    }

    /// True when some subscriber wants plain beats (so the engine should
    /// build events for them at all).
    pub fn wants_everything(&self) -> bool {
        self.subscribers
            .iter()
            .any(|s| s.interest == Interest::Everything)
    }

    pub fn len(&self) -> usize {
        self.subscribers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.subscribers.is_empty()
    }

    /// Sends each event to every interested subscriber without blocking;
    /// drops subscribers whose receiver is gone.
    pub fn publish(&mut self, events: impl IntoIterator<Item = Event>) {
        if self.subscribers.is_empty() {
            return;
        }
        let (services, views) = (self.services, self.views);
        for event in events {
            if !self.subscribers.iter().any(|s| s.interest.wants(&event)) {
                continue;
            }
            let event = Arc::new(event);
            self.subscribers.retain(|s| {
                !s.interest.wants(&event) || s.offer(&event, s.limit.bound(services, views))
            });
        }
    }
}

#[cfg(test)]
mod tests;
