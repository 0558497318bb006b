//! lovebeat patch: a cache of parked connection threads. A connection is
//! still served by a thread of its own from accept to close; when it ends,
//! the thread parks (up to `MAX_PARKED` of them, for up to `PARK_FOR`)
//! and takes the next connection instead of exiting, so a new connection
//! costs a wake-up instead of a thread's creation and teardown.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Threads parked at most (more exit when their connection ends).
const MAX_PARKED: usize = 128;
/// A parked thread with no connection for this long exits.
const PARK_FOR: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    parked: usize,
}

#[derive(Clone, Default)]
pub(crate) struct Workers {
    inner: Arc<(Mutex<Queue>, Condvar)>,
}

impl Workers {
    /// Runs `job` on a parked thread, or on a new one (named `name`) when
    /// none is free. A failed spawn drops the job.
    pub(crate) fn run(&self, name: &str, job: Job) -> std::io::Result<()> {
        let (lock, cv) = &*self.inner;
        if let Ok(mut q) = lock.lock() {
            if q.parked > q.jobs.len() {
                q.jobs.push_back(job);
                drop(q);
                cv.notify_one();
                return Ok(());
            }
        }
        let inner = Arc::clone(&self.inner);
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || worker(inner, job))
            .map(|_| ())
    }
}

fn worker(inner: Arc<(Mutex<Queue>, Condvar)>, first: Job) {
    let (lock, cv) = &*inner;
    let mut job = first;
    loop {
        job();
        let Ok(mut q) = lock.lock() else {
            return;
        };
        if q.parked >= MAX_PARKED {
            return;
        }
        q.parked += 1;
        let next = loop {
            if let Some(next) = q.jobs.pop_front() {
                break Some(next);
            }
            match cv.wait_timeout(q, PARK_FOR) {
                Ok((guard, timeout)) => {
                    q = guard;
                    if timeout.timed_out() && q.jobs.is_empty() {
                        break None;
                    }
                }
                Err(_) => return,
            }
        };
        q.parked -= 1;
        drop(q);
        match next {
            Some(next) => job = next,
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Workers;
    use std::sync::mpsc;

    #[test]
    fn threads_are_reused() {
        let workers = Workers::default();
        let (tx, rx) = mpsc::channel();
        let mut ids = std::collections::HashSet::new();
        for _ in 0..20 {
            let tx = tx.clone();
            workers
                .run("t", Box::new(move || tx.send(std::thread::current().id()).unwrap()))
                .unwrap();
            // One at a time: each job finds the thread the last one left
            // (given the time to park).
            ids.insert(rx.recv().unwrap());
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(ids.len(), 1);
    }
}
