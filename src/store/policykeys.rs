//! The alert policy's part of the database (SPEC 15): timed mutes and alert
//! marks as keys after 1.x's on `SERV` and `ALARM` lines, and maintenance
//! windows made through the API as `MAINT\t{json}` lines after the views.
//! Lovebeat 1.0.3 ignores unknown keys and unknown line kinds, so the file
//! stays loadable by it.
//!
//! - `muted_until` (services and views): written when not 0;
//!   `MUTED_FOREVER` is written as is.
//! - `alerted_at` (views): written whenever the view is in ERROR, even 0
//!   (not sent yet: a restart during a delay). An ERROR view line without
//!   it (a file of 1.x, or of a version before SPEC 15) loads with
//!   `last_state_change` (at least 1): its alert already went, so an
//!   upgrade does not page again.
//! - `MAINT`: `id`, `views` and either `schedule` + `duration` (ms) + `tz`
//!   or `from` + `until` (RFC 3339): `Window::spec()`'s keys.
//!
//! Reading is per key, like the job keys: a malformed value is skipped and
//! counted in [`KeyProblems`] and the line loads without it; a `MAINT` line
//! that does not make a window is skipped and counted, never fatal.

use super::KeyProblems;
use crate::model::{Millis, State};
use crate::policy::window::{Origin, Window, WindowSpec};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::HashSet;
use std::io::{self, Write};

/// The line kind of a maintenance window.
pub(super) const MAINT: &[u8] = b"MAINT";

/// Longest problem sample kept from a `MAINT` line (its text is free).
const MAX_SAMPLE: usize = 300;

/// `muted_until` as read: 0 when absent, `null` or malformed (counted).
pub(super) fn muted_until(
    raw: Option<&RawValue>,
    what: &str,
    name: &str,
    problems: &mut KeyProblems,
) -> Millis {
    match timestamp(raw) {
        Ok(at) => at.unwrap_or(0),
        Err(why) => {
            problems.note(|| format!("{what} {name:?}: key muted_until: {why}"));
            0
        }
    }
}

/// `alerted_at` of a view as read. Only an ERROR view has one; without a
/// readable value it is `last_state_change` (at least 1): the alert of an
/// incident stored before SPEC 15 went out.
pub(super) fn alerted_at(
    raw: Option<&RawValue>,
    state: State,
    last_state_change: Millis,
    name: &str,
    problems: &mut KeyProblems,
) -> Millis {
    let read = match timestamp(raw) {
        Ok(at) => at,
        Err(why) => {
            problems.note(|| format!("view {name:?}: key alerted_at: {why}"));
            None
        }
    };
    match (state, read) {
        (State::Error, Some(at)) => at,
        (State::Error, None) => last_state_change.max(1),
        _ => 0,
    }
}

/// A moment (ms, not negative); `null` counts as absent.
fn timestamp(raw: Option<&RawValue>) -> Result<Option<Millis>, String> {
    match raw {
        None => Ok(None),
        Some(raw) if raw.get() == "null" => Ok(None),
        Some(raw) => match serde_json::from_str::<Millis>(raw.get()) {
            Ok(ms) if ms < 0 => Err(format!("a time cannot be negative ({ms})")),
            Ok(ms) => Ok(Some(ms)),
            Err(e) => Err(e.to_string()),
        },
    }
}

/// A `MAINT` line as written, in this order.
#[derive(Serialize)]
struct MaintOut<'a> {
    id: &'a str,
    views: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    schedule: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tz: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    until: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<&'a str>,
}

/// A `MAINT` line as read: unknown keys are ignored.
#[derive(Deserialize)]
struct MaintIn {
    id: String,
    views: Vec<String>,
    #[serde(default)]
    schedule: Option<String>,
    #[serde(default)]
    duration: Option<Millis>,
    #[serde(default)]
    tz: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    until: Option<String>,
    #[serde(default)]
    comment: Option<String>,
}

/// Writes one `MAINT` line per window made through the API; windows of the
/// config are never stored (the config makes them again at start).
pub(super) fn write_windows<W: Write>(w: &mut W, windows: &[Window]) -> io::Result<()> {
    for window in windows.iter().filter(|w| w.origin == Origin::Api) {
        let spec = window.spec();
        let line = MaintOut {
            id: &window.id,
            views: &spec.views,
            schedule: spec.schedule.as_deref(),
            duration: spec.duration,
            tz: spec.tz.as_deref(),
            from: spec.from.as_deref(),
            until: spec.until.as_deref(),
            comment: spec.comment.as_deref(),
        };
        w.write_all(MAINT)?;
        w.write_all(b"\t")?;
        serde_json::to_writer(&mut *w, &line)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// The `MAINT` lines of one file as they are read.
#[derive(Default)]
pub(super) struct MaintReader {
    /// Ids read so far.
    ids: HashSet<String>,
}

impl MaintReader {
    /// Reads the JSON of a `MAINT` line (line `line_no`) into `windows`; a
    /// line that does not make a window, or repeats an id, is skipped and
    /// counted.
    pub(super) fn read(
        &mut self,
        json: &[u8],
        line_no: usize,
        windows: &mut Vec<Window>,
        problems: &mut KeyProblems,
    ) {
        match window_from(json, &self.ids) {
            Ok(window) => {
                self.ids.insert(window.id.clone());
                windows.push(window);
            }
            Err(why) => problems.note(|| {
                let mut sample = format!("line {line_no}: MAINT skipped: {why}");
                if sample.len() > MAX_SAMPLE {
                    let mut end = MAX_SAMPLE;
                    while !sample.is_char_boundary(end) {
                        end -= 1;
                    }
                    sample.truncate(end);
                    sample.push_str("...");
                }
                sample
            }),
        }
    }
}

fn window_from(json: &[u8], earlier: &HashSet<String>) -> Result<Window, String> {
    let m: MaintIn = serde_json::from_slice(json).map_err(|e| e.to_string())?;
    if m.id.is_empty() {
        return Err("`id` is empty".to_string());
    }
    if earlier.contains(&m.id) {
        return Err(format!("id {:?} repeats an earlier MAINT line", m.id));
    }
    // The update stays for keys other parts may add to `WindowSpec`.
    #[allow(clippy::needless_update)]
    let spec = WindowSpec {
        views: m.views,
        schedule: m.schedule,
        duration: m.duration,
        tz: m.tz,
        from: m.from,
        until: m.until,
        comment: m.comment,
    };
    Window::from_spec(m.id, Origin::Api, &spec, None).map_err(|e| e.to_string())
}
