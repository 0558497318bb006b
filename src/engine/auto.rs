//! The automatic timeout (SPEC 2.3) and the beat analysis (SPEC 2.4): pure
//! functions of a beat history, numerically identical to Lovebeat 1.0.3.

use crate::model::{Analysis, Millis};

/// The auto timeout for a beat history (intervals in ms, oldest first).
pub fn auto_timeout(history: &[Millis]) -> Millis {
    let _ = history;
    todo!("SPEC 2.3")
}

/// The beat analysis, `None` with fewer than 10 intervals.
pub fn analysis(history: &[Millis]) -> Option<Analysis> {
    let _ = history;
    todo!("SPEC 2.4")
}
