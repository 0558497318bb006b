//! A value kept for a while: the last one fetched and when, fetched again
//! once older than its time to live, under a mutex. Open pages that anyone
//! may ask for (badges' view states, the status page's rendering) keep
//! one so however often they are asked, the state thread is asked at most
//! once per TTL. Sans-IO: the caller passes `now`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The last value fetched and when, served until it is `ttl` old.
#[derive(Debug)]
pub struct Fresh<T> {
    ttl: Duration,
    last: Mutex<Option<(Instant, T)>>,
}

impl<T: Clone> Fresh<T> {
    pub const fn new(ttl: Duration) -> Fresh<T> {
        Fresh {
            ttl,
            last: Mutex::new(None),
        }
    }

    /// The value as of `now`: the kept one while younger than the TTL,
    /// else `fetch`'s, kept (stamped `now`) when it is `Ok`; an error is
    /// returned and not kept. The lock is held while fetching, so callers
    /// arriving meanwhile share that fetch.
    pub fn get<E>(&self, now: Instant, fetch: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, value)) = last.as_ref() {
            // `now` may be older than `at` when it was read before waiting
            // for the lock: the value is then as fresh as can be.
            if now.saturating_duration_since(*at) < self.ttl {
                return Ok(value.clone());
            }
        }
        let value = fetch()?;
        *last = Some((now, value.clone()));
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_kept_for_its_ttl_and_an_error_not_at_all() {
        let fresh = Fresh::new(Duration::from_secs(5));
        let t0 = Instant::now();
        let fetched = std::cell::Cell::new(0);
        let fetch = |v: u32| {
            fetched.set(fetched.get() + 1);
            Ok::<u32, &str>(v)
        };
        assert_eq!(fresh.get(t0, || fetch(1)), Ok(1));
        assert_eq!(
            fresh.get(t0 + Duration::from_millis(4_999), || fetch(2)),
            Ok(1)
        );
        // Read before a fetch in progress took the lock: still fresh.
        assert_eq!(fresh.get(t0, || fetch(3)), Ok(1));
        assert_eq!(fresh.get(t0 + Duration::from_secs(5), || fetch(4)), Ok(4));
        assert_eq!(fresh.get(t0 + Duration::from_secs(9), || fetch(5)), Ok(4));
        assert_eq!(fetched.get(), 2);
        // Stale and the fetch fails: the error, and the next call fetches.
        let t1 = t0 + Duration::from_secs(10);
        let down = || Err::<u32, &str>("down");
        assert_eq!(fresh.get(t1, down), Err("down"));
        assert_eq!(fresh.get(t1, || fetch(6)), Ok(6));
        assert_eq!(fresh.get(t1, down), Ok(6));
        assert_eq!(fetched.get(), 3);
    }
}
