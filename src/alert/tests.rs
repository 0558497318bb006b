//! Unit tests of the pure parts: which transitions fire, the plan, and what
//! each kind renders. Deliveries to real receivers are in tests/alerts.rs.

use super::plan::{fires, plan, recipients, Kind, Message};
use super::*;
use crate::events::Event;
use crate::jobs::{Failure, Reason};
use crate::model::{State, ViewRecord};
use std::time::{Duration, Instant};

pub(super) fn settings() -> AlertSettings {
    let mut s = AlertSettings {
        public_url: "http://lb.example/".into(),
        ..Default::default()
    };
    s.alerts.insert(
        "ops".into(),
        AlertConfig {
            mail: " a@x.org, b@y.org ,".into(),
            webhook: "http://127.0.0.1:9/hook".into(),
            slack_channel: "#ops".into(),
            script: "/bin/true".into(),
            ..Default::default()
        },
    );
    s.alerts.insert(
        "hook".into(),
        AlertConfig {
            webhook: "http://127.0.0.1:9/other".into(),
            ..Default::default()
        },
    );
    s
}

/// What the engine emits for a view going from `previous` to `state`
/// with no policy set: the policy's `Event::Alert` for the transitions
/// that fire (SPEC 6), the plain change otherwise.
fn changed(previous: State, state: State, alerts: &[&str]) -> Event {
    let Event::ViewChanged { view, previous } = view_changed(previous, state, alerts) else {
        unreachable!()
    };
    if !fires(previous, view.state) {
        return Event::ViewChanged { view, previous };
    }
    Event::Alert {
        notice: Box::new(crate::policy::AlertNotice {
            alerts: view.alerts.clone(),
            previous,
            reminder: 0,
            down_ms: (view.state == State::Ok).then_some(60_000),
            view,
        }),
    }
}

fn view_changed(previous: State, state: State, alerts: &[&str]) -> Event {
    Event::ViewChanged {
        view: ViewRecord {
            name: "web".into(),
            state,
            incident_number: 4,
            failures: Vec::new(),
            failed_services: if state == State::Error {
                vec!["web.a".into(), "web.b".into()]
            } else {
                vec![]
            },
            last_state_change: 1,
            alerts: alerts.iter().map(|s| s.to_string()).collect(),
            alerting: Default::default(),
        },
        previous,
    }
}

#[test]
fn only_into_error_and_recovery_fire() {
    assert!(fires(State::Ok, State::Error));
    assert!(fires(State::New, State::Error));
    assert!(fires(State::Error, State::Ok));
    assert!(!fires(State::New, State::Ok));
    assert!(!fires(State::Ok, State::Ok));
    assert!(!fires(State::Error, State::Error));
    assert!(!fires(State::Ok, State::New));
}

#[test]
fn plan_makes_one_job_per_kind_and_alert() {
    let s = settings();
    let mut unknown = Vec::new();
    let jobs = plan(
        &changed(State::Ok, State::Error, &["ops", "hook"]),
        &s,
        &mut unknown,
    );
    assert!(unknown.is_empty());
    let kinds: Vec<(&str, Kind)> = jobs
        .iter()
        .map(|j| (j.alert.as_str(), j.kind.clone()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (
                "ops",
                Kind::Mail {
                    to: vec!["a@x.org".into(), "b@y.org".into()]
                }
            ),
            (
                "ops",
                Kind::Webhook {
                    url: "http://127.0.0.1:9/hook".into()
                }
            ),
            (
                "ops",
                Kind::Slack {
                    channel: "#ops".into()
                }
            ),
            (
                "ops",
                Kind::Script {
                    path: "/bin/true".into()
                }
            ),
            (
                "hook",
                Kind::Webhook {
                    url: "http://127.0.0.1:9/other".into()
                }
            ),
        ]
    );
    let m = &jobs[0].message;
    assert_eq!(
        **m,
        Message {
            view: "web".into(),
            from: State::Ok,
            to: State::Error,
            incident: 4,
            failures: Vec::new(),
            failed: vec!["web.a".into(), "web.b".into()],
            link: Some("http://lb.example/views/web".into()),
            reminder: 0,
            down_ms: None,
            since: jobs[0].message.since,
        }
    );
    assert!(
        jobs.iter().all(|j| Arc::ptr_eq(&j.message, m)),
        "one message shared"
    );
}

#[test]
fn plan_fires_nothing_for_other_events_or_views_without_alerts() {
    let s = settings();
    let mut unknown = Vec::new();
    for event in [
        changed(State::New, State::Ok, &["ops"]),
        changed(State::Ok, State::Error, &[]),
        Event::ViewAdded {
            view: ViewRecord {
                alerts: vec!["ops".into()],
                ..Default::default()
            },
        },
    ] {
        assert!(plan(&event, &s, &mut unknown).is_empty(), "{event:?}");
    }
    let recovery = plan(
        &changed(State::Error, State::Ok, &["hook"]),
        &s,
        &mut unknown,
    );
    assert_eq!(recovery.len(), 1);
    assert_eq!(
        (recovery[0].message.from, recovery[0].message.to),
        (State::Error, State::Ok)
    );
    assert!(unknown.is_empty());
    assert!(plan(
        &changed(State::Ok, State::Error, &["nope"]),
        &s,
        &mut unknown
    )
    .is_empty());
    assert_eq!(unknown, vec!["nope"]);
}

#[test]
fn mail_goes_through_mailgun_when_a_domain_is_set() {
    let mut s = settings();
    s.mailgun.domain = "mg.example".into();
    s.public_url.clear();
    let jobs = plan(
        &changed(State::Ok, State::Error, &["ops"]),
        &s,
        &mut Vec::new(),
    );
    assert_eq!(
        jobs[0].kind,
        Kind::Mailgun {
            to: vec!["a@x.org".into(), "b@y.org".into()]
        }
    );
    assert_eq!(jobs[0].message.link, None);
    assert!(!jobs.iter().any(|j| matches!(j.kind, Kind::Mail { .. })));
}

pub(super) fn message(to: State) -> Message {
    Message {
        view: "web".into(),
        from: if to == State::Error {
            State::Ok
        } else {
            State::Error
        },
        to,
        incident: 4,
        failures: if to == State::Error {
            vec![
                Failure {
                    service: "web.a".into(),
                    reason: Reason::Failed,
                    since: 1_795_053_600_000,
                    exit_code: Some(3),
                    ran: Some(5000),
                    limit: None,
                    output: Some("disk full\n".into()),
                },
                Failure {
                    service: "web.b".into(),
                    reason: Reason::Missed,
                    since: 1_795_053_600_000,
                    exit_code: None,
                    ran: None,
                    limit: None,
                    output: None,
                },
            ]
        } else {
            Vec::new()
        },
        failed: if to == State::Error {
            vec!["web.a".into(), "web.b".into()]
        } else {
            vec![]
        },
        link: Some("http://lb/views/web".into()),
        reminder: 0,
        down_ms: None,
        since: 1_795_053_600_000,
    }
}

#[test]
fn mail_subject_and_body() {
    let m = message(State::Error);
    assert_eq!(m.subject(), "[LOVEBEAT] web-4");
    let text = m.text();
    assert!(text.contains("changed from 'OK' to 'ERROR'"), "{text}");
    assert!(
        text.contains(
            "  - web.a: failed with exit code 3\n  - web.b: missed since 2026-11-19 02:00 UTC\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("Output of web.a (the end):\n    disk full\n"),
        "{text}"
    );
    assert!(text.contains("http://lb/views/web"), "{text}");
    let ok = message(State::Ok).text();
    assert!(ok.contains("from 'ERROR' to 'OK'") && ok.contains("Failed services: none"));
    let built = mail::build("lovebeat@example.com", &recipients("a@x.org,b@y.org"), &m);
    let raw =
        String::from_utf8(built.map(|b| b.formatted()).unwrap_or_default()).unwrap_or_default();
    assert!(raw.contains("Subject: [LOVEBEAT] web-4"), "{raw}");
    assert!(raw.contains("To: a@x.org, b@y.org"), "{raw}");
    assert!(matches!(
        mail::build("lovebeat@example.com", &["not an address".into()], &m),
        Err(DeliveryError::BadMessage(_))
    ));
}

#[test]
fn smtp_server_addresses() {
    assert_eq!(
        mail::server_addr("localhost:25").ok(),
        Some(("localhost".into(), 25))
    );
    assert_eq!(
        mail::server_addr("mail.x").ok(),
        Some(("mail.x".into(), 25))
    );
    assert_eq!(
        mail::server_addr("[::1]:2525").ok(),
        Some(("::1".into(), 2525))
    );
    assert!(mail::server_addr("").is_err());
    assert!(mail::server_addr("host:port").is_err());
    assert!(mail::server_addr(":25").is_err());
}

#[test]
fn webhook_payload_is_the_spec_shape() {
    let v = webhook::payload(&message(State::Error));
    assert_eq!(
        v,
        serde_json::json!({
            "name": "web",
            "from_state": "OK",
            "to_state": "ERROR",
            "incident_number": 4,
            "failed_services": ["web.a", "web.b"],
            "failures": [
                {"service": "web.a", "reason": "failed", "since": 1_795_053_600_000_i64,
                 "description": "failed with exit code 3", "exit_code": 3,
                 "output": "disk full\n"},
                {"service": "web.b", "reason": "missed", "since": 1_795_053_600_000_i64,
                 "description": "missed since 2026-11-19 02:00 UTC"},
            ],
            "reminder": 0,
        })
    );
}

#[test]
fn slack_payload_colours_links_and_fields() {
    let v = slack::payload("#ops", &message(State::Error));
    assert_eq!(v["username"], "Lovebeat");
    assert_eq!(v["channel"], "#ops");
    let a = &v["attachments"][0];
    assert_eq!(a["color"], "danger");
    assert_eq!(a["title_link"], "http://lb/views/web");
    assert_eq!(a["fields"][0]["value"], "web");
    assert_eq!(a["fields"][1]["value"], "4");
    let mut plain = message(State::Error);
    plain.failures.clear();
    let v2 = slack::payload("#ops", &plain);
    assert_eq!(v2["attachments"][0]["fields"][2]["value"], "web.a\nweb.b");
    let mut ok = message(State::Ok);
    ok.link = None;
    let v = slack::payload("#ops", &ok);
    assert_eq!(v["attachments"][0]["color"], "good");
    assert!(v["attachments"][0].get("title_link").is_none());
}

#[test]
fn mailgun_form_url_and_auth() {
    let mut mg = Mailgun {
        domain: "mg.example".into(),
        api_key: "key-1".into(),
        api_base: "http://127.0.0.1:1/v3/".into(),
        ..Default::default()
    };
    assert_eq!(
        mailgun::url(&mg),
        "http://127.0.0.1:1/v3/mg.example/messages"
    );
    let mail = Mail::default();
    assert_eq!(mailgun::sender(&mg, &mail), "lovebeat@example.com");
    mg.from = "lb@mg.example".into();
    assert_eq!(mailgun::sender(&mg, &mail), "lb@mg.example");
    let form = mailgun::form(
        "lb@x",
        &["a@x".into(), "b@y".into()],
        &message(State::Error),
    );
    assert!(
        form.starts_with("from=lb%40x&to=a%40x%2Cb%40y&subject=%5BLOVEBEAT%5D+web-4&text="),
        "{form}"
    );
    assert_eq!(crate::base64::standard(b"api:key-1"), "YXBpOmtleS0x");
    assert_eq!(crate::base64::standard(b""), "");
    assert_eq!(crate::base64::standard(b"a"), "YQ==");
    assert_eq!(crate::base64::standard(b"ab"), "YWI=");
    assert_eq!(crate::base64::standard(b"abc"), "YWJj");
}

#[test]
fn script_environment() {
    let env = script::env(&message(State::Ok));
    assert_eq!(
        env,
        vec![
            ("LOVEBEAT_VIEW", "web".to_string()),
            ("LOVEBEAT_ALARM", "web".to_string()),
            ("LOVEBEAT_STATE", "OK".to_string()),
            ("LOVEBEAT_PREVIOUS_STATE", "ERROR".to_string()),
            ("LOVEBEAT_INCIDENT", "4".to_string()),
            ("LOVEBEAT_REASONS", String::new()),
            ("LOVEBEAT_REMINDER", "0".to_string()),
        ]
    );
    let env = script::env(&message(State::Error));
    assert_eq!(
        env.iter().find(|(k, _)| *k == "LOVEBEAT_REASONS"),
        Some(&(
            "LOVEBEAT_REASONS",
            "web.a: failed with exit code 3\nweb.b: missed since 2026-11-19 02:00 UTC".to_string()
        ))
    );
}

#[test]
fn slack_lists_reasons_and_output() {
    let v = slack::payload("#ops", &message(State::Error));
    let fields = v["attachments"][0]["fields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        fields[2]["value"],
        "web.a: failed with exit code 3\nweb.b: missed since 2026-11-19 02:00 UTC"
    );
    assert_eq!(fields[3]["title"], "Output of web.a");
    assert_eq!(fields[3]["value"], "```disk full\n```");
    assert_eq!(fields.len(), 4);
}

#[test]
fn which_failures_are_retried() {
    let status = |status| DeliveryError::Status {
        status,
        body: String::new(),
        retry_after: None,
    };
    assert!(status(500).retryable() && status(503).retryable() && status(429).retryable());
    assert!(!status(400).retryable() && !status(404).retryable());
    assert!(DeliveryError::Http("refused".into()).retryable());
    assert!(!DeliveryError::BadMessage("x".into()).retryable());
    assert!(!DeliveryError::Smtp {
        message: "550".into(),
        permanent: true
    }
    .retryable());
    assert!(DeliveryError::Smtp {
        message: "421".into(),
        permanent: false
    }
    .retryable());
    assert!(!Kind::Script { path: "/x".into() }.retried());
    assert!(Kind::Webhook { url: "/x".into() }.retried());
}

#[test]
fn problems_name_alerts_missing_their_endpoint() {
    let mut s = settings();
    assert_eq!(s.problems().len(), 1, "{:?}", s.problems());
    s.slack.webhook_url = "http://127.0.0.1:9/slack".into();
    assert!(s.problems().is_empty());
    s.mailgun.domain = "mg".into();
    assert!(s.problems()[0].contains("api_key"));
}

#[test]
fn the_alerter_ticks_at_start_and_periodically_and_stops_with_the_state_thread() {
    use crate::state::{Command, StateHandle};
    use crossbeam_channel::{bounded, unbounded};
    let (command_tx, command_rx) = bounded(4);
    let handle = StateHandle::new(command_tx);
    let (tick_tx, tick_rx) = unbounded();
    let mut settings = settings();
    settings.tuning.tick_interval = Duration::from_millis(20);
    let thread = spawn(
        settings,
        crossbeam_channel::never(),
        &handle,
        Arc::new(Counters::default()),
        History::default(),
        Box::new(move || {
            let _ = tick_tx.send(Instant::now());
        }),
    );
    let Ok(thread) = thread else {
        panic!("alerter did not start")
    };
    let Ok(Command::Subscribe(subscriber)) = command_rx.recv_timeout(Duration::from_secs(10))
    else {
        panic!("the alerter did not subscribe");
    };
    assert_eq!(subscriber.interest, INTEREST);
    assert_eq!(
        subscriber.limit,
        Limit::Views {
            base: QUEUE_BASE,
            per_view: QUEUE_PER_VIEW
        }
    );
    for _ in 0..3 {
        assert!(
            tick_rx.recv_timeout(Duration::from_secs(10)).is_ok(),
            "tick"
        );
    }
    // An event that fires nothing is consumed without trouble.
    let _ = subscriber
        .tx
        .send(Arc::new(changed(State::New, State::Ok, &["ops"])));
    drop(subscriber);
    assert!(
        thread.join().is_ok(),
        "the alerter ends when the bus is gone"
    );
}

/// A dispatcher running `/bin/true` as its script (a quick success).
fn script_dispatcher(
    max_concurrent: usize,
    max_waiting: usize,
) -> (dispatch::Dispatcher, Arc<Counters>) {
    let mut settings = settings();
    settings.tuning = Tuning {
        attempt_timeout: Duration::from_secs(10),
        backoff: vec![],
        max_concurrent,
        max_waiting,
        tick_interval: TICK_INTERVAL,
    };
    let counters = Arc::new(Counters::default());
    let history = History::default();
    let Ok(dispatcher) = dispatch::Dispatcher::new(settings, Arc::clone(&counters), history) else {
        panic!("dispatcher")
    };
    (dispatcher, counters)
}

fn script_job(view: &str, to: State) -> plan::Job {
    plan::Job {
        alert: "ops".into(),
        kind: Kind::Script {
            path: "/bin/true".into(),
        },
        message: Arc::new(Message {
            view: view.into(),
            ..message(to)
        }),
    }
}

/// Hands finished lanes back until nothing runs or waits; returns the
/// order in which the lanes' deliveries finished.
fn drain(dispatcher: &mut dispatch::Dispatcher) -> Vec<String> {
    let mut order = Vec::new();
    while dispatcher.in_flight() > 0 {
        let Ok(lane) = dispatcher.done().recv_timeout(Duration::from_secs(20)) else {
            panic!("a delivery never finished")
        };
        order.push(lane.0.clone());
        dispatcher.finished(lane);
    }
    assert_eq!(dispatcher.waiting(), 0);
    order
}

#[test]
fn deliveries_beyond_the_cap_wait_and_are_all_sent() {
    let (mut dispatcher, counters) = script_dispatcher(1, 100);
    for view in ["a", "b", "c"] {
        dispatcher.dispatch(script_job(view, State::Error));
    }
    assert_eq!(dispatcher.in_flight(), 1);
    assert_eq!(dispatcher.waiting(), 2, "queued, not dropped");
    assert_eq!(drain(&mut dispatcher), ["a", "b", "c"], "oldest first");
    assert_eq!(Counters::get(&counters.alerts_sent), 3);
    assert_eq!(Counters::get(&counters.alert_failures), 0);
}

#[test]
fn one_lane_delivers_one_at_a_time_in_order() {
    let (mut dispatcher, counters) = script_dispatcher(8, 100);
    dispatcher.dispatch(script_job("v", State::Error));
    dispatcher.dispatch(script_job("v", State::Ok));
    dispatcher.dispatch(script_job("w", State::Error));
    // v's recovery waits behind v's ERROR although there is room; w runs.
    assert_eq!(dispatcher.in_flight(), 2);
    assert_eq!(dispatcher.waiting(), 1);
    let order = drain(&mut dispatcher);
    let v: Vec<&String> = order.iter().filter(|l| *l == "v").collect();
    assert_eq!(v.len(), 2);
    assert_eq!(Counters::get(&counters.alerts_sent), 3);
}

#[test]
fn deliveries_beyond_the_waiting_bound_are_dropped_and_counted() {
    let (mut dispatcher, counters) = script_dispatcher(1, 1);
    for view in ["a", "b", "c"] {
        dispatcher.dispatch(script_job(view, State::Error));
    }
    assert_eq!(dispatcher.in_flight(), 1);
    assert_eq!(dispatcher.waiting(), 1);
    assert_eq!(Counters::get(&counters.alert_failures), 1, "c dropped");
    assert_eq!(drain(&mut dispatcher), ["a", "b"]);
    assert_eq!(Counters::get(&counters.alerts_sent), 2);
}

#[test]
fn new_settings_apply_to_later_plans_and_keep_the_tuning() {
    let (mut dispatcher, counters) = script_dispatcher(3, 7);
    dispatcher.dispatch(script_job("before", State::Error));
    let mut reloaded = AlertSettings::default();
    reloaded.alerts.insert(
        "late".into(),
        AlertConfig {
            script: "/bin/true".into(),
            ..Default::default()
        },
    );
    dispatcher.set_settings(reloaded);
    assert!(dispatcher.settings().alerts.contains_key("late"));
    assert!(!dispatcher.settings().alerts.contains_key("ops"));
    assert_eq!(dispatcher.settings().tuning.max_concurrent, 3);
    assert_eq!(dispatcher.settings().tuning.max_waiting, 7);
    // An event naming the new alert now plans a delivery.
    let mut unknown = Vec::new();
    let jobs = plan(
        &changed(State::Ok, State::Error, &["late"]),
        dispatcher.settings(),
        &mut unknown,
    );
    assert!(unknown.is_empty());
    assert_eq!(jobs.len(), 1);
    // The delivery started before the reload still finishes and counts.
    assert_eq!(drain(&mut dispatcher), ["before"]);
    assert_eq!(Counters::get(&counters.alerts_sent), 1);
}
