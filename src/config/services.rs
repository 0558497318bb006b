//! `[[services]]` blocks (SPEC 14.4): defaults for the services a pattern
//! matches (`timeout`, `schedule`, `tz`, `grace`, `max_runtime`,
//! `min_duration`), and the limits of jobs' events in `[limits]`. Checks
//! each block (pattern, cron expression, zone, durations) with errors that
//! name the block and the key, and turns the blocks into the engine's
//! [`JobConfig`].
//!
//! Durations are seconds as an integer (`grace = 3600`) or the timeout text
//! of SPEC 3 (`"90s"`, `"5m"`, `"2h"`, `"1d"`, `"1w"`); `"none"` is the same
//! as leaving the key out. `timeout` also takes `"auto"`, `"adaptive"` (SPEC
//! 19) and `"none"` (-2, -3 inside the engine,
//! -1) as the API does.

use super::Config;
use crate::cron::{validate_tz, Schedule};
use crate::engine::pattern::ServicePattern;
use crate::engine::{JobConfig, ServiceBlock};
use crate::http::parse_timeout;
use crate::jobs::JobSettings;
use crate::model::{Millis, TIMEOUT_AUTO, TIMEOUT_NONE};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;

/// Longest `[limits] max_body_bytes`: 1 MiB.
pub const MAX_BODY_BYTES_LIMIT: usize = 1 << 20;
/// Most `[limits] events_per_service`.
pub const MAX_EVENTS_PER_SERVICE: usize = 1000;
/// `max_body_bytes * events_per_service` may not pass this: a service's
/// bodies, base64 in its database line, must stay well under the 16 MiB a
/// line may have, or the saved file would not load again.
pub const MAX_BODIES_PER_SERVICE: usize = 8 << 20;

/// A duration as written: integer seconds or text.
#[derive(Debug, Clone, PartialEq)]
pub enum DurationValue {
    Seconds(i64),
    Text(String),
}

impl<'de> Deserialize<'de> for DurationValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DurationValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a duration: seconds as an integer, or text like \"90s\", \"5m\", \"2h\"",
                )
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<DurationValue, E> {
                Ok(DurationValue::Seconds(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<DurationValue, E> {
                Ok(DurationValue::Seconds(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DurationValue, E> {
                Ok(DurationValue::Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl DurationValue {
    /// The period of `timeout`: ms, or `TIMEOUT_NONE` / `TIMEOUT_AUTO`.
    pub fn period(&self) -> Result<Millis, String> {
        match self {
            DurationValue::Seconds(-1) => Ok(TIMEOUT_NONE),
            DurationValue::Seconds(-2) => Ok(TIMEOUT_AUTO),
            DurationValue::Seconds(s) if *s < 0 => Err(format!(
                "{s} is not a timeout (seconds, -1 = none, -2 = auto)"
            )),
            DurationValue::Seconds(s) => parse_timeout(&s.to_string()).map_err(|e| e.to_string()),
            DurationValue::Text(t) => parse_timeout(t).map_err(|e| e.to_string()),
        }
    }

    /// A duration in ms; `None` for `"none"` (unset).
    pub fn duration(&self) -> Result<Option<Millis>, String> {
        let ms = match self {
            DurationValue::Seconds(s) if *s < 0 => {
                return Err(format!("{s} is negative; a duration is at least 0 seconds"))
            }
            DurationValue::Seconds(s) => {
                parse_timeout(&s.to_string()).map_err(|e| e.to_string())?
            }
            DurationValue::Text(t) if t.trim().eq_ignore_ascii_case("none") => return Ok(None),
            DurationValue::Text(t) => parse_timeout(t).map_err(|e| e.to_string())?,
        };
        if ms < 0 {
            return Err("a duration, e.g. \"90s\", \"2h\" or 3600, not \"auto\" or -1".into());
        }
        Ok(Some(ms))
    }
}

/// One `[[services]]` block as written.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServiceDefaults {
    /// Which services it applies to (section 2 syntax: `*`, `$word`).
    pub pattern: String,
    #[serde(default)]
    pub timeout: Option<DurationValue>,
    #[serde(default)]
    pub schedule: Option<String>,
    #[serde(default)]
    pub tz: Option<String>,
    #[serde(default)]
    pub grace: Option<DurationValue>,
    #[serde(default)]
    pub max_runtime: Option<DurationValue>,
    #[serde(default)]
    pub min_duration: Option<DurationValue>,
}

impl ServiceDefaults {
    /// The engine's block; `Err((key, message))` names what is wrong. The
    /// message says which block (`idx`, 0-based as in the key).
    pub fn block(&self, idx: usize) -> Result<ServiceBlock, (&'static str, String)> {
        let fail = |key: &'static str, why: String| {
            (
                key,
                format!(
                    "[[services]] block {idx} (pattern {:?}): {key}: {why}",
                    self.pattern
                ),
            )
        };
        if self.pattern.is_empty() {
            return Err(fail("pattern", "must not be empty".into()));
        }
        let pattern =
            ServicePattern::compile(&self.pattern).map_err(|e| fail("pattern", e.to_string()))?;
        let timeout = self
            .timeout
            .as_ref()
            .map(DurationValue::period)
            .transpose()
            .map_err(|e| fail("timeout", e))?;
        if timeout.is_some() && self.schedule.is_some() {
            return Err(fail(
                "schedule",
                "a service has a period (`timeout`) or a `schedule`, not both; remove one".into(),
            ));
        }
        if let Some(tz) = &self.tz {
            validate_tz(tz).map_err(|e| fail("tz", e.to_string()))?;
        }
        if let Some(expression) = &self.schedule {
            Schedule::parse(expression, self.tz.as_deref().unwrap_or("UTC"))
                .map_err(|e| fail("schedule", e.to_string()))?;
        }
        let duration = |key: &'static str, value: &Option<DurationValue>| {
            value
                .as_ref()
                .map(DurationValue::duration)
                .transpose()
                .map(Option::flatten)
                .map_err(|e| fail(key, e))
        };
        Ok(ServiceBlock {
            pattern,
            timeout,
            settings: JobSettings {
                schedule: self.schedule.clone(),
                tz: self.tz.clone(),
                grace: duration("grace", &self.grace)?,
                max_runtime: duration("max_runtime", &self.max_runtime)?,
                min_duration: duration("min_duration", &self.min_duration)?,
            },
        })
    }
}

impl Config {
    /// What the engine needs for jobs: the compiled `[[services]]` blocks
    /// in file order and the event limits. The configuration was validated
    /// when loaded; a block that still fails here is left out and logged.
    pub fn job_config(&self) -> JobConfig {
        let blocks = self
            .services
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s.block(i) {
                Ok(block) => Some(block),
                Err((_, message)) => {
                    log::error!("configuration: {message}; block ignored");
                    None
                }
            })
            .collect();
        JobConfig {
            blocks,
            events_per_service: self.limits.events_per_service,
            event_body_memory: self.limits.event_body_memory,
            history: crate::history::HistoryLimits {
                days: u32::try_from(self.limits.history_days).unwrap_or(u32::MAX),
                memory: self.limits.history_memory,
            },
        }
    }

    /// The first `[[services]]` block that is wrong: (index, key, message).
    pub(super) fn services_problem(&self) -> Option<(usize, &'static str, String)> {
        self.services
            .iter()
            .enumerate()
            .find_map(|(i, s)| s.block(i).err().map(|(key, m)| (i, key, m)))
    }

    /// The job limits of `[limits]` beyond "at least 1": (key, message).
    pub(super) fn job_limits_problem(&self) -> Option<(&'static str, String)> {
        let l = &self.limits;
        if l.max_body_bytes > MAX_BODY_BYTES_LIMIT {
            return Some((
                "max_body_bytes",
                format!("must be at most {MAX_BODY_BYTES_LIMIT} (1 MiB)"),
            ));
        }
        if l.events_per_service > MAX_EVENTS_PER_SERVICE {
            return Some((
                "events_per_service",
                format!("must be at most {MAX_EVENTS_PER_SERVICE}"),
            ));
        }
        if l.max_body_bytes.saturating_mul(l.events_per_service) > MAX_BODIES_PER_SERVICE {
            return Some((
                "events_per_service",
                format!(
                    "events_per_service ({}) times max_body_bytes ({}) must be at most {} \
                     (8 MiB of bodies per service, so its database line stays loadable); \
                     lower one of them",
                    l.events_per_service, l.max_body_bytes, MAX_BODIES_PER_SERVICE
                ),
            ));
        }
        None
    }
}
