//! Unit tests of the reload plan: every section, the restart-only keys,
//! the configuration in force afterwards, and the summary line.

use super::plan::{effective, plan};
use super::*;

fn config(text: &str) -> Config {
    match Config::from_toml_str(text) {
        Ok(config) => config,
        Err(e) => panic!("bad config in test: {e}"),
    }
}

const BASE: &str = r#"
[[views]]
name = "web"
pattern = "web.*"
alerts = ["ops"]

[[views]]
name = "db"
pattern = "db.*"

[alerts.ops]
webhook = "http://127.0.0.1:9/hook"
"#;

#[test]
fn the_same_configuration_changes_nothing() {
    let p = plan(&config(BASE), &config(BASE));
    assert!(!p.applies_anything());
    assert!(p.restart.is_empty());
    assert_eq!(
        p.summary(),
        "reload: views unchanged; alerts unchanged; notify unchanged; metrics unchanged; limits unchanged"
    );
}

#[test]
fn views_added_removed_changed_and_reordered_are_named() {
    let new = config(
        r#"
[[views]]
name = "web"
pattern = "www.*"
alerts = ["ops"]

[[views]]
name = "cache"
pattern = "cache.*"

[[views]]
name = "queue-$q"
pattern = "queue.$q.*"

[alerts.ops]
webhook = "http://127.0.0.1:9/hook"
"#,
    );
    let p = plan(&config(BASE), &new);
    assert!(p.views);
    assert!(!p.alerts && !p.notify && !p.metrics && !p.max_services);
    assert_eq!(
        p.sections[0],
        "views: 2 added (cache, queue-$q), 1 removed (db), 1 changed (web)"
    );

    let reordered = config(
        r#"
[[views]]
name = "db"
pattern = "db.*"

[[views]]
name = "web"
pattern = "web.*"
alerts = ["ops"]

[alerts.ops]
webhook = "http://127.0.0.1:9/hook"
"#,
    );
    let p = plan(&config(BASE), &reordered);
    assert!(p.views, "the order decides which template gives the alerts");
    assert_eq!(p.sections[0], "views: reordered");
}

#[test]
fn a_view_with_new_alert_names_is_a_changed_view() {
    let new = BASE.replace("alerts = [\"ops\"]", "alerts = []");
    let p = plan(&config(BASE), &config(&new));
    assert!(p.views);
    assert_eq!(p.sections[0], "views: 1 changed (web)");
}

#[test]
fn alerts_and_their_transports_are_compared() {
    let new = format!(
        "{}\n[alerts.dev]\nscript = \"/bin/true\"\n[mail]\nserver = \"mx:25\"\n[slack]\nwebhook_url = \"http://127.0.0.1:9/s\"\n[general]\npublic_url = \"http://lb\"\n",
        BASE.replace("127.0.0.1:9/hook", "127.0.0.1:9/other")
    );
    let p = plan(&config(BASE), &config(&new));
    assert!(p.alerts);
    assert!(!p.views);
    assert_eq!(
        p.sections[1],
        "alerts: dev added, ops changed, [mail] changed, [slack] changed, public_url \"\" -> \"http://lb\""
    );
    let removed = config(
        &BASE
            .replace("alerts = [\"ops\"]", "alerts = []")
            .replace("[alerts.ops]\nwebhook = \"http://127.0.0.1:9/hook\"", ""),
    );
    let p = plan(&config(BASE), &removed);
    assert!(p.alerts && p.views);
    assert_eq!(p.sections[1], "alerts: ops removed");
    let mailgun = format!("{BASE}\n[mailgun]\ndomain = \"mg\"\napi_key = \"k\"\n");
    assert_eq!(
        plan(&config(BASE), &config(&mailgun)).sections[1],
        "alerts: [mailgun] changed"
    );
}

#[test]
fn notify_changes_name_the_targets_but_never_the_tokens() {
    let one = format!("{BASE}\n[[notify]]\nlovebeat = \"http://a:8080\"\n");
    let two = format!("{one}\n[[notify]]\nlovebeat = \"http://b:8080\"\n");
    let p = plan(&config(&one), &config(&two));
    assert!(p.notify && !p.views && !p.alerts);
    assert_eq!(
        p.sections[2],
        "notify: 1 -> 2 targets (http://a:8080, http://b:8080)"
    );
    let p = plan(&config(&one), &config(BASE));
    assert_eq!(p.sections[2], "notify: 1 -> 0 targets (none)");
    let token = "t0ken-t0ken-t0ken-t0ken";
    let with_token = format!("{one}token = \"{token}\"\n");
    let p = plan(&config(&one), &config(&with_token));
    assert!(p.notify);
    assert_eq!(p.sections[2], "notify: tokens changed (1 targets)");
    assert!(!p.summary().contains(token));
}

#[test]
fn metrics_changes_say_what_changed() {
    let on = format!("{BASE}\n[metrics]\nserver = \"127.0.0.1:8125\"\n");
    let p = plan(&config(BASE), &config(&on));
    assert!(p.metrics && !p.notify);
    assert_eq!(p.sections[3], "metrics: server \"\" -> \"127.0.0.1:8125\"");
    let slower = format!("{on}prefix = \"lb2\"\ninterval = 30\n");
    assert_eq!(
        plan(&config(&on), &config(&slower)).sections[3],
        "metrics: prefix \"lovebeat\" -> \"lb2\", interval 10 -> 30 s"
    );
}

#[test]
fn max_services_is_live_the_other_limits_need_a_restart() {
    let new = format!(
        "{BASE}\n[limits]\nmax_services = 200000\nmax_tcp_connections = 10\nmax_ws_clients = 5\n"
    );
    let p = plan(&config(BASE), &config(&new));
    assert!(p.max_services && !p.views);
    assert_eq!(p.sections[4], "limits: max_services 100000 -> 200000");
    assert_eq!(
        p.restart,
        vec!["[limits] max_tcp_connections", "[limits] max_ws_clients"]
    );
}

#[test]
fn listeners_database_auth_and_eventlog_need_a_restart() {
    let new = format!(
        r#"{BASE}
[udp]
listen = "127.0.0.1:1"
[tcp]
listen = ""
[http]
listen = "127.0.0.1:2"
auth_token = "a-long-enough-token-0123"
auth_read = true
[database]
filename = "other.db"
interval = 5
remote_s3_url = "s3://bucket/key"
remote_s3_region = "eu"
remote_s3_endpoint = "http://127.0.0.1:9000"
[eventlog]
path = "/tmp/events.log"
mode = "600"
"#
    );
    let p = plan(&config(BASE), &config(&new));
    assert!(!p.applies_anything());
    assert_eq!(
        p.restart,
        vec![
            "[udp] listen",
            "[tcp] listen",
            "[http] listen",
            "[http] auth_token",
            "[http] auth_read",
            "[database] filename",
            "[database] interval",
            "[database] remote_s3_url",
            "[database] remote_s3_region",
            "[database] remote_s3_endpoint",
            "[eventlog] path",
            "[eventlog] mode",
        ]
    );
    assert!(!p.summary().contains("a-long-enough-token"));
    // In force afterwards: the running values of those keys, so the next
    // reload warns again until a restart.
    let running = effective(&config(BASE), &config(&new));
    assert_eq!(running.udp, config(BASE).udp);
    assert_eq!(running.http, config(BASE).http);
    assert_eq!(running.database, config(BASE).database);
    assert_eq!(running.eventlog, config(BASE).eventlog);
    assert_eq!(plan(&running, &config(&new)).restart.len(), 12);
}

#[test]
fn the_configuration_in_force_takes_every_live_section() {
    let new = format!(
        "{}\n[[notify]]\nlovebeat = \"http://a:8080\"\n[metrics]\nserver = \"127.0.0.1:8125\"\n[limits]\nmax_services = 7\nmax_ws_clients = 3\n",
        BASE.replace("db.*", "database.*")
    );
    let (old, new) = (config(BASE), config(&new));
    let running = effective(&old, &new);
    assert_eq!(running.views, new.views);
    assert_eq!(running.alerts, new.alerts);
    assert_eq!(running.notify, new.notify);
    assert_eq!(running.metrics, new.metrics);
    assert_eq!(running.limits.max_services, 7);
    assert_eq!(running.limits.max_ws_clients, old.limits.max_ws_clients);
    // Applying it again is a no-op apart from the restart-only key.
    let again = plan(&running, &new);
    assert!(!again.applies_anything());
    assert_eq!(again.restart, vec!["[limits] max_ws_clients"]);
}

#[test]
fn load_refuses_bad_toml_templates_and_undefined_alerts_with_the_file_named() {
    let dir = std::env::temp_dir().join(format!("lovebeat-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("lovebeat.toml");
    let source = Source {
        config_file: Some(path.clone()),
        config_dir: Some(dir.join("none.d")),
    };
    std::fs::write(&path, BASE).expect("write");
    std::fs::create_dir_all(dir.join("none.d")).expect("dir");
    assert!(load(&source).is_ok());
    std::fs::write(&path, "[[views]]\nname = \"x\"\nincludes = [\"\"]\n").expect("write");
    let error = load(&source).expect_err("a template that does not compile is refused");
    assert!(error.contains("views[0]"), "{error}");
    std::fs::write(
        &path,
        "[[views]]\nname = \"x\"\npattern = \"a.*\"\nalerts = [\"nope\"]\n",
    )
    .expect("write");
    let error = load(&source).expect_err("an undefined alert is refused");
    assert!(error.contains("nope"), "{error}");
    std::fs::write(&path, "[limits\n").expect("write");
    let error = load(&source).expect_err("bad TOML is refused");
    assert!(error.contains("lovebeat.toml"), "{error}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_state_thread_applies_templates_and_max_services_and_publishes_the_changes() {
    use crate::engine::pattern::ViewTemplate;
    use crate::engine::{Engine, EngineConfig, EngineError};
    use crate::events::{Event, Interest, Subscriber};
    use crate::model::Update;
    use crate::state::StateError;
    use crossbeam_channel::bounded;
    let engine = Engine::new(EngineConfig {
        templates: vec![],
        max_services: 10,
        started_at: crate::clock::now_ms(),
        jobs: Default::default(),
    });
    let (tx, rx) = bounded(crate::state::COMMAND_QUEUE);
    let handle = StateHandle::new(tx);
    let (save_tx, save_rx) = bounded(2);
    let thread = crate::state::spawn(
        engine,
        rx,
        save_tx,
        Arc::new(Counters::default()),
        crate::state::StateOptions {
            save_interval: Duration::from_secs(3600),
            stop: handle.stop_flag(),
            saver_queue: None,
            parked: None,
        },
    )
    .unwrap_or_else(|e| panic!("spawn: {e}"));
    let (events_tx, events) = bounded(64);
    handle
        .subscribe(Subscriber::new(
            events_tx,
            Interest::StateChanges,
            Arc::default(),
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    for name in ["db.1", "db.2"] {
        handle
            .update(name, Update::Beat)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let template = ViewTemplate::new("db", &["db.*".to_string()], &[], vec![])
        .unwrap_or_else(|e| panic!("{e}"));
    let done = handle
        .reload(Some(vec![template]), 2, None, None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(done.added, vec!["db".to_string()]);
    assert_eq!(done.services_moved, 2);
    let added = events
        .try_iter()
        .any(|e| matches!(&*e, Event::ViewAdded { view } if view.name == "db"));
    assert!(added, "the reload's events are published");
    // max_services alone: the views stay, the new limit holds.
    let done = handle
        .reload(None, 2, None, None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(done, crate::engine::ViewsReloaded::default());
    assert_eq!(handle.views().map(|v| v.len()).ok(), Some(1));
    assert!(matches!(
        handle.update("db.3", Update::Beat),
        Err(StateError::Engine(EngineError::TooManyServices { max: 2 }))
    ));
    // No saver: the final save fails at once and the thread ends.
    drop(save_rx);
    handle.shutdown();
    drop(handle);
    assert!(thread.join().is_ok(), "the state thread did not panic");
}

#[test]
fn services_blocks_and_event_limits_are_live_max_body_bytes_needs_a_restart() {
    let blocks = format!(
        "{BASE}\n[[services]]\npattern = \"db.*\"\nschedule = \"@daily\"\ngrace = \"2h\"\n"
    );
    let p = plan(&config(BASE), &config(&blocks));
    assert!(p.jobs && !p.views && !p.max_services && p.applies_anything());
    assert_eq!(p.sections[4], "limits unchanged");
    assert_eq!(p.sections[5], "services: 0 -> 1 blocks");
    assert!(p.restart.is_empty());
    // A changed block is a change too, the count alone is not the test.
    let changed = blocks.replace("2h", "3h");
    let p = plan(&config(&blocks), &config(&changed));
    assert!(p.jobs);
    assert_eq!(p.sections[5], "services: 1 -> 1 blocks");
    assert!(!plan(&config(&blocks), &config(&blocks)).jobs);

    let limits = format!(
        "{BASE}\n[limits]\nevents_per_service = 5\nevent_body_memory = 1000\nmax_body_bytes = 100\n"
    );
    let p = plan(&config(BASE), &config(&limits));
    assert!(p.jobs && !p.max_services);
    assert_eq!(
        p.sections[4],
        "limits: events_per_service 20 -> 5, event_body_memory 67108864 -> 1000"
    );
    assert_eq!(p.restart, vec!["[limits] max_body_bytes"]);
    let running = effective(&config(BASE), &config(&limits));
    assert_eq!(
        running.limits.max_body_bytes, 10_000,
        "kept until a restart"
    );
    assert_eq!(running.limits.events_per_service, 5);
    assert_eq!(running.limits.event_body_memory, 1000);

    // The history's limits (SPEC 18) go with the job limits.
    let history = format!("{BASE}\n[limits]\nhistory_days = 7\nhistory_memory = 1000\n");
    let p = plan(&config(BASE), &config(&history));
    assert!(p.jobs && p.restart.is_empty());
    assert_eq!(
        p.sections[4],
        "limits: history_days 90 -> 7, history_memory 67108864 -> 1000"
    );

    // max_body_bytes alone applies nothing now.
    let body = format!("{BASE}\n[limits]\nmax_body_bytes = 100\n");
    let p = plan(&config(BASE), &config(&body));
    assert!(!p.applies_anything());
    assert_eq!(p.restart, vec!["[limits] max_body_bytes"]);
}

#[test]
fn the_state_thread_applies_a_new_job_config() {
    use crate::engine::{Engine, EngineConfig};
    use crate::model::Update;
    use crossbeam_channel::bounded;
    let engine = Engine::new(EngineConfig {
        templates: vec![],
        max_services: 10,
        started_at: crate::clock::now_ms(),
        jobs: Default::default(),
    });
    let (tx, rx) = bounded(crate::state::COMMAND_QUEUE);
    let handle = StateHandle::new(tx);
    let (save_tx, save_rx) = bounded(2);
    let thread = crate::state::spawn(
        engine,
        rx,
        save_tx,
        Arc::new(Counters::default()),
        crate::state::StateOptions {
            save_interval: Duration::from_secs(3600),
            stop: handle.stop_flag(),
            saver_queue: None,
            parked: None,
        },
    )
    .unwrap_or_else(|e| panic!("spawn: {e}"));
    handle
        .update("backup.db1", Update::Beat)
        .unwrap_or_else(|e| panic!("{e}"));
    let effective = |name: &str| {
        handle
            .service(name, true)
            .unwrap_or_else(|e| panic!("{e}"))
            .job
            .map(|j| j.effective.clone())
    };
    assert_eq!(effective("backup.db1").and_then(|e| e.max_runtime), None);
    let new = config(
        "[[services]]\npattern = \"backup.*\"\nmax_runtime = \"2h\"\nschedule = \"@daily\"\n",
    );
    handle
        .reload(None, 10, Some(new.job_config()), None)
        .unwrap_or_else(|e| panic!("{e}"));
    let now = effective("backup.db1").unwrap_or_else(|| panic!("the block gives it jobs"));
    assert_eq!(now.max_runtime, Some(7_200_000));
    assert_eq!(now.schedule.as_deref(), Some("@daily"));
    // Without the block, the settings in force go back.
    handle
        .reload(None, 10, Some(config("").job_config()), None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(effective("backup.db1").and_then(|e| e.max_runtime), None);
    drop(save_rx);
    handle.shutdown();
    drop(handle);
    assert!(thread.join().is_ok(), "the state thread did not panic");
}

/// When the state thread does not take a reload, the policy stays as it
/// was in the configuration in force too, so the next SIGHUP sends it.
#[test]
fn a_reload_the_state_did_not_take_keeps_the_old_policy() {
    let old = config(BASE);
    let new = config(&format!(
        "{}[[maintenance]]\nviews = [\"web\"]\nschedule = \"@daily\"\nduration = 60\n",
        BASE.replace(
            "webhook = \"http://127.0.0.1:9/hook\"",
            "webhook = \"http://127.0.0.1:9/hook\"\nrepeat = \"1h\""
        )
    ));
    let p = plan(&old, &new);
    assert!(p.policy && !p.views);
    let mut kept = effective(&old, &new);
    keep_views(&mut kept, &old);
    assert_eq!(kept.policy_settings(), old.policy_settings());
    assert!(plan(&kept, &new).policy, "the next reload tries again");
}

#[test]
fn public_badges_and_the_status_page_need_a_restart() {
    let new = format!("{BASE}\n[http]\npublic_badges = true\n[status_page]\nviews = [\"web\"]\n");
    let p = plan(&config(BASE), &config(&new));
    assert!(!p.applies_anything());
    assert_eq!(p.restart, vec!["[http] public_badges", "[status_page]"]);
    let running = effective(&config(BASE), &config(&new));
    assert_eq!(running.status_page, None);
    assert!(!running.http.public_badges);
    assert_eq!(plan(&running, &config(&new)).restart.len(), 2);
}
