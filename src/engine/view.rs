//! One view as the engine holds it: its members and which of them fail.

use crate::model::{Millis, State};
use hashbrown::HashSet;

pub(super) struct View {
    pub name: String,
    pub state: State,
    pub incident_number: u64,
    pub last_state_change: Millis,
    /// Ids of member services.
    pub members: HashSet<u32>,
    /// Ids of member services in ERROR.
    pub failed: HashSet<u32>,
    /// Index (in `EngineConfig::templates`) of the template that produced
    /// this view, whose `alerts` fire for it. Set when the first member
    /// joins through a template; `None` for a view only the database knows.
    pub template: Option<usize>,
}

impl View {
    pub fn new(name: String) -> View {
        View {
            name,
            state: State::New,
            incident_number: 0,
            last_state_change: 0,
            members: HashSet::new(),
            failed: HashSet::new(),
            template: None,
        }
    }
}
