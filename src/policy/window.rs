//! Maintenance windows (SPEC 15): recurring (cron schedule of 14.1 +
//! duration + zone) or one-off (from / until), matched to views by
//! patterns. Parsing a window from its keys (the config's
//! `[[maintenance]]` and the JSON of `POST /api/maintenance` share
//! [`WindowSpec`]) and answering, for a `now`, whether it is open and when
//! its next edge is. Plain code; time is an argument.

use crate::cron::Schedule;
use crate::engine::pattern::ServicePattern;
use crate::model::Millis;
use std::fmt;

/// A window as written: the same keys in the config and in the API.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WindowSpec {
    /// View name patterns (section 2 syntax); empty = refused.
    pub views: Vec<String>,
    pub schedule: Option<String>,
    /// ms.
    pub duration: Option<Millis>,
    pub tz: Option<String>,
    /// RFC 3339.
    pub from: Option<String>,
    /// RFC 3339.
    pub until: Option<String>,
    /// Free text shown with the window (at most `MAX_COMMENT` bytes).
    pub comment: Option<String>,
}

/// Where a window came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// `[[maintenance]]` in the config: replaced on reload, never stored.
    Config,
    /// `POST /api/maintenance`: stored in the database until deleted.
    Api,
}

/// When a window is open.
#[derive(Clone, Debug, PartialEq)]
pub enum When {
    /// Opens at every fire of `schedule`, for `duration` ms.
    Recurring {
        schedule: Schedule,
        duration: Millis,
    },
    /// Open from `from` (inclusive) to `until` (exclusive), ms.
    Once { from: Millis, until: Millis },
}

/// A maintenance window.
#[derive(Clone, Debug)]
pub struct Window {
    /// `config-N` or an id given by the API.
    pub id: String,
    pub origin: Origin,
    /// The patterns as written.
    pub views: Vec<String>,
    patterns: Vec<ServicePattern>,
    pub when: When,
    /// Free text shown with the window.
    pub comment: Option<String>,
}

impl PartialEq for Window {
    fn eq(&self, other: &Window) -> bool {
        // The patterns are compiled from `views`.
        self.id == other.id
            && self.origin == other.origin
            && self.views == other.views
            && self.when == other.when
            && self.comment == other.comment
    }
}

/// Why a window spec is refused; the message names the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowError(pub String);

impl fmt::Display for WindowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WindowError {}

/// Longest window: a year.
pub const MAX_DURATION: Millis = 366 * 86_400_000;
/// Longest `comment`, in bytes.
pub const MAX_COMMENT: usize = 1024;

fn err(text: impl Into<String>) -> WindowError {
    WindowError(text.into())
}

/// RFC 3339 (`2026-11-29T02:00:00Z`, offsets allowed) to ms.
pub fn parse_time(key: &str, text: &str) -> Result<Millis, WindowError> {
    let t: jiff::Timestamp = text.trim().parse().map_err(|e| {
        err(format!(
            "`{key}` must be an RFC 3339 time like 2026-11-29T02:00:00Z: {e}"
        ))
    })?;
    Ok(t.as_millisecond())
}

impl Window {
    /// Builds a window from its keys. Either `schedule` + `duration` (+
    /// `tz`, default UTC), or `from` + `until`, or `from` + `duration`, or
    /// (API only, `now` given) `duration` alone, meaning from `now`.
    pub fn from_spec(
        id: String,
        origin: Origin,
        spec: &WindowSpec,
        now: Option<Millis>,
    ) -> Result<Window, WindowError> {
        if spec.views.is_empty() {
            return Err(err(
                "`views` must list at least one view name or pattern (\"*\" for all)",
            ));
        }
        let mut patterns = Vec::with_capacity(spec.views.len());
        for p in &spec.views {
            patterns.push(
                ServicePattern::compile(p)
                    .map_err(|e| err(format!("`views` pattern `{p}`: {e}")))?,
            );
        }
        if spec.comment.as_ref().is_some_and(|c| c.len() > MAX_COMMENT) {
            return Err(err(format!(
                "`comment` is longer than {MAX_COMMENT} bytes; shorten it"
            )));
        }
        if let Some(d) = spec.duration {
            if d <= 0 || d > MAX_DURATION {
                return Err(err("`duration` must be more than 0 and at most a year"));
            }
        }
        let when = if let Some(expr) = &spec.schedule {
            if spec.from.is_some() || spec.until.is_some() {
                return Err(err(
                    "a window has either `schedule` + `duration` or `from` / `until`, not both",
                ));
            }
            let duration = spec
                .duration
                .ok_or_else(|| err("a recurring window (`schedule`) needs a `duration`"))?;
            let tz = spec.tz.as_deref().unwrap_or("UTC");
            let schedule =
                Schedule::parse(expr, tz).map_err(|e| err(format!("`schedule`: {e}")))?;
            When::Recurring { schedule, duration }
        } else {
            if spec.tz.is_some() {
                return Err(err("`tz` belongs to a recurring window (`schedule`)"));
            }
            let from = match (&spec.from, now) {
                (Some(f), _) => parse_time("from", f)?,
                (None, Some(now)) => now,
                (None, None) => return Err(err("a window needs `schedule` or `from`")),
            };
            let until = match (&spec.until, spec.duration) {
                (Some(_), Some(_)) => {
                    return Err(err("give `until` or `duration`, not both"));
                }
                (Some(u), None) => parse_time("until", u)?,
                (None, Some(d)) => from.saturating_add(d),
                (None, None) => return Err(err("a one-off window needs `until` or `duration`")),
            };
            if until <= from {
                return Err(err("`until` must be after `from`"));
            }
            if until - from > MAX_DURATION {
                return Err(err(
                    "`until` is more than a year after `from`; a window lasts at most a year",
                ));
            }
            When::Once { from, until }
        };
        Ok(Window {
            id,
            origin,
            views: spec.views.clone(),
            patterns,
            when,
            comment: spec.comment.clone(),
        })
    }

    /// The keys it was made from (for the API and the database).
    pub fn spec(&self) -> WindowSpec {
        let mut spec = WindowSpec {
            views: self.views.clone(),
            comment: self.comment.clone(),
            ..WindowSpec::default()
        };
        match &self.when {
            When::Recurring { schedule, duration } => {
                spec.schedule = Some(schedule.expression().to_string());
                spec.tz = Some(schedule.tz().to_string());
                spec.duration = Some(*duration);
            }
            When::Once { from, until } => {
                spec.from = Some(rfc3339(*from));
                spec.until = Some(rfc3339(*until));
            }
        }
        spec
    }

    /// True when `view` is covered by one of its patterns.
    pub fn covers(&self, view: &str) -> bool {
        self.patterns.iter().any(|p| p.is_match(view))
    }

    /// When open at `now`: the moment it closes.
    pub fn open_until(&self, now: Millis) -> Option<Millis> {
        match &self.when {
            When::Once { from, until } => (*from <= now && now < *until).then_some(*until),
            When::Recurring { schedule, duration } => {
                // Fires in (now - duration, now] keep it open; the latest
                // closes last. `next_fire` is strictly after, so start one
                // ms before the first instant that counts.
                let mut at = schedule.next_fire(now.saturating_sub(*duration))?;
                if at > now {
                    return None;
                }
                let mut until = at + duration;
                // Overlapping fires (a duration longer than the period)
                // extend it; bounded, since each step moves forward.
                for _ in 0..1000 {
                    match schedule.next_fire(at) {
                        Some(next) if next <= until => {
                            at = next;
                            until = next + duration;
                        }
                        _ => break,
                    }
                }
                Some(until)
            }
        }
    }

    /// The next moment strictly after `now` at which it opens or closes;
    /// `None` when it never changes again.
    pub fn next_edge(&self, now: Millis) -> Option<Millis> {
        if let Some(until) = self.open_until(now) {
            return Some(until);
        }
        match &self.when {
            When::Once { from, .. } => (*from > now).then_some(*from),
            When::Recurring { schedule, .. } => schedule.next_fire(now),
        }
    }

    /// True when it can never open again after `now` (a one-off that has
    /// ended): the API may forget it.
    pub fn is_over(&self, now: Millis) -> bool {
        matches!(self.when, When::Once { until, .. } if until <= now)
    }
}

/// ms to RFC 3339 in UTC.
pub fn rfc3339(ms: Millis) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t.to_string(),
        Err(_) => ms.to_string(),
    }
}
