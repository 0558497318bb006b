//! End-to-end: the real binary on loopback, driven over HTTP, UDP and TCP.

mod common;

use common::{lovebeat_1_0_3_config, wait_until, Server, TempDir, FIXTURE_1_0_3};
use serde_json::Value;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

fn state_of(server: &Server, name: &str) -> Option<String> {
    server
        .service(name)
        .map(|s| s["state"].as_str().unwrap_or("").to_string())
}

#[test]
fn curl_beat_creates_a_service() {
    let dir = TempDir::new("curl");
    let server = Server::start(dir.path(), "");
    let url = format!(
        "http://{}/api/services/backup.nightly?timeout=1d",
        server.http
    );
    let out = std::process::Command::new("curl")
        .args(["-fsS", "-X", "POST", &url])
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "{}\n");
    let s = server.service("backup.nightly").expect("created");
    assert_eq!(s["state"], "ok");
    assert_eq!(s["timeout"], 86_400_000);
    assert!(s["last_beat"].as_i64().unwrap_or(0) > 0);
    let list = server.json("/api/services");
    assert_eq!(list["services"].as_array().map(Vec::len), Some(1));
    assert!(list["now"].as_i64().unwrap_or(0) >= s["last_beat"].as_i64().unwrap_or(0));
}

#[test]
fn statsd_over_udp_and_tcp() {
    let dir = TempDir::new("statsd");
    let server = Server::start(dir.path(), "");
    server.udp_send(b"udp.one.beat:1|c\nudp.two.timeout:60|g\nudp.three.autobeat:1|c|@0.5\n");
    server.tcp_send(b"tcp.one.beat:1|c\ntcp.two.timeout:-2|g\n");
    assert!(wait_until(WAIT, || {
        ["udp.one", "udp.two", "udp.three", "tcp.one", "tcp.two"]
            .iter()
            .all(|n| server.service(n).is_some())
    }));
    assert_eq!(
        server.service("udp.two").expect("udp.two")["timeout"],
        60_000
    );
    assert_eq!(
        server.service("udp.two").expect("udp.two")["state"],
        "error",
        "timeout but never beat"
    );
    assert_eq!(
        server.service("udp.three").expect("udp.three")["timeout"],
        -2
    );
    assert_eq!(server.service("tcp.two").expect("tcp.two")["timeout"], -2);
    assert_eq!(server.service("tcp.one").expect("tcp.one")["state"], "ok");
}

/// `":PORT"` means every interface, IPv4 and IPv6 (issue 14): statsd on
/// `":0"` takes beats sent to 127.0.0.1 and, where the host has IPv6, to ::1.
#[test]
fn all_interfaces_means_ipv4_and_ipv6() {
    let dir = TempDir::new("dual-stack");
    let config = common::base_config(dir.path()).replace(
        "[udp]\nlisten = \"127.0.0.1:0\"\n[tcp]\nlisten = \"127.0.0.1:0\"\n",
        "[udp]\nlisten = \":0\"\n[tcp]\nlisten = \":0\"\n",
    );
    assert!(config.contains("listen = \":0\""), "{config}");
    let server = Server::start_with_config(dir.path(), &config);
    let udp = server.udp.expect("the UDP port is logged").port();
    let tcp = server.tcp.expect("the TCP port is logged").port();
    let ipv6 = std::net::UdpSocket::bind("[::1]:0").is_ok();
    let mut hosts = vec!["127.0.0.1"];
    if ipv6 {
        hosts.push("::1");
    }
    let mut expected = Vec::new();
    for (i, host) in hosts.iter().enumerate() {
        let ip: std::net::IpAddr = host.parse().expect("an address");
        let sender = std::net::UdpSocket::bind((ip, 0)).expect("a sender");
        sender
            .send_to(format!("dual.udp{i}.beat:1|c\n").as_bytes(), (ip, udp))
            .expect("send");
        let mut stream = std::net::TcpStream::connect((ip, tcp)).expect("connect");
        std::io::Write::write_all(&mut stream, format!("dual.tcp{i}.beat:1|c\n").as_bytes())
            .expect("write");
        expected.push(format!("dual.udp{i}"));
        expected.push(format!("dual.tcp{i}"));
    }
    assert!(
        wait_until(WAIT, || expected
            .iter()
            .all(|n| server.service(n).is_some())),
        "beats over {hosts:?} did not all land"
    );
}

#[test]
fn a_silent_service_expires_on_its_own_never_early() {
    let dir = TempDir::new("expiry");
    let server = Server::start(dir.path(), "");
    // Created over HTTP, so it is in place (and OK) when the reply comes.
    assert_eq!(server.post("/api/services/exp.a?timeout=2").status, 200);
    let s = server.service("exp.a").expect("exp.a");
    let deadline = s["last_beat"].as_i64().unwrap_or(0) + 2000;
    // Nothing asks it anything but reads: it expires on its own.
    assert!(wait_until(WAIT, || state_of(&server, "exp.a").as_deref()
        == Some("error")));
    let changed = server.service("exp.a").expect("exp.a")["last_state_change"]
        .as_i64()
        .unwrap_or(0);
    assert!(
        changed >= deadline,
        "expired {} ms early",
        deadline - changed
    );
    // A beat brings it back.
    server.post("/api/services/exp.a");
    assert_eq!(state_of(&server, "exp.a").as_deref(), Some("ok"));
}

#[test]
fn mute_unmute_delete_and_unknown_services() {
    let dir = TempDir::new("mute");
    let server = Server::start(dir.path(), "");
    assert_eq!(server.post("/api/services/m.a?timeout=0").status, 200);
    assert_eq!(state_of(&server, "m.a").as_deref(), Some("error"));
    assert_eq!(server.post("/api/services/m.a/mute").text(), "{}\n");
    let s = server.service("m.a").expect("m.a");
    assert_eq!(s["state"], "muted");
    assert!(s["muted_since"].as_i64().unwrap_or(0) > 0);
    assert_eq!(
        server.post("/api/services/m.a/mute").status,
        200,
        "idempotent"
    );
    assert_eq!(server.post("/api/services/m.a/unmute").status, 200);
    assert_eq!(state_of(&server, "m.a").as_deref(), Some("error"));
    for path in ["/api/services/ghost/mute", "/api/services/ghost/unmute"] {
        let r = server.post(path);
        assert_eq!(r.status, 404, "{path}");
        assert!(r.json()["error"].is_string());
    }
    assert_eq!(
        server
            .request("DELETE", "/api/services/ghost", &[], b"")
            .status,
        404
    );
    assert_eq!(server.get("/api/services/ghost").status, 404);
    assert!(server.service("ghost").is_none(), "never created by a 404");
    assert_eq!(
        server
            .request("DELETE", "/api/services/m.a", &[], b"")
            .status,
        200
    );
    assert!(server.service("m.a").is_none());
}

const VIEWS: &str = r#"
[[views]]
name = "web"
includes = ["web.*"]
excludes = ["web.canary.*"]

[[alarms]]
name = "backup-$host"
pattern = "backup.$host.*"
"#;

#[test]
fn views_and_status() {
    let dir = TempDir::new("views");
    let server = Server::start(dir.path(), VIEWS);
    server.post("/api/services/web.front");
    server.post("/api/services/web.canary.x");
    server.post("/api/services/backup.db1.nightly");
    server.post("/api/services/backup.db2.nightly?timeout=0");
    let views = server.json("/api/views");
    let mut names: Vec<&str> = views["views"]
        .as_array()
        .expect("views")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    names.sort();
    assert_eq!(names, ["backup-db1", "backup-db2", "web"]);
    let db2 = server.json("/api/views/backup-db2");
    assert_eq!(db2["view"]["state"], "error");
    assert_eq!(db2["view"]["incident_number"], 1);
    assert_eq!(
        db2["view"]["failed_services"],
        serde_json::json!(["backup.db2.nightly"])
    );
    assert_eq!(db2["services"][0]["name"], "backup.db2.nightly");
    let alarm = server.json("/api/alarms/backup-db2");
    assert_eq!(alarm["alarm"]["incident_nbr"], 1);
    assert_eq!(
        alarm["services"][0]["in_alarms"],
        serde_json::json!(["backup-db2"])
    );
    let filtered = server.json("/api/services?view=web");
    assert_eq!(filtered["services"].as_array().map(Vec::len), Some(1));

    assert_eq!(
        server.get("/status").text(),
        "num_ok 3\nnum_error 1\nhas_error true\ngood false\n"
    );
    let json = server
        .request("GET", "/api/status", &[("Accept", "application/json")], b"")
        .json();
    assert_eq!(
        json,
        serde_json::json!({"num_ok": 3, "num_error": 1, "has_error": true, "good": false})
    );
    assert_eq!(
        server.get("/api/status?view=web").text(),
        "num_ok 1\nnum_error 0\nhas_error false\ngood true\n"
    );
    assert_eq!(
        server.get("/api/views/backup-db2/status").text(),
        "num_ok 0\nnum_error 1\nhas_error true\ngood false\n"
    );
    assert_eq!(server.get("/api/alarms/backup-db1/status").status, 200);
    for path in [
        "/api/status?view=typo",
        "/api/views/typo/status",
        "/api/alarms/typo/status",
    ] {
        assert_eq!(
            server.get(path).status,
            404,
            "{path}: a typo must not read healthy"
        );
    }
    // Deleting a view with members is refused; without members it works.
    assert_eq!(
        server.request("DELETE", "/api/views/web", &[], b"").status,
        409
    );
    server.request("DELETE", "/api/services/web.front", &[], b"");
    assert_eq!(
        server.request("DELETE", "/api/views/web", &[], b"").status,
        200
    );
    assert_eq!(server.get("/api/views/web").status, 404);
}

#[test]
fn sigterm_then_restart_keeps_everything() {
    let dir = TempDir::new("restart");
    let server = Server::start(dir.path(), VIEWS);
    server.post("/api/services/web.a?timeout=1h");
    std::thread::sleep(Duration::from_millis(1100)); // rate limit: 1 beat/s
    server.post("/api/services/web.a");
    server.post("/api/services/web.b?timeout=0");
    server.post("/api/services/web.b/mute");
    server.post("/api/services/plain?timeout=auto");
    let before_a = server.service("web.a").expect("web.a");
    let before_view = server.json("/api/views/web")["view"].clone();
    assert!(server.stop().success());

    let server = Server::start(dir.path(), VIEWS);
    let a = server.service("web.a").expect("web.a kept");
    for key in [
        "last_beat",
        "timeout",
        "beat_history",
        "last_state_change",
        "state",
    ] {
        assert_eq!(a[key], before_a[key], "{key}");
    }
    assert_eq!(a["beat_history"].as_array().map(Vec::len), Some(1));
    let b = server.service("web.b").expect("web.b kept");
    assert_eq!(b["state"], "muted");
    assert_eq!(server.service("plain").expect("plain")["timeout"], -2);
    let view = server.json("/api/views/web")["view"].clone();
    assert_eq!(view["incident_number"], before_view["incident_number"]);
}

#[test]
fn kill9_after_a_mutation_keeps_it() {
    let dir = TempDir::new("kill9");
    // Only the save-soon-after-a-change rule can keep the mutation.
    let config =
        common::base_config(dir.path()).replace("[database]\n", "[database]\ninterval = 3600\n");
    let server = Server::start_with_config(dir.path(), &config);
    assert_eq!(server.post("/api/services/k.a?timeout=5m").status, 200);
    assert_eq!(server.post("/api/services/k.b?timeout=0").status, 200);
    assert_eq!(server.post("/api/services/k.b/mute").status, 200);
    // SPEC 8: saved within 1 s after a change that is not a beat.
    std::thread::sleep(Duration::from_millis(1500));
    server.kill9();
    let server = Server::start_with_config(dir.path(), &config);
    assert_eq!(server.service("k.a").expect("k.a kept")["timeout"], 300_000);
    assert_eq!(server.service("k.b").expect("k.b kept")["state"], "muted");
}

#[test]
fn a_lovebeat_1_0_3_database_loads() {
    let dir = TempDir::new("golden");
    // Keep its views and alert; move only the listeners and the file.
    let cfg = lovebeat_1_0_3_config(dir.path());
    let server = Server::start_with_config(dir.path(), &cfg);
    let go: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{FIXTURE_1_0_3}/go-services.json")).expect("go services"),
    )
    .expect("json");
    for expected in go["services"].as_array().expect("services") {
        let name = expected["name"].as_str().expect("name");
        let ours = server
            .service(name)
            .unwrap_or_else(|| panic!("{name} missing"));
        for key in ["last_beat", "timeout", "muted_since"] {
            assert_eq!(ours[key], expected[key], "{name}.{key}");
        }
    }
    let frontend = server.service("web.frontend").expect("web.frontend");
    assert_eq!(
        frontend["beat_history"],
        serde_json::json!([1111, 1112, 1112, 1112, 1112, 1112, 1112, 1112, 1114, 1114, 1115])
    );
    assert_eq!(
        server.service("web.api.worker").expect("worker")["state"],
        "muted"
    );
    assert_eq!(
        server.service("never.happens").expect("never")["state"],
        "error"
    );
    let alarms = server.json("/api/alarms");
    let incident = |name: &str| {
        alarms["alarms"]
            .as_array()
            .and_then(|a| a.iter().find(|v| v["name"] == name))
            .map(|v| v["incident_nbr"].clone())
    };
    assert_eq!(incident("web"), Some(Value::from(2)));
    assert_eq!(incident("backup-db1"), Some(Value::from(1)));
    assert_eq!(incident("backup-db2"), Some(Value::from(2)));
}

#[test]
fn a_corrupt_database_is_kept_aside_and_the_server_starts_empty() {
    let dir = TempDir::new("corrupt");
    std::fs::write(dir.path().join("lovebeat.db"), b"this is not a database").expect("write");
    let server = Server::start(dir.path(), "");
    assert_eq!(
        server.json("/api/services")["services"],
        serde_json::json!([])
    );
    let kept: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("lovebeat.db.corrupt-")
        })
        .collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(
        std::fs::read(kept[0].path()).expect("read"),
        b"this is not a database"
    );
}

#[test]
fn max_services_gives_503_and_existing_keep_working() {
    let dir = TempDir::new("max");
    let server = Server::start(dir.path(), "[limits]\nmax_services = 2\n");
    assert_eq!(server.post("/api/services/a").status, 200);
    assert_eq!(server.post("/api/services/b").status, 200);
    let r = server.post("/api/services/c");
    assert_eq!(r.status, 503);
    assert!(r.json()["error"]
        .as_str()
        .unwrap_or("")
        .contains("max_services"));
    server.udp_send(b"d.beat:1|c\n");
    assert_eq!(server.post("/api/services/a?timeout=5m").status, 200);
    assert!(server.service("d").is_none());
    assert!(server.service("c").is_none());
}

#[test]
fn sigint_saves_too() {
    let dir = TempDir::new("sigint");
    let server = Server::start(dir.path(), "");
    assert_eq!(server.post("/api/services/i.a?timeout=2h").status, 200);
    server.signal("INT");
    let mut server = server;
    assert!(wait_until(
        WAIT,
        || matches!(server.child.try_wait(), Ok(Some(s)) if s.success())
    ));
    drop(server);
    let server = Server::start(dir.path(), "");
    assert_eq!(server.service("i.a").expect("kept")["timeout"], 7_200_000);
}

#[test]
fn beats_alone_are_saved_by_the_periodic_save() {
    let dir = TempDir::new("periodic");
    let config =
        common::base_config(dir.path()).replace("[database]\n", "[database]\ninterval = 1\n");
    let server = Server::start_with_config(dir.path(), &config);
    assert_eq!(server.post("/api/services/p.a?timeout=1h").status, 200);
    std::thread::sleep(Duration::from_millis(1100)); // past the rate limit
    assert_eq!(server.post("/api/services/p.a").status, 200);
    let beat = server.service("p.a").expect("p.a")["last_beat"].clone();
    // A beat is not a "change": only the 1 s periodic save can keep it.
    std::thread::sleep(Duration::from_millis(2500));
    server.kill9();
    let server = Server::start_with_config(dir.path(), &config);
    assert_eq!(server.service("p.a").expect("kept")["last_beat"], beat);
}

#[test]
fn a_failed_save_is_tried_again() {
    let dir = TempDir::new("retry");
    let db_dir = dir.path().join("not-yet");
    let config = common::base_config(dir.path()).replace(
        &format!("{:?}", dir.path().join("lovebeat.db").display().to_string()),
        &format!("{:?}", db_dir.join("lovebeat.db").display().to_string()),
    );
    assert!(config.contains("not-yet"));
    let server = Server::start_with_config(dir.path(), &config);
    // The change is saved at once, which fails: the directory is missing.
    assert_eq!(server.post("/api/services/r.a?timeout=1h").status, 200);
    assert!(wait_until(WAIT, || server
        .log_text()
        .contains("save failed")
        || server.log_text().contains("trying again")));
    // Nothing else changes; once the directory exists the retry succeeds.
    std::fs::create_dir(&db_dir).expect("mkdir");
    assert!(
        wait_until(Duration::from_secs(20), || db_dir
            .join("lovebeat.db")
            .exists()),
        "no retry; log:\n{}",
        server.log_text()
    );
}

#[test]
fn extreme_values_in_the_database_do_not_crash_it() {
    let dir = TempDir::new("extreme");
    let lines = [
        r#"SERV	{"name":"far.past","last_beat":-9223372036854775000,"timeout":60000,"state":"ok","muted_since":-5,"last_state_change":-9223372036854775000}"#,
        r#"SERV	{"name":"far.future","last_beat":9223372036854775000,"beat_history":[9223372036854775000,1,-7],"timeout":9223372036854775000,"state":"ok","muted_since":0,"last_state_change":0}"#,
        r#"SERV	{"name":"odd.timeout","last_beat":1,"timeout":-77,"state":"error","muted_since":0,"last_state_change":1}"#,
        r#"ALARM	{"name":"v","state":"error","incident_nbr":18446744073709551615,"failed_services":null,"last_state_change":0}"#,
    ];
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, (lines.join("\n") + "\n").as_bytes()).expect("gzip");
    std::fs::write(dir.path().join("lovebeat.db"), gz.finish().expect("gzip")).expect("write");
    let server = Server::start(dir.path(), "");
    for name in ["far.past", "far.future", "odd.timeout"] {
        assert!(server.service(name).is_some(), "{name} loaded");
        assert_eq!(server.post(&format!("/api/services/{name}")).status, 200);
        assert_eq!(
            server
                .post(&format!("/api/services/{name}?timeout=auto"))
                .status,
            200
        );
    }
    assert_eq!(server.service("odd.timeout").expect("odd")["timeout"], -2);
    assert_eq!(server.get("/api/status").status, 200);
    assert!(server.stop().success(), "clean exit after all that");
}

/// A port in use stops start-up with one message that names the key to
/// change (issue 14: it was printed twice, without the key).
#[test]
fn a_port_in_use_is_reported_once_with_its_config_key() {
    let dir = TempDir::new("port-in-use");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = taken.local_addr().expect("addr").port();
    let config = common::base_config(dir.path()).replace(
        "[http]\nlisten = \"127.0.0.1:0\"",
        &format!("[http]\nlisten = \"127.0.0.1:{port}\""),
    );
    let path = dir.path().join("lovebeat.toml");
    std::fs::write(&path, config).expect("write config");
    let out = std::process::Command::new(common::BIN)
        .arg("-config")
        .arg(&path)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run lovebeat");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.matches("cannot listen for HTTP").count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("[http] listen"), "{stderr}");
    drop(taken);
}
