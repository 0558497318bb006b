//! End-to-end: the timeout in force and the next deadline of every service
//! (`timeout_in_force`, `next_deadline`) in our dialect, and their absence
//! from Lovebeat 1.x's (`/api/alarms`).

mod common;

use common::{wait_until, Server, TempDir};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

const VIEWS: &str = r#"
[[views]]
name = "all"
includes = ["*"]
"#;

#[test]
fn auto_services_show_the_learned_timeout_and_their_deadline() {
    let dir = TempDir::new("deadline");
    let server = Server::start(dir.path(), VIEWS);
    assert_eq!(server.post("/api/services/fixed?timeout=1h").status, 200);
    assert_eq!(
        server.post("/api/services/learner?timeout=auto").status,
        200
    );

    let fixed = server.service("fixed").expect("created");
    assert_eq!(fixed["timeout"], 3_600_000);
    assert_eq!(fixed["timeout_in_force"], 3_600_000);
    let last = fixed["last_beat"].as_i64().expect("last_beat");
    assert_eq!(fixed["next_deadline"], last + 3_600_000);

    let learner = server.service("learner").expect("created");
    assert_eq!(learner["timeout"], -2);
    assert_eq!(learner["timeout_in_force"], -1, "nothing measured yet");
    assert!(learner["next_deadline"].is_null(), "{learner}");

    // A second accepted beat (one second apart at least) gives an interval.
    let learned = wait_until(WAIT, || {
        server.post("/api/services/learner");
        server
            .service("learner")
            .is_some_and(|s| s["timeout_in_force"].as_i64().unwrap_or(-1) > 0)
    });
    assert!(
        learned,
        "no interval learned: {:?}",
        server.service("learner")
    );
    let learner = server.service("learner").expect("exists");
    assert_eq!(learner["timeout"], -2, "1.x clients still see auto");
    let in_force = learner["timeout_in_force"].as_i64().expect("ms");
    assert!(in_force >= 1_000, "mean interval + 1 s slack: {in_force}");
    let last = learner["last_beat"].as_i64().expect("last_beat");
    assert_eq!(learner["next_deadline"], last + in_force);

    // The same keys in every list of our dialect...
    let list = server.json("/api/services");
    let view = server.json("/api/views/all");
    for services in [&list["services"], &view["services"]] {
        for s in services.as_array().expect("services") {
            assert!(s.get("timeout_in_force").is_some(), "{s}");
            assert!(s.get("next_deadline").is_some(), "{s}");
        }
    }
    // ...and none in Lovebeat 1.x's.
    let alarm = server.json("/api/alarms/all");
    let services = alarm["services"].as_array().expect("services");
    assert_eq!(services.len(), 2);
    for s in services {
        assert!(s.get("timeout_in_force").is_none(), "{s}");
        assert!(s.get("next_deadline").is_none(), "{s}");
    }

    // Muted: no deadline, the timeout in force stays.
    assert_eq!(server.post("/api/services/learner/mute").status, 200);
    let muted = server.service("learner").expect("exists");
    assert_eq!(muted["state"], "muted");
    assert_eq!(muted["timeout_in_force"], in_force);
    assert!(muted["next_deadline"].is_null(), "{muted}");
}
