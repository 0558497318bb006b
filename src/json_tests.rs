//! Tests of the job keys of a service and of the event JSON (SPEC 14).

use super::*;
use crate::jobs::{Body, JobSettings, OpenRun, SignalKind, Source};
use std::sync::Arc;

fn plain(state: State) -> ServiceRecord {
    ServiceRecord {
        name: "backup".into(),
        state,
        timeout: 60_000,
        timeout_in_force: 60_000,
        ..ServiceRecord::default()
    }
}

fn job() -> JobRecord {
    JobRecord {
        effective: JobSettings {
            schedule: Some("0 2 * * *".into()),
            tz: Some("Europe/Berlin".into()),
            grace: Some(3_600_000),
            max_runtime: Some(7_200_000),
            min_duration: None,
        },
        open_runs: vec![
            OpenRun {
                since: 2000,
                rid: Some("b".into()),
            },
            OpenRun {
                since: 1000,
                rid: None,
            },
        ],
        last_duration: Some(42_000),
        last_exit_code: Some(3),
        reason: Some(Reason::Failed),
        ..JobRecord::default()
    }
}

#[test]
fn a_plain_service_gains_only_a_reason_in_error() {
    let ok = service(&plain(State::Ok), Dialect::Ours, false);
    for key in [
        "schedule",
        "tz",
        "grace",
        "running_since",
        "open_runs",
        "last_exit_code",
        "reason",
    ] {
        assert!(ok.get(key).is_none(), "{key}: {ok}");
    }
    let err = service(&plain(State::Error), Dialect::Ours, false);
    assert_eq!(err["reason"], "missed");
    let always = ServiceRecord {
        timeout: 0,
        timeout_in_force: 0,
        ..plain(State::Error)
    };
    assert_eq!(service(&always, Dialect::Ours, false)["reason"], "always");
    // Lovebeat 1.x's dialect never shows job keys.
    let v1 = service(&plain(State::Error), Dialect::V1, false);
    assert!(v1.get("reason").is_none(), "{v1}");
}

#[test]
fn job_keys_are_the_effective_settings_and_the_runs() {
    let s = ServiceRecord {
        job: Some(Box::new(job())),
        ..plain(State::Error)
    };
    let v = service(&s, Dialect::Ours, false);
    assert_eq!(v["schedule"], "0 2 * * *");
    assert_eq!(v["tz"], "Europe/Berlin");
    assert_eq!(v["grace"], 3_600_000);
    assert_eq!(v["max_runtime"], 7_200_000);
    assert!(v.get("min_duration").is_none(), "absent, not null: {v}");
    assert_eq!(v["running_since"], 1000, "the oldest open run");
    assert_eq!(v["open_runs"], 2);
    assert_eq!(v["last_duration"], 42_000);
    assert_eq!(v["last_exit_code"], 3);
    assert_eq!(v["reason"], "failed");
    // Not in ERROR: no reason, whatever the record says; no runs: no keys.
    let mut quiet = job();
    quiet.open_runs.clear();
    let s = ServiceRecord {
        job: Some(Box::new(quiet)),
        ..plain(State::Ok)
    };
    let v = service(&s, Dialect::Ours, false);
    assert!(v.get("reason").is_none(), "{v}");
    assert!(v.get("running_since").is_none(), "{v}");
    assert!(v.get("open_runs").is_none(), "{v}");
    let v1 = service(&s, Dialect::V1, false);
    assert!(v1.get("schedule").is_none(), "{v1}");
}

fn ev(n: u64, kind: SignalKind) -> JobEvent {
    JobEvent {
        n,
        ts: 5000,
        kind,
        rid: None,
        duration: None,
        source: Source::Udp,
        body: None,
        body_dropped: false,
    }
}

#[test]
fn event_shapes() {
    let start = event(&ev(1, SignalKind::Start));
    assert_eq!(
        start,
        serde_json::json!({"n": 1, "ts": 5000, "kind": "start", "source": "udp"})
    );
    let exit = JobEvent {
        rid: Some("nightly-1".into()),
        duration: Some(61_000),
        source: Source::Http(Some("127.0.0.1".parse().unwrap())),
        body: Some(Body {
            bytes: Arc::from(&b"disk full\n\xff"[..]),
            truncated: true,
        }),
        ..ev(2, SignalKind::Exit(3))
    };
    assert_eq!(
        event(&exit),
        serde_json::json!({
            "n": 2, "ts": 5000, "kind": "exit", "exit_code": 3, "rid": "nightly-1",
            "duration": 61_000, "source": "http", "remote_addr": "127.0.0.1",
            "body": "disk full\n\u{fffd}", "body_truncated": true, "body_dropped": false
        })
    );
    let dropped = JobEvent {
        body_dropped: true,
        source: Source::Tcp,
        ..ev(3, SignalKind::Fail)
    };
    let v = event(&dropped);
    assert_eq!(v["body_dropped"], true);
    assert_eq!(v["source"], "tcp");
    assert!(
        v.get("body").is_none() && v.get("body_truncated").is_none(),
        "{v}"
    );
    let exit0 = event(&ev(4, SignalKind::Exit(0)));
    assert_eq!(exit0["exit_code"], 0);
    let list = events(&[ev(1, SignalKind::Start), ev(2, SignalKind::Success)]);
    assert_eq!(list[1]["kind"], "success", "newest last, as given");
}
