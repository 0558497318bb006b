//! Tests of `[[services]]` blocks and the job limits of `[limits]`: every
//! key, every error (naming the block, its pattern, the key and the line),
//! merging across files and the engine's `JobConfig`.

use super::*;
use crate::model::{TIMEOUT_AUTO, TIMEOUT_NONE};

fn invalid(text: &str) -> (Option<usize>, String, String) {
    match Config::from_toml_str(text) {
        Err(ConfigError::Invalid {
            line, key, message, ..
        }) => (line, key, message),
        other => panic!("expected Invalid for {text:?}, got {other:?}"),
    }
}

#[test]
fn services_every_key_reaches_the_job_config() {
    let c = Config::from_toml_str(
        r#"
[[services]]
pattern = "backup.*"
schedule = "0 2 * * *"
tz = "Europe/Berlin"
grace = "30m"
max_runtime = 7200
min_duration = "1m"

[[services]]
pattern = "web.$host"
timeout = "5m"
grace = "none"

[[services]]
pattern = "auto.*"
timeout = "auto"

[[services]]
pattern = "off.*"
timeout = -1

[[services]]
pattern = "now.*"
timeout = 0
max_runtime = "1w"

[limits]
max_body_bytes = 500
events_per_service = 7
event_body_memory = 1000000
"#,
    )
    .unwrap();
    assert_eq!(c.services.len(), 5);
    assert_eq!(
        (
            c.limits.max_body_bytes,
            c.limits.events_per_service,
            c.limits.event_body_memory
        ),
        (500, 7, 1_000_000)
    );
    let jobs = c.job_config();
    assert_eq!(
        (jobs.events_per_service, jobs.event_body_memory),
        (7, 1_000_000)
    );
    let b = &jobs.blocks;
    assert_eq!(b.len(), 5);
    assert_eq!(b[0].pattern.as_str(), "backup.*");
    assert!(b[0].pattern.is_match("backup.db1") && !b[0].pattern.is_match("web.db1"));
    assert_eq!(b[0].timeout, None);
    assert_eq!(
        b[0].settings,
        crate::jobs::JobSettings {
            schedule: Some("0 2 * * *".into()),
            tz: Some("Europe/Berlin".into()),
            grace: Some(1_800_000),
            max_runtime: Some(7_200_000),
            min_duration: Some(60_000),
        }
    );
    assert!(b[1].pattern.is_match("web.a1"));
    assert_eq!(b[1].timeout, Some(300_000));
    assert_eq!(
        b[1].settings,
        crate::jobs::JobSettings::default(),
        "none = unset"
    );
    assert_eq!(b[2].timeout, Some(TIMEOUT_AUTO));
    assert_eq!(b[3].timeout, Some(TIMEOUT_NONE));
    assert_eq!(b[4].timeout, Some(0));
    assert_eq!(b[4].settings.max_runtime, Some(7 * 86_400_000));
}

#[test]
fn services_defaults_and_limits_defaults() {
    let c = Config::from_toml_str("").unwrap();
    assert!(c.services.is_empty());
    assert_eq!(
        (
            c.limits.max_body_bytes,
            c.limits.events_per_service,
            c.limits.event_body_memory
        ),
        (10_000, 20, 67_108_864)
    );
    let jobs = c.job_config();
    assert!(jobs.blocks.is_empty());
    assert_eq!(
        (jobs.events_per_service, jobs.event_body_memory),
        (20, 67_108_864)
    );
    assert!(Config::default().validate().is_ok());
}

#[test]
fn services_bad_blocks_name_the_block_the_pattern_and_the_key() {
    let cases: &[(&str, &str, usize, &str)] = &[
        ("pattern = \"\"", "pattern", 2, "must not be empty"),
        (
            "pattern = \"a.*\"\nschedule = \"61 * * * *\"",
            "schedule",
            3,
            "minute",
        ),
        (
            "pattern = \"a.*\"\nschedule = \"*/0 * * * *\"",
            "schedule",
            3,
            "minute",
        ),
        ("pattern = \"a.*\"\nschedule = \"* * *\"", "schedule", 3, ""),
        (
            "pattern = \"a.*\"\ntz = \"Mars/Olympus\"",
            "tz",
            3,
            "Mars/Olympus",
        ),
        (
            "pattern = \"a.*\"\nschedule = \"@daily\"\ntz = \"Mars/Olympus\"",
            "tz",
            4,
            "Mars/Olympus",
        ),
        (
            "pattern = \"a.*\"\ngrace = \"5 parsecs\"",
            "grace",
            3,
            "5 parsecs",
        ),
        ("pattern = \"a.*\"\ngrace = -5", "grace", 3, "negative"),
        (
            "pattern = \"a.*\"\ngrace = \"auto\"",
            "grace",
            3,
            "not \"auto\"",
        ),
        (
            "pattern = \"a.*\"\nmax_runtime = \"2x\"",
            "max_runtime",
            3,
            "2x",
        ),
        (
            "pattern = \"a.*\"\nmin_duration = -1",
            "min_duration",
            3,
            "negative",
        ),
        (
            "pattern = \"a.*\"\ntimeout = \"soon\"",
            "timeout",
            3,
            "soon",
        ),
        ("pattern = \"a.*\"\ntimeout = -3", "timeout", 3, "-3"),
        (
            "pattern = \"a.*\"\ntimeout = \"99999999999w\"",
            "timeout",
            3,
            "",
        ),
        (
            "pattern = \"a.*\"\ntimeout = 60\nschedule = \"@daily\"",
            "schedule",
            4,
            "not both",
        ),
    ];
    for (body, key, line, needle) in cases {
        // The bad block is the second one: the index is named.
        let text = format!("[[services]]\npattern = \"ok.*\"\n[[services]]\n{body}\n");
        let (l, k, m) = invalid(&text);
        assert_eq!(k, format!("services[1].{key}"), "{body}: {m}");
        assert_eq!(l, Some(line + 2), "{body}: {m}");
        assert!(m.contains("[[services]] block 1"), "{m}");
        assert!(m.contains("pattern"), "{m}");
        assert!(m.contains(needle), "{body}: {m}");
        let shown = ConfigError::Invalid {
            path: None,
            line: l,
            key: k,
            message: m,
        }
        .to_string();
        assert!(
            shown.contains(&format!("(key services[1].{key})")),
            "{shown}"
        );
    }
}

#[test]
fn services_unknown_keys_wrong_types_and_missing_pattern_are_errors() {
    let (line, key, message) = invalid("[[services]]\npattern = \"a\"\nschedul = \"@daily\"\n");
    assert_eq!((line, key.as_str()), (Some(3), "services[0].schedul"));
    assert!(message.contains("unknown field"), "{message}");
    let (_, key, message) = invalid("[[services]]\npattern = \"a\"\ngrace = true\n");
    assert_eq!(key, "services[0].grace");
    assert!(message.contains("seconds as an integer"), "{message}");
    let (_, key, _) = invalid("[[services]]\npattern = \"a\"\nschedule = 5\n");
    assert_eq!(key, "services[0].schedule");
    let (_, key, message) = invalid("[[services]]\ntimeout = 5\n");
    assert!(key.starts_with("services[0]"), "{key}");
    assert!(message.contains("pattern"), "{message}");
}

#[test]
fn services_limits_are_checked() {
    for key in ["max_body_bytes", "events_per_service", "event_body_memory"] {
        let (line, k, message) = invalid(&format!("[limits]\n{key} = 0\n"));
        assert_eq!(
            (line, k.as_str()),
            (Some(2), format!("limits.{key}").as_str())
        );
        assert!(message.contains("at least 1"), "{message}");
        let (_, k, _) = invalid(&format!("[limits]\n{key} = -4\n"));
        assert_eq!(k, format!("limits.{key}"));
        let (_, k, _) = invalid(&format!("[limits]\n{key} = \"big\"\n"));
        assert_eq!(k, format!("limits.{key}"));
    }
    let (_, k, _) = invalid("[limits]\nmax_body_bytes = 1048577\n");
    assert_eq!(k, "limits.max_body_bytes");
    assert!(
        Config::from_toml_str("[limits]\nmax_body_bytes = 1048576\nevents_per_service = 8\n")
            .is_ok()
    );
    let (_, k, _) = invalid("[limits]\nevents_per_service = 1001\n");
    assert_eq!(k, "limits.events_per_service");
    let (_, k, message) = invalid("[limits]\nmax_body_bytes = 1048576\nevents_per_service = 9\n");
    assert_eq!(k, "limits.events_per_service");
    assert!(message.contains("database line"), "{message}");
}

#[test]
fn services_blocks_append_across_files_in_order() {
    let dir = std::env::temp_dir().join(format!("lovebeat-services-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("conf.d")).unwrap();
    let main = dir.join("main.toml");
    std::fs::write(&main, "[[services]]\npattern = \"first.*\"\ntimeout = 60\n").unwrap();
    std::fs::write(
        dir.join("conf.d/10.toml"),
        "[[services]]\npattern = \"second.*\"\nschedule = \"@hourly\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("conf.d/20.toml"),
        "[[services]]\npattern = \"third.*\"\nschedule = \"@hourly\"\ntz = \"Nowhere/Land\"\n",
    )
    .unwrap();
    let src = Source {
        config_file: Some(main.clone()),
        config_dir: Some(dir.join("conf.d")),
    };
    match load(&src) {
        Err(ConfigError::Invalid {
            path, line, key, ..
        }) => {
            assert_eq!(path, Some(dir.join("conf.d/20.toml")));
            assert_eq!((line, key.as_str()), (Some(4), "services[0].tz"));
        }
        other => panic!("expected the third file's error, got {other:?}"),
    }
    std::fs::remove_file(dir.join("conf.d/20.toml")).unwrap();
    let c = load(&src).unwrap();
    let patterns: Vec<&str> = c.services.iter().map(|s| s.pattern.as_str()).collect();
    assert_eq!(patterns, ["first.*", "second.*"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn services_the_commented_example_in_lovebeat_toml_is_valid() {
    let text = include_str!("../../lovebeat.toml");
    let block: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "# [[services]]")
        .take_while(|l| l.starts_with("# "))
        .filter(|l| !l.starts_with("# #"))
        .map(|l| &l[2..])
        .collect();
    assert!(block.len() > 5, "the example block is in lovebeat.toml");
    let c = Config::from_toml_str(&block.join("\n")).unwrap();
    let jobs = c.job_config();
    assert_eq!(jobs.blocks.len(), 1);
    assert_eq!(jobs.blocks[0].settings.max_runtime, Some(7_200_000));
}

/// SPEC 19: `timeout = "adaptive"` in a block, as the API takes it; it is a
/// timeout's value, not a duration's.
#[test]
fn services_timeout_adaptive() {
    let c = Config::from_toml_str(
        r#"
[[services]]
pattern = "adaptive.*"
timeout = "adaptive"
"#,
    )
    .unwrap();
    let jobs = c.job_config();
    assert_eq!(jobs.blocks[0].timeout, Some(crate::model::TIMEOUT_ADAPTIVE));
    let (_, key, message) = invalid("[[services]]\npattern = \"a.*\"\ngrace = \"adaptive\"\n");
    assert_eq!(key, "services[0].grace");
    assert!(message.contains("duration"), "{message}");
    let (_, key, _) = invalid("[[services]]\npattern = \"a.*\"\ntimeout = -3\n");
    assert_eq!(key, "services[0].timeout");
}

#[test]
fn history_limits_default_to_90_days_and_64_mib_and_reach_the_engine() {
    let c = Config::from_toml_str("").unwrap();
    assert_eq!(
        (c.limits.history_days, c.limits.history_memory),
        (90, 64 << 20)
    );
    let c = Config::from_toml_str("[limits]\nhistory_days = 7\nhistory_memory = 100000\n").unwrap();
    assert_eq!(
        c.job_config().history,
        crate::history::HistoryLimits {
            days: 7,
            memory: 100_000
        }
    );
    for bad in [
        "history_days = 0",
        "history_memory = 0",
        "history_days = -1",
    ] {
        let err = Config::from_toml_str(&format!("[limits]\n{bad}\n"));
        assert!(err.is_err(), "{bad} accepted");
    }
}
