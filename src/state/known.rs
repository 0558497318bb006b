//! The names of services known to exist, for `StateHandle::update`: an
//! update of an existing service cannot be refused, so it is sent to the
//! state thread without waiting for an answer.
//!
//! A name is added after the state thread answered an update of it, and
//! only if no delete happened since that update was sent (the epoch); every
//! delete forgets all names before it is sent. So a name found here names
//! a service that existed when the request came in. Bounded: at
//! `MAX_NAMES` the set starts over (the next update of each name asks
//! again).

use std::collections::HashSet;
use std::sync::RwLock;

/// Names remembered at most (about 100 bytes each).
const MAX_NAMES: usize = 4096;

#[derive(Default)]
pub struct Known {
    /// Read by every HTTP beat at once: a read lock shares its cache line
    /// but never sleeps, unless a name is being added.
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Deletes so far.
    epoch: u64,
    names: HashSet<Box<str>>,
}

impl Known {
    /// True if the service exists (no delete since it was seen).
    pub fn contains(&self, name: &str) -> bool {
        self.inner.read().is_ok_and(|i| i.names.contains(name))
    }

    /// The epoch to pass to `insert` after the update's answer; read before
    /// the update is sent.
    pub fn epoch(&self) -> u64 {
        self.inner.read().map_or(u64::MAX, |i| i.epoch)
    }

    /// The service exists: its update sent in `epoch` succeeded.
    pub fn insert(&self, name: &str, epoch: u64) {
        if self.contains(name) {
            return;
        }
        let Ok(mut i) = self.inner.write() else {
            return;
        };
        if i.epoch != epoch || i.names.contains(name) {
            return;
        }
        if i.names.len() >= MAX_NAMES {
            i.names.clear();
        }
        i.names.insert(name.into());
    }

    /// A service is about to be deleted: forget every name.
    pub fn forget_all(&self) {
        if let Ok(mut i) = self.inner.write() {
            i.epoch += 1;
            i.names.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_known_after_its_update_unless_a_delete_came_between() {
        let known = Known::default();
        let epoch = known.epoch();
        known.insert("a", epoch);
        assert!(known.contains("a"));
        assert!(!known.contains("b"));

        let before_delete = known.epoch();
        known.forget_all();
        assert!(!known.contains("a"), "a delete forgets every name");
        known.insert("b", before_delete);
        assert!(!known.contains("b"), "sent before a delete: not known");
        known.insert("b", known.epoch());
        assert!(known.contains("b"));
    }

    #[test]
    fn the_set_is_bounded() {
        let known = Known::default();
        for i in 0..MAX_NAMES + 10 {
            known.insert(&format!("s{i}"), 0);
        }
        assert!(known.inner.read().map_or(0, |i| i.names.len()) <= MAX_NAMES);
        assert!(known.contains(&format!("s{}", MAX_NAMES + 9)));
    }
}
