//! SPEC 16's chat channels against real HTTP receivers on 127.0.0.1:
//! Telegram (`sendMessage`), Matrix (`PUT m.room.message`) and the
//! templated `http` request, for ERROR and recovery, every documented
//! field checked; a Matrix retry reuses its transaction id; failures are
//! logged with the receiver's answer and no secret anywhere (log, history,
//! `-check-config`); `-test-alert` goes through all three.

mod common;
#[path = "support/receiver.rs"]
mod receiver;

use common::{wait_until, Server, TempDir, BIN};
use receiver::{Received, Receiver};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

const BOT_TOKEN: &str = "123456:TgS3cretBotToken";
const ACCESS_TOKEN: &str = "syt_MatrixS3cretAccess";
const HOOK_TOKEN: &str = "HookS3cretQuery";
const HEADER_SECRET: &str = "Bearer HdrS3cretValue";
const SECRETS: [&str; 4] = [BOT_TOKEN, ACCESS_TOKEN, HOOK_TOKEN, HEADER_SECRET];

const CHAT: &str = "-100777";
const ROOM: &str = "!room:lb.test";
const ROOM_PATH: &str = "/_matrix/client/v3/rooms/%21room%3Alb.test/send/m.room.message/";

/// The channels' config, each pointed at its receiver, through alert
/// `ops` of view `web`.
fn config(tg: &Receiver, mx: &Receiver, hook: &Receiver) -> String {
    config_at(&tg.url(""), &mx.url(""), &hook.url(""))
}

/// [`config`] with the receivers' base URLs (`http://127.0.0.1:port`).
fn config_at(tg: &str, mx: &str, hook: &str) -> String {
    let body = r#"{"view": "{{view}}", "state": "{{state}}", "previous": "{{previous_state}}", "incident": {{incident}}, "failed": "{{failed_services}}", "reasons": "{{reasons}}", "url": "{{url}}"}"#;
    format!(
        "[general]\npublic_url = \"http://lb.test/\"\n\
         [telegram]\nbot_token = \"{BOT_TOKEN}\"\napi_base = \"{tg}\"\n\
         [matrix]\nhomeserver = \"{mx}/\"\naccess_token = \"{ACCESS_TOKEN}\"\n\
         [[views]]\nname = \"web\"\npattern = \"web.*\"\nalerts = [\"ops\"]\n\
         [alerts.ops]\ntelegram = \"{CHAT}\"\nmatrix = \"{ROOM}\"\n\
         http = {{ url = \"{hook}/hook?token={HOOK_TOKEN}\", method = \"PUT\", headers = {{ Authorization = \"{HEADER_SECRET}\", X-Source = \"lb\" }}, body = '{body}' }}\n"
    )
}

fn fail(server: &Server, name: &str) {
    let r = server.post(&format!("/api/services/{name}?timeout=0"));
    assert_eq!(r.status, 200, "{}", r.text());
}

fn recover(server: &Server, name: &str) {
    let r = server.post(&format!("/api/services/{name}?timeout=none"));
    assert_eq!(r.status, 200, "{}", r.text());
}

fn wait_count(server: &Server, rx: &Receiver, n: usize, what: &str) -> Vec<Received> {
    assert!(
        wait_until(WAIT, || rx.all().len() >= n),
        "{what}: {} of {n} requests; log:\n{}",
        rx.all().len(),
        server.log_text()
    );
    rx.all()
}

fn wait_logged(server: &Server, text: &str) {
    assert!(
        wait_until(WAIT, || server.log_text().contains(text)),
        "never logged {text:?}; log:\n{}",
        server.log_text()
    );
}

fn check_telegram(r: &Received, state: &str) -> String {
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, format!("/bot{BOT_TOKEN}/sendMessage"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body = r.json();
    assert_eq!(body["chat_id"], CHAT);
    assert_eq!(body["parse_mode"], "HTML");
    let text = body["text"].as_str().unwrap_or_default().to_string();
    assert!(
        text.starts_with(&format!("<b>web is {state} (incident 1)</b>\n")),
        "{text}"
    );
    assert!(
        text.ends_with("<a href=\"http://lb.test/views/web\">http://lb.test/views/web</a>"),
        "{text}"
    );
    text
}

fn check_matrix(r: &Received, state: &str) -> String {
    assert_eq!(r.method, "PUT");
    assert!(r.path.starts_with(ROOM_PATH), "{}", r.path);
    let txn = &r.path[ROOM_PATH.len()..];
    assert!(txn.starts_with("lovebeat-"), "{txn}");
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {ACCESS_TOKEN}").as_str())
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body = r.json();
    assert_eq!(body["msgtype"], "m.text");
    let text = body["body"].as_str().unwrap_or_default().to_string();
    assert!(
        text.starts_with(&format!("web is {state} (incident 1)\n")),
        "{text}"
    );
    assert!(text.contains("http://lb.test/views/web"), "{text}");
    text
}

fn check_hook(r: &Received) -> serde_json::Value {
    assert_eq!(r.method, "PUT");
    assert_eq!(r.path, format!("/hook?token={HOOK_TOKEN}"));
    assert_eq!(r.header("authorization"), Some(HEADER_SECRET));
    assert_eq!(r.header("x-source"), Some("lb"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body = r.json();
    assert_eq!(body["view"], "web");
    assert_eq!(body["incident"], 1);
    assert_eq!(body["url"], "http://lb.test/views/web");
    body
}

#[test]
fn telegram_matrix_and_template_send_the_documented_requests_on_error_and_recovery() {
    let tg = Receiver::start(Box::new(|_, _| 200));
    // Matrix: the first attempt of every message fails (500), so its retry
    // shows the transaction id is kept.
    let mx = Receiver::start(Box::new(|_, n| if n == 1 { 500 } else { 200 }));
    let hook = Receiver::start(Box::new(|_, _| 200));
    let dir = TempDir::new("chan-chat");
    let server = Server::start(dir.path(), &config(&tg, &mx, &hook));
    recover(&server, "web.ok");
    fail(&server, "web.a");

    let got = wait_count(&server, &tg, 1, "telegram ERROR");
    let text = check_telegram(&got[0], "ERROR");
    assert!(text.contains("changed from 'OK' to 'ERROR'"), "{text}");
    assert!(text.contains("\n• web.a: "), "the service and why: {text}");
    assert!(!text.contains("web.ok"), "{text}");

    let got = wait_count(&server, &mx, 2, "matrix ERROR and its retry");
    let text = check_matrix(&got[1], "ERROR");
    assert!(text.contains("  - web.a: "), "{text}");
    assert_eq!(got[0].path, got[1].path, "a retry keeps its txn id");
    assert_eq!(got[0].body, got[1].body);

    let got = wait_count(&server, &hook, 1, "template ERROR");
    let body = check_hook(&got[0]);
    assert_eq!(body["state"], "ERROR");
    assert_eq!(body["previous"], "OK");
    assert_eq!(body["failed"], "web.a");
    let reasons = body["reasons"].as_str().unwrap_or_default();
    assert!(reasons.starts_with("web.a: "), "{reasons}");
    wait_logged(&server, &format!("alert ops sent (telegram to {CHAT})"));
    wait_logged(&server, &format!("alert ops sent (matrix to {ROOM})"));
    wait_logged(
        &server,
        &format!("alert ops sent (template to http://{}/…)", hook.addr),
    );

    recover(&server, "web.a");
    let got = wait_count(&server, &tg, 2, "telegram recovery");
    let text = check_telegram(&got[1], "OK");
    assert!(text.contains("changed from 'ERROR' to 'OK'"), "{text}");
    assert!(!text.contains("Failed services"), "{text}");

    let got = wait_count(&server, &mx, 4, "matrix recovery and its retry");
    let text = check_matrix(&got[3], "OK");
    assert!(text.contains("changed from 'ERROR' to 'OK'"), "{text}");
    assert_eq!(got[2].path, got[3].path, "a retry keeps its txn id");
    assert_ne!(got[1].path, got[3].path, "a new message, a new txn id");

    let got = wait_count(&server, &hook, 2, "template recovery");
    let body = check_hook(&got[1]);
    assert_eq!(body["state"], "OK");
    assert_eq!(body["previous"], "ERROR");
    assert_eq!(body["failed"], "");
    assert_eq!(body["reasons"], "");
}

#[test]
fn failures_are_logged_with_the_answer_and_no_secret_is_shown_anywhere() {
    // Every receiver refuses (400: not retried); a second template alert is
    // misconfigured (GET, an unknown placeholder): warned at start-up.
    let rx = Receiver::start(Box::new(|_, _| 400));
    let dir = TempDir::new("chan-chat-secrets");
    let extra = format!(
        "{}[alerts.odd]\nhttp = {{ url = \"{}\", method = \"GET\", body = \"{{{{nope}}}}\" }}\n",
        config(&rx, &rx, &rx).replace("alerts = [\"ops\"]", "alerts = [\"ops\", \"odd\"]"),
        rx.url(&format!("/odd?token={HOOK_TOKEN}")),
    );
    let server = Server::start(dir.path(), &extra);
    wait_logged(&server, "alert `odd` (template): http method \"GET\"");
    fail(&server, "web.a");
    for shown in [
        format!("telegram to {CHAT}"),
        format!("matrix to {ROOM}"),
        format!("template to http://{}/…", rx.addr),
    ] {
        wait_logged(
            &server,
            &format!(
                "alert ops ({shown}) for view web failed after 1 attempt(s): the receiver answered HTTP 400: ok"
            ),
        );
    }
    wait_logged(&server, "alert odd (template to http://127.0.0.1");
    assert!(
        server
            .log_text()
            .contains("is not supported: use POST, PUT or PATCH"),
        "{}",
        server.log_text()
    );
    assert_eq!(rx.all().len(), 3, "not retried; GET never sent");

    let history = server.get("/api/alerts/history");
    assert_eq!(history.status, 200);
    let history = history.text();
    assert!(history.contains("matrix"), "{history}");
    let path = dir.path().join("lovebeat.toml");
    let check = Command::new(BIN)
        .arg("-check-config")
        .arg("-config")
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .expect("run -check-config");
    assert!(check.status.success());
    let check = format!(
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let log = server.log_text();
    for secret in SECRETS {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
        assert!(!history.contains(secret), "{secret} in the history");
        assert!(!check.contains(secret), "{secret} in -check-config");
    }
}

#[test]
fn test_alert_sends_through_telegram_matrix_and_the_template() {
    let tg = Receiver::start(Box::new(|_, _| 200));
    let mx = Receiver::start(Box::new(|_, _| 200));
    let hook = Receiver::start(Box::new(|_, _| 200));
    let dir = TempDir::new("chan-chat-test-alert");
    let path = dir.path().join("lovebeat.toml");
    std::fs::write(
        &path,
        format!(
            "{}{}",
            common::base_config(dir.path()),
            config(&tg, &mx, &hook)
        ),
    )
    .expect("write config");
    let out = Command::new(BIN)
        .arg("-config")
        .arg(&path)
        .arg("-test-alert")
        .arg("ops")
        .stdin(Stdio::null())
        .output()
        .expect("run -test-alert");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert_eq!(tg.all().len(), 1, "{text}");
    assert_eq!(mx.all().len(), 1, "{text}");
    assert_eq!(hook.all().len(), 1, "{text}");
    assert!(tg.all()[0].json()["text"]
        .as_str()
        .unwrap_or_default()
        .contains("lovebeat-test"));
    assert_eq!(hook.all()[0].json()["view"], "lovebeat-test");
    for secret in SECRETS {
        assert!(!text.contains(secret), "{secret} in:\n{text}");
    }
}

/// A peer answering the n-th request (1-based) with `answers[n - 1]` (the
/// last one again beyond), a whole raw HTTP response: for the headers and
/// bodies real providers send (`Retry-After`, their JSON error text),
/// which `Receiver` does not. Returns its address and the request count.
fn canned(answers: Vec<String>) -> (std::net::SocketAddr, std::sync::Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = std::sync::Arc::clone(&count);
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let mut data = Vec::new();
            let mut chunk = [0u8; 4096];
            // The head, then the body by Content-Length.
            let head_end = loop {
                if let Some(p) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                    break Some(p);
                }
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break None,
                    Ok(n) => data.extend_from_slice(&chunk[..n]),
                }
            };
            let Some(head_end) = head_end else { continue };
            let head = String::from_utf8_lossy(&data[..head_end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while data.len() < head_end + 4 + length {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => data.extend_from_slice(&chunk[..n]),
                }
            }
            let n = seen.fetch_add(1, Ordering::SeqCst);
            let answer = &answers[n.min(answers.len() - 1)];
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    (addr, count)
}

fn answer(status: &str, extra: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn a_429_retry_after_is_honoured_and_a_400_is_logged_with_the_providers_text_scrubbed() {
    // Telegram: first "Too Many Requests" with Retry-After: 3, then OK.
    let (tg, tg_count) = canned(vec![
        answer(
            "429 Too Many Requests",
            "Retry-After: 3\r\n",
            r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}"#,
        ),
        answer("200 OK", "", r#"{"ok":true,"result":{}}"#),
    ]);
    // Matrix: a 400 that echoes the token (it must not reach the log).
    let (mx, mx_count) = canned(vec![answer(
        "400 Bad Request",
        "",
        &format!(r#"{{"errcode":"M_UNKNOWN","error":"bad token {ACCESS_TOKEN}"}}"#),
    )]);
    let hook = Receiver::start(Box::new(|_, _| 200));
    let dir = TempDir::new("chan-chat-429");
    let config = config_at(
        &format!("http://{tg}"),
        &format!("http://{mx}"),
        &hook.url(""),
    );
    let server = Server::start(dir.path(), &config);
    fail(&server, "web.a");
    wait_logged(&server, &format!("alert ops sent (telegram to {CHAT})"));
    assert_eq!(tg_count.load(Ordering::SeqCst), 2);
    assert!(
        server.log_text().contains("attempt 1 of 3 failed (the receiver answered HTTP 429: {\"ok\":false,\"error_code\":429,\"description\":\"Too Many Requests: retry after 3\""),
        "{}",
        server.log_text()
    );
    assert!(
        server.log_text().contains("retrying in 3s"),
        "{}",
        server.log_text()
    );
    wait_logged(
        &server,
        &format!(
            "alert ops (matrix to {ROOM}) for view web failed after 1 attempt(s): the receiver answered HTTP 400: {{\"errcode\":\"M_UNKNOWN\",\"error\":\"bad token ***\"}}"
        ),
    );
    assert_eq!(mx_count.load(Ordering::SeqCst), 1, "a 400 is not retried");
    let log = server.log_text();
    for secret in SECRETS {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
}
