//! Sentry Crons' check-in route on our port (SPEC 17), on when `[sentry]`
//! is configured: `/api/<project_id>/cron/<monitor_slug>/<key>[/]` and
//! `/api/<project_id>/cron/<monitor_slug>[/]` (key in `X-Sentry-Auth`,
//! `Authorization` or `?sentry_key=`), GET or POST, as Relay serves them
//! (`relay-server/src/endpoints/monitor.rs`). A check-in is the query
//! (`status`, `check_in_id`, `duration`, `environment`) or, on a POST with
//! a JSON content type, the body (`relay-monitors/src/lib.rs` `CheckIn`,
//! with `monitor_config`). It becomes a run signal of SPEC 14 on the
//! service named by the slug, lower-cased, after `[sentry] prefix`:
//! `in_progress` → start (rid = check_in_id), `ok` → success, `error` →
//! fail; `missed`/`unknown` are accepted and change nothing. A
//! `monitor_config` is applied as settings (14.4) in the same command:
//! crontab schedule or interval, `timezone`, `checkin_margin` (minutes) →
//! grace, `max_runtime` (minutes). A check-in creates its service. Its
//! `duration` (seconds) is the run's duration (`Signal::reported_duration`:
//! the SDK timed the job itself, so it wins over the time since the paired
//! `in_progress`).
//!
//! Answers as Relay gives them, checked against its source (getsentry/relay):
//! the handler's 202 with no body (`endpoints/monitor.rs`); the CORS layer
//! of every ingestion route (`endpoints/mod.rs` `store_routes.route_layer(
//! middlewares::cors())`, `middlewares/cors.rs`: tower-http's `CorsLayer`
//! with any origin) on every answer of these routes, errors and 405
//! included, and its preflight answer to `OPTIONS`; axum's method router
//! (`on(GET.or(POST))`: HEAD runs as GET, others 405 with `Allow:
//! GET,HEAD,POST`); axum's extractor rejections (text/plain) for a query or
//! JSON body that is not a check-in and for a body over the limit (413);
//! `ApiErrorResponse` JSON for Relay's own errors.
//!
//! The DSN's public key is the credential: these routes do not ask for
//! `[http] auth_token`; the key is compared in constant time.

use super::auth::ct_eq;
pub use super::peer_sentry_answers::*;
use super::request::{ApiError, HttpRequest, HttpResponse};
use super::urlenc;
use crate::config::Sentry;
use crate::jobs::{reported_ms, SettingsChange, Signal, SignalKind, Source};
use crate::model::{is_valid_name, Millis};
use crate::state::StateHandle;
use serde::Deserialize;

/// A cron path as Relay routes it: `(project_id, slug, key in the path)`.
/// Relay's routes (`relay-server/src/endpoints/mod.rs`):
/// `/api/:project_id/cron/:monitor_slug/:sentry_key/` and
/// `/api/:project_id/cron/:monitor_slug/`, each with or without the
/// trailing slash; the project id is a number.
fn parse(path: &str) -> Option<(&str, &str, Option<&str>)> {
    let rest = path.strip_prefix("/api/")?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let parts: Vec<&str> = rest.split('/').collect();
    let (project, slug, key) = match parts.as_slice() {
        [p, "cron", s] => (*p, *s, None),
        [p, "cron", s, k] => (*p, *s, Some(*k)),
        _ => return None,
    };
    let numeric = !project.is_empty() && project.bytes().all(|b| b.is_ascii_digit());
    (numeric && !slug.is_empty() && key != Some("")).then_some((project, slug, key))
}

/// Whether the router sends `path` here: a cron path or the envelope route.
pub fn is_cron_path(path: &str) -> bool {
    parse(path).is_some() || super::peer_sentry_envelope::is_envelope_path(path)
}

/// `relay-monitors` `CheckInStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Error,
    InProgress,
    Missed,
    Unknown,
}

/// `relay-monitors` `ScheduleType` / `IntervalName`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Schedule {
    Crontab { value: String },
    Interval { value: u64, unit: String },
}

/// `relay-monitors` `MonitorConfig`: the fields we apply; the others
/// (thresholds, owner) are accepted and ignored.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct MonitorConfig {
    pub schedule: Schedule,
    #[serde(default)]
    pub checkin_margin: Option<u64>,
    #[serde(default)]
    pub max_runtime: Option<u64>,
    #[serde(default)]
    pub timezone: Option<String>,
}

/// A check-in, from the query or a JSON body (`relay-monitors` `CheckIn`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct CheckIn {
    pub status: Status,
    #[serde(default)]
    pub check_in_id: Option<String>,
    #[serde(default)]
    pub monitor_slug: Option<String>,
    #[serde(default)]
    pub monitor_config: Option<MonitorConfig>,
    /// Seconds the job ran, as the client timed it.
    #[serde(default)]
    pub duration: Option<f64>,
}

impl CheckIn {
    /// Its `check_in_id` as 32 lower-case hex digits (the run's rid), or
    /// why it is not a uuid.
    pub fn rid(&self) -> Result<Option<Box<str>>, String> {
        match self.check_in_id.as_deref() {
            None => Ok(None),
            Some(id) => uuid_simple(id)
                .map(|u| Some(u.into_boxed_str()))
                .ok_or_else(|| format!("check_in_id: {id:?} is not a uuid")),
        }
    }
}

/// A uuid as Rust's `uuid` crate parses it (hyphenated, simple, braced or
/// urn), as 32 lower-case hex digits: the SDKs send `uuid4().hex`, the
/// docs the hyphenated form; both pair with each other.
pub fn uuid_simple(s: &str) -> Option<String> {
    let s = s.strip_prefix("urn:uuid:").unwrap_or(s);
    let s = s
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or(s);
    let hex: String = if s.len() == 36 {
        let b = s.as_bytes();
        if [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
            return None;
        }
        s.chars().filter(|&c| c != '-').collect()
    } else {
        s.to_owned()
    };
    (hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

const MINUTE: Millis = 60_000;

/// The settings a `monitor_config` gives (SPEC 14.4).
pub fn settings_of(config: &MonitorConfig) -> Result<SettingsChange, String> {
    let mut change = SettingsChange::default();
    match &config.schedule {
        Schedule::Crontab { value } => change.schedule = Some(Some(value.clone())),
        Schedule::Interval { value, unit } => {
            let each: Millis = match unit.as_str() {
                "minute" => MINUTE,
                "hour" => 60 * MINUTE,
                "day" => 24 * 60 * MINUTE,
                "week" => 7 * 24 * 60 * MINUTE,
                // Sentry's month and year are calendar steps; ours are
                // periods: 30 and 365 days.
                "month" => 30 * 24 * 60 * MINUTE,
                "year" => 365 * 24 * 60 * MINUTE,
                other => return Err(format!("unknown interval unit {other:?}")),
            };
            let period = Millis::try_from(*value)
                .ok()
                .and_then(|v| v.checked_mul(each))
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("interval {value} {unit} is out of range"))?;
            change.timeout = Some(period);
        }
    }
    if let Some(tz) = &config.timezone {
        change.tz = Some(Some(tz.clone()));
    }
    let minutes = |m: u64| Millis::try_from(m).ok().and_then(|m| m.checked_mul(MINUTE));
    if let Some(m) = config.checkin_margin {
        change.grace = Some(Some(minutes(m).ok_or("checkin_margin is out of range")?));
    }
    if let Some(m) = config.max_runtime {
        change.max_runtime = Some(Some(minutes(m).ok_or("max_runtime is out of range")?));
    }
    Ok(change)
}

/// The DSN key a request carries outside the path: `X-Sentry-Auth` or
/// `Authorization` (`Sentry sentry_key=<key>, ...`), else `?sentry_key=`
/// (`request_meta.rs` `auth_from_parts`).
pub fn key_of(req: &HttpRequest) -> Option<String> {
    for h in ["x-sentry-auth", "authorization"] {
        if let Some(v) = req.header(h) {
            let v = v.trim();
            let Some(rest) = v.strip_prefix("Sentry ").or(v.strip_prefix("sentry ")) else {
                continue;
            };
            for part in rest.split(',') {
                if let Some((k, val)) = part.trim().split_once('=') {
                    if k.trim() == "sentry_key" {
                        return Some(val.trim().to_owned());
                    }
                }
            }
        }
    }
    urlenc::parse_pairs(&req.query)
        .into_iter()
        .find(|(k, _)| k == "sentry_key")
        .map(|(_, v)| v)
}

/// Whether `given` is the configured key, in constant time.
pub fn key_ok(given: &str, settings: &Sentry) -> bool {
    ct_eq(given.as_bytes(), settings.key.as_bytes())
}

/// Applies one check-in to the service `slug` names. `Err` is the answer
/// to give instead of Relay's success.
pub fn apply(
    req: &HttpRequest,
    state: &StateHandle,
    settings: &Sentry,
    slug: &str,
    check_in: &CheckIn,
) -> Result<(), HttpResponse> {
    let name = format!("{}{}", settings.prefix, slug.to_lowercase());
    if !is_valid_name(&name) {
        return Err(detail(
            400,
            &format!("invalid monitor slug {slug:?}: lovebeat names services with a-z, 0-9, '.', '_' and '-'"),
        ));
    }
    // The callers checked it, each answering as Relay does.
    let rid = check_in.rid().map_err(|e| detail(400, &e))?;
    let kind = match check_in.status {
        Status::InProgress => Some(SignalKind::Start),
        Status::Ok => Some(SignalKind::Success),
        Status::Error => Some(SignalKind::Fail),
        // Relay turns a client's `missed` into `unknown`; neither is a run.
        Status::Missed | Status::Unknown => None,
    };
    let change = match &check_in.monitor_config {
        Some(c) => {
            settings_of(c).map_err(|e| detail(400, &format!("invalid monitor_config: {e}")))?
        }
        None => SettingsChange::default(),
    };
    let signal = kind.map(|kind| Signal {
        kind,
        rid,
        source: Source::Http(req.remote_addr),
        body: None,
        // Relay keeps any float; a negative or absurd one is not kept.
        reported_duration: check_in.duration.and_then(|s| reported_ms(s * 1000.0)),
    });
    if signal.is_none() && change.is_empty() {
        return Ok(());
    }
    state
        .job(&name, change, signal)
        .map_err(|e| ApiError::from(e).into_response())
}

/// Answers a request on a cron or envelope path (the router sends them
/// here only when `[sentry]` is configured) as Relay does: every answer of
/// a route Relay has carries its CORS headers.
pub fn answer(req: &HttpRequest, state: &StateHandle, settings: &Sentry) -> HttpResponse {
    let envelope = super::peer_sentry_envelope::is_envelope_path(&req.path);
    if !envelope && parse(&req.path).is_none() {
        return not_found();
    }
    if req.method == "OPTIONS" {
        return preflight();
    }
    with_cors(if envelope {
        super::peer_sentry_envelope::answer(req, state, settings)
    } else {
        cron(req, state, settings)
    })
}

/// `monitor.rs` `handle` on `/api/<n>/cron/<slug>[/<key>]`.
fn cron(req: &HttpRequest, state: &StateHandle, settings: &Sentry) -> HttpResponse {
    let Some((_project, slug, path_key)) = parse(&req.path) else {
        return not_found();
    };
    // `monitor.rs` `route`: `on(MethodFilter::GET.or(MethodFilter::POST))`;
    // axum runs HEAD as GET.
    if !matches!(req.method.as_str(), "GET" | "HEAD" | "POST") {
        return method_not_allowed("GET,HEAD,POST");
    }
    let key = match path_key.map(str::to_owned).or_else(|| key_of(req)) {
        Some(k) => k,
        None => return missing_auth(),
    };
    if !key_ok(&key, settings) {
        return wrong_key();
    }
    let slug = String::from_utf8_lossy(&urlenc::percent_decode(slug, false)).into_owned();
    let json_body = req.method == "POST"
        && req.header("content-type").is_some_and(|c| {
            c.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    let check_in: CheckIn = if json_body {
        let c: CheckIn = match serde_json::from_slice(&req.body) {
            Ok(c) => c,
            Err(e) => return bad_json(&e),
        };
        // `relay-monitors` `CheckIn.check_in_id` is a uuid: axum's `Json`
        // refuses the body (a data error) when it is not.
        if let Err(e) = c.rid() {
            return rejection(
                422,
                &format!("Failed to deserialize the JSON body into the target type: {e}"),
            );
        }
        c
    } else {
        // `MonitorQuery`: `status`, `check_in_id` (a uuid), `environment`,
        // `duration` (a float).
        let pairs = urlenc::parse_pairs(&req.query);
        let get = |k: &str| {
            pairs
                .iter()
                .rev()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        let Some(status) = get("status") else {
            return bad_query("missing field `status`");
        };
        let status = match serde_json::from_value(serde_json::Value::String(status)) {
            Ok(s) => s,
            Err(e) => return bad_query(&e.to_string()),
        };
        let duration = match get("duration") {
            None => None,
            Some(d) => match d.trim().parse::<f64>() {
                Ok(d) => Some(d),
                Err(e) => return bad_query(&format!("duration: {e}")),
            },
        };
        let c = CheckIn {
            status,
            check_in_id: get("check_in_id"),
            monitor_slug: None,
            monitor_config: None,
            duration,
        };
        if let Err(e) = c.rid() {
            return bad_query(&e);
        }
        c
    };
    match apply(req, state, settings, &slug, &check_in) {
        Ok(()) => accepted(),
        Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_paths() {
        assert_eq!(parse("/api/1/cron/db/k/"), Some(("1", "db", Some("k"))));
        assert_eq!(parse("/api/1/cron/db/k"), Some(("1", "db", Some("k"))));
        assert_eq!(parse("/api/42/cron/db/"), Some(("42", "db", None)));
        assert_eq!(parse("/api/42/cron/db"), Some(("42", "db", None)));
        for no in [
            "/api/x/cron/db/k/",
            "/api/1/cron//",
            "/api/1/cron/",
            "/api/1/cron/a/b/c",
            "/api/services/x",
        ] {
            assert_eq!(parse(no), None, "{no}");
        }
    }

    #[test]
    fn uuids_pair_in_either_form() {
        let h = "a460c25f-f3c3-4e4a-8a0b-7d1e2c3b4a5f";
        let s = "a460c25ff3c34e4a8a0b7d1e2c3b4a5f";
        assert_eq!(uuid_simple(h).as_deref(), Some(s));
        assert_eq!(uuid_simple(&s.to_uppercase()).as_deref(), Some(s));
        assert_eq!(uuid_simple(&format!("{{{h}}}")).as_deref(), Some(s));
        assert_eq!(uuid_simple("xyz"), None);
        assert_eq!(uuid_simple("a460c25f+f3c3-4e4a-8a0b-7d1e2c3b4a5f"), None);
    }

    #[test]
    fn monitor_config_becomes_settings() {
        let c: MonitorConfig = serde_json::from_str(
            r#"{"schedule":{"type":"crontab","value":"0 * * * *"},"checkin_margin":5,
                "max_runtime":20,"timezone":"Europe/Paris","failure_issue_threshold":2}"#,
        )
        .unwrap();
        let s = settings_of(&c).unwrap();
        assert_eq!(s.schedule, Some(Some("0 * * * *".into())));
        assert_eq!(s.grace, Some(Some(5 * MINUTE)));
        assert_eq!(s.max_runtime, Some(Some(20 * MINUTE)));
        assert_eq!(s.tz, Some(Some("Europe/Paris".into())));
        let c: MonitorConfig =
            serde_json::from_str(r#"{"schedule":{"type":"interval","value":2,"unit":"hour"}}"#)
                .unwrap();
        let s = settings_of(&c).unwrap();
        assert_eq!((s.timeout, s.schedule), (Some(2 * 60 * MINUTE), None));
        let c: MonitorConfig = serde_json::from_str(
            r#"{"schedule":{"type":"interval","value":2,"unit":"fortnight"}}"#,
        )
        .unwrap();
        assert!(settings_of(&c).is_err());
        let c: MonitorConfig = serde_json::from_str(
            r#"{"schedule":{"type":"interval","value":18446744073709551615,"unit":"year"}}"#,
        )
        .unwrap();
        assert!(settings_of(&c).is_err());
    }

    #[test]
    fn keys_from_headers_and_query() {
        let mut req = HttpRequest {
            headers: vec![(
                "X-Sentry-Auth".into(),
                "Sentry sentry_version=7, sentry_client=x/1, sentry_key=abc".into(),
            )],
            ..HttpRequest::default()
        };
        assert_eq!(key_of(&req).as_deref(), Some("abc"));
        req.headers.clear();
        req.query = "a=1&sentry_key=def".into();
        assert_eq!(key_of(&req).as_deref(), Some("def"));
        req.query.clear();
        assert_eq!(key_of(&req), None);
        let s = Sentry {
            key: "abc".into(),
            prefix: String::new(),
        };
        assert!(key_ok("abc", &s) && !key_ok("abd", &s) && !key_ok("ab", &s));
    }
}
