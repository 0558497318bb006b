//! What a caller of the state thread can be answered: the engine's refusal
//! of the request itself, or the transport's failure to get an answer at
//! all (the thread is busy, gone or shutting down). Kept apart so the
//! engine's errors speak only of services and views.

use crate::engine::EngineError;
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateError {
    /// The engine refused the request (no such service, invalid name...).
    Engine(EngineError),
    /// The state thread did not answer in time, is shutting down, or
    /// refused work it could not take on now (too many listings at once,
    /// a save that failed).
    Unavailable,
}

impl From<EngineError> for StateError {
    fn from(e: EngineError) -> Self {
        StateError::Engine(e)
    }
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::Engine(e) => e.fmt(f),
            StateError::Unavailable => write!(f, "the server is busy or shutting down; try again"),
        }
    }
}

impl std::error::Error for StateError {}
