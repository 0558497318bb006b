//! Unit tests of SPEC 15's messages: planning from the policy's
//! `Event::Alert` (reminders, recoveries with their downtime), what each
//! kind renders for them, and the delivery history the dispatcher keeps.

use super::dispatch::{self, Dispatcher};
use super::history::{History, Outcome};
use super::plan::{plan, Job, Kind, Message};
use super::tests::{message, settings};
use super::*;
use crate::events::Event;
use crate::model::{State, ViewRecord};
use crate::policy::AlertNotice;
use std::time::Duration;

/// 2026-11-19 02:00 UTC.
const SINCE: i64 = 1_795_053_600_000;

fn notice(state: State, reminder: u32, down_ms: Option<i64>, alerts: &[&str]) -> Event {
    Event::Alert {
        notice: Box::new(AlertNotice {
            view: ViewRecord {
                name: "web".into(),
                state,
                incident_number: 7,
                failed_services: if state == State::Error {
                    vec!["web.a".into()]
                } else {
                    vec![]
                },
                failures: Vec::new(),
                last_state_change: SINCE,
                // Not what is used: the notice names the alerts.
                alerts: vec!["ops".into(), "hook".into()],
                alerting: Default::default(),
            },
            previous: State::Error,
            reminder,
            down_ms,
            alerts: alerts.iter().map(|a| a.to_string()).collect(),
        }),
    }
}

fn reminder(n: u32) -> Message {
    Message {
        from: State::Error,
        reminder: n,
        since: SINCE,
        ..message(State::Error)
    }
}

fn recovery(down_ms: i64) -> Message {
    Message {
        down_ms: Some(down_ms),
        ..message(State::Ok)
    }
}

#[test]
fn an_alert_notice_goes_through_the_alerts_it_names_only() {
    let s = settings();
    let mut unknown = Vec::new();
    let jobs = plan(&notice(State::Error, 2, None, &["hook"]), &s, &mut unknown);
    assert!(unknown.is_empty());
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].alert, "hook");
    let m = &jobs[0].message;
    assert_eq!((m.from, m.to, m.incident), (State::Error, State::Error, 7));
    assert_eq!((m.reminder, m.down_ms, m.since), (2, None, SINCE));
    assert_eq!(m.failed, vec!["web.a".to_string()]);

    let jobs = plan(
        &notice(State::Ok, 0, Some(7_800_000), &["ops", "nope"]),
        &s,
        &mut unknown,
    );
    assert_eq!(unknown, vec!["nope".to_string()]);
    assert_eq!(jobs.len(), 4, "every kind of ops: {jobs:?}");
    assert!(jobs.iter().all(|j| j.alert == "ops"));
    assert_eq!(jobs[0].message.down_ms, Some(7_800_000));
    assert_eq!(jobs[0].message.reminder, 0);
}

#[test]
fn the_alerter_takes_the_policys_alerts_only() {
    let alert = notice(State::Error, 0, None, &["ops"]);
    assert!(INTEREST.wants(&alert));
    let into_error = Event::ViewChanged {
        view: ViewRecord {
            state: State::Error,
            ..ViewRecord::default()
        },
        previous: State::Ok,
    };
    assert!(
        !INTEREST.wants(&into_error),
        "the policy decides, not the change"
    );
}

#[test]
fn webhook_says_which_reminder_and_how_long_it_was_down() {
    let v = webhook::payload(&reminder(3));
    assert_eq!(v["reminder"], 3);
    assert_eq!(v["from_state"], "ERROR");
    assert!(v.get("down_ms").is_none(), "{v}");
    let v = webhook::payload(&recovery(7_800_000));
    assert_eq!(v["reminder"], 0);
    assert_eq!(v["down_ms"], 7_800_000);
    assert_eq!(v["to_state"], "OK");
}

#[test]
fn scripts_get_the_reminder_number() {
    let env = script::env(&reminder(2));
    assert!(
        env.contains(&("LOVEBEAT_REMINDER", "2".to_string())),
        "{env:?}"
    );
}

#[test]
fn mail_keeps_the_subject_and_says_reminder_or_downtime() {
    let m = reminder(2);
    assert_eq!(m.subject(), "[LOVEBEAT] web-4");
    let text = m.text();
    assert!(
        text.starts_with(
            "Reminder 2: view 'web' is still in 'ERROR' (since 2026-11-19 02:00 UTC)."
        ),
        "{text}"
    );
    assert!(
        text.contains("  - web.a: failed with exit code 3"),
        "{text}"
    );
    let text = recovery(7_800_000).text();
    assert!(text.contains("changed from 'ERROR' to 'OK'"), "{text}");
    assert!(text.contains("It was down for 2 h 10 min."), "{text}");
    // A first message says neither.
    let text = message(State::Error).text();
    assert!(
        !text.contains("Reminder") && !text.contains("down for"),
        "{text}"
    );
    let form = mailgun::form("lb@x", &["a@x".into()], &reminder(1));
    assert!(form.contains("text=Reminder+1"), "{form}");
}

#[test]
fn slack_says_reminder_and_shows_the_downtime() {
    let v = slack::payload("#ops", &reminder(4));
    let a = &v["attachments"][0];
    assert_eq!(a["title"], "web is still ERROR (reminder 4)");
    assert_eq!(a["color"], "danger");
    let text = v["text"].as_str().unwrap_or_default();
    assert!(
        text.starts_with("Reminder 4: view web is still in ERROR"),
        "{text}"
    );
    let v = slack::payload("#ops", &recovery(90_000));
    let fields = v["attachments"][0]["fields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        fields.contains(
            &serde_json::json!({"title": "Down for", "value": "1 min 30 s", "short": true})
        ),
        "{fields:?}"
    );
    assert_eq!(v["attachments"][0]["title"], "web is OK");
}

fn script_job(path: &str, reminder: u32) -> Job {
    Job {
        alert: "ops".into(),
        kind: Kind::Script { path: path.into() },
        message: Arc::new(Message {
            reminder,
            ..message(State::Error)
        }),
    }
}

fn dispatcher(max_waiting: usize, history: &History) -> Dispatcher {
    let mut s = settings();
    s.tuning.max_concurrent = 1;
    s.tuning.max_waiting = max_waiting;
    let Ok(d) = Dispatcher::new(s, Arc::default(), history.clone()) else {
        panic!("dispatcher")
    };
    d
}

#[test]
fn every_finished_delivery_is_recorded_once() {
    let history = History::default();
    let mut d = dispatcher(1, &history);
    d.dispatch(script_job("/bin/true", 0));
    d.dispatch(script_job("/bin/false", 1));
    // Beyond the one waiting place: dropped at once.
    d.dispatch(script_job("/bin/echo", 0));
    for _ in 0..2 {
        let Ok(lane) = d.done().recv_timeout(Duration::from_secs(20)) else {
            panic!("a delivery never finished")
        };
        d.finished(lane);
    }
    let records = history.newest_first();
    let got: Vec<(&str, Outcome, u32, u32)> = records
        .iter()
        .map(|r| (r.destination.as_str(), r.result, r.attempt, r.reminder))
        .collect();
    assert_eq!(
        got,
        vec![
            ("/bin/false", Outcome::Failed, 1, 1),
            ("/bin/true", Outcome::Sent, 1, 0),
            ("/bin/echo", Outcome::Dropped, 0, 0),
        ]
    );
    assert!(records
        .iter()
        .all(|r| r.kind == "script" && r.view == "web"));
    assert_eq!(records[1].error, None);
    let failed = records[0].error.as_deref().unwrap_or_default();
    assert!(failed.contains("/bin/false exited with"), "{failed}");
    assert!(records[2]
        .error
        .as_deref()
        .unwrap_or_default()
        .contains("dropped"));
}

#[test]
fn send_now_runs_each_job_on_this_thread() {
    let mut s = settings();
    s.tuning.backoff = vec![];
    let outcomes = dispatch::send_now(
        s,
        &[script_job("/bin/true", 0), script_job("/bin/false", 0)],
    );
    assert_eq!(outcomes.len(), 2);
    assert_eq!(outcomes[0].attempts, 1);
    assert!(outcomes[0].result.is_ok());
    assert!(outcomes[1].result.is_err());
}
