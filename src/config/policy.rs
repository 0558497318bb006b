//! The configuration of the alert policy (SPEC 15): `[alerts.NAME] repeat`,
//! `[[views]] delay` and `depends_on`, and `[[maintenance]]` windows. Owns
//! their checks (per key, with messages naming the key; `depends_on` names,
//! self-dependencies and cycles across all files) and
//! [`Config::policy_settings`], which turns them into the engine's
//! [`PolicySettings`].

use super::{AlertConfig, Config, DurationValue, ViewConfig};
use crate::cron::validate_tz;
use crate::model::Millis;
use crate::policy::window::{Origin, Window, WindowSpec};
use crate::policy::{PolicySettings, TemplatePolicy};
use serde::{Deserialize, Deserializer};
use std::collections::HashMap;

/// Shortest `[alerts.NAME] repeat`: a second (the engine's resolution of
/// a beat; "1h" is the usual value).
pub const MIN_REPEAT_MS: Millis = 1_000;
/// Longest `[[views]] delay`: one day.
pub const MAX_DELAY_MS: Millis = 86_400_000;

/// `[[maintenance]]`: a window during which the views it covers send no
/// alerts. Either `schedule` + `duration` (+ `tz`), recurring, or `from`
/// and `until` (or `from` + `duration`), once.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MaintenanceConfig {
    /// View name patterns (section 2 syntax).
    pub views: Vec<String>,
    /// Cron expression (SPEC 14.1).
    pub schedule: Option<String>,
    pub duration: Option<DurationValue>,
    /// IANA zone of `schedule` (default UTC).
    pub tz: Option<String>,
    /// RFC 3339, as text or as a TOML date-time.
    #[serde(deserialize_with = "de_time")]
    pub from: Option<String>,
    #[serde(deserialize_with = "de_time")]
    pub until: Option<String>,
    /// Free text shown with the window.
    pub comment: Option<String>,
}

/// A time as a string, or as a TOML date-time (`from = 2026-11-29T02:00:00Z`
/// unquoted), kept as its RFC 3339 text for [`Window::from_spec`].
fn de_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match toml::Value::deserialize(d)? {
        toml::Value::String(s) => Ok(Some(s)),
        toml::Value::Datetime(t) => Ok(Some(t.to_string())),
        other => Err(serde::de::Error::custom(format!(
            "expected an RFC 3339 time like \"2026-11-29T02:00:00Z\", found a {}",
            other.type_str()
        ))),
    }
}

/// The keys of a `[[maintenance]]` block, for finding which one an error
/// of [`Window::from_spec`] is about.
const MAINTENANCE_KEYS: [&str; 7] = [
    "views", "schedule", "duration", "tz", "from", "until", "comment",
];

impl MaintenanceConfig {
    /// The window, with id `config-{n}`. `Err((key, message))`; the
    /// message names the block (`idx`, 0-based as in the key).
    pub fn window(&self, idx: usize, n: usize) -> Result<Window, (&'static str, String)> {
        let fail = |key: &'static str, why: String| {
            (
                key,
                format!(
                    "[[maintenance]] block {idx} (views {:?}): {why}",
                    self.views
                ),
            )
        };
        if let Some(tz) = &self.tz {
            validate_tz(tz).map_err(|e| fail("tz", format!("`tz`: {e}")))?;
        }
        let duration = match &self.duration {
            None => None,
            Some(d) => d
                .duration()
                .map_err(|e| fail("duration", format!("`duration`: {e}")))?,
        };
        let spec = WindowSpec {
            views: self.views.clone(),
            schedule: self.schedule.clone(),
            duration,
            tz: self.tz.clone(),
            from: self.from.clone(),
            until: self.until.clone(),
            comment: self.comment.clone(),
        };
        Window::from_spec(format!("config-{n}"), Origin::Config, &spec, None).map_err(|e| {
            // The key the message names first (they name their key first).
            let key = MAINTENANCE_KEYS
                .into_iter()
                .filter_map(|k| e.0.find(&format!("`{k}`")).map(|at| (at, k)))
                .min()
                .map_or("views", |(_, k)| k);
            fail(key, e.0)
        })
    }
}

impl AlertConfig {
    /// `repeat` in ms; `None` when absent or `"none"`. Returns (key,
    /// message) naming the alert.
    pub fn repeat_ms(&self, name: &str) -> Result<Option<Millis>, (&'static str, String)> {
        let Some(value) = &self.repeat else {
            return Ok(None);
        };
        let fail = |why: String| ("repeat", format!("[alerts.{name}] repeat: {why}"));
        match value.duration().map_err(fail)? {
            Some(ms) if ms < MIN_REPEAT_MS => Err(fail(format!(
                "{} is too short; use at least \"1s\" (\"1h\" is usual), or \"none\" for \
                 no reminders",
                shown(value)
            ))),
            other => Ok(other),
        }
    }
}

impl ViewConfig {
    /// `delay` in ms (0 when absent or `"none"`).
    pub fn delay_ms(&self) -> Result<Millis, (&'static str, String)> {
        let Some(value) = &self.delay else {
            return Ok(0);
        };
        let fail = |why: String| ("delay", format!("view `{}`: delay: {why}", self.name));
        match value.duration().map_err(fail)? {
            Some(ms) if ms > MAX_DELAY_MS => Err(fail(format!(
                "{} is too long; a delay is at most one day (\"1d\", 86400)",
                shown(value)
            ))),
            other => Ok(other.unwrap_or(0)),
        }
    }
}

/// A duration as the user wrote it, for messages.
fn shown(value: &DurationValue) -> String {
    match value {
        DurationValue::Seconds(s) => format!("{s} (seconds)"),
        DurationValue::Text(t) => format!("{t:?}"),
    }
}

impl Config {
    /// What the engine's alert policy needs: per `[[views]]` entry (in the
    /// order of `server::view_templates`, which is the engine's template
    /// order) its delay and dependencies, the alerts' `repeat`, and the
    /// `[[maintenance]]` windows (ids `config-1`, ... in order). The
    /// configuration was validated when loaded; a value that still fails
    /// here is left out and logged.
    pub fn policy_settings(&self) -> PolicySettings {
        let templates = self
            .views
            .iter()
            .map(|v| {
                let delay = v.delay_ms().unwrap_or_else(|(_, message)| {
                    log::error!("configuration: {message}; no delay");
                    0
                });
                let mut depends_on: Vec<String> = Vec::with_capacity(v.depends_on.len());
                for name in &v.depends_on {
                    if !depends_on.contains(name) {
                        depends_on.push(name.clone());
                    }
                }
                TemplatePolicy { delay, depends_on }
            })
            .collect();
        let repeat: HashMap<String, Millis> = self
            .alerts
            .iter()
            .filter_map(|(name, a)| match a.repeat_ms(name) {
                Ok(ms) => ms.map(|ms| (name.clone(), ms)),
                Err((_, message)) => {
                    log::error!("configuration: {message}; no reminders");
                    None
                }
            })
            .collect();
        let windows = self
            .maintenance
            .iter()
            .enumerate()
            .filter_map(|(i, m)| match m.window(i, i + 1) {
                Ok(w) => Some(w),
                Err((_, message)) => {
                    log::error!("configuration: {message}; window ignored");
                    None
                }
            })
            .collect();
        PolicySettings {
            templates,
            repeat,
            windows,
        }
    }

    /// The first wrong `[[maintenance]]` block: (index, key, message).
    pub(super) fn maintenance_problem(&self) -> Option<(usize, &'static str, String)> {
        self.maintenance
            .iter()
            .enumerate()
            .find_map(|(i, m)| m.window(i, i + 1).err().map(|(key, m)| (i, key, m)))
    }

    /// The first wrong `repeat`: (alert name, key, message).
    pub(super) fn repeat_problem(&self) -> Option<(String, &'static str, String)> {
        self.alerts.iter().find_map(|(name, a)| {
            a.repeat_ms(name)
                .err()
                .map(|(key, m)| (name.clone(), key, m))
        })
    }

    /// `depends_on` across all views: unknown names, a view depending on
    /// itself, and cycles. Returns (index in `views`, key, message).
    pub(super) fn depends_on_problem(&self) -> Option<(usize, &'static str, String)> {
        let index: HashMap<&str, usize> = self
            .views
            .iter()
            .enumerate()
            .map(|(i, v)| (v.name.as_str(), i))
            .collect();
        for (i, v) in self.views.iter().enumerate() {
            for name in &v.depends_on {
                if *name == v.name {
                    return Some((
                        i,
                        "depends_on",
                        format!(
                            "view `{}` depends on itself; remove `{name}` from its `depends_on`",
                            v.name
                        ),
                    ));
                }
                if !index.contains_key(name.as_str()) {
                    return Some((i, "depends_on", unknown_dependency(self, &v.name, name)));
                }
            }
        }
        let cycle = find_cycle(&self.views, &index)?;
        let path: Vec<&str> = cycle.iter().map(|&i| self.views[i].name.as_str()).collect();
        Some((
            cycle[0],
            "depends_on",
            format!(
                "views depend on each other in a cycle ({}); a view cannot hold its own \
                 alerts through others: remove one of these `depends_on` entries",
                path.join(" -> ")
            ),
        ))
    }
}

fn unknown_dependency(config: &Config, view: &str, name: &str) -> String {
    let mut message = format!(
        "view `{view}` depends on `{name}`, which is not the `name` of any [[views]] entry; \
         `depends_on` lists view names as configured"
    );
    let templated: Vec<&str> = config
        .views
        .iter()
        .map(|v| v.name.as_str())
        .filter(|n| n.contains('$'))
        .collect();
    if !templated.is_empty() {
        message.push_str(&format!(
            " (a view whose name has a `$word`, like `{}`, can be depended on only by that \
             exact name, not by the names of the views it makes)",
            templated[0]
        ));
    }
    message
}

/// The first cycle among the views' `depends_on` (all names known), as
/// view indices from its first view back to it: `[a, b, a]`. Depth-first
/// in file order, iterative (no recursion however long the chain).
fn find_cycle(views: &[ViewConfig], index: &HashMap<&str, usize>) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let mut mark = vec![Mark::New; views.len()];
    for start in 0..views.len() {
        if mark[start] != Mark::New {
            continue;
        }
        // The path from `start`, each with how many of its edges are done.
        let mut path: Vec<(usize, usize)> = vec![(start, 0)];
        mark[start] = Mark::OnPath;
        while let Some(top) = path.last_mut() {
            let v = top.0;
            let Some(name) = views[v].depends_on.get(top.1) else {
                mark[v] = Mark::Done;
                path.pop();
                continue;
            };
            top.1 += 1;
            let Some(&w) = index.get(name.as_str()) else {
                continue;
            };
            match mark[w] {
                Mark::New => {
                    mark[w] = Mark::OnPath;
                    path.push((w, 0));
                }
                Mark::OnPath => {
                    let from = path.iter().position(|&(u, _)| u == w).unwrap_or(0);
                    let mut cycle: Vec<usize> = path[from..].iter().map(|&(u, _)| u).collect();
                    cycle.push(w);
                    return Some(cycle);
                }
                Mark::Done => {}
            }
        }
    }
    None
}
