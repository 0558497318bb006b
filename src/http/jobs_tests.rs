//! Tests of the job routes (SPEC 14.4) against a fake state thread that
//! records what reaches it: the route table, the settings and signals each
//! request becomes, the body as output, events and their bodies, and the
//! `Ping-Body-Limit` header.

use super::request::ApiError;
use super::*;
use crate::engine::EngineError;
use crate::jobs::{Body, JobEvent, SettingsChange, Signal, SignalKind, Source};
use crate::model::Update;
use crate::state::{Command, StateHandle};
use std::sync::mpsc;
use std::thread;

/// What reached the fake state.
#[derive(Debug, PartialEq)]
pub(super) enum Got {
    Update(String, Update),
    Job(String, SettingsChange, Option<Signal>),
}

/// Knows service "known" with three events (2 has a body, 3 a dropped
/// one); a schedule "bad" is refused as the engine would.
pub(super) fn fake_state() -> (StateHandle, mpsc::Receiver<Got>) {
    let (tx, rx) = crossbeam_channel::bounded(16);
    let (gtx, grx) = mpsc::channel();
    thread::spawn(move || {
        let event = |n, kind| JobEvent {
            n,
            ts: 1000 * n as i64,
            kind,
            rid: None,
            duration: None,
            source: Source::Udp,
            body: None,
            body_dropped: false,
        };
        for cmd in rx {
            match cmd {
                Command::Update {
                    name,
                    update,
                    reply,
                } => {
                    let _ = gtx.send(Got::Update(name, update));
                    let _ = reply.send(Ok(()));
                }
                // A known service's update needs no answer (see
                // `state::known`); it is the same update.
                Command::UpdateKnown { name, update } => {
                    let _ = gtx.send(Got::Update(name, update));
                }
                Command::Job {
                    name,
                    change,
                    signal,
                    reply,
                } => {
                    let r = if change.schedule == Some(Some("bad".into())) {
                        Err(EngineError::InvalidSetting("bad schedule".into()).into())
                    } else {
                        let _ = gtx.send(Got::Job(name, change, signal));
                        Ok(())
                    };
                    let _ = reply.send(r);
                }
                Command::Events { name, reply } => {
                    let _ = reply.send(if name == "known" {
                        let with_body = JobEvent {
                            body: Some(Body {
                                bytes: std::sync::Arc::from(&b"disk full\n"[..]),
                                truncated: true,
                            }),
                            ..event(2, SignalKind::Exit(3))
                        };
                        let dropped = JobEvent {
                            body_dropped: true,
                            ..event(3, SignalKind::Fail)
                        };
                        Ok((vec![event(1, SignalKind::Start), with_body, dropped], 99))
                    } else {
                        Err(EngineError::ServiceNotFound(name).into())
                    });
                }
                _ => {}
            }
        }
    });
    (StateHandle::new(tx), grx)
}

fn req(method: &str, target: &str, ct: Option<&str>, body: &[u8]) -> HttpRequest {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    HttpRequest {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        headers: ct
            .map(|ct| vec![("Content-Type".to_owned(), ct.to_owned())])
            .unwrap_or_default(),
        body: body.to_vec(),
        remote_addr: Some("127.0.0.1".parse().unwrap()),
        ..HttpRequest::default()
    }
}

fn at(method: &str, path: &str) -> Endpoint {
    endpoint(&req(method, path, None, b""))
}

fn error(r: &HttpResponse) -> String {
    r.body_json().unwrap()["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn limit_header(r: &HttpResponse) -> Option<&str> {
    r.headers
        .iter()
        .find(|(k, _)| k == "Ping-Body-Limit")
        .map(|(_, v)| v.as_str())
}

fn http_source() -> Source {
    Source::Http(Some("127.0.0.1".parse().unwrap()))
}

#[test]
fn the_route_table_knows_signals_and_events() {
    let svc = |k| Endpoint::Signal("a.b".into(), k);
    assert_eq!(
        at("POST", "/api/services/a.b/start"),
        svc(SignalKind::Start)
    );
    assert_eq!(
        at("POST", "/api/services/a.b/success"),
        svc(SignalKind::Success)
    );
    assert_eq!(at("POST", "/api/services/a.b/fail"), svc(SignalKind::Fail));
    assert_eq!(at("POST", "/api/services/a.b/log"), svc(SignalKind::Log));
    assert_eq!(at("POST", "/api/services/a.b/0"), svc(SignalKind::Exit(0)));
    assert_eq!(
        at("POST", "/api/services/a.b/255"),
        svc(SignalKind::Exit(255))
    );
    assert_eq!(at("POST", "/api/services/a.b/3/"), svc(SignalKind::Exit(3)));
    for bad in [
        "256",
        "-1",
        "abc",
        "1.5",
        "0255",
        "99999999999999999999",
        "%2B3",
    ] {
        match at("POST", &format!("/api/services/a.b/{bad}")) {
            Endpoint::BadSignal(why) => assert!(!why.is_empty()),
            other => panic!("{bad}: {other:?}"),
        }
    }
    assert_eq!(
        at("GET", "/api/services/a.b/start"),
        Endpoint::NotAllowed("POST")
    );
    assert_eq!(
        at("PUT", "/api/services/a.b/256"),
        Endpoint::NotAllowed("POST")
    );
    assert_eq!(at("GET", "/api/services/a.b/abc"), Endpoint::NotFound);
    assert_eq!(
        at("POST", "/api/services/a.b/mute"),
        Endpoint::Mute("a.b".into(), true)
    );
    assert_eq!(
        at("GET", "/api/services/a.b/events"),
        Endpoint::Events("a.b".into())
    );
    assert_eq!(
        at("HEAD", "/api/services/a.b/events/"),
        Endpoint::Events("a.b".into())
    );
    assert_eq!(
        at("POST", "/api/services/a.b/events"),
        Endpoint::NotAllowed("GET, HEAD")
    );
    assert_eq!(
        at("GET", "/api/services/a.b/events/7/body"),
        Endpoint::EventBody("a.b".into(), "7".into())
    );
    assert_eq!(
        at("DELETE", "/api/services/a.b/events/7/body"),
        Endpoint::NotAllowed("GET, HEAD")
    );
    assert_eq!(at("GET", "/api/services/a.b/events/7"), Endpoint::NotFound);
    assert_eq!(at("POST", "/api/services/a.b/start/x"), Endpoint::NotFound);
}

#[test]
fn exit_codes_out_of_range_are_400_with_the_range() {
    let (state, got) = fake_state();
    for bad in ["256", "-1", "abc"] {
        let r = route(
            &req("POST", &format!("/api/services/x/{bad}"), None, b""),
            &state,
        );
        assert_eq!(r.status, 400, "{bad}");
        let e = error(&r);
        assert!(e.contains("0") && e.contains("255"), "{bad}: {e}");
        assert_eq!(limit_header(&r), Some("10000"), "{bad}");
    }
    assert!(got.try_recv().is_err(), "nothing reached the state");
}

#[test]
fn signals_carry_rid_settings_source_and_body() {
    let (state, got) = fake_state();
    let r = route(
        &req(
            "POST",
            "/api/services/backup/start?rid=run-1&schedule=0+2+*+*+*&tz=Europe/Berlin&grace=30m",
            None,
            b"",
        ),
        &state,
    );
    assert_eq!(r.status, 200, "{:?}", r.body_json());
    assert_eq!(r.body_json(), Some(serde_json::json!({})));
    assert_eq!(limit_header(&r), Some("10000"));
    let Got::Job(name, change, Some(signal)) = got.recv().unwrap() else {
        panic!("not a job")
    };
    assert_eq!(name, "backup");
    assert_eq!(change.schedule, Some(Some("0 2 * * *".into())));
    assert_eq!(change.tz, Some(Some("Europe/Berlin".into())));
    assert_eq!(change.grace, Some(Some(1_800_000)));
    assert_eq!(
        signal,
        Signal {
            kind: SignalKind::Start,
            rid: Some("run-1".into()),
            source: http_source(),
            body: None,
            reported_duration: None,
        }
    );

    // An exit code with stderr as its body (any content type is output).
    let r = route(
        &req(
            "POST",
            "/api/services/backup/3?rid=run-1",
            Some("application/json"),
            b"tar: disk full",
        ),
        &state,
    );
    assert_eq!(r.status, 200);
    let Got::Job(_, change, Some(signal)) = got.recv().unwrap() else {
        panic!("not a job")
    };
    assert!(change.is_empty());
    assert_eq!(signal.kind, SignalKind::Exit(3));
    assert_eq!(
        signal.body,
        Some(Body {
            bytes: std::sync::Arc::from(&b"tar: disk full"[..]),
            truncated: false
        })
    );
}

#[test]
fn bodies_over_the_limit_are_cut_and_flagged() {
    let (state, got) = fake_state();
    let mut r = req(
        "POST",
        "/api/services/x/log",
        Some("text/plain"),
        &[b'a'; 50],
    );
    r.max_body_bytes = 20;
    let resp = route(&r, &state);
    assert_eq!(limit_header(&resp), Some("20"));
    let Got::Job(_, _, Some(signal)) = got.recv().unwrap() else {
        panic!("not a job")
    };
    let body = signal.body.unwrap();
    assert_eq!((body.bytes.len(), body.truncated), (20, true));
    // The server read only the first max_body_bytes and says so.
    let mut r = req("POST", "/api/services/x/fail", None, &[b'b'; 20]);
    r.max_body_bytes = 20;
    r.body_truncated = true;
    route(&r, &state);
    let Got::Job(_, _, Some(signal)) = got.recv().unwrap() else {
        panic!("not a job")
    };
    assert!(signal.body.unwrap().truncated);
}

#[test]
fn bad_input_is_400_and_reaches_nothing() {
    let (state, got) = fake_state();
    let long_rid = format!("rid={}", "r".repeat(10_000));
    for target in [
        format!("/api/services/x/start?{long_rid}"),
        format!("/api/services/x?{long_rid}"),
        "/api/services/x/start?rid=a+b".into(),
        "/api/services/x/start?rid=".into(),
        "/api/services/x/success?grace=5x".into(),
        "/api/services/x?max_runtime=auto".into(),
        "/api/services/x?min_duration=-5".into(),
        "/api/services/x/fail?timeout=nope".into(),
        "/api/services/bad%20name/start".into(),
    ] {
        let r = route(&req("POST", &target, None, b""), &state);
        assert_eq!(r.status, 400, "{target}");
        assert!(!error(&r).is_empty(), "{target}");
        assert_eq!(limit_header(&r), Some("10000"), "{target}");
    }
    for body in [
        &br#"{"grace": "5x"}"#[..],
        br#"{"schedule": 5}"#,
        br#"{"tz": "Europe/Berlin", "max_runtime": -7}"#,
        b"{",
    ] {
        let r = route(
            &req("POST", "/api/services/x", Some("application/json"), body),
            &state,
        );
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(body));
    }
    let r = route(
        &req(
            "POST",
            "/api/services/x",
            Some("application/x-www-form-urlencoded"),
            b"grace=1h&max_runtime=soon",
        ),
        &state,
    );
    assert_eq!(r.status, 400);
    assert!(error(&r).contains("max_runtime"), "{}", error(&r));
    assert!(got.try_recv().is_err(), "nothing reached the state");
    // What the engine refuses comes back as its 400.
    let r = route(
        &req("POST", "/api/services/x?schedule=bad", None, b""),
        &state,
    );
    assert_eq!(r.status, 400);
    assert!(error(&r).contains("nothing was changed"), "{}", error(&r));
}

#[test]
fn beats_take_todays_path_unless_they_use_jobs() {
    let (state, got) = fake_state();
    let post = |target: &str, ct: Option<&str>, body: &[u8]| {
        let r = route(&req("POST", target, ct, body), &state);
        assert_eq!(r.status, 200, "{target}: {:?}", r.body_json());
        assert_eq!(limit_header(&r), Some("10000"));
        // A known service's update is queued without an answer: wait for
        // the fake state thread to pass it on.
        match got.recv_timeout(std::time::Duration::from_secs(10)) {
            Ok(g) => g,
            Err(e) => panic!("{target}: nothing reached the state: {e}"),
        }
    };
    assert_eq!(
        post("/api/services/p", None, b""),
        Got::Update("p".into(), Update::Beat)
    );
    assert_eq!(
        post("/api/services/p?timeout=5m", None, b""),
        Got::Update("p".into(), Update::SetTimeoutAndBeat(300_000))
    );
    assert_eq!(
        post(
            "/api/services/p",
            Some("application/x-www-form-urlencoded"),
            b"timeout=60"
        ),
        Got::Update("p".into(), Update::SetTimeoutAndBeat(60_000))
    );
    assert_eq!(
        post(
            "/api/services/p",
            Some("application/json"),
            br#"{"timeout": 60, "beat": false}"#
        ),
        Got::Update("p".into(), Update::SetTimeout(60_000))
    );

    // Job settings by JSON, without a beat.
    let Got::Job(name, change, signal) = post(
        "/api/services/j?grace=1h",
        Some("application/json"),
        br#"{"schedule": "@daily", "tz": "Asia/Kathmandu", "beat": false}"#,
    ) else {
        panic!("not a job")
    };
    assert_eq!(name, "j");
    assert_eq!(change.schedule, Some(Some("@daily".into())));
    assert_eq!(change.tz, Some(Some("Asia/Kathmandu".into())));
    assert_eq!(change.grace, Some(Some(3_600_000)));
    assert_eq!(signal, None);

    // A rid makes a beat a success of that run.
    let Got::Job(_, change, Some(signal)) = post("/api/services/j?rid=r1", None, b"") else {
        panic!("not a job")
    };
    assert!(change.is_empty());
    assert_eq!(signal.kind, SignalKind::Success);
    assert_eq!(signal.rid.as_deref(), Some("r1"));

    // A body that is not settings is the output: text, none, or a form
    // with none of our keys (`curl --data-raw "$output"`).
    for (ct, body) in [
        (Some("text/plain"), &b"3 files backed up"[..]),
        (None, b"3 files backed up"),
        (
            Some("application/x-www-form-urlencoded"),
            b"3 files backed up",
        ),
        (Some("application/x-www-form-urlencoded"), b"\xff\xfe"),
    ] {
        let Got::Job(_, change, Some(signal)) = post("/api/services/o", ct, body) else {
            panic!("not a job: {ct:?}")
        };
        assert!(change.is_empty());
        assert_eq!(signal.kind, SignalKind::Success);
        assert_eq!(&*signal.body.unwrap().bytes, body, "{ct:?}");
    }
    // A form body with our keys is settings, not output.
    let Got::Job(_, change, Some(signal)) = post(
        "/api/services/o",
        Some("application/x-www-form-urlencoded"),
        b"max_runtime=2h&min_duration=none",
    ) else {
        panic!("not a job")
    };
    assert_eq!(change.max_runtime, Some(Some(7_200_000)));
    assert_eq!(change.min_duration, Some(None));
    assert_eq!(signal.body, None);
}

#[test]
fn events_and_their_bodies() {
    let (state, _got) = fake_state();
    let r = route(&req("GET", "/api/services/known/events", None, b""), &state);
    assert_eq!(r.status, 200);
    let v = r.body_json().unwrap();
    assert_eq!(v["now"], 99);
    let events = v["events"].as_array().unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0]["kind"], "start");
    assert_eq!(events[1]["exit_code"], 3);
    assert_eq!(events[1]["body"], "disk full\n");
    assert_eq!(events[1]["body_truncated"], true);
    assert_eq!(events[2]["body_dropped"], true);
    assert!(
        limit_header(&r).is_none(),
        "only on routes that take bodies"
    );

    let r = route(
        &req("GET", "/api/services/known/events/2/body", None, b""),
        &state,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"disk full\n");
    assert!(r.content_type.starts_with("text/plain"));
    assert!(r
        .headers
        .contains(&("Body-Truncated".to_owned(), "true".to_owned())));

    let not_found = |path: &str, says: &str| {
        let r = route(&req("GET", path, None, b""), &state);
        assert_eq!(r.status, 404, "{path}");
        let e = error(&r);
        assert!(e.contains(says), "{path}: {e}");
    };
    not_found("/api/services/known/events/3/body", "dropped");
    not_found("/api/services/known/events/1/body", "no body");
    not_found("/api/services/known/events/9/body", "no event number 9");
    not_found("/api/services/known/events/x/body", "no event");
    not_found("/api/services/known/events/+2/body", "no event");
    not_found("/api/services/gone/events/1/body", "gone");
    not_found("/api/services/gone/events", "gone");
    not_found("/api/services/bad%20name/events", "bad name");
}

#[test]
fn binary_bodies_are_octet_streams() {
    let (tx, rx) = crossbeam_channel::bounded(4);
    thread::spawn(move || {
        for cmd in rx {
            if let Command::Events { reply, .. } = cmd {
                let e = JobEvent {
                    n: 1,
                    ts: 1,
                    kind: SignalKind::Log,
                    rid: None,
                    duration: None,
                    source: Source::Tcp,
                    body: Some(Body {
                        bytes: std::sync::Arc::from(&b"\xff\x00"[..]),
                        truncated: false,
                    }),
                    body_dropped: false,
                };
                let _ = reply.send(Ok((vec![e], 1)));
            }
        }
    });
    let state = StateHandle::new(tx);
    let r = route(
        &req("GET", "/api/services/b/events/1/body", None, b""),
        &state,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type, "application/octet-stream");
    assert_eq!(r.body, b"\xff\x00");
}

#[test]
fn api_errors_of_jobs_have_their_statuses() {
    assert_eq!(ApiError::BadRequest("x".into()).status(), 400);
    assert_eq!(ApiError::Missing("x".into()).status(), 404);
}
