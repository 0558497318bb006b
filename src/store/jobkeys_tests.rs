//! Tests of the job keys of `SERV` lines: every field round trips, a
//! service without jobs writes 1.x's line byte for byte, the lines stay
//! loadable by Lovebeat 1.0.3 (only extra keys), and malformed keys are
//! skipped and counted while the service loads.

use super::*;
use crate::jobs::{
    Body, JobEvent, JobRecord, JobSettings, OpenRun, Reason, SignalKind, Source, MAX_OPEN_RUNS,
};
use crate::model::State;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::{Read, Write};

fn plain(name: &str) -> ServiceRecord {
    ServiceRecord {
        name: name.to_string(),
        state: State::Ok,
        last_beat: 1_700_000_000_000,
        timeout: 90_000_000,
        muted_since: 0,
        last_state_change: 1_700_000_000_000,
        beat_history: vec![1000, 2000],
        views: vec!["backup".into()],
        ..ServiceRecord::default()
    }
}

fn event(n: u64, kind: SignalKind, source: Source) -> JobEvent {
    JobEvent {
        n,
        ts: 1_700_000_000_000 + n as i64,
        kind,
        rid: None,
        duration: None,
        source,
        body: None,
        body_dropped: false,
    }
}

/// A job record with every field set (the effective settings are never
/// stored, so they stay default).
fn full_job() -> JobRecord {
    let body = |bytes: &[u8], truncated| Body {
        bytes: bytes.into(),
        truncated,
    };
    JobRecord {
        own: JobSettings {
            schedule: Some("0 2 * * *".into()),
            tz: Some("Europe/Berlin".into()),
            grace: Some(3_600_000),
            max_runtime: Some(7_200_000),
            min_duration: Some(0),
        },
        effective: JobSettings::default(),
        schedule_since: Some(1_699_999_000_000),
        open_runs: vec![
            OpenRun {
                since: 1_700_000_000_001,
                rid: Some("run-1.a_B".into()),
            },
            OpenRun {
                since: 1_700_000_000_002,
                rid: None,
            },
        ],
        last_duration: Some(12_345),
        last_exit_code: Some(255),
        reason: Some(Reason::TooLong),
        events: vec![
            JobEvent {
                rid: Some("run-1.a_B".into()),
                body: Some(body(b"line 1\n\xff\x00 binary \"quoted\"", false)),
                ..event(
                    1,
                    SignalKind::Start,
                    Source::Http(Some("127.0.0.1".parse().unwrap())),
                )
            },
            JobEvent {
                duration: Some(12_345),
                body: Some(body(b"", true)),
                ..event(
                    2,
                    SignalKind::Exit(255),
                    Source::Http(Some("::1".parse().unwrap())),
                )
            },
            JobEvent {
                body_dropped: true,
                ..event(3, SignalKind::Fail, Source::Http(None))
            },
            event(4, SignalKind::Success, Source::Udp),
            event(5, SignalKind::Log, Source::Tcp),
            event(u64::MAX, SignalKind::Exit(0), Source::Tcp),
        ],
    }
}

fn encoded(services: &[ServiceRecord]) -> Vec<u8> {
    let mut out = Vec::new();
    encode(&ServiceSnapshot::from(services), &[], &[], &mut out).unwrap();
    out
}

fn gunzip(bytes: &[u8]) -> String {
    let mut s = String::new();
    GzDecoder::new(bytes).read_to_string(&mut s).unwrap();
    s
}

fn decode_text(text: &str) -> Database {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(text.as_bytes()).unwrap();
    decode(&e.finish().unwrap()[..]).unwrap()
}

#[test]
fn store_job_every_field_round_trips() {
    let with_job = ServiceRecord {
        job: Some(Box::new(full_job())),
        ..plain("backup.nightly")
    };
    let only_settings = ServiceRecord {
        job: Some(Box::new(JobRecord {
            own: JobSettings {
                grace: Some(1),
                ..JobSettings::default()
            },
            ..JobRecord::default()
        })),
        ..plain("only.grace")
    };
    let services = vec![with_job, plain("plain"), only_settings];
    let db = decode(&encoded(&services)[..]).unwrap();
    assert_eq!(db.services, services);
    assert_eq!(db.job_key_problems, KeyProblems::default());
}

#[test]
fn store_job_effective_settings_are_not_stored() {
    let job = JobRecord {
        effective: JobSettings {
            schedule: Some("@daily".into()),
            grace: Some(3_600_000),
            ..JobSettings::default()
        },
        ..JobRecord::default()
    };
    let services = vec![ServiceRecord {
        job: Some(Box::new(job)),
        ..plain("a")
    }];
    let text = gunzip(&encoded(&services));
    assert!(!text.contains("daily") && !text.contains("grace"), "{text}");
    // Nothing of its own: it loads as a service that never used jobs.
    assert_eq!(
        decode(&encoded(&services)[..]).unwrap().services[0].job,
        None
    );
}

#[test]
fn store_job_none_writes_the_1x_line_byte_for_byte() {
    let none = plain("a");
    let empty = ServiceRecord {
        job: Some(Box::default()),
        ..plain("a")
    };
    let expected =
        "SERV\t{\"name\":\"a\",\"last_beat\":1700000000000,\"beat_history\":[1000,2000],\
        \"timeout\":90000000,\"state\":\"ok\",\"muted_since\":0,\
        \"last_state_change\":1700000000000,\"in_alarms\":[\"backup\"]}\n";
    assert_eq!(gunzip(&encoded(&[none])), expected);
    assert_eq!(gunzip(&encoded(&[empty])), expected);
}

/// 1.0.3 reads a `SERV` line into its Go struct, ignoring unknown keys: the
/// line must stay one flat JSON object whose 1.x keys come first, in 1.x's
/// order and with the JSON types of the 1.0.3 fixture's own lines.
#[test]
fn store_job_lines_stay_loadable_by_lovebeat_103() {
    use serde_json::Value;
    let fixture = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/lovebeat-1.0.3/lovebeat.db"),
    )
    .unwrap();
    let kind_of = |v: &Value| match v {
        Value::Number(n) if n.is_i64() => "int",
        Value::String(_) => "string",
        Value::Array(a) if a.iter().all(|x| x.is_i64()) => "int array",
        Value::Array(a) if a.iter().all(Value::is_string) => "string array",
        _ => "other",
    };
    let mut go_types = std::collections::BTreeMap::new();
    for line in gunzip(&fixture).lines().filter(|l| l.starts_with("SERV\t")) {
        let obj: serde_json::Map<String, Value> = serde_json::from_str(&line[5..]).unwrap();
        for (k, v) in &obj {
            go_types.insert(k.clone(), kind_of(v));
        }
    }
    go_types.insert("in_alarms".into(), "string array"); // empty in the fixture
    let services = vec![ServiceRecord {
        job: Some(Box::new(full_job())),
        ..plain("backup.nightly")
    }];
    let text = gunzip(&encoded(&services));
    let json = text.strip_prefix("SERV\t").unwrap().trim_end();
    let obj: serde_json::Map<String, Value> = serde_json::from_str(json).unwrap();
    let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    let old = [
        "name",
        "last_beat",
        "beat_history",
        "timeout",
        "state",
        "muted_since",
        "last_state_change",
        "in_alarms",
    ];
    // serde_json's Map is sorted, so check the order on the text itself.
    let mut at = 0;
    for key in old.iter().chain(&[
        "schedule",
        "tz",
        "grace",
        "max_runtime",
        "min_duration",
        "schedule_since",
        "open_runs",
        "last_duration",
        "last_exit_code",
        "reason",
        "events",
    ]) {
        let found = json[at..]
            .find(&format!("\"{key}\":"))
            .unwrap_or_else(|| panic!("{key} missing or out of order in {json}"));
        at += found + 1;
    }
    assert_eq!(keys.len(), old.len() + 11, "{keys:?}");
    for key in old {
        assert_eq!(kind_of(&obj[key]), go_types[key], "type of {key}");
    }
    // The stored timeout is what the snapshot says (for a schedule, the
    // engine puts the longest gap plus grace there for 1.0.3).
    assert_eq!(obj["timeout"], 90_000_000);
}

#[test]
fn store_job_malformed_keys_are_skipped_and_counted() {
    let good_event = r#"{"n":1,"ts":5,"kind":"exit","exit_code":3,"source":"udp"}"#;
    let cases: &[(&str, &str)] = &[
        ("schedule", "5"),
        ("tz", "[]"),
        ("grace", "-1"),
        ("grace", "\"1h\""),
        ("max_runtime", "1.5"),
        ("min_duration", "true"),
        ("schedule_since", "\"x\""),
        ("last_duration", "-7"),
        ("last_exit_code", "256"),
        ("last_exit_code", "-1"),
        ("reason", "\"late\""),
        ("reason", "3"),
        ("open_runs", "{}"),
        ("events", "\"x\""),
    ];
    for (key, value) in cases {
        let text = format!(
            "SERV\t{{\"name\":\"svc\",\"timeout\":1000,\"{key}\":{value},\"last_duration\":9,\"events\":[{good_event}]}}\n"
        );
        // A repeated key is a JSON error; put the bad one alone then.
        let text = if *key == "last_duration" || *key == "events" {
            format!(
                "SERV\t{{\"name\":\"svc\",\"timeout\":1000,\"max_runtime\":9,\"{key}\":{value}}}\n"
            )
        } else {
            text
        };
        let db = decode_text(&text);
        assert_eq!(db.services.len(), 1, "{key}={value}: the service loads");
        let s = &db.services[0];
        assert_eq!((s.name.as_str(), s.timeout), ("svc", 1000));
        assert_eq!(db.job_key_problems.count, 1, "{key}={value}");
        assert!(
            db.job_key_problems.samples[0].contains(&format!("key {key}:")),
            "{:?}",
            db.job_key_problems.samples
        );
        let job = s.job.as_ref().expect("the good keys are kept");
        assert!(job.last_duration == Some(9) || job.own.max_runtime == Some(9));
    }
}

#[test]
fn store_job_bad_runs_and_events_skip_only_themselves() {
    let events = [
        r#"{"n":1,"ts":5,"kind":"success","source":"http","remote_addr":"10.0.0.1","body_b64":"aGk="}"#,
        r#"{"n":2,"ts":5,"kind":"exit","source":"udp"}"#, // exit without code
        r#"{"n":3,"ts":5,"kind":"boom","source":"udp"}"#,
        r#"{"n":4,"ts":5,"kind":"log","source":"carrier-pigeon"}"#,
        r#"{"n":5,"ts":5,"kind":"log","source":"udp","rid":"a b"}"#,
        r#"{"n":6,"ts":5,"kind":"log","source":"udp","body_b64":"!!"}"#,
        r#"{"n":7,"ts":5,"kind":"log","source":"udp","duration":-1}"#,
        r#"{"ts":5,"kind":"log","source":"udp"}"#,
        r#"{"n":9,"ts":5,"kind":"log","source":"http","remote_addr":"not-an-ip"}"#,
        r#"{"n":10,"ts":5,"kind":"exit","exit_code":0,"source":"tcp","body_truncated":true}"#,
    ];
    let long_rid = "x".repeat(65);
    let mut runs: Vec<String> = (0..10)
        .map(|i| format!(r#"{{"since":{i},"rid":"r{i}"}}"#))
        .collect();
    runs.push(format!(r#"{{"since":99,"rid":"{long_rid}"}}"#));
    runs.push(r#"{"rid":"x"}"#.into());
    let text = format!(
        "SERV\t{{\"name\":\"svc\",\"open_runs\":[{}],\"events\":[{}]}}\n",
        runs.join(","),
        events.join(",")
    );
    let db = decode_text(&text);
    let job = db.services[0].job.as_ref().unwrap();
    let ns: Vec<u64> = job.events.iter().map(|e| e.n).collect();
    assert_eq!(ns, [1, 10]);
    assert_eq!(
        job.events[0].source,
        Source::Http(Some("10.0.0.1".parse().unwrap()))
    );
    assert_eq!(job.events[0].body.as_ref().unwrap().bytes[..], b"hi"[..]);
    assert_eq!(job.events[1].kind, SignalKind::Exit(0));
    assert_eq!(job.events[1].body, None, "no body, nothing truncated");
    // The newest MAX_OPEN_RUNS good runs are kept.
    let since: Vec<i64> = job.open_runs.iter().map(|r| r.since).collect();
    assert_eq!(since, (10 - MAX_OPEN_RUNS as i64..10).collect::<Vec<_>>());
    assert_eq!(db.job_key_problems.count, 8 + 2);
    assert_eq!(db.job_key_problems.samples.len(), 5, "samples are capped");
}

#[test]
fn store_job_nulls_are_unset_and_1x_lines_have_no_job() {
    let db = decode_text(
        "SERV\t{\"name\":\"a\",\"schedule\":null,\"events\":null,\"reason\":null}\n\
         SERV\t{\"name\":\"b\",\"timeout\":5}\n",
    );
    assert!(db.services.iter().all(|s| s.job.is_none()));
    assert_eq!(db.job_key_problems.count, 0);
}

/// The whole path: what the engine snapshots for a save loads back into an
/// engine with every job field it had.
#[test]
fn store_job_engine_save_and_load_keep_every_field() {
    use crate::engine::{Engine, EngineConfig};
    use crate::jobs::{SettingsChange, Signal};
    let now = 1_800_000_000_000;
    let new_engine = || {
        Engine::new(EngineConfig {
            templates: vec![],
            max_services: 10,
            started_at: now,
            jobs: Default::default(),
        })
    };
    let mut engine = new_engine();
    let mut out = Vec::new();
    let change = SettingsChange {
        max_runtime: Some(Some(7_200_000)),
        min_duration: Some(Some(1_000)),
        grace: Some(Some(60_000)),
        ..SettingsChange::default()
    };
    let http = Source::Http(Some("127.0.0.1".parse().unwrap()));
    let signal = |kind, rid: &str, body: &[u8]| Signal {
        kind,
        rid: Some(rid.into()),
        source: http,
        body: Some(Body {
            bytes: body.into(),
            truncated: false,
        }),
        reported_duration: None,
    };
    engine
        .job(
            "backup.x",
            &change,
            Some(signal(SignalKind::Start, "r1", b"go")),
            now,
            &mut out,
        )
        .unwrap();
    engine
        .job(
            "backup.x",
            &SettingsChange::default(),
            Some(signal(SignalKind::Exit(3), "r1", b"\xffboom")),
            now + 5_000,
            &mut out,
        )
        .unwrap();
    engine
        .job(
            "backup.x",
            &SettingsChange::default(),
            Some(signal(SignalKind::Start, "r2", b"")),
            now + 6_000,
            &mut out,
        )
        .unwrap();
    let mut snapshot = ServiceSnapshot::default();
    let mut cursor = 0;
    while !engine.snapshot_for_save(&mut cursor, 100, &mut snapshot) {}
    let mut file = Vec::new();
    encode(&snapshot, &[], &[], &mut file).unwrap();
    let db = decode(&file[..]).unwrap();
    assert_eq!(db.job_key_problems.count, 0);
    let before = engine.service("backup.x", true).unwrap();
    let mut again = new_engine();
    again.load(db.services, db.views, now + 7_000);
    let after = again.service("backup.x", true).unwrap();
    let (b, a) = (before.job.unwrap(), after.job.unwrap());
    assert_eq!(a.own, b.own);
    assert_eq!(a.effective, b.effective);
    assert_eq!(a.open_runs, b.open_runs);
    assert_eq!(
        (a.last_duration, a.last_exit_code, a.reason),
        (b.last_duration, b.last_exit_code, b.reason)
    );
    assert_eq!(a.events, b.events);
    assert_eq!(a.events.len(), 3);
    assert_eq!(a.reason, Some(Reason::Failed));
}
