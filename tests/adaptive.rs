//! End-to-end: `timeout = adaptive` (SPEC 19) set over HTTP, shown as -2
//! plus `auto_model` with the model's timeout and deadline, written to the
//! database so Lovebeat 1.0.3 reads an auto timeout, and still adaptive with
//! the same deadline after a restart on the same database.

mod common;

use common::{wait_until, Server, TempDir};
use std::io::Read;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

const VIEWS: &str = r#"
[[views]]
name = "all"
includes = ["*"]
"#;

/// The SERV line of `name` in the database file.
fn stored_line(dir: &std::path::Path, name: &str) -> String {
    let bytes = std::fs::read(dir.join("lovebeat.db")).unwrap_or_default();
    let mut text = String::new();
    let _ = flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_string(&mut text);
    text.lines()
        .find(|l| l.starts_with(&format!("SERV\t{{\"name\":\"{name}\",")))
        .unwrap_or("")
        .to_string()
}

#[test]
fn adaptive_timeout_over_http_survives_a_restart() {
    let dir = TempDir::new("adaptive");
    let server = Server::start(dir.path(), VIEWS);
    let r = server.post("/api/services/ad.a?timeout=adaptive");
    assert_eq!(r.status, 200, "{}", r.text());
    for _ in 0..3 {
        // The rate limit takes one beat a second.
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(server.post("/api/services/ad.a").status, 200);
    }
    let a = server.service("ad.a").expect("ad.a");
    assert_eq!(a["timeout"], -2, "{a}");
    assert_eq!(a["auto_model"], "adaptive", "{a}");
    assert_eq!(a["beat_history"].as_array().map(Vec::len), Some(3), "{a}");
    let in_force = a["timeout_in_force"].as_i64().unwrap_or(-1);
    let last_beat = a["last_beat"].as_i64().unwrap_or(-1);
    assert!(in_force > 0, "learnt from 3 intervals: {a}");
    assert_eq!(
        a["next_deadline"].as_i64(),
        Some(last_beat + in_force),
        "{a}"
    );
    // 1.x clients see an auto timeout and nothing else.
    let alarm = server.json("/api/alarms/all");
    let v1 = alarm["services"].as_array().expect("services");
    assert_eq!(v1.len(), 1, "{alarm}");
    assert_eq!(v1[0]["timeout"], -2, "{alarm}");
    assert!(v1[0].get("auto_model").is_none(), "{alarm}");
    // A plain auto service says nothing of a model.
    assert_eq!(
        server.post("/api/services/ad.plain?timeout=auto").status,
        200
    );
    let plain = server.service("ad.plain").expect("ad.plain");
    assert!(plain.get("auto_model").is_none(), "{plain}");
    assert!(server.stop().success());

    let line = stored_line(dir.path(), "ad.a");
    assert!(
        line.contains("\"timeout\":-2,\"auto_model\":\"adaptive\""),
        "1.0.3 reads -2: {line}"
    );

    let server = Server::start(dir.path(), VIEWS);
    let again = server.service("ad.a").expect("ad.a kept");
    assert_eq!(again["auto_model"], "adaptive", "{again}");
    assert_eq!(again["timeout_in_force"], a["timeout_in_force"], "{again}");
    // The restart grace keeps it from expiring before one timeout after the
    // start; with the same model that is never earlier than before. (The
    // learnt timeout is a few seconds: a host slow enough to let it pass
    // puts it in ERROR, without a deadline.)
    if again["state"] == "ok" {
        let deadline = again["next_deadline"].as_i64().unwrap_or(-1);
        assert!(deadline >= last_beat + in_force, "{again}");
    }
    // Still learning: a beat moves the deadline to the new beat.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(server.post("/api/services/ad.a").status, 200);
    assert!(wait_until(WAIT, || {
        server.service("ad.a").is_some_and(|s| {
            s["beat_history"].as_array().map(Vec::len) == Some(4)
                && s["auto_model"] == "adaptive"
                && s["state"] != "new"
                && (s["state"] == "error"
                    || s["next_deadline"].as_i64()
                        == s["last_beat"]
                            .as_i64()
                            .zip(s["timeout_in_force"].as_i64())
                            .map(|(b, t)| b + t))
        })
    }));
    // Back to auto: the model's key goes.
    assert_eq!(server.post("/api/services/ad.a?timeout=auto").status, 200);
    assert!(server
        .service("ad.a")
        .is_some_and(|s| s.get("auto_model").is_none()));
    assert!(server.stop().success());
}

/// SPEC 19: the model's learnt state is stored (`auto_model_state`), so a
/// service with more than 100 beats keeps its deadline across restarts; from
/// the 100 intervals of the history alone it would get another. The
/// database is seeded with 300 beats (beating that many times over HTTP
/// would take five minutes at one beat a second): 200 with a 10-minute
/// stall every 10th, then 100 regular minutes.
#[test]
fn adaptive_model_state_survives_restarts_beyond_the_history() {
    use lovebeat::engine::adaptive::Adaptive;
    let dir = TempDir::new("adaptive-state");
    let now = lovebeat::clock::now_ms();
    let mut intervals: Vec<i64> = (0..300)
        .map(|i| {
            if i < 200 && i % 10 == 9 {
                600_000
            } else {
                60_000
            }
        })
        .collect();
    let last = now - 5_000;
    let first = last - intervals.iter().sum::<i64>();
    let mut model = Adaptive::new();
    let mut at = first;
    model.observe(at);
    for &i in &intervals {
        at += i;
        model.observe(at);
    }
    let history = intervals.split_off(200);
    let mut rebuilt = Adaptive::new();
    let mut at = last - history.iter().sum::<i64>();
    rebuilt.observe(at);
    for &i in &history {
        at += i;
        rebuilt.observe(at);
    }
    let stored_timeout = model.timeout().expect("learnt");
    assert!(
        rebuilt.timeout().expect("learnt") < stored_timeout,
        "the history alone forgets the stalls"
    );
    let state = lovebeat::base64::standard(&model.to_bytes());
    let history: Vec<String> = history.iter().map(i64::to_string).collect();
    let line = format!(
        "SERV\t{{\"name\":\"ad.long\",\"last_beat\":{last},\"beat_history\":[{}],\
         \"timeout\":-2,\"auto_model\":\"adaptive\",\"auto_model_state\":\"{state}\",\
         \"state\":\"ok\",\"muted_since\":0,\"last_state_change\":{first}}}\n",
        history.join(",")
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, line.as_bytes()).expect("gzip");
    std::fs::write(dir.path().join("lovebeat.db"), gz.finish().expect("gzip")).expect("seed");

    for round in 0..2 {
        let server = Server::start(dir.path(), VIEWS);
        let s = server.service("ad.long").expect("ad.long loaded");
        assert_eq!(s["auto_model"], "adaptive", "{s}");
        assert_eq!(
            s["timeout_in_force"].as_i64(),
            Some(stored_timeout),
            "round {round}: the stored model's timeout, not the rebuilt one: {s}"
        );
        assert!(
            s["next_deadline"].as_i64() >= Some(last + stored_timeout),
            "{s}"
        );
        assert!(server.stop().success());
        let line = stored_line(dir.path(), "ad.long");
        assert!(
            line.contains(&format!("\"auto_model_state\":\"{state}\"")),
            "round {round}: written back unchanged: {line}"
        );
    }

    // It goes on learning from the stored state, not from the history.
    let server = Server::start(dir.path(), VIEWS);
    assert_eq!(server.post("/api/services/ad.long").status, 200);
    let s = server.service("ad.long").expect("ad.long");
    let beat = s["last_beat"].as_i64().expect("last_beat");
    model.observe(beat);
    assert_eq!(s["timeout_in_force"].as_i64(), model.timeout(), "{s}");
    assert!(server.stop().success());
}

/// SPEC 19's 1.x dialect in request bodies: `"timeout": -2` plus
/// `"auto_model": "adaptive"` (what a GET of an adaptive service says) sets
/// the adaptive timeout, in a JSON body, a form body, a job's settings and
/// the query; an unknown `auto_model` is a 400 with a JSON error and
/// changes nothing.
#[test]
fn auto_model_in_request_bodies() {
    let dir = TempDir::new("adaptive-auto-model");
    let server = Server::start(dir.path(), VIEWS);
    let json = [("Content-Type", "application/json")];
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    type Headers<'a> = &'a [(&'a str, &'a str)];
    let sent: [(&str, Headers, &str, &str); 4] = [
        (
            "am.json",
            &json,
            "",
            r#"{"timeout": -2, "auto_model": "adaptive"}"#,
        ),
        ("am.form", &form, "", "timeout=-2&auto_model=adaptive"),
        (
            "am.job",
            &json,
            "",
            r#"{"timeout": -2, "auto_model": "adaptive", "grace": "5m", "beat": false}"#,
        ),
        ("am.query", &[], "?timeout=-2&auto_model=adaptive", ""),
    ];
    for (name, headers, query, body) in sent {
        let path = format!("/api/services/{name}{query}");
        let r = server.request("POST", &path, headers, body.as_bytes());
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        let s = server.service(name).expect(name);
        assert_eq!(s["timeout"], -2, "{name}: {s}");
        assert_eq!(s["auto_model"], "adaptive", "{name}: {s}");
    }

    // Plain -2 is still auto, and a known service keeps its timeout when
    // the model named is unknown.
    let r = server.request(
        "POST",
        "/api/services/am.auto",
        &json,
        br#"{"timeout": -2}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(server
        .service("am.auto")
        .is_some_and(|s| s["timeout"] == -2 && s.get("auto_model").is_none()));
    for (body, says) in [
        (
            r#"{"timeout": -2, "auto_model": "phi"}"#,
            "unknown auto_model \"phi\"",
        ),
        (
            r#"{"timeout": 60, "auto_model": "adaptive"}"#,
            "automatic timeout",
        ),
        (
            r#"{"timeout": -2, "auto_model": ["adaptive"]}"#,
            "must be a string",
        ),
    ] {
        let r = server.request("POST", "/api/services/am.auto", &json, body.as_bytes());
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        let error = r.json()["error"].as_str().unwrap_or("").to_string();
        assert!(error.contains(says), "{body}: {error}");
    }
    let r = server.request(
        "POST",
        "/api/services/am.new",
        &form,
        b"timeout=-2&auto_model=phi",
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        server.service("am.new").is_none(),
        "a refused beat creates nothing"
    );
    assert!(server
        .service("am.auto")
        .is_some_and(|s| s["timeout"] == -2 && s.get("auto_model").is_none()));
    assert!(server.stop().success());
}
