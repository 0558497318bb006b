//! The statsd backlog: how many statsd updates are queued for the state
//! thread. The command queue is bounded in commands, but one statsd batch
//! can hold thousands of updates (a 64 KiB datagram), so 4096 queued
//! batches could be ~250 MiB and seconds of work that every HTTP request
//! waits behind. `StateHandle` refuses a batch that would take the backlog
//! over `INGEST_BACKLOG` updates; the updates count from hand-over until the
//! state thread drops the `Ingest` (handled, or refused by the channel).

use crate::model::Batch;
use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// statsd updates queued for the state thread, at most (tens of
/// milliseconds of work). A batch arriving when nothing is queued is taken
/// whatever its size.
pub const INGEST_BACKLOG: usize = 100_000;

/// The shared count of queued statsd updates.
#[derive(Clone, Default)]
pub struct Backlog(Arc<AtomicUsize>);

impl Backlog {
    /// Counts `batch` in the backlog if there is room, returning it ready to
    /// send; gives the batch back when there is none.
    pub fn admit(&self, batch: Batch) -> Result<Ingest, Batch> {
        let n = batch.len();
        let room = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                (queued == 0 || queued.saturating_add(n) <= INGEST_BACKLOG)
                    .then(|| queued.saturating_add(n))
            });
        match room {
            Ok(_) => Ok(Ingest {
                batch,
                counted: Some(self.clone()),
            }),
            Err(_) => Err(batch),
        }
    }

    /// Updates queued now.
    pub fn queued(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }
}

/// A statsd batch on its way to the state thread; it leaves the backlog
/// when dropped.
pub struct Ingest {
    batch: Batch,
    counted: Option<Backlog>,
}

impl Deref for Ingest {
    type Target = Batch;
    fn deref(&self) -> &Batch {
        &self.batch
    }
}

/// A batch counted in no backlog (tests feeding a queue directly).
impl From<Batch> for Ingest {
    fn from(batch: Batch) -> Ingest {
        Ingest {
            batch,
            counted: None,
        }
    }
}

impl Drop for Ingest {
    fn drop(&mut self) {
        if let Some(backlog) = &self.counted {
            backlog.0.fetch_sub(self.batch.len(), Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Update;

    fn batch(n: usize) -> Batch {
        let mut b = Batch::default();
        for _ in 0..n {
            b.push("a", Update::Beat);
        }
        b
    }

    #[test]
    fn full_backlog_refuses_until_batches_are_dropped() {
        let backlog = Backlog::default();
        let first = backlog
            .admit(batch(INGEST_BACKLOG - 10))
            .unwrap_or_else(|_| panic!("room"));
        let second = backlog
            .admit(batch(10))
            .unwrap_or_else(|_| panic!("exactly full"));
        assert_eq!(backlog.queued(), INGEST_BACKLOG);
        let refused = backlog.admit(batch(1)).err().expect("full");
        assert_eq!(refused.len(), 1);
        drop(first);
        assert_eq!(backlog.queued(), 10);
        assert!(backlog.admit(batch(1000)).is_ok());
        drop(second);
        assert_eq!(backlog.queued(), 0);
    }

    #[test]
    fn oversized_batch_passes_an_empty_backlog_only() {
        let backlog = Backlog::default();
        let big = backlog
            .admit(batch(INGEST_BACKLOG + 5))
            .unwrap_or_else(|_| panic!("empty"));
        assert!(backlog.admit(batch(1)).is_err());
        drop(big);
        assert!(backlog.admit(batch(1)).is_ok());
    }

    #[test]
    fn handle_refuses_batches_beyond_the_backlog_though_the_queue_has_room() {
        let (tx, rx) = crossbeam_channel::bounded(crate::state::COMMAND_QUEUE);
        let handle = crate::state::StateHandle::new(tx);
        let per_batch = INGEST_BACKLOG / 4;
        for _ in 0..4 {
            assert!(handle.ingest(batch(per_batch)));
        }
        assert!(!handle.ingest(batch(per_batch)), "backlog full");
        assert!(!handle.ingest_waiting(batch(1), std::time::Duration::from_millis(20)));
        assert_eq!(rx.len(), 4);
        // The state thread handling (dropping) one batch makes room.
        drop(rx.recv());
        assert!(handle.ingest(batch(per_batch)));
        assert!(!handle.ingest(batch(1)));
        drop(rx.recv());
        assert!(handle.ingest_waiting(batch(1), std::time::Duration::from_millis(20)));
    }

    #[test]
    fn uncounted_ingest_touches_no_backlog() {
        let backlog = Backlog::default();
        let loose: Ingest = batch(3).into();
        assert_eq!(loose.len(), 3);
        drop(loose);
        assert_eq!(backlog.queued(), 0);
    }
}
