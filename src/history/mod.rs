//! The history of state changes of services and views (SPEC 18): what
//! changed when, from what to what, and why. Sans-IO: the engine owns one
//! [`History`] and records into it synchronously where a state changes
//! (`Engine::reevaluate`, `Engine::update_view_state`), so no change can be
//! lost to a queue; time is always passed in.
//!
//! # What it owns
//!
//! One [`Subject`] per service or view that changed state beyond its first
//! step out of NEW (a service that only ever went NEW -> OK costs nothing
//! here: its engine record's `last_state_change` says all there is). A
//! subject keeps a *base* (the state in force from `base_at`, the oldest
//! moment it covers) and its changes after that, oldest first.
//!
//! # Limits
//!
//! `[limits] history_days` and `history_memory` hold for all subjects
//! together: one FIFO of subject ids in recording order says which change is
//! the oldest anywhere; it is dropped first (the subject's base moves to it
//! and its `dropped` grows, as does the global `dropped_total`). Deleted
//! subjects leave stale FIFO entries, skipped when they reach the front and
//! compacted when they outnumber the live ones: all O(1) amortised, nothing
//! walks the subjects. The age limit is a deadline ([`History::next_deadline`]).
//!
//! Answers ([`HistoryReply`], uptime) are built in `reply`.

mod reply;
#[cfg(test)]
mod tests;

pub use reply::{HistoryReply, Timeline, Uptime, MAX_CHANGES};

use crate::model::{Millis, State};
use hashbrown::HashMap;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;

/// A day in ms.
pub const DAY_MS: Millis = 86_400_000;

/// `[limits] history_days` and `history_memory`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryLimits {
    /// Changes older than this many days are dropped.
    pub days: u32,
    /// Bytes of history kept, all subjects together (about: the records,
    /// their reasons and their bookkeeping).
    pub memory: usize,
}

impl Default for HistoryLimits {
    fn default() -> Self {
        HistoryLimits {
            days: 90,
            memory: 64 << 20,
        }
    }
}

/// Whether a subject is a service or a view (their names are separate).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Service,
    View,
}

/// One state change.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Change {
    pub at: Millis,
    pub from: State,
    pub to: State,
    /// Why, in words (`no beat for 1 min`, `beat`, `unmuted`).
    pub reason: Cow<'static, str>,
}

impl Change {
    /// What it counts against `history_memory`.
    fn cost(&self) -> usize {
        let heap = match &self.reason {
            Cow::Borrowed(_) => 0,
            Cow::Owned(s) => s.len(),
        };
        std::mem::size_of::<Change>() + heap + FIFO_ENTRY
    }
}

/// The history of one service or view.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subject {
    /// The oldest moment covered: the subject's creation or the last
    /// dropped change.
    pub base_at: Millis,
    /// The state in force from `base_at` until the first change.
    pub base: State,
    /// Oldest first, `at` never decreasing.
    pub changes: VecDeque<Change>,
    /// Changes of this subject dropped by the limits.
    pub dropped: u64,
}

impl Subject {
    pub fn timeline(&self) -> Timeline<'_> {
        Timeline {
            base_at: Some(self.base_at),
            base: self.base,
            changes: &self.changes,
            dropped: self.dropped,
        }
    }
}

/// Reasons the engine writes as constants (`RECOVERED`, `BEAT`, ...): a
/// reason read back from the database shares them instead of a copy.
const COMMON_REASONS: &[&str] = &[
    "beat",
    "run succeeded",
    "muted",
    "unmuted",
    "recovered",
    "settings changed",
    "timeout changed",
    "configuration reloaded",
    "re-evaluated at start",
    "no service failing",
    "missed its schedule",
    "missed",
    "failed",
];

/// `text` as a reason: shared when it is a common one.
pub fn intern(text: &str) -> Cow<'static, str> {
    match COMMON_REASONS.iter().find(|r| **r == text) {
        Some(r) => Cow::Borrowed(r),
        None => Cow::Owned(text.to_owned()),
    }
}

/// One subject as a save holds it.
#[derive(Clone, Debug)]
pub struct Saved {
    pub kind: Kind,
    pub name: Arc<str>,
    pub subject: Arc<Subject>,
}

/// Bytes a FIFO entry costs.
const FIFO_ENTRY: usize = std::mem::size_of::<u64>();

/// What a subject costs beyond its changes (its maps' entries, its name).
fn subject_cost(name: &str) -> usize {
    std::mem::size_of::<Subject>() + 2 * std::mem::size_of::<(Box<str>, u64)>() + name.len() + 16
}

/// A subject as `History` holds it: its name kept for the way back from
/// the FIFO (shared with the index's key).
#[derive(Debug)]
struct Held {
    kind: Kind,
    name: Arc<str>,
    /// Shared with a save in progress (copied on the next write, once).
    subject: Arc<Subject>,
}

/// All subjects' histories within the limits (see the module comment).
#[derive(Debug, Default)]
pub struct History {
    limits: HistoryLimits,
    subjects: HashMap<u64, Held>,
    services: HashMap<Arc<str>, u64>,
    views: HashMap<Arc<str>, u64>,
    next_id: u64,
    /// Subject ids, one per kept change, in recording order.
    fifo: VecDeque<u64>,
    /// FIFO entries whose subject is gone.
    stale: usize,
    /// Bytes counted against `limits.memory`.
    used: usize,
    /// Changes dropped by the limits, all subjects, since start.
    dropped_total: u64,
}

impl History {
    pub fn new(limits: HistoryLimits) -> History {
        History {
            limits,
            ..History::default()
        }
    }

    pub fn limits(&self) -> HistoryLimits {
        self.limits
    }

    /// New limits (a reload); the next `prune` applies them.
    pub fn set_limits(&mut self, limits: HistoryLimits, now: Millis) {
        self.limits = limits;
        self.prune(now);
    }

    fn index(&self, kind: Kind) -> &HashMap<Arc<str>, u64> {
        match kind {
            Kind::Service => &self.services,
            Kind::View => &self.views,
        }
    }

    /// The history of `name`, if it has one of its own.
    pub fn get(&self, kind: Kind, name: &str) -> Option<&Subject> {
        let id = self.index(kind).get(name)?;
        self.subjects.get(id).map(|h| &*h.subject)
    }

    /// A new, empty subject; its id.
    fn add(&mut self, kind: Kind, name: &str, subject: Subject) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let name: Arc<str> = name.into();
        self.used += subject_cost(&name);
        self.used += subject.changes.iter().map(Change::cost).sum::<usize>();
        match kind {
            Kind::Service => self.services.insert(name.clone(), id),
            Kind::View => self.views.insert(name.clone(), id),
        };
        let subject = Arc::new(subject);
        self.subjects.insert(
            id,
            Held {
                kind,
                name,
                subject,
            },
        );
        id
    }

    /// Records a change of `name` from `change.from` (in force since
    /// `since`, the subject's `last_state_change` before this change) to
    /// `change.to`. A first step out of NEW into anything but ERROR of a
    /// subject without a history is not kept (the engine's record tells it).
    /// `at` is raised to the last change's if the clock went back, so the
    /// changes stay in order.
    pub fn record(&mut self, kind: Kind, name: &str, since: Millis, mut change: Change) {
        let id = match self.index(kind).get(name) {
            Some(&id) => id,
            None => {
                if change.from == State::New && change.to != State::Error {
                    return;
                }
                // A view's NEW has no time (0): known from this change.
                let base_at = if since > 0 {
                    since.min(change.at)
                } else {
                    change.at
                };
                let subject = Subject {
                    base_at,
                    base: change.from,
                    ..Subject::default()
                };
                self.add(kind, name, subject)
            }
        };
        let Some(held) = self.subjects.get_mut(&id) else {
            return;
        };
        let subject = Arc::make_mut(&mut held.subject);
        if let Some(last) = subject.changes.back() {
            change.at = change.at.max(last.at);
        }
        let at = change.at;
        self.used += change.cost();
        subject.changes.push_back(change);
        self.fifo.push_back(id);
        self.prune(at);
    }

    /// Forgets the history of a deleted subject.
    pub fn forget(&mut self, kind: Kind, name: &str) {
        let removed = match kind {
            Kind::Service => self.services.remove(name),
            Kind::View => self.views.remove(name),
        };
        if let Some(id) = removed {
            self.drop_subject(id);
        }
    }

    /// Removes subject `id` (already gone from its index); its FIFO
    /// entries stay (stale) until they reach the front or are compacted.
    fn drop_subject(&mut self, id: u64) {
        if let Some(held) = self.subjects.remove(&id) {
            self.used -= subject_cost(&held.name);
            for c in &held.subject.changes {
                self.used -= c.cost() - FIFO_ENTRY;
            }
            self.stale += held.subject.changes.len();
        }
        if self.stale > 1024 && self.stale > self.fifo.len() / 2 {
            let subjects = &self.subjects;
            self.fifo.retain(|id| subjects.contains_key(id));
            self.used -= self.stale * FIFO_ENTRY;
            self.stale = 0;
        }
    }

    /// When the oldest kept change becomes too old (`None`: nothing kept).
    /// A stale entry at the front makes it due at once.
    pub fn next_deadline(&self) -> Option<Millis> {
        let &id = self.fifo.front()?;
        match self
            .subjects
            .get(&id)
            .and_then(|h| h.subject.changes.front())
        {
            Some(c) => Some(c.at.saturating_add(self.max_age())),
            None => Some(Millis::MIN),
        }
    }

    fn max_age(&self) -> Millis {
        Millis::from(self.limits.days).saturating_mul(DAY_MS)
    }

    /// Drops the oldest changes while they are older than `history_days` or
    /// the memory is over `history_memory`. A subject left without changes
    /// while the memory is still over goes too (its engine record tells
    /// the same: in its last state since its last change), with its
    /// `dropped`.
    pub fn prune(&mut self, now: Millis) {
        let cutoff = now.saturating_sub(self.max_age());
        while let Some(&id) = self.fifo.front() {
            let Some(held) = self.subjects.get_mut(&id) else {
                self.fifo.pop_front();
                self.stale = self.stale.saturating_sub(1);
                self.used = self.used.saturating_sub(FIFO_ENTRY);
                continue;
            };
            let Some(front) = held.subject.changes.front() else {
                self.fifo.pop_front(); // cannot happen: one entry per change
                continue;
            };
            if self.used <= self.limits.memory && front.at >= cutoff {
                break;
            }
            let subject = Arc::make_mut(&mut held.subject);
            if let Some(c) = subject.changes.pop_front() {
                subject.base_at = c.at;
                subject.base = c.to;
                subject.dropped += 1;
                self.used -= c.cost();
            }
            let emptied = subject.changes.is_empty();
            self.fifo.pop_front();
            self.dropped_total += 1;
            if emptied && self.used > self.limits.memory {
                let (kind, name) = (held.kind, held.name.clone());
                match kind {
                    Kind::Service => self.services.remove(&name),
                    Kind::View => self.views.remove(&name),
                };
                self.drop_subject(id);
            }
        }
    }

    /// Changes dropped by the limits since start, all subjects.
    pub fn dropped_total(&self) -> u64 {
        self.dropped_total
    }

    /// Bytes counted against `history_memory`.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Subjects with a history of their own.
    pub fn len(&self) -> usize {
        self.subjects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.subjects.is_empty()
    }

    /// Every subject with a history of its own.
    pub fn iter(&self) -> impl Iterator<Item = (Kind, &str, &Subject)> + '_ {
        self.subjects
            .values()
            .map(|h| (h.kind, &*h.name, &*h.subject))
    }

    /// Every subject with a history of its own, shared (for a save: no
    /// change is copied now; a subject written to while the save holds it
    /// is copied then, once). O(subjects), not O(services).
    pub fn snapshot(&self) -> Vec<Saved> {
        self.subjects
            .values()
            .map(|h| Saved {
                kind: h.kind,
                name: h.name.clone(),
                subject: h.subject.clone(),
            })
            .collect()
    }

    /// Puts back subjects read from the database (replacing any of the same
    /// name); the FIFO is rebuilt in the order of the changes' times. Then
    /// the limits apply as of `now`.
    pub fn restore(&mut self, subjects: Vec<(Kind, String, Subject)>, now: Millis) {
        for (kind, name, subject) in subjects {
            self.forget(kind, &name);
            self.add(kind, &name, subject);
        }
        let mut order: Vec<(Millis, u64, usize)> = Vec::new();
        for (&id, h) in &self.subjects {
            let changes = h.subject.changes.iter().enumerate();
            order.extend(changes.map(|(i, c)| (c.at, id, i)));
        }
        order.sort_unstable();
        // One entry per kept change (each change's cost counts its entry):
        // the stale ones go.
        self.fifo = order.into_iter().map(|(_, id, _)| id).collect();
        self.used = self.used.saturating_sub(self.stale * FIFO_ENTRY);
        self.stale = 0;
        self.prune(now);
    }
}
