//! The event ring of each job service and the body budget of all of them
//! (SPEC 14.3): the last `events_per_service` events per service; the
//! bodies of all services together stay within `event_body_memory`, the
//! oldest dropped first. The order of bodies is a FIFO of (service, epoch,
//! event number); entries whose event is gone are skipped when they come
//! up, and the FIFO is compacted when stale entries outnumber live ones,
//! so each body costs O(1) amortised.

use super::job::Job;
use super::Engine;
use crate::jobs::JobEvent;
use std::collections::VecDeque;

/// Bodies held, in the order they came.
#[derive(Debug, Default)]
pub(super) struct BodyBudget {
    pub fifo: VecDeque<(u32, u64, u64)>,
    /// Bytes of bodies held.
    pub bytes: usize,
    /// Bodies held.
    live: usize,
    /// Bodies dropped for memory since start.
    pub dropped: u64,
}

impl BodyBudget {
    /// A body of `len` bytes stopped being held (its event left the ring or
    /// its service was deleted).
    pub fn forget(&mut self, len: usize) {
        self.bytes = self.bytes.saturating_sub(len);
        self.live = self.live.saturating_sub(1);
    }
}

fn body_len(e: &JobEvent) -> Option<usize> {
    e.body.as_ref().map(|b| b.bytes.len())
}

/// The event numbered `n` in a ring: found by its offset from the first
/// (numbers are consecutive), else by a search (a hand-edited database).
fn find_event(job: &mut Job, n: u64) -> Option<&mut JobEvent> {
    let first = job.events.front()?.n;
    let direct = n
        .checked_sub(first)
        .and_then(|d| usize::try_from(d).ok())
        .filter(|&at| job.events.get(at).is_some_and(|e| e.n == n));
    let at = match direct {
        Some(at) => at,
        None => job.events.iter().position(|e| e.n == n)?,
    };
    job.events.get_mut(at)
}

impl Engine {
    /// Records an event for job service `id`: numbers it, keeps the last
    /// `events_per_service`, and keeps all bodies within the budget.
    pub(super) fn record_event(&mut self, id: u32, mut event: JobEvent) {
        let limit = self.config.jobs.events_per_service;
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        event.n = job.next_n;
        job.next_n += 1;
        if limit == 0 {
            return;
        }
        let epoch = job.epoch;
        let body = body_len(&event);
        let n = event.n;
        job.events.push_back(event);
        while job.events.len() > limit {
            if let Some(len) = job.events.pop_front().as_ref().and_then(body_len) {
                self.bodies.forget(len);
            }
        }
        if let Some(len) = body {
            self.bodies.bytes += len;
            self.bodies.live += 1;
            self.bodies.fifo.push_back((id, epoch, n));
        }
        self.enforce_body_budget();
    }

    /// Puts back a loaded event (its number kept), counting its body.
    pub(super) fn restore_event(&mut self, id: u32, event: JobEvent) {
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        job.next_n = job.next_n.max(event.n + 1);
        if let Some(len) = body_len(&event) {
            self.bodies.bytes += len;
            self.bodies.live += 1;
            self.bodies.fifo.push_back((id, job.epoch, event.n));
        }
        job.events.push_back(event);
    }

    /// Drops the oldest bodies until the held ones fit the budget.
    pub(super) fn enforce_body_budget(&mut self) {
        let budget = self.config.jobs.event_body_memory;
        while self.bodies.bytes > budget {
            let Some((id, epoch, n)) = self.bodies.fifo.pop_front() else {
                break;
            };
            let Some(job) = self.jobs.get_mut(&id).filter(|j| j.epoch == epoch) else {
                continue;
            };
            if let Some(event) = find_event(job, n) {
                if let Some(body) = event.body.take() {
                    event.body_dropped = true;
                    self.bodies.forget(body.bytes.len());
                    self.bodies.dropped += 1;
                }
            }
        }
        if self.bodies.fifo.len() > 2 * self.bodies.live + 1024 {
            let jobs = &mut self.jobs;
            self.bodies.fifo.retain(|&(id, epoch, n)| {
                jobs.get_mut(&id)
                    .filter(|j| j.epoch == epoch)
                    .and_then(|j| find_event(j, n))
                    .is_some_and(|e| e.body.is_some())
            });
        }
    }

    /// Forgets the bodies of a job being removed.
    pub(super) fn forget_job(&mut self, job: &Job) {
        for len in job.events.iter().filter_map(body_len) {
            self.bodies.forget(len);
        }
    }

    /// Bytes of bodies held and bodies dropped for memory since start (for
    /// /metrics).
    pub fn body_stats(&self) -> (usize, u64) {
        (self.bodies.bytes, self.bodies.dropped)
    }
}
