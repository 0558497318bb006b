//! Errors the engine answers with: each about the request itself (a name,
//! a service, a view, a limit). The state thread's own failures (no answer
//! in time) are `state::StateError`.

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
    /// A job setting that cannot be used (a bad cron expression, an
    /// unknown time zone, a negative duration): nothing was changed.
    InvalidSetting(String),
    /// No event number `n` is kept for the service.
    EventNotFound { service: String, n: usize },
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
            EngineError::InvalidSetting(why) => write!(f, "{why}; nothing was changed"),
            EngineError::EventNotFound { service, n } => {
                write!(f, "service {service:?} keeps no event number {n}")
            }
        }
    }
}

impl std::error::Error for EngineError {}
