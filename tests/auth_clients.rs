//! Clients of a lovebeat that wants an access token: another lovebeat
//! sending its `[[notify]]` beats (with and without `token`), and the nagios
//! plugin (`LOVEBEAT_TOKEN`, `LOVEBEAT_TOKEN_FILE`). Real processes only.

mod common;

use common::{wait_until, Server, TempDir};
use std::process::Command;
use std::time::Duration;

const TOKEN: &str = "clients-token-0123456789";
const WAIT: Duration = Duration::from_secs(30);
const PLUGIN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/nagios/check_lovebeat");

/// A server whose `[http]` section also has `http_extra`, plus `extra`.
fn start(dir: &TempDir, http_extra: &str, extra: &str) -> Server {
    let http = "[http]\nlisten = \"127.0.0.1:0\"\n";
    let config = common::base_config(dir.path()).replace(http, &format!("{http}{http_extra}"));
    Server::start_with_config(dir.path(), &format!("{config}{extra}"))
}

fn monitor_service() -> String {
    let host = lovebeat::notify::service_host(&lovebeat::notify::hostname());
    format!("lovebeat.{host}.monitor")
}

#[test]
fn notify_token_reaches_a_lovebeat_that_requires_it() {
    let dir_b = TempDir::new("notify-token-b");
    let b = start(&dir_b, &format!("auth_token = \"{TOKEN}\"\n"), "");
    let name = monitor_service();
    let target = format!("[[notify]]\nlovebeat = \"http://{}\"\n", b.http);

    // Without the token the other side refuses, and says so in both logs.
    let dir_a = TempDir::new("notify-token-a1");
    let a = start(&dir_a, "", &target);
    let refused = wait_until(WAIT, || {
        b.log_text()
            .contains(&format!("HTTP POST /api/services/{name} refused: Missing"))
    });
    assert!(
        refused,
        "no refusal on the receiving side:\n{}",
        b.log_text()
    );
    let told = wait_until(WAIT, || {
        a.log_text()
            .contains("HTTP 401: the other lovebeat wants its [http] auth_token")
    });
    assert!(told, "the sender did not log why:\n{}", a.log_text());
    assert!(b.service(&name).is_none(), "refused beats created nothing");
    a.kill9();

    // A wrong token: refused too.
    let dir_w = TempDir::new("notify-token-aw");
    let wrong = start(
        &dir_w,
        "",
        &format!("{target}token = \"clients-token-wrong-wrong\"\n"),
    );
    let refused = wait_until(WAIT, || {
        b.log_text()
            .contains(&format!("HTTP POST /api/services/{name} refused: Wrong"))
    });
    assert!(refused, "a wrong token was not refused:\n{}", b.log_text());
    let told = wait_until(WAIT, || wrong.log_text().contains("ours was refused"));
    assert!(told, "the sender did not log why:\n{}", wrong.log_text());
    assert!(b.service(&name).is_none());
    wrong.kill9();

    // With the right token the `.monitor` service appears.
    let dir_ok = TempDir::new("notify-token-a2");
    let a = start(&dir_ok, "", &format!("{target}token = \"{TOKEN}\"\n"));
    let arrived = wait_until(WAIT, || b.service(&name).is_some());
    assert!(
        arrived,
        "{name} never arrived:\n{}\n{}",
        a.log_text(),
        b.log_text()
    );
    assert!(
        !a.log_text().contains("notify: POST"),
        "no failed post:\n{}",
        a.log_text()
    );
}

fn check(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let out = Command::new("bash")
        .arg(PLUGIN)
        .args(args)
        .env("CHECK_LOVEBEAT_TIMEOUT", "5")
        .env_remove("LOVEBEAT_TOKEN")
        .env_remove("LOVEBEAT_TOKEN_FILE")
        .envs(env.iter().copied())
        .output()
        .expect("run check_lovebeat");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(stdout.lines().count(), 1, "one status line: {stdout:?}");
    (
        out.status.code().unwrap_or(-1),
        stdout.trim_end().to_owned(),
    )
}

#[test]
fn nagios_plugin_with_a_token() {
    let dir = TempDir::new("nagios-token");
    let s = start(
        &dir,
        &format!("auth_token = \"{TOKEN}\"\nauth_read = true\n"),
        "[[views]]\nname = \"web\"\npattern = \"web.*\"\n",
    );
    let addr = s.http.to_string();
    let auth = format!("Bearer {TOKEN}");
    for name in ["web.a", "db.a"] {
        let r = s.request(
            "POST",
            &format!("/api/services/{name}"),
            &[("Authorization", &auth)],
            b"",
        );
        assert_eq!(r.status, 200);
    }

    let (code, line) = check(&[&addr], &[]);
    assert_eq!(code, 3, "{line}");
    assert!(
        line.contains("needs an access token") && line.contains("LOVEBEAT_TOKEN"),
        "{line}"
    );

    let (code, line) = check(&[&addr], &[("LOVEBEAT_TOKEN", TOKEN)]);
    assert_eq!(code, 0, "{line}");
    assert!(line.starts_with("OK - ok: 2, errors: 0"), "{line}");
    let (code, line) = check(&[&addr, "web"], &[("LOVEBEAT_TOKEN", TOKEN)]);
    assert_eq!(code, 0, "{line}");
    assert!(line.starts_with("OK - ok: 1, errors: 0"), "{line}");

    let (code, line) = check(&[&addr], &[("LOVEBEAT_TOKEN", "clients-token-wrong-wrong")]);
    assert_eq!(code, 3, "{line}");
    assert!(line.contains("refused the access token"), "{line}");

    // From a file (a trailing CRLF is fine).
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{TOKEN}\r\n")).expect("write token");
    let file = file.to_string_lossy().into_owned();
    let (code, line) = check(&[&addr], &[("LOVEBEAT_TOKEN_FILE", &file)]);
    assert_eq!(code, 0, "{line}");
    let missing = dir.path().join("nope").to_string_lossy().into_owned();
    let (code, line) = check(&[&addr], &[("LOVEBEAT_TOKEN_FILE", &missing)]);
    assert_eq!(code, 3, "{line}");
    assert!(line.contains("cannot read LOVEBEAT_TOKEN_FILE"), "{line}");

    // An error still shows as CRITICAL through the token.
    let r = s.request(
        "POST",
        "/api/services/db.b?timeout=0",
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(r.status, 200);
    let (code, line) = check(&[&addr], &[("LOVEBEAT_TOKEN", TOKEN)]);
    assert_eq!(code, 2, "{line}");
    assert!(line.starts_with("CRITICAL - ok: 2, errors: 1"), "{line}");
}
