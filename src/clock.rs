//! Wall-clock time in Unix milliseconds: the one place the process reads it.
//! The engine never calls this; the threads pass `now` in.

use crate::model::Millis;
use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}
