//! The command line of the real binary: flags, config errors, -check-config,
//! -validate-auto, -simulate, and listeners disabled by an empty listen.

mod common;

use common::{Server, TempDir, BIN};
use std::io::Write;
use std::process::{Command, Stdio};

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run lovebeat");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn version_with_one_or_two_dashes() {
    for flag in ["-version", "--version"] {
        let (code, out, _) = run(&[flag]);
        assert_eq!(code, 0);
        assert!(out.starts_with("lovebeat "), "{out}");
    }
}

#[test]
fn unknown_flag_exits_2() {
    let (code, _, err) = run(&["-frobnicate"]);
    assert_eq!(code, 2);
    assert!(err.contains("frobnicate"), "{err}");
}

#[test]
fn validate_auto_prints_the_reference_sequence() {
    let mut child = Command::new(BIN)
        .arg("-validate-auto")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let input = "60000\n61000\n59000\n60500\n300000\n60000\n60200\n59800\n60100\n60000\n60000\n60000\nend\n99\n";
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    // It stops at "end", names that line and exits 2 (issue 14).
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 13") && err.contains("\"end\""), "{err}");
    let got: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(
        got,
        "61000 63059 63533 63410 433507 395803 364543 338230 315699 296150 62326 62227"
            .split(' ')
            .map(str::to_string)
            .collect::<Vec<_>>()
    );
    let (code, out, _) = {
        let out = Command::new(BIN)
            .arg("--validate-auto")
            .stdin(Stdio::null())
            .output()
            .expect("run");
        (out.status.code(), out.stdout, ())
    };
    assert_eq!((code, out.len()), (Some(0), 0), "empty input, no output");
}

/// Runs `lovebeat ARGS` with `input` on stdin: (exit code, stdout, stderr).
fn run_with_input(args: &[&str], input: &str) -> (Option<i32>, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // It may exit before reading (an unknown model): a broken pipe is fine.
    let _ = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes());
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn simulate_auto_gives_last_beat_plus_the_auto_timeout() {
    // Beats 60 s apart, then one within the rate limit (dropped, the
    // deadline repeats), then SPEC 2.3's [60000, 61000] → 63059.
    let t = 1_795_392_000_000_i64;
    let input = format!("{t}\n{}\n{}\n{}\n", t + 60_000, t + 60_400, t + 121_000);
    let (code, out, err) = run_with_input(&["-simulate", "auto"], &input);
    assert_eq!(code, Some(0), "{err}");
    let want = [
        -1,
        t + 60_000 + 61_000,
        t + 60_000 + 61_000,
        t + 121_000 + 63_059,
    ];
    let got: Vec<i64> = out.lines().map(|l| l.parse().expect("integer")).collect();
    assert_eq!(got, want);
}

#[test]
fn simulate_adaptive_answers_each_beat_and_names_a_bad_line() {
    let t = 1_795_392_000_000_i64;
    let input = format!(
        "{t}\n{}\n{}\n12:00\n{}\n",
        t + 60_000,
        t + 120_000,
        t + 180_000
    );
    for flag in ["-simulate", "--simulate"] {
        let (code, out, err) = run_with_input(&[flag, "adaptive"], &input);
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains("line 4") && err.contains("\"12:00\""), "{err}");
        let got: Vec<i64> = out.lines().map(|l| l.parse().expect("integer")).collect();
        assert_eq!(got.len(), 3, "{out}");
        assert_eq!(got[0], -1, "no deadline before an interval is known");
        // A deadline after the beat, and not absurdly far (floor/ceiling).
        for (k, beat) in [(1, t + 60_000), (2, t + 120_000)] {
            assert!(
                got[k] > beat + 60_000 && got[k] <= beat + 240_000 + 1000,
                "{got:?}"
            );
        }
    }
    let (code, _, err) = run_with_input(&["-simulate=adaptive"], "");
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn simulate_rejects_an_unknown_model_or_a_missing_one() {
    let (code, out, err) = run_with_input(&["-simulate", "phi"], "1000\n");
    assert_eq!(code, Some(2));
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("\"phi\"") && err.contains("adaptive"), "{err}");
    let (code, _, err) = run(&["-simulate"]);
    assert_eq!(code, 2);
    assert!(err.contains("simulate"), "{err}");
}

#[test]
fn check_config_accepts_good_and_names_file_line_key_for_bad() {
    let dir = TempDir::new("cfg");
    let good = dir.path().join("good.toml");
    std::fs::write(&good, "[http]\nlisten = \":8080\"\n").expect("write");
    let (code, out, err) = run(&["-check-config", "-config", good.to_str().unwrap_or("")]);
    assert_eq!(code, 0, "{err}");
    // It says which files it read (issue 14), and when there were none.
    assert!(
        out.contains("configuration OK") && out.contains("good.toml"),
        "{out}"
    );
    let empty_dir = dir.path().join("conf.d");
    std::fs::create_dir(&empty_dir).expect("mkdir");
    let (code, out, err) = run(&[
        "-check-config",
        "-config-dir",
        empty_dir.to_str().unwrap_or(""),
    ]);
    assert_eq!(code, 0, "{err}");
    if !std::path::Path::new("/etc/lovebeat.toml").exists()
        && !std::path::Path::new("/etc/lovebeat.cfg").exists()
    {
        assert!(out.contains("built-in defaults only"), "{out}");
    }
    let (code, _, err) = run(&["-check-config", "-config-dir", "/nonexistent-lovebeat-dir"]);
    assert_eq!(code, 2);
    assert!(err.contains("configuration directory not found"), "{err}");

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[http]\nlisten = \":8080\"\n\n[udp]\nlisen = \":8127\"\n",
    )
    .expect("write");
    let (code, _, err) = run(&["--check-config", "--config", bad.to_str().unwrap_or("")]);
    assert_eq!(code, 2);
    assert!(err.contains("bad.toml"), "names the file: {err}");
    assert!(
        err.contains(":5") || err.contains("line 5"),
        "names the line: {err}"
    );
    assert!(err.contains("lisen"), "names the key: {err}");

    let missing = dir.path().join("missing.toml");
    let (code, _, err) = run(&["-config", missing.to_str().unwrap_or("")]);
    assert_eq!(code, 2);
    assert!(err.contains("missing.toml"), "{err}");

    let alert = dir.path().join("alert.toml");
    std::fs::write(
        &alert,
        "[[views]]\nname = \"v\"\npattern = \"*\"\nalerts = [\"nope\"]\n",
    )
    .expect("write");
    let (code, _, err) = run(&["-check-config", "-config", alert.to_str().unwrap_or("")]);
    assert_eq!(code, 2);
    assert!(err.contains("nope"), "names the unknown alert: {err}");
}

#[test]
fn config_dir_merges_in_name_order_skipping_hidden_files() {
    let dir = TempDir::new("cfgdir");
    let confd = dir.path().join("conf.d");
    std::fs::create_dir(&confd).expect("mkdir");
    std::fs::write(
        confd.join("10-views.toml"),
        "[[views]]\nname = \"a\"\npattern = \"a.*\"\n",
    )
    .expect("write");
    std::fs::write(
        confd.join("20-views.toml"),
        "[[views]]\nname = \"b\"\npattern = \"b.*\"\n",
    )
    .expect("write");
    std::fs::write(confd.join(".hidden.toml"), "this is not toml at all [").expect("write");
    let main = dir.path().join("lovebeat.toml");
    std::fs::write(&main, common::base_config(dir.path())).expect("write");
    let server = {
        let mut child = Command::new(BIN)
            .args([
                "-config",
                main.to_str().unwrap_or(""),
                "-config-dir",
                confd.to_str().unwrap_or(""),
            ])
            .current_dir(dir.path())
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn");
        // Reuse the harness's log parsing by wrapping the child.
        let stderr = child.stderr.take().expect("stderr");
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                sink.lock().expect("lock").push(line);
            }
        });
        let mut http = None;
        common::wait_until(std::time::Duration::from_secs(20), || {
            http = log.lock().expect("lock").iter().find_map(|l| {
                let p = "HTTP listening on ";
                l[l.find(p)? + p.len()..]
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
            });
            http.is_some()
        });
        (child, http.expect("server started"))
    };
    let (mut child, http) = server;
    common::request(http, "POST", "/api/services/a.x", &[], b"");
    common::request(http, "POST", "/api/services/b.x", &[], b"");
    let views = common::request(http, "GET", "/api/views", &[], b"").json();
    let _ = child.kill();
    let _ = child.wait();
    let mut names: Vec<String> = views["views"]
        .as_array()
        .expect("views")
        .iter()
        .filter_map(|v| v["name"].as_str().map(str::to_string))
        .collect();
    names.sort();
    assert_eq!(names, ["a", "b"]);
}

#[test]
fn an_empty_listen_disables_that_listener() {
    let dir = TempDir::new("nolisten");
    let server = Server::start(dir.path(), "");
    assert!(server.udp.is_some() && server.tcp.is_some());
    drop(server);
    let config = format!(
        "[udp]\nlisten = \"\"\n[tcp]\nlisten = \"\"\n[http]\nlisten = \"127.0.0.1:0\"\n[database]\nfilename = {:?}\n",
        dir.path().join("lovebeat.db").display().to_string()
    );
    let server = Server::start_with_config(dir.path(), &config);
    assert!(server.udp.is_none(), "{}", server.log_text());
    assert!(server.tcp.is_none());
    assert_eq!(server.get("/api/services").status, 200);
}

#[test]
fn check_config_names_the_services_block_and_key() {
    let dir = TempDir::new("cfg-services");
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "[[services]]\npattern = \"backup.*\"\nschedule = \"0 2 * * *\"\ntz = \"Europe/Berlin\"\ngrace = \"1h\"\n",
    )
    .expect("write");
    let (code, _, err) = run(&["-check-config", "-config", good.to_str().unwrap_or("")]);
    assert_eq!(code, 0, "{err}");
    for (body, key, needle) in [
        ("schedule = \"61 * * * *\"", "schedule", "minute"),
        ("tz = \"Mars/Olympus\"", "tz", "Mars/Olympus"),
        (
            "max_runtime = \"2 fortnights\"",
            "max_runtime",
            "2 fortnights",
        ),
        ("colour = \"red\"", "colour", "unknown field"),
    ] {
        let bad = dir.path().join("bad.toml");
        std::fs::write(
            &bad,
            format!(
                "[[services]]\npattern = \"a.*\"\n\n[[services]]\npattern = \"backup.*\"\n{body}\n"
            ),
        )
        .expect("write");
        let (code, _, err) = run(&["-check-config", "-config", bad.to_str().unwrap_or("")]);
        assert_eq!(code, 2, "{body}: {err}");
        assert!(err.contains("bad.toml:6"), "names file and line: {err}");
        assert!(
            err.contains(&format!("services[1].{key}")),
            "names block and key: {err}"
        );
        assert!(err.contains(needle), "says what is wrong: {err}");
    }
}
