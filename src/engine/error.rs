//! Errors the engine (and the state thread in front of it) answers with.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineError {
    /// The name breaks the service-name rule.
    InvalidName(String),
    /// No such service.
    ServiceNotFound(String),
    /// No such view.
    ViewNotFound(String),
    /// A view with members cannot be deleted.
    ViewHasMembers { view: String, members: usize },
    /// `[limits] max_services` reached; existing services keep working.
    TooManyServices { max: usize },
    /// The state thread did not answer in time or is shutting down.
    Unavailable,
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::InvalidName(name) => write!(
                f,
                "invalid service name {name:?}: {}",
                crate::model::NAME_RULE
            ),
            EngineError::ServiceNotFound(name) => write!(f, "no service named {name:?}"),
            EngineError::ViewNotFound(name) => write!(f, "no view named {name:?}"),
            EngineError::ViewHasMembers { view, members } => write!(
                f,
                "view {view:?} still has {members} member service(s); delete them first"
            ),
            EngineError::TooManyServices { max } => write!(
                f,
                "the server already holds its maximum of {max} services ([limits] max_services)"
            ),
            EngineError::Unavailable => write!(f, "the server is busy or shutting down; try again"),
        }
    }
}

impl std::error::Error for EngineError {}
