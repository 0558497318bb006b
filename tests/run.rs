//! `lovebeat run NAME -- cmd` (SPEC 17) against a real server: the wrapper
//! reports start and exit code with the output's tail under one rid, passes
//! the output through and the exit code back, forwards SIGTERM, keeps only
//! the tail of a 10 MB output in bounded memory, sends its token, and runs
//! the command all the same when lovebeat is down (one warning).

mod common;

use common::{wait_until, Server, TempDir, BIN};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

fn url(server: &Server) -> String {
    format!("http://{}", server.http)
}

/// `lovebeat run` with `args`, no token from the test's environment.
fn wrapper(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.arg("run")
        .args(args)
        .env_remove("LOVEBEAT_TOKEN")
        .env_remove("LOVEBEAT_TOKEN_FILE")
        .env_remove("LOVEBEAT_URL")
        .stdin(Stdio::null());
    c
}

fn run(args: &[&str]) -> Output {
    wrapper(args).output().expect("run the wrapper")
}

fn events(server: &Server, name: &str) -> Vec<Value> {
    let v = server.json(&format!("/api/services/{name}/events"));
    v["events"].as_array().cloned().unwrap_or_default()
}

/// The last two events: the start and the end, with one rid.
fn start_and_end(server: &Server, name: &str) -> (Value, Value) {
    let list = events(server, name);
    let n = list.len();
    assert!(n >= 2, "{list:?}\n{}", server.log_text());
    let (start, end) = (list[n - 2].clone(), list[n - 1].clone());
    assert_eq!(start["kind"], "start", "{start}");
    let rid = start["rid"].as_str().unwrap_or("");
    assert!(lovebeat::jobs::is_valid_rid(rid), "{start}");
    assert_eq!(end["rid"], start["rid"], "{end}");
    (start, end)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn exit_codes_output_and_settings() {
    let dir = TempDir::new("run-codes");
    let server = Server::start(dir.path(), "");
    let base = url(&server);

    let out = run(&[
        "--url",
        &base,
        "--schedule",
        "0 3 * * *",
        "--grace=1h",
        "nightly.ok",
        "--",
        "sh",
        "-c",
        "echo to-stdout; echo to-stderr >&2",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "to-stdout\n");
    assert_eq!(text(&out.stderr), "to-stderr\n", "no warning");
    let s = server.service("nightly.ok").expect("the service");
    assert_eq!(s["state"], "ok", "{s}");
    assert_eq!(s["last_exit_code"], 0, "{s}");
    assert_eq!(s["schedule"], "0 3 * * *", "set by the start: {s}");
    assert_eq!(s["grace"], 3_600_000, "{s}");
    let (_, end) = start_and_end(&server, "nightly.ok");
    assert_eq!(end["kind"], "exit", "{end}");
    assert_eq!(end["exit_code"], 0, "{end}");
    let body = end["body"].as_str().unwrap_or("");
    assert!(
        body.contains("to-stdout\n") && body.contains("to-stderr\n"),
        "{end}"
    );

    // Exit 3: passed back, and the service fails with it.
    let out = run(&[
        "nightly.bad",
        "-url",
        &base,
        "--",
        "sh",
        "-c",
        "echo 'No space left' >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(text(&out.stderr), "No space left\n");
    let s = server.service("nightly.bad").expect("the service");
    assert_eq!(s["state"], "error", "{s}");
    assert_eq!(s["last_exit_code"], 3, "{s}");
    let (_, end) = start_and_end(&server, "nightly.bad");
    assert_eq!(end["exit_code"], 3, "{end}");
    assert_eq!(end["body"], "No space left\n", "{end}");

    // Two runs get two rids; a command that cannot run is a 127.
    let first = events(&server, "nightly.ok")[0]["rid"].clone();
    let out = run(&["--url", &base, "nightly.ok", "--", "/no/such/command"]);
    assert_eq!(out.status.code(), Some(127));
    assert!(
        text(&out.stderr).contains("cannot run"),
        "{}",
        text(&out.stderr)
    );
    let (start, end) = start_and_end(&server, "nightly.ok");
    assert_ne!(start["rid"], first);
    assert_eq!(end["exit_code"], 127, "{end}");

    // Usage errors run nothing and say why.
    let out = run(&["--url", &base, "Bad", "--", "echo", "ran"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("service name"));
    assert_eq!(text(&out.stdout), "", "nothing runs");
    assert!(server.service("bad").is_none());
}

#[test]
fn sigterm_is_forwarded_and_the_run_fails() {
    let dir = TempDir::new("run-signal");
    let server = Server::start(dir.path(), "");
    let base = url(&server);
    let mut child = wrapper(&[
        "--url",
        &base,
        "long.job",
        "--",
        "sh",
        "-c",
        "echo ready; exec sleep 60",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn the wrapper");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout
        .read_line(&mut line)
        .expect("the command's first line");
    assert_eq!(line, "ready\n");
    assert!(
        wait_until(WAIT, || server
            .service("long.job")
            .is_some_and(|s| s["open_runs"] == 1)),
        "the start arrives while the command runs"
    );
    // SAFETY: kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let mut status = None;
    assert!(wait_until(WAIT, || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    }));
    assert_eq!(status.and_then(|s| s.code()), Some(143), "128 + SIGTERM");
    let mut err = String::new();
    let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
    assert!(!err.contains("warning"), "{err}");
    let s = server.service("long.job").expect("the service");
    assert_eq!(s["state"], "error", "{s}");
    assert!(s.get("open_runs").is_none(), "{s}");
    let (_, end) = start_and_end(&server, "long.job");
    assert_eq!(end["kind"], "fail", "{end}");
    let body = end["body"].as_str().unwrap_or("");
    assert!(body.starts_with("ready\n"), "{end}");
    assert!(body.contains("killed by signal SIGTERM (15)"), "{end}");
}

/// Prints the peak memory of the shell's parent, the wrapper.
const HWM: &str = "grep VmHWM /proc/$PPID/status >&2";

/// The `VmHWM` the command printed on stderr, in kB.
fn peak_kb(out: &Output) -> u64 {
    let err = text(&out.stderr);
    err.split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("VmHWM on stderr: {err}"))
}

#[test]
fn ten_megabytes_pass_through_and_only_the_tail_is_sent() {
    let dir = TempDir::new("run-big");
    let server = Server::start(dir.path(), "");
    let base = url(&server);
    // 10 MB of lines, then the end; at the end the wrapper's peak memory
    // (its pid is the shell's parent) goes to stderr.
    let script = "i=0; while [ $i -lt 100 ]; do head -c 99999 /dev/zero | tr '\\0' x; echo; \
                  i=$((i+1)); done; echo the-end; grep VmHWM /proc/$PPID/status >&2";
    assert!(script.ends_with(HWM));
    let out = run(&["--url", &base, "big.job", "--", "sh", "-c", script]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(out.stdout.len(), 10_000_000 + "the-end\n".len());
    assert!(out.stdout.ends_with(b"x\nthe-end\n"));
    assert_eq!(out.stdout.iter().filter(|b| **b == b'\n').count(), 101);
    // The same wrapper's peak with next to no output: keeping the 10 MB
    // would add 10 MB to it.
    let small = run(&["--url", &base, "small.job", "--", "sh", "-c", HWM]);
    let (big_kb, small_kb) = (peak_kb(&out), peak_kb(&small));
    assert!(
        big_kb < small_kb + 4_096,
        "the wrapper's memory stays bounded: peak {big_kb} kB for 10 MB of output, \
         {small_kb} kB for none"
    );
    let (_, end) = start_and_end(&server, "big.job");
    assert_eq!(end["exit_code"], 0, "{end}");
    let body = end["body"].as_str().unwrap_or("");
    assert_eq!(
        body.len(),
        10_000,
        "the last max_body_bytes: {}",
        body.len()
    );
    assert_eq!(end["body_truncated"], false, "cut by the wrapper: {end}");
    // The tail holds the end of both streams. Each is read by its own
    // thread, so stderr's line may come before stdout's last bytes (CI saw
    // "xxVmHWM: ...\n\nthe-end\n"): only each stream's own order holds.
    assert!(body.contains("\nthe-end\n"), "stdout's end: {body}");
    assert!(body.contains("VmHWM:"), "stderr's line: {body}");
}

#[test]
fn the_token_is_sent() {
    let dir = TempDir::new("run-token");
    let token = "run-token-0123456789abcdef";
    let http = "[http]\nlisten = \"127.0.0.1:0\"\n";
    let config =
        common::base_config(dir.path()).replace(http, &format!("{http}auth_token = \"{token}\"\n"));
    let server = Server::start_with_config(dir.path(), &config);
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{token}\n")).expect("write the token");
    let out = wrapper(&["tok.job", "--", "true"])
        .env("LOVEBEAT_URL", url(&server))
        .env("LOVEBEAT_TOKEN_FILE", &file)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stderr), "");
    let (_, end) = start_and_end(&server, "tok.job");
    assert_eq!(end["exit_code"], 0, "{end}");

    // A wrong token: refused at once (no retries), one warning, exit 0.
    let out = wrapper(&["--url", &url(&server), "tok.job", "--", "true"])
        .env("LOVEBEAT_TOKEN", "wrong")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("warning") && err.contains("401"), "{err}");
}

#[test]
fn lovebeat_down_the_command_runs_and_one_warning() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let out = run(&[
        "--url",
        &format!("http://127.0.0.1:{port}"),
        "down.job",
        "--",
        "sh",
        "-c",
        "echo ran; exit 5",
    ]);
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(text(&out.stdout), "ran\n");
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "one warning: {err}");
    assert!(err.starts_with("lovebeat run: warning:"), "{err}");
    assert!(err.contains("cannot reach"), "{err}");
}
