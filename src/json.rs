//! The JSON shapes of the API in its two dialects: ours (`/api/services`,
//! `/api/views`: `views`, `incident_number`) and Lovebeat 1.x's
//! (`/api/alarms`: `in_alarms`, `incident_nbr`, omitted empty fields exactly
//! as 1.0.3 wrote them), plus the status summary in text and JSON, and the
//! events of a job (SPEC 14.3). Neutral ground: the HTTP API, the websocket
//! and the event log all write these. The job keys of a service (SPEC 14.2)
//! are absent, not null, when unset, so a plain service's object is as
//! before. An adaptive timeout (SPEC 19) shows as 1.x's auto, -2, plus
//! `"auto_model": "adaptive"` in our dialect.

use crate::jobs::{JobEvent, JobRecord, Reason};
use crate::model::{
    Analysis, Millis, ServiceRecord, State, StatusSummary, ViewRecord, AUTO_MODEL_ADAPTIVE,
    TIMEOUT_ADAPTIVE, TIMEOUT_AUTO,
};
use serde::Serialize;

/// Which key names to speak.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Dialect {
    /// `/api/services`, `/api/views`.
    Ours,
    /// `/api/alarms` (Lovebeat 1.x clients).
    V1,
}

#[derive(Serialize)]
struct ServiceOurs<'a> {
    name: &'a str,
    state: &'static str,
    last_beat: Millis,
    timeout: Millis,
    /// "adaptive" when the timeout is (`timeout` is then -2); absent else.
    #[serde(skip_serializing_if = "Option::is_none")]
    auto_model: Option<&'static str>,
    muted_since: Millis,
    /// When a timed mute (`?for=`) ends; null for none (SPEC 15).
    muted_until: Option<Millis>,
    last_state_change: Millis,
    /// ms; the learned value for auto (`timeout` stays -2 for 1.x clients).
    timeout_in_force: Millis,
    /// ms since the epoch, or null (never expires, in ERROR or muted).
    next_deadline: Option<Millis>,
    views: &'a [String],
    /// Lovebeat 1.x's name for `views`, kept so 1.x clients of
    /// `/api/services` go on working (SPEC 13); omitted when empty, as 1.x.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    in_alarms: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    analysis: Option<&'a Analysis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    beat_history: Option<&'a [Millis]>,
    #[serde(flatten)]
    job: JobKeys<'a>,
}

/// The job keys of a service (SPEC 14.2): the settings in force, the open
/// runs, the last run, and why it is in ERROR.
#[derive(Serialize, Default)]
struct JobKeys<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    schedule: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tz: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    grace: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_runtime: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_duration: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    running_since: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    open_runs: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_duration: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_exit_code: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

impl<'a> JobKeys<'a> {
    fn of(s: &'a ServiceRecord) -> Self {
        let reason = (s.state == State::Error).then(|| reason(s).as_str());
        let Some(job) = s.job.as_deref() else {
            return JobKeys {
                reason,
                ..JobKeys::default()
            };
        };
        let e = &job.effective;
        JobKeys {
            schedule: e.schedule.as_deref(),
            tz: e.tz.as_deref(),
            grace: e.grace,
            max_runtime: e.max_runtime,
            min_duration: e.min_duration,
            running_since: job.running_since(),
            open_runs: (!job.open_runs.is_empty()).then_some(job.open_runs.len()),
            last_duration: job.last_duration,
            last_exit_code: job.last_exit_code,
            reason,
        }
    }
}

/// Why a service in ERROR is: the engine's reason, else (a service that
/// never used jobs keeps none) `always` for timeout 0 and `missed`.
fn reason(s: &ServiceRecord) -> Reason {
    match s.job.as_deref().and_then(|j: &JobRecord| j.reason) {
        Some(r) => r,
        None if s.timeout_in_force == 0 => Reason::Always,
        None => Reason::Missed,
    }
}

/// One event of a job (SPEC 14.3); keys absent when not applicable.
#[derive(Serialize)]
struct EventJson<'a> {
    n: u64,
    ts: Millis,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<Millis>,
    source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    remote_addr: Option<String>,
    /// The body as text (invalid UTF-8 replaced).
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<std::borrow::Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body_truncated: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body_dropped: Option<bool>,
}

/// One event object.
pub fn event(e: &JobEvent) -> serde_json::Value {
    let sent = e.body.is_some() || e.body_dropped;
    serde_json::to_value(EventJson {
        n: e.n,
        ts: e.ts,
        kind: e.kind.as_str(),
        exit_code: e.kind.exit_code(),
        rid: e.rid.as_deref(),
        duration: e.duration,
        source: e.source.as_str(),
        remote_addr: e.source.addr().map(|a| a.to_string()),
        body: e.body.as_ref().map(|b| String::from_utf8_lossy(&b.bytes)),
        body_truncated: e.body.as_ref().map(|b| b.truncated),
        body_dropped: sent.then_some(e.body_dropped),
    })
    .unwrap_or(serde_json::Value::Null)
}

/// A list of events, in the order given (oldest first: newest last).
pub fn events(list: &[JobEvent]) -> serde_json::Value {
    serde_json::Value::Array(list.iter().map(event).collect())
}

#[derive(Serialize)]
struct AnalysisV1 {
    lower: i64,
    upper: i64,
    percentage: u32,
}

#[derive(Serialize)]
struct ServiceV1<'a> {
    name: &'a str,
    last_beat: Millis,
    timeout: Millis,
    state: &'static str,
    muted_since: Millis,
    last_state_change: Millis,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    in_alarms: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    analysis: Option<AnalysisV1>,
    #[serde(skip_serializing_if = "Option::is_none")]
    beat_history: Option<&'a [Millis]>,
}

#[derive(Serialize)]
struct ViewOurs<'a> {
    name: &'a str,
    state: &'static str,
    incident_number: u64,
    failed_services: &'a [String],
    last_state_change: Millis,
    /// The alert policy (SPEC 15): muted (its alerts), until when (null:
    /// not muted, or until an unmute), when the incident's first alert
    /// went, pending its `delay` until, in maintenance until, held by
    /// these views it depends on.
    muted: bool,
    muted_until: Option<Millis>,
    alerted_at: Option<Millis>,
    pending_until: Option<Millis>,
    maintenance_until: Option<Millis>,
    suppressed_by: &'a [String],
}

#[derive(Serialize)]
struct ViewV1<'a> {
    name: &'a str,
    state: &'static str,
    incident_nbr: u64,
    failed_services: &'a [String],
    last_state_change: Millis,
}

/// One service object; `details` adds `beat_history`.
pub fn service(s: &ServiceRecord, dialect: Dialect, details: bool) -> serde_json::Value {
    let history = details.then_some(s.beat_history.as_slice());
    let adaptive = s.timeout == TIMEOUT_ADAPTIVE;
    let timeout = if adaptive { TIMEOUT_AUTO } else { s.timeout };
    let v = match dialect {
        Dialect::Ours => serde_json::to_value(ServiceOurs {
            name: &s.name,
            state: s.state.as_str(),
            last_beat: s.last_beat,
            timeout,
            auto_model: adaptive.then_some(AUTO_MODEL_ADAPTIVE),
            muted_since: s.muted_since,
            muted_until: (s.muted_until > 0).then_some(s.muted_until),
            last_state_change: s.last_state_change,
            timeout_in_force: s.timeout_in_force,
            next_deadline: s.next_deadline,
            views: &s.views,
            in_alarms: &s.views,
            analysis: s.analysis.as_ref(),
            beat_history: history,
            job: JobKeys::of(s),
        }),
        Dialect::V1 => serde_json::to_value(ServiceV1 {
            name: &s.name,
            last_beat: s.last_beat,
            timeout,
            state: s.state.as_str(),
            muted_since: s.muted_since,
            last_state_change: s.last_state_change,
            in_alarms: &s.views,
            analysis: s.analysis.map(|a| AnalysisV1 {
                lower: a.lower,
                upper: a.upper,
                percentage: a.percentage,
            }),
            beat_history: history,
        }),
    };
    // Serializing plain structs of strings and integers cannot fail.
    v.unwrap_or(serde_json::Value::Null)
}

/// A list of services, sorted by name.
pub fn services(list: &mut [ServiceRecord], dialect: Dialect) -> serde_json::Value {
    list.sort_by(|a, b| a.name.cmp(&b.name));
    serde_json::Value::Array(list.iter().map(|s| service(s, dialect, false)).collect())
}

/// One view ("alarm") object.
pub fn view(v: &ViewRecord, dialect: Dialect) -> serde_json::Value {
    let out = match dialect {
        Dialect::Ours => serde_json::to_value(ViewOurs {
            name: &v.name,
            state: v.state.as_str(),
            incident_number: v.incident_number,
            failed_services: &v.failed_services,
            last_state_change: v.last_state_change,
            muted: v.alerting.muted_until != 0,
            muted_until: timed(v.alerting.muted_until),
            alerted_at: (v.alerting.alerted_at > 0).then_some(v.alerting.alerted_at),
            pending_until: v.alerting.pending_until,
            maintenance_until: v.alerting.maintenance_until,
            suppressed_by: &v.alerting.suppressed_by,
        }),
        Dialect::V1 => serde_json::to_value(ViewV1 {
            name: &v.name,
            state: v.state.as_str(),
            incident_nbr: v.incident_number,
            failed_services: &v.failed_services,
            last_state_change: v.last_state_change,
        }),
    };
    out.unwrap_or(serde_json::Value::Null)
}

/// The end of a timed mute; `None` when not muted or muted until an
/// unmute.
fn timed(muted_until: Millis) -> Option<Millis> {
    (muted_until > 0 && muted_until != crate::policy::MUTED_FOREVER).then_some(muted_until)
}

/// A list of views, sorted by name.
pub fn views(list: &mut [ViewRecord], dialect: Dialect) -> serde_json::Value {
    list.sort_by(|a, b| a.name.cmp(&b.name));
    serde_json::Value::Array(list.iter().map(|v| view(v, dialect)).collect())
}

/// The status summary as `/status` prints it by default.
pub fn status_text(s: &StatusSummary) -> String {
    format!(
        "num_ok {}\nnum_error {}\nhas_error {}\ngood {}\n",
        s.num_ok, s.num_error, s.has_error, s.good
    )
}

/// The status summary as JSON (with `Accept: application/json`).
pub fn status_json(s: &StatusSummary) -> serde_json::Value {
    serde_json::json!({
        "num_ok": s.num_ok,
        "num_error": s.num_error,
        "has_error": s.has_error,
        "good": s.good,
    })
}

/// Renders a JSON reply body: pretty-printed, ending with a newline.
pub fn render(value: &serde_json::Value) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(value).unwrap_or_else(|_| b"{}".to_vec());
    out.push(b'\n');
    out
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod job_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::State;
    use std::collections::BTreeSet;

    const GO_SERVICES: &str = include_str!("../tests/fixtures/lovebeat-1.0.3/go-services.json");
    const GO_ALARMS: &str = include_str!("../tests/fixtures/lovebeat-1.0.3/go-alarms.json");

    fn keys(v: &serde_json::Value) -> BTreeSet<String> {
        v.as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn record(name: &str, views: &[&str], analysis: bool) -> ServiceRecord {
        ServiceRecord {
            name: name.into(),
            state: State::Ok,
            last_beat: 1_795_570_671_207,
            timeout: 600_000,
            muted_since: 0,
            muted_until: 0,
            last_state_change: 1_795_570_672_321,
            beat_history: vec![1000, 1100],
            views: views.iter().map(|s| s.to_string()).collect(),
            analysis: analysis.then_some(Analysis {
                lower: 1,
                upper: 1,
                percentage: 90,
                unstable: false,
            }),
            timeout_in_force: 600_000,
            next_deadline: Some(1_795_571_271_207),
            job: None,
            model: None,
        }
    }

    /// Every service in the 1.0.3 fixture has a twin of ours with the same key
    /// set (and the same analysis keys).
    #[test]
    fn v1_service_keys_match_fixture() {
        let go: serde_json::Value = serde_json::from_str(GO_SERVICES).unwrap();
        for gs in go["services"].as_array().unwrap() {
            let views: Vec<&str> = gs
                .get("in_alarms")
                .and_then(|a| a.as_array())
                .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
                .unwrap_or_default();
            let ours = service(
                &record("x", &views, gs.get("analysis").is_some()),
                Dialect::V1,
                false,
            );
            assert_eq!(keys(&ours), keys(gs), "{gs}");
            if let Some(a) = gs.get("analysis") {
                assert_eq!(keys(&ours["analysis"]), keys(a));
            }
        }
    }

    #[test]
    fn v1_view_keys_match_fixture() {
        let go: serde_json::Value = serde_json::from_str(GO_ALARMS).unwrap();
        let v = ViewRecord {
            failures: Vec::new(),
            name: "web".into(),
            state: State::Error,
            incident_number: 2,
            failed_services: vec!["web.frontend".into()],
            last_state_change: 5,
            alerts: vec![],
            alerting: Default::default(),
        };
        let ours = view(&v, Dialect::V1);
        for ga in go["alarms"].as_array().unwrap() {
            assert_eq!(keys(&ours), keys(ga));
        }
        assert_eq!(ours["incident_nbr"], 2);
        assert_eq!(ours["failed_services"], serde_json::json!(["web.frontend"]));
    }

    #[test]
    fn our_service_shape() {
        let s = record("a", &[], false);
        let v = service(&s, Dialect::Ours, false);
        let want: BTreeSet<String> = [
            "name",
            "state",
            "last_beat",
            "timeout",
            "muted_since",
            "muted_until",
            "last_state_change",
            "timeout_in_force",
            "next_deadline",
            "views",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(keys(&v), want);
        assert_eq!(v["views"], serde_json::json!([]));
        assert_eq!(v["state"], "ok");
        assert_eq!(v["timeout"], 600_000);
        assert_eq!(v["timeout_in_force"], 600_000);
        assert_eq!(v["next_deadline"], 1_795_571_271_207_i64);
        assert!(v["muted_until"].is_null(), "{v}");
        let timed = service(
            &ServiceRecord {
                muted_until: 42,
                ..s.clone()
            },
            Dialect::Ours,
            false,
        );
        assert_eq!(timed["muted_until"], 42);
        let never = ServiceRecord {
            timeout: crate::model::TIMEOUT_AUTO,
            timeout_in_force: -1,
            next_deadline: None,
            ..s.clone()
        };
        let v = service(&never, Dialect::Ours, false);
        assert_eq!(v["timeout"], -2, "1.x clients still see auto as -2");
        assert_eq!(v["timeout_in_force"], -1);
        assert!(v["next_deadline"].is_null(), "null, not omitted: {v}");
        for dialect_v1 in [
            service(&never, Dialect::V1, false),
            service(&s, Dialect::V1, true),
        ] {
            assert!(dialect_v1.get("timeout_in_force").is_none(), "{dialect_v1}");
            assert!(dialect_v1.get("next_deadline").is_none(), "{dialect_v1}");
        }
        assert!(v.get("auto_model").is_none(), "auto has no auto_model: {v}");
        let adaptive = ServiceRecord {
            timeout: crate::model::TIMEOUT_ADAPTIVE,
            timeout_in_force: 90_000,
            ..s.clone()
        };
        let v = service(&adaptive, Dialect::Ours, false);
        assert_eq!(v["timeout"], -2, "adaptive is an auto timeout to 1.x");
        assert_eq!(v["auto_model"], "adaptive");
        assert_eq!(v["timeout_in_force"], 90_000);
        let v1 = service(&adaptive, Dialect::V1, false);
        assert_eq!(v1["timeout"], -2);
        assert!(v1.get("auto_model").is_none(), "{v1}");

        let v = service(&record("a", &["w"], true), Dialect::Ours, true);
        assert_eq!(v["beat_history"], serde_json::json!([1000, 1100]));
        assert_eq!(
            v["analysis"],
            serde_json::json!({"lower": 1, "upper": 1, "percentage": 90, "unstable": false})
        );
        assert_eq!(v["views"], serde_json::json!(["w"]));
        assert_eq!(v["in_alarms"], serde_json::json!(["w"]), "1.x clients");
        let v1 = service(&record("a", &["w"], true), Dialect::V1, true);
        assert_eq!(v1["in_alarms"], serde_json::json!(["w"]));
        assert_eq!(v1["beat_history"], serde_json::json!([1000, 1100]));
    }

    #[test]
    fn our_view_shape() {
        let v = view(&ViewRecord::default(), Dialect::Ours);
        let want: BTreeSet<String> = [
            "name",
            "state",
            "incident_number",
            "failed_services",
            "last_state_change",
            "muted",
            "muted_until",
            "alerted_at",
            "pending_until",
            "maintenance_until",
            "suppressed_by",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(keys(&v), want);
        assert_eq!(v["failed_services"], serde_json::json!([]));
        assert_eq!(v["state"], "new");
        assert_eq!(v["muted"], false);
        for key in [
            "muted_until",
            "alerted_at",
            "pending_until",
            "maintenance_until",
        ] {
            assert!(v[key].is_null(), "{key}: {v}");
        }
        assert_eq!(v["suppressed_by"], serde_json::json!([]));
    }

    #[test]
    fn our_view_shows_the_alert_policy() {
        use crate::policy::{ViewAlerting, MUTED_FOREVER};
        let mut record = ViewRecord {
            alerting: ViewAlerting {
                muted_until: 5_000,
                alerted_at: 7,
                pending_until: Some(8),
                maintenance_until: Some(9),
                suppressed_by: vec!["net".into()],
            },
            ..ViewRecord::default()
        };
        let v = view(&record, Dialect::Ours);
        assert_eq!(v["muted"], true);
        assert_eq!(v["muted_until"], 5_000);
        assert_eq!(v["alerted_at"], 7);
        assert_eq!(v["pending_until"], 8);
        assert_eq!(v["maintenance_until"], 9);
        assert_eq!(v["suppressed_by"], serde_json::json!(["net"]));
        record.alerting.muted_until = MUTED_FOREVER;
        let v = view(&record, Dialect::Ours);
        assert_eq!(v["muted"], true);
        assert!(v["muted_until"].is_null(), "until an unmute: {v}");
        let v1 = view(&record, Dialect::V1);
        assert!(
            v1.get("muted").is_none() && v1.get("suppressed_by").is_none(),
            "{v1}"
        );
    }

    #[test]
    fn lists_are_sorted() {
        let mut list = vec![record("b", &[], false), record("a", &[], false)];
        let v = services(&mut list, Dialect::Ours);
        assert_eq!(v[0]["name"], "a");
        assert_eq!(v[1]["name"], "b");
    }

    #[test]
    fn status_formats() {
        let s = StatusSummary::new(4, 2);
        assert_eq!(
            status_text(&s),
            "num_ok 4\nnum_error 2\nhas_error true\ngood false\n"
        );
        assert_eq!(
            status_json(&s),
            serde_json::json!({"num_ok": 4, "num_error": 2, "has_error": true, "good": false})
        );
        let go = include_str!("../tests/fixtures/lovebeat-1.0.3/go-status.txt");
        assert_eq!(status_text(&StatusSummary::new(4, 3)), go);
    }

    #[test]
    fn render_ends_with_newline() {
        let out = render(&serde_json::json!({}));
        assert_eq!(out, b"{}\n");
    }
}
