//! The alert policy's configuration (SPEC 15) in the real binary: its keys
//! are accepted at start, a dependency cycle or a bad maintenance window
//! stops start-up (exit 2, file, line, key and the cycle's path), and a
//! SIGHUP with such a file is refused while the previous configuration
//! keeps running; a good one is applied and logged as a policy change.

mod common;

use common::{base_config, log_count, reload, run_expecting_exit, view_names, Server, TempDir};

const CYCLE: &str = r#"
[[views]]
name = "a"
pattern = "a.*"
depends_on = ["b"]

[[views]]
name = "b"
pattern = "b.*"
depends_on = ["a"]
"#;

const POLICY: &str = r#"
[alerts.ops]
script = "/bin/true"
repeat = "1h"

[[views]]
name = "a"
pattern = "a.*"
alerts = ["ops"]
delay = "2m"
depends_on = ["b"]

[[views]]
name = "b"
pattern = "b.*"

[[maintenance]]
views = ["a"]
schedule = "0 2 * * 0"
duration = "2h"
tz = "Europe/Berlin"
comment = "patching"

[[maintenance]]
views = ["*"]
from = 2030-01-01T00:00:00Z
until = "2030-01-01T01:00:00Z"
"#;

#[test]
fn a_dependency_cycle_or_a_bad_window_stops_start_up() {
    let dir = TempDir::new("policy-start");
    let (code, stderr) =
        run_expecting_exit(dir.path(), &format!("{}{CYCLE}", base_config(dir.path())));
    assert_eq!(code, 2, "{stderr}");
    let file = dir.path().join("lovebeat.toml");
    // base_config is 8 lines, then a blank one: `depends_on` of `a` is line 13.
    assert!(
        stderr.contains(&format!("{}:13:", file.display()))
            && stderr.contains("cycle (a -> b -> a)")
            && stderr.contains("(key views[0].depends_on)"),
        "{stderr}"
    );

    let (code, stderr) = run_expecting_exit(
        dir.path(),
        &format!(
            "{}[[maintenance]]\nviews = [\"*\"]\nschedule = \"0 2 * * *\"\n",
            base_config(dir.path())
        ),
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("needs a `duration`") && stderr.contains("(key maintenance[0].schedule)"),
        "{stderr}"
    );
    assert!(!dir.path().join("lovebeat.db").exists(), "nothing started");
}

#[test]
fn sighup_refuses_a_cycle_and_applies_the_policy_keys() {
    let dir = TempDir::new("policy-reload");
    // Every policy key is accepted at start.
    let server = Server::start(dir.path(), POLICY);
    assert_eq!(view_names(&server), ["a", "b"]);
    assert_eq!(server.post("/api/services/a.1?timeout=1h").status, 200);

    // A cycle is refused; the running configuration stays.
    reload(
        &server,
        dir.path(),
        CYCLE,
        "cycle (a -> b -> a); a view cannot hold its own alerts",
    );
    assert_eq!(
        log_count(&server, "still running on the previous configuration"),
        1,
        "{}",
        server.log_text()
    );
    assert_eq!(view_names(&server), ["a", "b"]);

    // A bad repeat too.
    reload(
        &server,
        dir.path(),
        &POLICY.replace("repeat = \"1h\"", "repeat = \"0s\""),
        "(key alerts.ops.repeat)",
    );
    assert_eq!(
        log_count(&server, "still running on the previous configuration"),
        2
    );

    // A good change of the policy alone is applied and named.
    let changed = POLICY
        .replace("repeat = \"1h\"", "repeat = \"30m\"")
        .replace("delay = \"2m\"", "delay = \"5m\"");
    reload(
        &server,
        dir.path(),
        &changed,
        "alert policy: repeat changed, delay/depends_on changed",
    );
    // Removing every window and dependency too.
    let plain =
        "[[views]]\nname = \"a\"\npattern = \"a.*\"\n[[views]]\nname = \"b\"\npattern = \"b.*\"\n";
    reload(&server, dir.path(), plain, "maintenance 2 -> 0 windows");
    assert_eq!(
        log_count(&server, "not applied"),
        0,
        "{}",
        server.log_text()
    );
    assert_eq!(view_names(&server), ["a", "b"]);
    assert_eq!(
        server.service("a.1").expect("a.1")["state"],
        "ok",
        "state kept across reloads"
    );
}
