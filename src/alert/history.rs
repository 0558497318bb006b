//! The delivery history (SPEC 15, "History"): the last [`HISTORY_LEN`]
//! finished deliveries, one record each (after its retries; a dropped
//! delivery too), for `GET /api/alerts/history`. A bounded ring shared by
//! the delivery workers, which append, and the HTTP threads, which copy it
//! out; the lock is held only to push or to copy. Kept in memory only: a
//! restart starts an empty history.

use crate::model::Millis;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Deliveries kept; the oldest goes when one more arrives.
pub const HISTORY_LEN: usize = 1000;

/// How a delivery ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Sent,
    /// Every attempt failed (or the one attempt a script gets).
    Failed,
    /// Never attempted: the waiting queue was full, or no worker thread
    /// could be started.
    Dropped,
}

/// One finished delivery, as `GET /api/alerts/history` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// When it ended (ms since the epoch).
    pub time: Millis,
    pub view: String,
    pub incident: u64,
    /// The `[alerts.NAME]` it was sent through.
    pub alert: String,
    /// `mail`, `mailgun`, `slack`, `webhook` or `script`.
    pub kind: &'static str,
    /// Recipients, channel, URL or script path.
    pub destination: String,
    /// Attempts made (0 for a dropped delivery).
    pub attempt: u32,
    pub result: Outcome,
    /// Why the last attempt failed; `None` when sent.
    pub error: Option<String>,
    /// 0 for a first message or a recovery, n for the n-th reminder.
    pub reminder: u32,
}

/// The ring; cheap to clone (all clones share one).
#[derive(Clone, Debug)]
pub struct History {
    ring: Arc<Mutex<VecDeque<Delivery>>>,
    capacity: usize,
}

impl Default for History {
    fn default() -> Self {
        History::with_capacity(HISTORY_LEN)
    }
}

impl History {
    /// A history of at most `capacity` (≥ 1) records.
    pub fn with_capacity(capacity: usize) -> History {
        History {
            ring: Arc::default(),
            capacity: capacity.max(1),
        }
    }

    /// Appends a record, dropping the oldest beyond the capacity.
    pub fn push(&self, delivery: Delivery) {
        // A worker that panicked while pushing left a consistent deque.
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        if ring.len() >= self.capacity {
            ring.pop_front();
        }
        ring.push_back(delivery);
    }

    /// Every record, newest first.
    pub fn newest_first(&self) -> Vec<Delivery> {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        ring.iter().rev().cloned().collect()
    }

    /// `{"history": [...]}`, newest first.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "history": self.newest_first() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: u32, result: Outcome) -> Delivery {
        Delivery {
            time: Millis::from(n),
            view: "web".into(),
            incident: 1,
            alert: "ops".into(),
            kind: "webhook",
            destination: "http://127.0.0.1:1/hook".into(),
            attempt: n,
            result,
            error: (result != Outcome::Sent).then(|| format!("error {n}")),
            reminder: 0,
        }
    }

    #[test]
    fn keeps_the_last_records_newest_first() {
        let history = History::with_capacity(3);
        let shared = history.clone();
        for n in 1..=5 {
            shared.push(record(n, Outcome::Sent));
        }
        let times: Vec<Millis> = history.newest_first().iter().map(|d| d.time).collect();
        assert_eq!(times, vec![5, 4, 3]);
    }

    #[test]
    fn json_has_the_spec_keys() {
        let history = History::default();
        history.push(record(1, Outcome::Sent));
        history.push(record(2, Outcome::Failed));
        history.push(Delivery {
            attempt: 0,
            ..record(3, Outcome::Dropped)
        });
        let json = history.to_json();
        let list = json["history"].as_array().cloned().unwrap_or_default();
        assert_eq!(list.len(), 3);
        assert_eq!(
            list[1],
            serde_json::json!({
                "time": 2, "view": "web", "incident": 1, "alert": "ops",
                "kind": "webhook", "destination": "http://127.0.0.1:1/hook",
                "attempt": 2, "result": "failed", "error": "error 2", "reminder": 0,
            })
        );
        assert_eq!(list[0]["result"], "dropped");
        assert_eq!(list[0]["attempt"], 0);
        assert_eq!(list[2]["error"], serde_json::Value::Null);
        assert_eq!(list[2]["result"], "sent");
    }
}
