//! The nagios plugin `contrib/nagios/check_lovebeat` against a live server.

mod common;

use common::{Server, TempDir};
use std::net::TcpListener;
use std::process::Command;

const PLUGIN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/nagios/check_lovebeat");

fn check(args: &[&str]) -> (i32, String) {
    let out = Command::new("bash")
        .arg(PLUGIN)
        .args(args)
        .env("CHECK_LOVEBEAT_TIMEOUT", "5")
        .output()
        .expect("run check_lovebeat");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(stdout.lines().count(), 1, "one status line: {stdout:?}");
    (
        out.status.code().unwrap_or(-1),
        stdout.trim_end().to_string(),
    )
}

#[test]
fn ok_critical_unknown_view_and_down() {
    let dir = TempDir::new("nagios");
    let server = Server::start(
        dir.path(),
        "[[views]]\nname = \"web\"\npattern = \"web.*\"\n",
    );
    let addr = server.http.to_string();
    server.post("/api/services/web.a");
    server.post("/api/services/db.a");

    let (code, line) = check(&[&addr]);
    assert_eq!(code, 0, "{line}");
    assert!(line.starts_with("OK - ok: 2, errors: 0"), "{line}");

    server.post("/api/services/db.b?timeout=0");
    let (code, line) = check(&[&addr]);
    assert_eq!(code, 2, "{line}");
    assert!(line.starts_with("CRITICAL - ok: 2, errors: 1"), "{line}");

    let (code, line) = check(&[&addr, "web"]);
    assert_eq!(code, 0, "only the view's members count: {line}");
    assert!(line.starts_with("OK - ok: 1, errors: 0"), "{line}");

    let (code, line) = check(&[&addr, "typo"]);
    assert_eq!(code, 2, "{line}");
    assert!(line.contains("does not exist"), "{line}");

    drop(server);
    // A port nobody listens on.
    let free = TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = free.local_addr().expect("addr").to_string();
    drop(free);
    let (code, line) = check(&[&dead]);
    assert_eq!(code, 2, "{line}");
    assert!(line.starts_with("CRITICAL - cannot reach"), "{line}");

    let (code, line) = check(&[]);
    assert_eq!(code, 3, "{line}");
}
