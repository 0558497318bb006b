//! The typed stream of changes out of the state thread, and the bus that fans
//! it out to subscribers (alerts, websocket clients, event log, metrics)
//! through bounded channels. A full subscriber loses the event (counted); the
//! state thread never waits for one.

use crate::model::{ServiceRecord, State, ViewRecord};
use crossbeam_channel::{Sender, TrySendError};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

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
}

impl Event {
    /// True for a plain beat or timeout change: the state did not move.
    pub fn is_state_change(&self) -> bool {
        match self {
            Event::ServiceChanged { service, previous } => service.state != *previous,
            Event::ViewChanged { view, previous } => view.state != *previous,
            _ => true,
        }
    }
}

/// What a subscriber wants to receive.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Interest {
    /// Additions, removals and state changes only (alerts, event log, metrics).
    StateChanges,
    /// Every change, beats included (websocket clients).
    Everything,
}

/// A subscription handed to the state thread.
pub struct Subscriber {
    pub tx: Sender<Arc<Event>>,
    pub interest: Interest,
    /// Events this subscriber lost because its queue was full.
    pub dropped: Arc<AtomicU64>,
}

/// Fans events out to subscribers; owned by the state thread.
#[derive(Default)]
pub struct Bus {
    subscribers: Vec<Subscriber>,
}

impl Bus {
    pub fn subscribe(&mut self, subscriber: Subscriber) {
        self.subscribers.push(subscriber);
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
        for event in events {
            let state_change = event.is_state_change();
            let event = Arc::new(event);
            self.subscribers.retain(|s| {
                if !state_change && s.interest == Interest::StateChanges {
                    return true;
                }
                match s.tx.try_send(Arc::clone(&event)) {
                    Ok(()) => true,
                    Err(TrySendError::Full(_)) => {
                        s.dropped.fetch_add(1, Relaxed);
                        true
                    }
                    Err(TrySendError::Disconnected(_)) => false,
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossbeam_channel::bounded;

    fn changed(prev: State, now: State) -> Event {
        Event::ServiceChanged {
            service: ServiceRecord {
                name: "a".into(),
                state: now,
                ..Default::default()
            },
            previous: prev,
        }
    }

    #[test]
    fn interest_filters_beats_and_full_queues_drop() {
        let mut bus = Bus::default();
        let (tx1, rx1) = bounded(1);
        let (tx2, rx2) = bounded(10);
        let d1 = Arc::new(AtomicU64::new(0));
        bus.subscribe(Subscriber {
            tx: tx1,
            interest: Interest::StateChanges,
            dropped: d1.clone(),
        });
        bus.subscribe(Subscriber {
            tx: tx2,
            interest: Interest::Everything,
            dropped: Arc::default(),
        });
        assert!(bus.wants_everything());
        bus.publish([
            changed(State::Ok, State::Ok),
            changed(State::Ok, State::Error),
            changed(State::Error, State::Ok),
        ]);
        assert_eq!(rx1.len(), 1);
        assert_eq!(d1.load(Relaxed), 1);
        assert_eq!(rx2.len(), 3);
        drop(rx2);
        bus.publish([changed(State::Ok, State::Ok)]);
        assert_eq!(bus.len(), 1);
    }
}
