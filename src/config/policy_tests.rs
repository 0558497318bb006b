//! Tests of the alert policy's configuration (SPEC 15): `repeat`, `delay`,
//! `depends_on` (unknown names, self, cycles, across files) and
//! `[[maintenance]]`, every key accepted and refused with file, line, key
//! and message; [`Config::policy_settings`]; and the reload plan's view of
//! policy changes.

use super::*;
use crate::policy::window::When;
use crate::policy::TemplatePolicy;

fn invalid(text: &str) -> (Option<usize>, String, String) {
    match Config::from_toml_str(text) {
        Err(ConfigError::Invalid {
            line, key, message, ..
        }) => (line, key, message),
        other => panic!("expected Invalid for {text:?}, got {other:?}"),
    }
}

fn ok(text: &str) -> Config {
    match Config::from_toml_str(text) {
        Ok(c) => c,
        Err(e) => panic!("expected a valid config for {text:?}: {e}"),
    }
}

const OPS: &str = "[alerts.ops]\nwebhook = \"http://127.0.0.1:9/hook\"\n";

fn view(name: &str, extra: &str) -> String {
    format!("[[views]]\nname = \"{name}\"\npattern = \"{name}.*\"\n{extra}\n")
}

#[test]
fn policy_every_key_reaches_the_settings() {
    let c = ok(r#"
[alerts.ops]
webhook = "http://127.0.0.1:9/hook"
repeat = "1h"

[alerts.dev]
script = "/bin/true"
repeat = 120

[alerts.quiet]
script = "/bin/true"
repeat = "none"

[alerts.plain]
script = "/bin/true"

[[views]]
name = "network"
pattern = "net.*"
delay = "2m"

[[views]]
name = "web"
pattern = "web.*"
depends_on = ["network", "db", "network"]
alerts = ["ops"]

[[maintenance]]
views = ["web", "db-*"]
schedule = "0 2 * * 0"
duration = "2h"
tz = "Europe/Berlin"
comment = "weekly patching"

[[maintenance]]
views = ["*"]
from = "2026-12-01T22:00:00Z"
until = "2026-12-02T01:00:00+01:00"

[[maintenance]]
views = ["db"]
from = 2026-12-03T00:00:00Z
duration = 3600

[[alarms]]
name = "db"
pattern = "db.*"
delay = 0
"#);
    let s = c.policy_settings();
    assert_eq!(
        s.templates,
        vec![
            TemplatePolicy {
                delay: 120_000,
                depends_on: vec![],
            },
            TemplatePolicy {
                delay: 0,
                depends_on: vec!["network".into(), "db".into()],
            },
            TemplatePolicy::default(),
        ]
    );
    // The same order as the engine's templates.
    let templates = crate::server::view_templates(&c).unwrap();
    let names: Vec<&str> = templates.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["network", "web", "db"]);
    assert_eq!(s.repeat.len(), 2);
    assert_eq!(s.repeat["ops"], 3_600_000);
    assert_eq!(s.repeat["dev"], 120_000);

    let ids: Vec<&str> = s.windows.iter().map(|w| w.id.as_str()).collect();
    assert_eq!(ids, ["config-1", "config-2", "config-3"]);
    let weekly = &s.windows[0];
    assert_eq!(weekly.views, ["web", "db-*"]);
    assert_eq!(weekly.comment.as_deref(), Some("weekly patching"));
    assert!(weekly.covers("db-eu") && weekly.covers("web") && !weekly.covers("network"));
    match &weekly.when {
        When::Recurring { schedule, duration } => {
            assert_eq!(*duration, 7_200_000);
            assert_eq!(schedule.expression(), "0 2 * * 0");
            assert_eq!(schedule.tz(), "Europe/Berlin");
        }
        other => panic!("expected a recurring window, got {other:?}"),
    }
    let t = |text: &str| crate::policy::window::parse_time("t", text).unwrap();
    assert_eq!(
        s.windows[1].when,
        When::Once {
            from: t("2026-12-01T22:00:00Z"),
            until: t("2026-12-02T00:00:00Z"),
        }
    );
    // An unquoted TOML date-time, and `from` + `duration`.
    assert_eq!(
        s.windows[2].when,
        When::Once {
            from: t("2026-12-03T00:00:00Z"),
            until: t("2026-12-03T01:00:00Z"),
        }
    );
    assert_eq!(s.windows[2].comment, None);
    assert_eq!(c.validate(), Ok(()));
}

#[test]
fn policy_nothing_set_is_no_policy() {
    let c = ok(&format!("{OPS}{}", view("web", "alerts = [\"ops\"]")));
    let s = c.policy_settings();
    assert_eq!(s.templates, vec![TemplatePolicy::default()]);
    assert!(s.repeat.is_empty() && s.windows.is_empty());
    assert_eq!(
        Config::default().policy_settings(),
        crate::policy::PolicySettings::default()
    );
}

#[test]
fn policy_repeat_below_a_second_or_not_a_duration_is_refused() {
    for (value, why) in [
        ("\"0s\"", "too short"),
        ("0", "too short"),
        ("\"0m\"", "too short"),
        ("-5", "negative"),
        ("\"auto\"", "not \"auto\""),
        ("\"often\"", "invalid"),
        ("true", "a duration"),
    ] {
        let text = format!("# top\n[alerts.ops]\nscript = \"/bin/true\"\nrepeat = {value}\n");
        let (line, key, message) = invalid(&text);
        assert_eq!(key, "alerts.ops.repeat", "{value}: {message}");
        assert_eq!(line, Some(4), "{value}");
        assert!(message.contains(why), "{value}: {message}");
    }
    let (_, _, message) = invalid("[alerts.ops]\nrepeat = \"0s\"\n");
    assert!(
        message.contains("[alerts.ops] repeat") && message.contains("at least \"1s\""),
        "{message}"
    );
    // A second is the floor (tests use it; "1h" is usual).
    assert_eq!(
        ok("[alerts.ops]\nrepeat = 1\n").policy_settings().repeat["ops"],
        1_000
    );
}

#[test]
fn policy_delay_negative_or_over_a_day_is_refused() {
    for (value, why) in [
        ("\"2d\"", "at most one day"),
        ("86401", "at most one day"),
        ("-1", "negative"),
        ("\"auto\"", "not \"auto\""),
        ("\"soon\"", "invalid"),
    ] {
        let text = format!(
            "{}{}",
            view("a", ""),
            view("b", &format!("delay = {value}"))
        );
        let (line, key, message) = invalid(&text);
        assert_eq!(key, "views[1].delay", "{value}: {message}");
        assert_eq!(line, Some(8), "{value}: {text}");
        assert!(message.contains(why), "{value}: {message}");
        assert!(message.contains("view `b`"), "{message}");
    }
    // The same in 1.x's [[alarms]].
    let (_, key, _) = invalid("[[alarms]]\nname = \"x\"\npattern = \"x.*\"\ndelay = \"3d\"\n");
    assert_eq!(key, "alarms[0].delay");
    let one_day = ok(&view("a", "delay = \"1d\"")).policy_settings();
    assert_eq!(one_day.templates[0].delay, 86_400_000);
    let none = ok(&view("a", "delay = \"none\"")).policy_settings();
    assert_eq!(none.templates[0].delay, 0);
}

#[test]
fn policy_depends_on_an_unknown_view_is_refused() {
    let text = format!(
        "{}{}",
        view("web", "depends_on = [\"network\"]"),
        view("db", "")
    );
    let (line, key, message) = invalid(&text);
    assert_eq!(key, "views[0].depends_on");
    assert_eq!(line, Some(4));
    assert!(
        message.contains("view `web` depends on `network`")
            && message.contains("not the `name` of any [[views]] entry"),
        "{message}"
    );
    assert!(!message.contains("$word"), "{message}");

    // A view made by a `$word` template is not a name to depend on; the
    // message says to use the template's name as configured.
    let text = format!(
        "{}[[views]]\nname = \"net-$dc\"\npattern = \"net.$dc.*\"\n",
        view("web", "depends_on = [\"net-eu\"]"),
    );
    let (_, key, message) = invalid(&text);
    assert_eq!(key, "views[0].depends_on");
    assert!(
        message.contains("`net-$dc`") && message.contains("exact name"),
        "{message}"
    );
    let fine = format!(
        "{}[[views]]\nname = \"net-$dc\"\npattern = \"net.$dc.*\"\n",
        view("web", "depends_on = [\"net-$dc\"]"),
    );
    assert_eq!(
        ok(&fine).policy_settings().templates[0].depends_on,
        ["net-$dc"]
    );
    // Not a list of strings.
    let (_, key, _) = invalid(&view("web", "depends_on = \"network\""));
    assert_eq!(key, "views[0].depends_on");
}

#[test]
fn policy_a_view_depending_on_itself_is_refused() {
    let text = format!(
        "{}{}",
        view("db", ""),
        view("web", "depends_on = [\"db\", \"web\"]")
    );
    let (line, key, message) = invalid(&text);
    assert_eq!(key, "views[1].depends_on");
    assert_eq!(line, Some(8));
    assert!(
        message.contains("view `web` depends on itself"),
        "{message}"
    );
}

#[test]
fn policy_dependency_cycles_are_refused_with_their_path() {
    // a -> b -> a
    let text = format!(
        "{}{}",
        view("a", "depends_on = [\"b\"]"),
        view("b", "depends_on = [\"a\"]")
    );
    let (line, key, message) = invalid(&text);
    assert_eq!(key, "views[0].depends_on");
    assert_eq!(line, Some(4));
    assert!(message.contains("cycle (a -> b -> a)"), "{message}");

    // A longer one, reached from a view outside it: reported from its
    // first view on the way.
    let text = format!(
        "{}{}{}{}{}",
        view("x", "depends_on = [\"ok\", \"c\"]"),
        view("ok", ""),
        view("c", "depends_on = [\"d\"]"),
        view("d", "depends_on = [\"ok\", \"e\"]"),
        view("e", "depends_on = [\"c\"]"),
    );
    let (_, key, message) = invalid(&text);
    assert_eq!(key, "views[2].depends_on");
    assert!(message.contains("(c -> d -> e -> c)"), "{message}");

    // Shared parents without a cycle are fine (a diamond).
    let diamond = format!(
        "{}{}{}{}",
        view("top", "depends_on = [\"left\", \"right\"]"),
        view("left", "depends_on = [\"base\"]"),
        view("right", "depends_on = [\"base\"]"),
        view("base", ""),
    );
    ok(&diamond);

    // A long chain closing on itself: no recursion limit, the full path.
    let n = 2000;
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&view(
            &format!("v{i}"),
            &format!("depends_on = [\"v{}\"]", (i + 1) % n),
        ));
    }
    let (_, key, message) = invalid(&text);
    assert_eq!(key, "views[0].depends_on");
    assert!(
        message.contains("(v0 -> v1 -> v2") && message.contains("v1999 -> v0)"),
        "{}",
        &message[..200]
    );
}

#[test]
fn policy_depends_on_across_files_and_cycles_name_the_file() {
    let dir = std::env::temp_dir().join(format!("lovebeat-policy-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("conf.d")).unwrap();
    let main = dir.join("lovebeat.toml");
    std::fs::write(&main, view("web", "depends_on = [\"network\"]")).unwrap();
    let extra = dir.join("conf.d").join("net.toml");
    std::fs::write(&extra, view("network", "")).unwrap();
    let src = Source {
        config_file: Some(main.clone()),
        config_dir: Some(dir.join("conf.d")),
    };
    let c = load_with_defaults(&src, &[], &dir).unwrap();
    assert_eq!(c.policy_settings().templates[0].depends_on, ["network"]);

    std::fs::write(
        &extra,
        format!("# network\n{}", view("network", "depends_on = [\"web\"]")),
    )
    .unwrap();
    match load_with_defaults(&src, &[], &dir) {
        Err(e @ ConfigError::Invalid { .. }) => {
            let ConfigError::Invalid {
                path, line, key, ..
            } = &e
            else {
                unreachable!()
            };
            assert_eq!(path.as_deref(), Some(main.as_path()), "{e}");
            assert_eq!(*line, Some(4));
            assert_eq!(key, "views[0].depends_on");
            assert!(e.to_string().contains("web -> network -> web"), "{e}");
        }
        other => panic!("expected a cycle error, got {other:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn policy_bad_maintenance_blocks_name_the_block_and_the_key() {
    let block = |body: &str| format!("# head\n[[maintenance]]\n{body}\n");
    for (body, key, line, why) in [
        ("schedule = \"0 2 * * *\"\nduration = \"1h\"", "views", 2, "`views` must list"),
        ("views = []\nfrom = \"2026-12-01T00:00:00Z\"\nduration = 60", "views", 3, "`views`"),
        ("views = [\"\"]\nfrom = \"2026-12-01T00:00:00Z\"\nduration = 60", "views", 3, "pattern"),
        ("views = [\"*\"]\nschedule = \"0 2 * *\"\nduration = \"1h\"", "schedule", 4, "`schedule`"),
        ("views = [\"*\"]\nschedule = \"0 2 * * *\"", "schedule", 4, "needs a `duration`"),
        ("views = [\"*\"]\nschedule = \"0 2 * * *\"\nduration = \"1h\"\ntz = \"Mars/Olympus\"", "tz", 6, "Mars/Olympus"),
        ("views = [\"*\"]\nschedule = \"0 2 * * *\"\nduration = \"1h\"\nfrom = \"2026-12-01T00:00:00Z\"", "schedule", 4, "not both"),
        ("views = [\"*\"]\nschedule = \"0 2 * * *\"\nduration = 0", "duration", 5, "more than 0"),
        ("views = [\"*\"]\nschedule = \"0 2 * * *\"\nduration = \"400d\"", "duration", 5, "at most a year"),
        ("views = [\"*\"]\nschedule = \"0 2 * * *\"\nduration = \"auto\"", "duration", 5, "`duration`"),
        ("views = [\"*\"]\nduration = \"1h\"", "schedule", 2, "needs `schedule` or `from`"),
        ("views = [\"*\"]\nfrom = \"2026-12-01T00:00:00Z\"", "until", 2, "needs `until` or `duration`"),
        ("views = [\"*\"]\nfrom = \"2026-12-01T00:00:00Z\"\nuntil = \"2026-11-30T00:00:00Z\"", "until", 5, "after `from`"),
        ("views = [\"*\"]\nfrom = \"2026-12-01T00:00:00Z\"\nuntil = \"2026-12-02T00:00:00Z\"\nduration = 60", "until", 5, "not both"),
        ("views = [\"*\"]\nfrom = \"tomorrow\"\nuntil = \"2026-12-02T00:00:00Z\"", "from", 4, "RFC 3339"),
        ("views = [\"*\"]\nfrom = 2026-12-01T00:00:00\nuntil = 2026-12-02T00:00:00", "from", 4, "RFC 3339"),
        ("views = [\"*\"]\nfrom = \"2026-12-01T00:00:00Z\"\nuntil = \"2026-12-02T00:00:00Z\"\ntz = \"UTC\"", "tz", 6, "recurring"),
        ("views = [\"*\"]\nfrom = \"2026-12-01T00:00:00Z\"\nuntil = \"2028-01-01T00:00:00Z\"", "until", 5, "at most a year"),
    ] {
        let (l, k, message) = invalid(&block(body));
        assert_eq!(k, format!("maintenance[0].{key}"), "{body}: {message}");
        assert!(message.contains(why), "{body}: {message}");
        assert!(message.contains("[[maintenance]] block 0"), "{message}");
        assert_eq!(l, Some(line), "{body}: {message}");
    }
    let long = format!(
        "views = [\"*\"]\nschedule = \"@daily\"\nduration = 60\ncomment = \"{}\"",
        "x".repeat(2000)
    );
    let (_, key, message) = invalid(&block(&long));
    assert_eq!(key, "maintenance[0].comment");
    assert!(message.contains("1024"), "{message}");
    // Unknown keys and wrong types, located by serde.
    let (l, key, _) = invalid(&block("views = [\"*\"]\nuntill = \"2026-12-02T00:00:00Z\""));
    assert_eq!((l, key.as_str()), (Some(4), "maintenance[0].untill"));
    let (_, key, message) = invalid(&block("views = [\"*\"]\nfrom = 5\nuntil = 6"));
    assert_eq!(key, "maintenance[0].from");
    assert!(message.contains("RFC 3339"), "{message}");
}

#[test]
fn policy_maintenance_blocks_append_across_files_in_order() {
    let dir = std::env::temp_dir().join(format!("lovebeat-maint-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("d")).unwrap();
    let one = "[[maintenance]]\nviews = [\"a\"]\nschedule = \"@daily\"\nduration = 60\n";
    let two = "[[maintenance]]\nviews = [\"b\"]\nschedule = \"@hourly\"\nduration = 60\n\
               [[maintenance]]\nviews = [\"c\"]\nschedule = \"@weekly\"\nduration = 60\n";
    std::fs::write(dir.join("main.toml"), one).unwrap();
    std::fs::write(dir.join("d").join("x.toml"), two).unwrap();
    let src = Source {
        config_file: Some(dir.join("main.toml")),
        config_dir: Some(dir.join("d")),
    };
    let c = load_with_defaults(&src, &[], &dir).unwrap();
    let s = c.policy_settings();
    let got: Vec<(&str, &str)> = s
        .windows
        .iter()
        .map(|w| (w.id.as_str(), w.views[0].as_str()))
        .collect();
    assert_eq!(
        got,
        [("config-1", "a"), ("config-2", "b"), ("config-3", "c")]
    );
    // A bad block in the second file points at that file and its line.
    std::fs::write(
        dir.join("d").join("x.toml"),
        "[[maintenance]]\nviews = [\"b\"]\nschedule = \"@hourly\"\n",
    )
    .unwrap();
    match load_with_defaults(&src, &[], &dir) {
        Err(ConfigError::Invalid {
            path, line, key, ..
        }) => {
            assert_eq!(path, Some(dir.join("d").join("x.toml")));
            assert_eq!(line, Some(3));
            assert_eq!(key, "maintenance[0].schedule");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn policy_validate_in_code_checks_the_same() {
    let mut c = Config::default();
    c.views.push(ViewConfig {
        name: "a".into(),
        pattern: "a.*".into(),
        depends_on: vec!["a".into()],
        ..ViewConfig::default()
    });
    let err = c.validate().unwrap_err();
    assert!(matches!(&err, ConfigError::Invalid { key, .. } if key == "views[0].depends_on"));
    c.views[0].depends_on.clear();
    c.views[0].delay = Some(DurationValue::Text("25h".into()));
    let err = c.validate().unwrap_err();
    assert!(matches!(&err, ConfigError::Invalid { key, .. } if key == "views[0].delay"));
    c.views[0].delay = None;
    c.alerts.insert(
        "ops".into(),
        AlertConfig {
            repeat: Some(DurationValue::Seconds(0)),
            ..AlertConfig::default()
        },
    );
    let err = c.validate().unwrap_err();
    assert!(matches!(&err, ConfigError::Invalid { key, .. } if key == "alerts.ops.repeat"));
    c.alerts.clear();
    c.maintenance.push(MaintenanceConfig {
        views: vec!["*".into()],
        schedule: Some("@daily".into()),
        ..MaintenanceConfig::default()
    });
    let err = c.validate().unwrap_err();
    assert!(matches!(&err, ConfigError::Invalid { key, .. } if key == "maintenance[0].schedule"));
    c.maintenance[0].duration = Some(DurationValue::Text("1h".into()));
    assert_eq!(c.validate(), Ok(()));
}

#[test]
fn policy_changes_are_a_reload_section_and_plain_views_are_not() {
    use crate::reload::plan::plan;
    let base = format!("{OPS}{}{}", view("net", ""), view("web", ""));
    let old = ok(&base);
    let p = plan(&old, &ok(&base));
    assert!(!p.policy && !p.applies_anything());

    // A plain view added: views change, the policy does not.
    let p = plan(&old, &ok(&format!("{base}{}", view("db", ""))));
    assert!(p.views && !p.policy, "{:?}", p.sections);
    assert!(!p.summary().contains("alert policy"), "{}", p.summary());

    let changed = format!(
        "[alerts.ops]\nwebhook = \"http://127.0.0.1:9/hook\"\nrepeat = \"1h\"\n{}{}\
         [[maintenance]]\nviews = [\"web\"]\nschedule = \"@daily\"\nduration = \"1h\"\n",
        view("net", ""),
        view("web", "delay = \"2m\"\ndepends_on = [\"net\"]"),
    );
    let p = plan(&old, &ok(&changed));
    assert!(p.policy && p.applies_anything());
    assert!(
        p.summary().contains(
            "alert policy: repeat changed, delay/depends_on changed, maintenance 0 -> 1 windows"
        ),
        "{}",
        p.summary()
    );
    // Only a window: only the policy changes.
    let only_window = format!(
        "{base}[[maintenance]]\nviews = [\"web\"]\nfrom = \"2026-12-01T00:00:00Z\"\nduration = 60\n"
    );
    let p = plan(&old, &ok(&only_window));
    assert!(p.policy && !p.views && !p.alerts, "{:?}", p.sections);
}

#[test]
fn policy_the_commented_examples_in_lovebeat_toml_are_valid() {
    let text = include_str!("../../lovebeat.toml");
    let block: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "# [[maintenance]]")
        .take_while(|l| l.starts_with("# "))
        .filter(|l| !l.starts_with("# #"))
        .map(|l| &l[2..])
        .collect();
    assert!(block.len() > 4, "the example block is in lovebeat.toml");
    let uncommented = text
        .replace("# [alerts.ops]", "[alerts.ops]")
        .replace("# repeat = ", "repeat = ")
        .replace("# delay = ", "delay = ")
        .replace("# depends_on = [\"network\"]", "depends_on = [\"db\"]");
    let c = ok(&format!(
        "{uncommented}\n{}\n[[views]]\nname = \"db\"\npattern = \"db.*\"\n",
        block.join("\n")
    ));
    let s = c.policy_settings();
    assert_eq!(s.repeat["ops"], 3_600_000);
    assert_eq!(s.templates[0].delay, 120_000);
    assert_eq!(s.templates[0].depends_on, ["db"]);
    assert_eq!(s.windows.len(), 1);
    assert_eq!(s.windows[0].comment.as_deref(), Some("weekly patching"));
}
