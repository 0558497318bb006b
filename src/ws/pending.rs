//! One client's changes waiting to be written, coalesced: at most one
//! event per service and per view name, the latest. A service beaten a
//! thousand times while the socket was busy costs one message; memory is
//! bounded by the number of names (the events are the bus's shared `Arc`s).

use crate::events::Event;
use std::collections::{HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// Distinct names a client may have waiting; beyond that it is resynced
/// with a fresh snapshot. The index then costs at most ~1.7 MiB (a hash
/// slot and a queue slot per name, 8 bytes each plus the table's slack).
pub const MAX_PENDING: usize = 65_536;

/// Capacity kept after a burst has been written.
const KEEP: usize = 1024;

/// An event compared and hashed by what it is about; `added` when an
/// addition not yet written was coalesced into it (it is written as one).
struct Keyed(Arc<Event>, bool);

fn key(event: &Event) -> (bool, &str) {
    match event {
        Event::ServiceAdded { service }
        | Event::ServiceChanged { service, .. }
        | Event::ServiceRemoved { service } => (false, &service.name),
        Event::ViewAdded { view }
        | Event::ViewChanged { view, .. }
        | Event::ViewRemoved { view } => (true, &view.name),
        Event::Alert { notice } => (true, &notice.view.name),
    }
}

impl Hash for Keyed {
    fn hash<H: Hasher>(&self, state: &mut H) {
        key(&self.0).hash(state)
    }
}

impl PartialEq for Keyed {
    fn eq(&self, other: &Self) -> bool {
        key(&self.0) == key(&other.0)
    }
}

impl Eq for Keyed {}

/// Latest event per name, plus the batch being written.
#[derive(Default)]
pub struct Pending {
    latest: HashSet<Keyed>,
    /// Taken out of `latest` in one go, written in turn. A name may be
    /// here and in `latest` too: the older one is written first.
    sending: VecDeque<(Arc<Event>, bool)>,
}

impl Pending {
    /// Keeps `event`, replacing an older one about the same name.
    pub fn push(&mut self, event: Arc<Event>) {
        let change = matches!(
            *event,
            Event::ServiceChanged { .. } | Event::ViewChanged { .. }
        );
        let added = matches!(*event, Event::ServiceAdded { .. } | Event::ViewAdded { .. });
        let mut keyed = Keyed(event, added);
        if change {
            if let Some(old) = self.latest.get(&keyed) {
                keyed.1 = old.1;
            }
        }
        self.latest.replace(keyed);
    }

    /// Names waiting in the coalescing map (the bounded part).
    pub fn waiting(&self) -> usize {
        self.latest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.latest.is_empty() && self.sending.is_empty()
    }

    /// The next event to write, and whether to write it as an addition.
    pub fn next(&mut self) -> Option<(Arc<Event>, bool)> {
        if self.sending.is_empty() {
            if self.latest.is_empty() {
                return None;
            }
            self.sending.extend(self.latest.drain().map(|k| (k.0, k.1)));
            self.latest.shrink_to(KEEP);
        }
        let next = self.sending.pop_front();
        if self.sending.is_empty() {
            self.sending.shrink_to(KEEP);
        }
        next
    }

    /// Forgets everything (a fresh snapshot replaces it).
    pub fn clear(&mut self) {
        self.latest.clear();
        self.latest.shrink_to(KEEP);
        self.sending.clear();
        self.sending.shrink_to(KEEP);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ServiceRecord, State, ViewRecord};

    fn service(name: &str, state: State) -> Arc<Event> {
        Arc::new(Event::ServiceChanged {
            service: ServiceRecord {
                name: name.into(),
                state,
                ..Default::default()
            },
            previous: State::Ok,
        })
    }

    fn drain(p: &mut Pending) -> Vec<Arc<Event>> {
        std::iter::from_fn(|| p.next().map(|(e, _)| e)).collect()
    }

    #[test]
    fn keeps_the_latest_per_name_and_kind() {
        let mut p = Pending::default();
        for i in 0..1000 {
            p.push(service(
                "a",
                if i % 2 == 0 { State::Ok } else { State::Error },
            ));
            p.push(service("b", State::Ok));
        }
        // A view may share a service's name: kept apart.
        p.push(Arc::new(Event::ViewAdded {
            view: ViewRecord {
                name: "a".into(),
                ..Default::default()
            },
        }));
        assert_eq!(p.waiting(), 3);
        let out = drain(&mut p);
        assert_eq!(out.len(), 3);
        let a = out
            .iter()
            .find_map(|e| match &**e {
                Event::ServiceChanged { service, .. } if service.name == "a" => Some(service),
                _ => None,
            })
            .expect("a written");
        assert_eq!(a.state, State::Error, "the last of the 1000");
        assert!(p.is_empty());
    }

    #[test]
    fn an_addition_stays_one_when_changes_follow() {
        let mut p = Pending::default();
        let record = ServiceRecord {
            name: "new".into(),
            ..Default::default()
        };
        p.push(Arc::new(Event::ServiceAdded {
            service: record.clone(),
        }));
        p.push(service("new", State::Error));
        p.push(service("old", State::Error));
        let mut out: Vec<_> = std::iter::from_fn(|| p.next()).collect();
        out.sort_by_key(|(e, _)| crate::ws::message::event(e));
        let kinds: Vec<_> = out
            .iter()
            .map(|(e, added)| crate::ws::message::change(e, *added))
            .map(|t| serde_json::from_str::<serde_json::Value>(&t).expect("JSON"))
            .map(|v| (v["type"].clone(), v["service"]["name"].clone()))
            .collect();
        assert!(
            kinds.contains(&("ADD_SERVICE".into(), "new".into())),
            "{kinds:?}"
        );
        assert!(
            kinds.contains(&("UPDATE_SERVICE".into(), "old".into())),
            "{kinds:?}"
        );
        // Written, then changed again: now an update.
        p.push(service("new", State::Ok));
        assert_eq!(p.next().map(|(_, added)| added), Some(false));
    }

    #[test]
    fn a_change_during_a_write_comes_after_the_older_one() {
        let mut p = Pending::default();
        p.push(service("a", State::Ok));
        p.push(service("b", State::Ok));
        let first = p.next().expect("one").0;
        // While the batch is being written, "a" changes again.
        p.push(service("a", State::Error));
        let rest = drain(&mut p);
        let mut all = vec![first];
        all.extend(rest);
        let states: Vec<_> = all
            .iter()
            .filter_map(|e| match &**e {
                Event::ServiceChanged { service, .. } if service.name == "a" => Some(service.state),
                _ => None,
            })
            .collect();
        assert_eq!(states.last(), Some(&State::Error));
        p.push(service("c", State::Ok));
        p.clear();
        assert!(p.is_empty() && p.next().is_none());
    }
}
