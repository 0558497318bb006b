//! The answer of `/api/services/<name>/history` and `/api/views/<name>/
//! history` (SPEC 18): the changes in a window, the state in force at its
//! start, and the uptime over the last 1, 7 and 30 days. Built from a
//! [`Timeline`] on the state thread; pure functions of it and `now`.

use super::{Change, DAY_MS};
use crate::model::{Millis, State};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// At most this many changes in one answer: the newest of the window (the
/// older ones are counted in `omitted`). 10,000 changes are ~700 KB of JSON.
pub const MAX_CHANGES: usize = 10_000;

/// A subject's history as an answer reads it: the base and the changes
/// after it.
#[derive(Clone, Copy, Debug)]
pub struct Timeline<'a> {
    /// The oldest moment covered (`None`: nothing is known, e.g. a view
    /// that never had a member).
    pub base_at: Option<Millis>,
    /// The state in force from `base_at` until the first change.
    pub base: State,
    /// Oldest first, `at` never decreasing.
    pub changes: &'a VecDeque<Change>,
    pub dropped: u64,
}

static NO_CHANGES: VecDeque<Change> = VecDeque::new();

impl Timeline<'static> {
    /// The timeline of a subject with no history of its own: in `state`
    /// since `since` (its `last_state_change`; 0 or less: unknown).
    pub fn unchanged(state: State, since: Millis) -> Timeline<'static> {
        Timeline {
            base_at: (since > 0).then_some(since),
            base: state,
            changes: &NO_CHANGES,
            dropped: 0,
        }
    }
}

/// Uptime: the fraction of time not in ERROR over the last 1, 7 and 30
/// days, counting only time since `known_since` (`None`: no such time).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Uptime {
    #[serde(rename = "1d")]
    pub day: Option<f64>,
    #[serde(rename = "7d")]
    pub week: Option<f64>,
    #[serde(rename = "30d")]
    pub month: Option<f64>,
}

/// The JSON of a history answer (field order as in SPEC 18's contract).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryReply {
    pub name: String,
    /// The window asked for.
    pub since: Millis,
    pub until: Millis,
    pub now: Millis,
    /// The state in force just before `since` ("new" when unknown).
    pub state_at_since: State,
    /// Ascending by `at`, `since <= at <= until`; the newest `MAX_CHANGES`.
    pub changes: Vec<Change>,
    /// The oldest moment the history covers.
    pub known_since: Option<Millis>,
    /// Changes of this subject dropped by `history_days` / `history_memory`.
    pub dropped: u64,
    /// Changes in the window left out by `MAX_CHANGES` (the oldest ones):
    /// the first change listed then starts from its `from`.
    pub omitted: u64,
    pub uptime: Uptime,
}

impl Timeline<'_> {
    /// The state in force just before `at` (NEW before `base_at`).
    pub fn state_before(&self, at: Millis) -> State {
        match self.base_at {
            Some(base_at) if at >= base_at => match self.changes.partition_point(|c| c.at < at) {
                0 => self.base,
                i => self.changes[i - 1].to,
            },
            _ => State::New,
        }
    }

    /// The fraction of `(now - window, now]` not in ERROR, counting only
    /// time since `base_at`; `None` when that leaves no time.
    pub fn uptime(&self, now: Millis, window: Millis) -> Option<f64> {
        let known = self.base_at?;
        let start = known.max(now.saturating_sub(window));
        if start >= now {
            return None;
        }
        let i = self.changes.partition_point(|c| c.at <= start);
        let mut state = match i {
            0 => self.base,
            i => self.changes[i - 1].to,
        };
        let mut t = start;
        let mut error: Millis = 0;
        for c in self.changes.range(i..) {
            if c.at >= now {
                break;
            }
            if state == State::Error {
                error += c.at - t;
            }
            t = c.at;
            state = c.to;
        }
        if state == State::Error {
            error += now - t;
        }
        Some(1.0 - error as f64 / (now - start) as f64)
    }

    /// The answer for `name` over `since..=until` as of `now`.
    pub fn reply(&self, name: &str, since: Millis, until: Millis, now: Millis) -> HistoryReply {
        let first = self.changes.partition_point(|c| c.at < since);
        let end = self.changes.partition_point(|c| c.at <= until).max(first);
        let omitted = (end - first).saturating_sub(MAX_CHANGES);
        HistoryReply {
            name: name.to_owned(),
            since,
            until,
            now,
            state_at_since: self.state_before(since),
            changes: self.changes.range(first + omitted..end).cloned().collect(),
            known_since: self.base_at,
            dropped: self.dropped,
            omitted: omitted as u64,
            uptime: Uptime {
                day: self.uptime(now, DAY_MS),
                week: self.uptime(now, 7 * DAY_MS),
                month: self.uptime(now, 30 * DAY_MS),
            },
        }
    }
}
