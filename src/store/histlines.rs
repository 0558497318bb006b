//! The history of state changes in the database (SPEC 18): one
//! `HIST\t{json}` line per service or view with a history of its own,
//! after the views and `MAINT` lines. Lovebeat 1.0.3 skips line kinds it
//! does not know, so the file stays loadable by it.
//!
//! ```text
//! HIST<TAB>{"service":"backup","base_at":1764000000000,"base":"ok","dropped":0,
//!      "changes":[[1766000000000,"ok","error","no beat for 1 min"],...]}
//! ```
//!
//! (`"view"` instead of `"service"` for a view.) `base_at`/`base`: the
//! oldest moment covered and the state then; `changes`: `[at, from, to,
//! reason]`, oldest first. A line that does not read as that (bad JSON, an
//! unknown state, changes out of order, neither or both names) is skipped
//! and counted in `Database::history_problems`, never fatal: the history
//! is a record, not state the monitor runs on.

use super::KeyProblems;
use crate::history::{Change, Kind, Saved, Subject};
use crate::model::{Millis, State};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::VecDeque;
use std::io::{self, Write};

/// The line kind of a subject's history.
pub(super) const HIST: &[u8] = b"HIST";

/// Longest problem sample kept from a `HIST` line.
const MAX_SAMPLE: usize = 200;

#[derive(Serialize)]
struct HistOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    view: Option<&'a str>,
    base_at: Millis,
    base: State,
    dropped: u64,
    changes: ChangesOut<'a>,
}

/// The changes as `[at, from, to, reason]` arrays, written without a copy.
struct ChangesOut<'a>(&'a VecDeque<Change>);

impl Serialize for ChangesOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for c in self.0 {
            seq.serialize_element(&(c.at, c.from, c.to, &*c.reason))?;
        }
        seq.end()
    }
}

/// Writes one `HIST` line per subject.
pub(super) fn write_history<W: Write>(w: &mut W, history: &[Saved]) -> io::Result<()> {
    for saved in history {
        let name = Some(&*saved.name);
        let s = &saved.subject;
        let line = HistOut {
            service: name.filter(|_| saved.kind == Kind::Service),
            view: name.filter(|_| saved.kind == Kind::View),
            base_at: s.base_at,
            base: s.base,
            dropped: s.dropped,
            changes: ChangesOut(&s.changes),
        };
        w.write_all(b"HIST\t")?;
        serde_json::to_writer(&mut *w, &line)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

#[derive(Deserialize)]
struct HistIn<'a> {
    #[serde(default)]
    service: Option<String>,
    #[serde(default)]
    view: Option<String>,
    base_at: Millis,
    base: State,
    #[serde(default)]
    dropped: u64,
    #[serde(borrow)]
    changes: Vec<(Millis, State, State, Cow<'a, str>)>,
}

/// Reads one `HIST` line into `out`, or counts it in `problems`.
pub(super) fn read_history(
    json: &[u8],
    line: usize,
    out: &mut Vec<(Kind, String, Subject)>,
    problems: &mut KeyProblems,
) {
    match parse(json) {
        Ok(subject) => out.push(subject),
        Err(why) => problems.note(|| {
            let mut why = format!("line {line}: HIST skipped: {why}");
            if why.len() > MAX_SAMPLE {
                let mut cut = MAX_SAMPLE;
                while !why.is_char_boundary(cut) {
                    cut -= 1;
                }
                why.truncate(cut);
            }
            why
        }),
    }
}

fn parse(json: &[u8]) -> Result<(Kind, String, Subject), String> {
    let h: HistIn = serde_json::from_slice(json).map_err(|e| e.to_string())?;
    let (kind, name) = match (h.service, h.view) {
        (Some(name), None) => (Kind::Service, name),
        (None, Some(name)) => (Kind::View, name),
        _ => return Err("needs one of \"service\" and \"view\"".into()),
    };
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    if h.changes.windows(2).any(|w| w[1].0 < w[0].0) {
        return Err(format!("{name:?}: changes out of order"));
    }
    let changes = h
        .changes
        .into_iter()
        .map(|(at, from, to, reason)| Change {
            at,
            from,
            to,
            reason: crate::history::intern(&reason),
        })
        .collect();
    Ok((
        kind,
        name,
        Subject {
            base_at: h.base_at,
            base: h.base,
            changes,
            dropped: h.dropped,
        },
    ))
}
