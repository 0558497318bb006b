//! Tests of the alert policy's part of the database (SPEC 15): every key
//! round trips, lines without them stay 1.x's, an ERROR view stored before
//! SPEC 15 does not page again after an upgrade, malformed keys and `MAINT`
//! lines are skipped and counted while the rest loads, and the saver writes
//! the windows of its job.

use super::tests::{gunzip, gzip, service, TempDir};
use super::*;
use crate::counters::Counters;
use crate::model::{Millis, State};
use crate::policy::window::{Origin, WindowSpec};
use crate::policy::{ViewAlerting, MUTED_FOREVER};
use std::sync::Arc;
use std::time::Duration;

const T: Millis = 1_700_000_000_000;

fn view(name: &str, state: State, muted_until: Millis, alerted_at: Millis) -> ViewRecord {
    ViewRecord {
        name: name.into(),
        state,
        incident_number: 3,
        failed_services: if state == State::Error {
            vec!["a".into()]
        } else {
            vec![]
        },
        last_state_change: T,
        alerting: ViewAlerting {
            muted_until,
            alerted_at,
            ..ViewAlerting::default()
        },
        ..ViewRecord::default()
    }
}

fn window(id: &str, spec: WindowSpec) -> Window {
    Window::from_spec(id.into(), Origin::Api, &spec, None).expect("a valid window")
}

fn recurring() -> Window {
    window(
        "nightly",
        WindowSpec {
            views: vec!["backup-*".into(), "web".into()],
            schedule: Some("0 2 * * *".into()),
            duration: Some(3_600_000),
            tz: Some("Europe/Berlin".into()),
            comment: Some("weekly \"patching\"\tnight".into()),
            ..WindowSpec::default()
        },
    )
}

fn once() -> Window {
    window(
        "m-42",
        WindowSpec {
            views: vec!["*".into()],
            from: Some("2026-11-29T02:00:00.123Z".into()),
            until: Some("2026-11-29T04:30:00Z".into()),
            ..WindowSpec::default()
        },
    )
}

fn encoded(services: &[ServiceRecord], views: &[ViewRecord], windows: &[Window]) -> Vec<u8> {
    let mut out = Vec::new();
    encode(&ServiceSnapshot::from(services), views, windows, &mut out).expect("to memory");
    out
}

fn decoded_text(text: &str) -> Database {
    decode(&gzip(text.as_bytes())[..]).expect("the file loads")
}

fn sample() -> (Vec<ServiceRecord>, Vec<ViewRecord>, Vec<Window>) {
    let services = vec![
        ServiceRecord {
            state: State::Muted,
            muted_since: T,
            muted_until: T + 7_200_000,
            views: vec!["web".into()],
            ..service("snoozed")
        },
        ServiceRecord {
            state: State::Muted,
            muted_since: T,
            muted_until: MUTED_FOREVER,
            ..service("muted.forever")
        },
        service("plain"),
    ];
    let views = vec![
        view("web", State::Error, 0, T + 5),
        view("pending", State::Error, 0, 0),
        view("quiet", State::Ok, T + 60_000, 0),
        view("hushed", State::Error, MUTED_FOREVER, T),
        view("calm", State::Ok, 0, 0),
    ];
    (services, views, vec![recurring(), once()])
}

#[test]
fn policy_keys_and_windows_round_trip() {
    let (services, views, windows) = sample();
    let db = decode(&encoded(&services, &views, &windows)[..]).expect("loads");
    assert_eq!(db.services, services);
    assert_eq!(db.views, views);
    assert_eq!(db.maintenance, windows);
    assert!(db.maintenance.iter().all(|w| w.origin == Origin::Api));
    assert_eq!(db.skipped_lines, 0);
    assert_eq!(db.policy_key_problems, KeyProblems::default());
    assert_eq!(db.maintenance[0].spec(), windows[0].spec());
}

#[test]
fn policy_keys_follow_1x_keys_and_only_when_set() {
    let (services, views, windows) = sample();
    let text = gunzip(&encoded(&services, &views, &windows));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "SERV\t{\"name\":\"snoozed\",\"last_beat\":1700000000000,\"timeout\":60000,\
             \"state\":\"muted\",\"muted_since\":1700000000000,\"last_state_change\":1700000000000,\
             \"in_alarms\":[\"web\"],\"muted_until\":1700007200000}",
            "SERV\t{\"name\":\"muted.forever\",\"last_beat\":1700000000000,\"timeout\":60000,\
             \"state\":\"muted\",\"muted_since\":1700000000000,\"last_state_change\":1700000000000,\
             \"muted_until\":9223372036854775807}",
            // Nothing set: 1.x's line exactly.
            "SERV\t{\"name\":\"plain\",\"last_beat\":1700000000000,\"timeout\":60000,\
             \"state\":\"ok\",\"muted_since\":0,\"last_state_change\":1700000000000}",
            "ALARM\t{\"name\":\"web\",\"state\":\"error\",\"incident_nbr\":3,\
             \"failed_services\":[\"a\"],\"last_state_change\":1700000000000,\
             \"alerted_at\":1700000000005}",
            // In ERROR, alert not sent yet (a delay running): 0 is written.
            "ALARM\t{\"name\":\"pending\",\"state\":\"error\",\"incident_nbr\":3,\
             \"failed_services\":[\"a\"],\"last_state_change\":1700000000000,\"alerted_at\":0}",
            "ALARM\t{\"name\":\"quiet\",\"state\":\"ok\",\"incident_nbr\":3,\
             \"failed_services\":[],\"last_state_change\":1700000000000,\
             \"muted_until\":1700000060000}",
            "ALARM\t{\"name\":\"hushed\",\"state\":\"error\",\"incident_nbr\":3,\
             \"failed_services\":[\"a\"],\"last_state_change\":1700000000000,\
             \"muted_until\":9223372036854775807,\"alerted_at\":1700000000000}",
            // Not in ERROR, not muted: 1.x's line exactly.
            "ALARM\t{\"name\":\"calm\",\"state\":\"ok\",\"incident_nbr\":3,\
             \"failed_services\":[],\"last_state_change\":1700000000000}",
            "MAINT\t{\"id\":\"nightly\",\"views\":[\"backup-*\",\"web\"],\
             \"schedule\":\"0 2 * * *\",\"duration\":3600000,\"tz\":\"Europe/Berlin\",\
             \"comment\":\"weekly \\\"patching\\\"\\tnight\"}",
            "MAINT\t{\"id\":\"m-42\",\"views\":[\"*\"],\
             \"from\":\"2026-11-29T02:00:00.123Z\",\"until\":\"2026-11-29T04:30:00Z\"}",
        ]
    );
}

#[test]
fn policy_alerted_at_is_only_kept_for_views_in_error() {
    // An OK view's incident is over: a stray `alerted_at` means nothing.
    let db = decoded_text(
        "ALARM\t{\"name\":\"v\",\"state\":\"ok\",\"incident_nbr\":1,\
         \"last_state_change\":5,\"alerted_at\":4}\n",
    );
    assert_eq!(db.views[0].alerting.alerted_at, 0);
    assert_eq!(db.policy_key_problems.count, 0);
}

#[test]
fn policy_upgrade_error_view_without_alerted_at_counts_as_alerted() {
    // A file of 1.x or of a version before SPEC 15: the ERROR views' alerts
    // went out, so they must not page again after the upgrade.
    let db = decoded_text(
        "ALARM\t{\"name\":\"down\",\"state\":\"error\",\"incident_nbr\":2,\
         \"failed_services\":null,\"last_state_change\":1795570660930}\n\
         ALARM\t{\"name\":\"at-zero\",\"state\":\"error\",\"last_state_change\":0}\n\
         ALARM\t{\"name\":\"no-time\",\"state\":\"error\"}\n\
         ALARM\t{\"name\":\"null\",\"state\":\"error\",\"last_state_change\":9,\"alerted_at\":null}\n\
         ALARM\t{\"name\":\"fine\",\"state\":\"ok\",\"last_state_change\":7}\n",
    );
    let got: Vec<(&str, Millis)> = db
        .views
        .iter()
        .map(|v| (v.name.as_str(), v.alerting.alerted_at))
        .collect();
    assert_eq!(
        got,
        [
            ("down", 1795570660930),
            ("at-zero", 1),
            ("no-time", 1),
            ("null", 9),
            ("fine", 0)
        ]
    );
    assert_eq!(db.policy_key_problems.count, 0);

    // The real 1.0.3 file: its two ERROR views.
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lovebeat-1.0.3/lovebeat.db");
    let db = decode(fs::File::open(fixture).expect("fixture")).expect("loads");
    for v in &db.views {
        let expected = if v.state == State::Error {
            v.last_state_change
        } else {
            0
        };
        assert_eq!(v.alerting.alerted_at, expected, "{}", v.name);
        assert_eq!(v.alerting.muted_until, 0);
    }
    assert!(db.views.iter().any(|v| v.state == State::Error));
    assert!(db.services.iter().all(|s| s.muted_until == 0));
    assert!(db.maintenance.is_empty());
    assert_eq!(db.policy_key_problems.count, 0);
}

#[test]
fn policy_malformed_keys_are_skipped_and_counted() {
    let bad = ["\"soon\"", "-5", "1.5", "true", "[1]", "{}"];
    for value in bad {
        let db = decoded_text(&format!(
            "SERV\t{{\"name\":\"s\",\"state\":\"muted\",\"muted_since\":3,\"muted_until\":{value}}}\n\
             ALARM\t{{\"name\":\"v\",\"state\":\"error\",\"last_state_change\":8,\
             \"muted_until\":{value},\"alerted_at\":{value}}}\n"
        ));
        // The lines load with the rest of their keys.
        assert_eq!(db.services.len(), 1, "{value}");
        assert_eq!(
            (db.services[0].state, db.services[0].muted_since),
            (State::Muted, 3)
        );
        assert_eq!(db.services[0].muted_until, 0, "{value}");
        assert_eq!(db.views[0].alerting.muted_until, 0, "{value}");
        // A bad alerted_at of an ERROR view: as if absent, never a new page.
        assert_eq!(db.views[0].alerting.alerted_at, 8, "{value}");
        assert_eq!(db.views[0].last_state_change, 8);
        let problems = &db.policy_key_problems;
        assert_eq!(problems.count, 3, "{value}: {problems:?}");
        assert!(
            problems.samples[0].starts_with("service \"s\": key muted_until:"),
            "{problems:?}"
        );
        assert!(
            problems.samples[1].starts_with("view \"v\": key muted_until:"),
            "{problems:?}"
        );
        assert!(
            problems.samples[2].starts_with("view \"v\": key alerted_at:"),
            "{problems:?}"
        );
        assert_eq!(db.job_key_problems.count, 0, "not the job keys'");
        assert_eq!(db.skipped_lines, 0);
    }
}

#[test]
fn policy_bad_maint_lines_are_skipped_and_counted_never_fatal() {
    let good = "MAINT\t{\"id\":\"ok-1\",\"views\":[\"web\"],\"from\":\"2026-01-01T00:00:00Z\",\
                \"until\":\"2026-01-01T01:00:00Z\",\"comment\":\"unknown keys are ignored\"}";
    let bad = [
        "MAINT\t{not json",
        "MAINT",
        "MAINT\t{\"views\":[\"web\"],\"from\":\"2026-01-01T00:00:00Z\",\"until\":\"2026-01-02T00:00:00Z\"}",
        "MAINT\t{\"id\":\"\",\"views\":[\"web\"],\"from\":\"2026-01-01T00:00:00Z\",\"until\":\"2026-01-02T00:00:00Z\"}",
        "MAINT\t{\"id\":\"no-views\",\"views\":[],\"from\":\"2026-01-01T00:00:00Z\",\"until\":\"2026-01-02T00:00:00Z\"}",
        "MAINT\t{\"id\":\"bad-cron\",\"views\":[\"web\"],\"schedule\":\"61 * * * *\",\"duration\":1000}",
        "MAINT\t{\"id\":\"bad-tz\",\"views\":[\"web\"],\"schedule\":\"0 2 * * *\",\"duration\":1000,\"tz\":\"Mars/Base\"}",
        "MAINT\t{\"id\":\"backwards\",\"views\":[\"web\"],\"from\":\"2026-01-02T00:00:00Z\",\"until\":\"2026-01-01T00:00:00Z\"}",
        // `duration` alone means "from now": only the API has a now.
        "MAINT\t{\"id\":\"no-start\",\"views\":[\"web\"],\"duration\":1000}",
        "MAINT\t{\"id\":\"ok-1\",\"views\":[\"other\"],\"from\":\"2026-01-01T00:00:00Z\",\"until\":\"2026-01-01T01:00:00Z\"}",
        "MAINT\t{\"id\":\"typed\",\"views\":\"web\",\"duration\":\"1h\"}",
    ];
    let mut text = String::from("SERV\t{\"name\":\"a\"}\n");
    text.push_str(good);
    text.push('\n');
    for line in bad {
        text.push_str(line);
        text.push('\n');
    }
    text.push_str("ALARM\t{\"name\":\"web\",\"state\":\"ok\"}\nFUTURE\tsomething\n");
    let db = decoded_text(&text);
    assert_eq!(db.services.len(), 1);
    assert_eq!(db.views.len(), 1);
    let ids: Vec<&str> = db.maintenance.iter().map(|w| w.id.as_str()).collect();
    assert_eq!(ids, ["ok-1"], "the first ok-1 wins; the repeat is skipped");
    assert_eq!(db.maintenance[0].views, ["web"]);
    assert_eq!(db.policy_key_problems.count, bad.len());
    assert!(
        db.policy_key_problems.samples[0].starts_with("line 3: MAINT skipped:"),
        "{:?}",
        db.policy_key_problems.samples
    );
    // MAINT is a known kind now; other kinds are still skipped and counted.
    assert_eq!(db.skipped_lines, 1);

    // A sample stays short whatever the line holds.
    let long = format!(
        "MAINT\t{{\"id\":\"{}\",\"views\":[\"web\"],\"from\":\"2026-01-01T00:00:00Z\",\
         \"until\":\"2026-01-01T01:00:00Z\"}}\n",
        "é".repeat(5000)
    );
    let db = decoded_text(&format!("{long}{long}"));
    assert_eq!(db.maintenance.len(), 1);
    assert_eq!(db.policy_key_problems.count, 1);
    let sample = &db.policy_key_problems.samples[0];
    assert!(sample.starts_with("line 2: MAINT skipped: id"), "{sample}");
    assert!(
        sample.len() <= 303 && sample.ends_with("..."),
        "{}",
        sample.len()
    );
}

#[test]
fn policy_only_api_windows_are_written() {
    let config = Window::from_spec(
        "config-1".into(),
        Origin::Config,
        &WindowSpec {
            views: vec!["*".into()],
            schedule: Some("@daily".into()),
            duration: Some(60_000),
            ..WindowSpec::default()
        },
        None,
    )
    .expect("valid");
    let text = gunzip(&encoded(&[], &[], &[config, once()]));
    assert!(!text.contains("config-1"), "{text}");
    let db = decode(&encoded(&[], &[], &[once()])[..]).expect("loads");
    assert_eq!(db.maintenance, [once()]);
}

#[test]
fn policy_saver_writes_the_windows_of_its_job() {
    let dir = TempDir::new("policy-saver");
    let path = dir.path("lovebeat.db");
    let (tx, rx) = crossbeam_channel::unbounded();
    let (done_tx, done) = crossbeam_channel::bounded(1);
    let (services, views, windows) = sample();
    tx.send(SaveJob {
        history: Vec::new(),
        services: ServiceSnapshot::from(&services[..]),
        views: views.clone(),
        maintenance: windows.clone(),
        done: Some(done_tx),
    })
    .expect("the saver's queue");
    let handle = spawn_saver(
        path.clone(),
        Arc::new(Counters::default()),
        rx,
        Box::new(|_: &Path, _: &SaveReport| {}),
    )
    .expect("spawn");
    let report = done
        .recv_timeout(Duration::from_secs(30))
        .expect("answered")
        .expect("saved");
    assert_eq!((report.services, report.views), (3, 5));
    drop(tx);
    handle.join().expect("the saver stops");
    let db = load_or_quarantine(&path, 1).expect("load").into_database();
    assert_eq!(db.services, services);
    assert_eq!(db.views, views);
    assert_eq!(db.maintenance, windows);
}
