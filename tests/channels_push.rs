//! SPEC 16 push and chat channels (ntfy, Gotify, Pushover, Discord)
//! against real HTTP receivers on 127.0.0.1: the documented request of
//! each, on ERROR and on recovery; a 400 not retried and logged with the
//! provider's text, a 429 whose `Retry-After` is honoured, and no secret
//! in logs, `/api` replies, `-check-config` or `-test-alert` output.

mod common;
#[path = "support/receiver.rs"]
mod receiver;

use common::{wait_until, Server, TempDir, BIN};
use receiver::{Received, Receiver};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

const NTFY_TOKEN: &str = "tk_ntfySecretToken42";
const GOTIFY_TOKEN: &str = "AgotifySecretTok";
const PUSHOVER_TOKEN: &str = "azGDORePK8gMaC0QOYAMyEEuzJnyUi";
const PUSHOVER_USER: &str = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG";
const DISCORD_PATH: &str = "/api/webhooks/1234567/discordSecretWebhookToken";
const NTFY_PATH: &str = "/ntfySecretTopic";

/// Every secret of the config [`channels`] writes.
const SECRETS: &[&str] = &[
    NTFY_TOKEN,
    GOTIFY_TOKEN,
    PUSHOVER_TOKEN,
    PUSHOVER_USER,
    "discordSecretWebhookToken",
    "ntfySecretTopic",
];

/// `[pushover]` and an `[alerts.ops]` using the four channels, all at
/// `base` (`http://127.0.0.1:port`), and a view `web` alerting `ops`.
fn channels(base: &str) -> String {
    format!(
        "[general]\npublic_url = \"http://lb.test\"\n\
         [pushover]\ntoken = \"{PUSHOVER_TOKEN}\"\napi_base = \"{base}/po/\"\n\
         [[views]]\nname = \"web\"\npattern = \"web.*\"\nalerts = [\"ops\"]\n\
         [alerts.ops]\n\
         ntfy = \"{base}{NTFY_PATH}\"\nntfy_token = \"{NTFY_TOKEN}\"\n\
         gotify = \"{base}/gotify\"\ngotify_token = \"{GOTIFY_TOKEN}\"\n\
         pushover = \"{PUSHOVER_USER}\"\n\
         discord = \"{base}{DISCORD_PATH}\"\n"
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

fn wait_logged(server: &Server, text: &str) {
    assert!(
        wait_until(WAIT, || server.log_text().contains(text)),
        "never logged {text:?}; log:\n{}",
        server.log_text()
    );
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} shows {secret}:\n{text}");
    }
}

const PATHS: [&str; 4] = [
    NTFY_PATH,
    "/gotify/message",
    "/po/1/messages.json",
    DISCORD_PATH,
];

fn check_ntfy(r: &Received, error: bool) {
    assert_eq!(r.method, "POST");
    assert_eq!(
        r.header("Authorization"),
        Some(format!("Bearer {NTFY_TOKEN}").as_str())
    );
    assert_eq!(r.header("Content-Type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.header("Click"), Some("http://lb.test/views/web"));
    let text = r.text();
    if error {
        assert_eq!(r.header("Title"), Some("web is ERROR (incident 1)"));
        assert_eq!(r.header("Priority"), Some("urgent"));
        assert_eq!(r.header("Tags"), Some("rotating_light"));
        assert_eq!(
            text,
            "View web is in ERROR. Failed services:\n- web.a: always in ERROR (timeout 0)\n\nView: http://lb.test/views/web"
        );
    } else {
        assert_eq!(r.header("Title"), Some("web is OK (incident 1)"));
        assert_eq!(r.header("Priority"), Some("default"));
        assert_eq!(r.header("Tags"), Some("white_check_mark"));
        assert!(text.starts_with("View web recovered after "), "{text}");
        assert!(
            text.ends_with(" down.\n\nView: http://lb.test/views/web"),
            "{text}"
        );
    }
}

fn check_gotify(r: &Received, error: bool) {
    assert_eq!(r.method, "POST");
    assert_eq!(r.header("X-Gotify-Key"), Some(GOTIFY_TOKEN));
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    let j = r.json();
    let text = j["message"].as_str().unwrap_or_default();
    assert_eq!(
        j["extras"]["client::notification"]["click"]["url"],
        "http://lb.test/views/web"
    );
    assert_eq!(j["extras"]["client::display"]["contentType"], "text/plain");
    if error {
        assert_eq!(j["title"], "web is ERROR (incident 1)");
        assert_eq!(j["priority"], 8);
        assert_eq!(
            text,
            "View web is in ERROR. Failed services:\n- web.a: always in ERROR (timeout 0)\n\nView: http://lb.test/views/web"
        );
    } else {
        assert_eq!(j["title"], "web is OK (incident 1)");
        assert_eq!(j["priority"], 4);
        assert!(text.starts_with("View web recovered after "), "{text}");
    }
}

fn check_pushover(r: &Received, error: bool) {
    assert_eq!(r.method, "POST");
    assert_eq!(
        r.header("Content-Type"),
        Some("application/x-www-form-urlencoded")
    );
    let f = r.form();
    let mut keys: Vec<&str> = f.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["message", "priority", "title", "token", "url", "user"]
    );
    assert_eq!(f["token"], PUSHOVER_TOKEN);
    assert_eq!(f["user"], PUSHOVER_USER);
    assert_eq!(f["url"], "http://lb.test/views/web");
    if error {
        assert_eq!(f["title"], "web is ERROR (incident 1)");
        assert_eq!(f["priority"], "1");
        assert_eq!(
            f["message"],
            "View web is in ERROR. Failed services:\n- web.a: always in ERROR (timeout 0)"
        );
    } else {
        assert_eq!(f["title"], "web is OK (incident 1)");
        assert_eq!(f["priority"], "0");
        assert!(
            f["message"].starts_with("View web recovered after "),
            "{f:?}"
        );
    }
}

fn check_discord(r: &Received, error: bool) {
    assert_eq!(r.method, "POST");
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    let j = r.json();
    assert_eq!(j["username"], "Lovebeat");
    assert_eq!(j["allowed_mentions"], serde_json::json!({"parse": []}));
    let embeds = j["embeds"].as_array().cloned().unwrap_or_default();
    assert_eq!(embeds.len(), 1, "{j}");
    let e = &embeds[0];
    assert_eq!(e["url"], "http://lb.test/views/web");
    if error {
        assert_eq!(e["title"], "web is ERROR (incident 1)");
        assert_eq!(e["color"], 0xE01E5A);
        assert_eq!(
            e["description"],
            "View web is in ERROR. Failed services:\n- web.a: always in ERROR (timeout 0)"
        );
    } else {
        assert_eq!(e["title"], "web is OK (incident 1)");
        assert_eq!(e["color"], 0x2EB67D);
        let d = e["description"].as_str().unwrap_or_default();
        assert!(d.starts_with("View web recovered after "), "{d}");
    }
}

#[test]
fn each_channel_sends_its_documented_request_on_error_and_on_recovery() {
    let rx = Receiver::start(Box::new(|_, _| 200));
    let base = format!("http://{}", rx.addr);
    let dir = TempDir::new("channels-push");
    let server = Server::start(dir.path(), &channels(&base));
    recover(&server, "web.ok"); // NEW -> OK: nothing
    fail(&server, "web.a");
    let got = |n: usize| PATHS.iter().all(|p| rx.requests(p).len() == n);
    assert!(
        wait_until(WAIT, || got(1)),
        "requests {:?}; log:\n{}",
        rx.all().iter().map(|r| &r.path).collect::<Vec<_>>(),
        server.log_text()
    );
    check_ntfy(&rx.requests(NTFY_PATH)[0], true);
    check_gotify(&rx.requests("/gotify/message")[0], true);
    check_pushover(&rx.requests("/po/1/messages.json")[0], true);
    check_discord(&rx.requests(DISCORD_PATH)[0], true);
    let origin = format!("http://{}/…", rx.addr);
    wait_logged(
        &server,
        &format!("alert ops sent (ntfy to {origin}) for view web"),
    );
    wait_logged(
        &server,
        &format!("alert ops sent (discord to {origin}) for view web"),
    );
    wait_logged(&server, "alert ops sent (pushover to …VRsG) for view web");
    wait_logged(
        &server,
        &format!(
            "alert ops sent (gotify to http://{}/…) for view web",
            rx.addr
        ),
    );

    recover(&server, "web.a");
    assert!(wait_until(WAIT, || got(2)), "log:\n{}", server.log_text());
    check_ntfy(&rx.requests(NTFY_PATH)[1], false);
    check_gotify(&rx.requests("/gotify/message")[1], false);
    check_pushover(&rx.requests("/po/1/messages.json")[1], false);
    check_discord(&rx.requests(DISCORD_PATH)[1], false);
    wait_logged(&server, "alert ops sent (discord to");
    assert_eq!(rx.all().len(), 8, "nothing else was sent");
    let history = server.get("/api/alerts/history").text();
    let json = server.json("/api/alerts/history");
    let mut kinds: Vec<(&str, &str)> = json["history"]
        .as_array()
        .map(|h| {
            h.iter()
                .map(|r| {
                    (
                        r["kind"].as_str().unwrap_or_default(),
                        r["destination"].as_str().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    kinds.sort_unstable();
    kinds.dedup();
    let origin = origin.as_str();
    assert_eq!(
        kinds,
        [
            ("discord", origin),
            ("gotify", origin),
            ("ntfy", origin),
            ("pushover", "…VRsG")
        ],
        "{history}"
    );
    assert_no_secret("the log", &server.log_text());
    assert_no_secret("the history", &history);
}

/// A receiver whose answer (status, extra header lines, body) a test
/// chooses per path and attempt; it records each request's path.
struct Answering {
    base: String,
    paths: Arc<Mutex<Vec<String>>>,
}

type Reply = (u16, &'static str, String);

impl Answering {
    fn start(answer: impl Fn(&str, usize) -> Reply + Send + Sync + 'static) -> Answering {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let paths = Arc::new(Mutex::new(Vec::<String>::new()));
        let (seen, answer) = (Arc::clone(&paths), Arc::new(answer));
        std::thread::spawn(move || {
            for mut stream in listener.incoming().map_while(Result::ok) {
                let (seen, answer) = (Arc::clone(&seen), Arc::clone(&answer));
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                    let mut data = Vec::new();
                    let mut chunk = [0u8; 4096];
                    // Head and body (Content-Length) of one request.
                    loop {
                        let text = String::from_utf8_lossy(&data).to_string();
                        if let Some(end) = text.find("\r\n\r\n") {
                            let length = text[..end]
                                .lines()
                                .find_map(|l| {
                                    let (k, v) = l.split_once(':')?;
                                    k.eq_ignore_ascii_case("content-length")
                                        .then(|| v.trim().parse::<usize>().ok())?
                                })
                                .unwrap_or(0);
                            if data.len() >= end + 4 + length {
                                break;
                            }
                        }
                        match stream.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => data.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&data).to_string();
                    let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                    let n = {
                        let mut all = seen.lock().expect("paths lock");
                        all.push(path.clone());
                        all.iter().filter(|p| **p == path).count()
                    };
                    let (status, headers, body) = answer(&path, n);
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(reply.as_bytes());
                });
            }
        });
        Answering { base, paths }
    }

    fn count(&self, path: &str) -> usize {
        self.paths
            .lock()
            .expect("paths lock")
            .iter()
            .filter(|p| *p == path)
            .count()
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run lovebeat")
}

#[test]
fn refused_deliveries_are_not_retried_rate_limits_are_waited_out_and_no_secret_shows() {
    // Every provider refuses with 400 and echoes what it got (as real ones
    // do with a bad token), except Discord, which rate-limits the first
    // attempt for 1 s and then takes it.
    let rx = Answering::start(|path, n| {
        let refused = |echo: String| (400, "", format!("{{\"errors\":[\"invalid {echo}\"]}}"));
        match path {
            DISCORD_PATH if n == 1 => (
                429,
                "Retry-After: 1\r\n",
                format!("{{\"message\":\"slow down at {path}\",\"retry_after\":1}}"),
            ),
            DISCORD_PATH => (204, "", String::new()),
            NTFY_PATH => refused(format!("{NTFY_TOKEN} at {path}")),
            "/gotify/message" => refused(GOTIFY_TOKEN.to_string()),
            _ => refused(format!("{PUSHOVER_TOKEN} for {PUSHOVER_USER}")),
        }
    });
    let dir = TempDir::new("channels-push-fail");
    let server = Server::start(dir.path(), &channels(&rx.base));
    fail(&server, "web.a");
    for kind in ["ntfy", "gotify", "pushover"] {
        wait_logged(&server, &format!("alert ops ({kind} to "));
    }
    wait_logged(&server, "alert ops sent (discord to");
    let log = server.log_text();
    // The provider's text, scrubbed.
    for text in ["*** at ***", "***", "*** for ***"] {
        let line = format!(
            "failed after 1 attempt(s): the receiver answered HTTP 400: {{\"errors\":[\"invalid {text}\"]}}"
        );
        assert!(log.contains(&line), "{line}\n{log}");
    }
    assert_eq!(log.matches("failed after 1 attempt(s)").count(), 3, "{log}");
    // 400 is not retried; the 429 is, after its Retry-After.
    for path in [NTFY_PATH, "/gotify/message", "/po/1/messages.json"] {
        assert_eq!(rx.count(path), 1, "{path}");
    }
    assert_eq!(rx.count(DISCORD_PATH), 2);
    assert!(
        log.contains("attempt 1 of 3 failed (the receiver answered HTTP 429: {\"message\":\"slow down at ***\",\"retry_after\":1}); retrying in 1s"),
        "{log}"
    );
    assert_no_secret("the log", &log);
    let history = server.get("/api/alerts/history").text();
    assert!(history.contains("invalid *** for ***"), "{history}");
    assert_no_secret("the history", &history);
    for path in [
        "/api/views",
        "/api/views/web",
        "/api/alarms/",
        "/api/services",
    ] {
        let r = server.get(path);
        assert_eq!(r.status, 200, "{path}");
        assert_no_secret(path, &r.text());
    }

    let config = dir.path().join("lovebeat.toml");
    let config = config.to_str().unwrap_or_default();
    let out = run(&["-check-config", "-config", config]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert_no_secret("-check-config", &all);

    let out = run(&["-config", config, "-test-alert", "ops"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{all}");
    for kind in ["ntfy", "gotify", "pushover"] {
        assert!(
            stdout.contains(&format!("{kind} ")) && stdout.contains("HTTP 400"),
            "{all}"
        );
    }
    let origin = format!("{}/…", rx.base);
    assert!(
        stdout.contains(&format!("discord {origin} sent\n")),
        "{all}"
    );
    assert!(
        stdout.contains("pushover …VRsG failed: the receiver answered HTTP 400"),
        "{all}"
    );
    assert_no_secret("-test-alert", &all);
    assert_eq!(rx.count("/po/1/messages.json"), 2, "-test-alert sent once");
}

#[test]
fn a_provider_that_never_answers_delays_no_other_channel() {
    let hang = Receiver::hanging();
    let rx = Receiver::start(Box::new(|_, _| 200));
    let base = format!("http://{}", rx.addr);
    // Gotify's server hangs; the other three answer at once.
    let config = channels(&base).replace(
        &format!("gotify = \"{base}/gotify\""),
        &format!("gotify = \"http://{}/gotify\"", hang.addr),
    );
    let dir = TempDir::new("channels-push-hang");
    let server = Server::start(dir.path(), &config);
    fail(&server, "web.a");
    assert!(
        wait_until(WAIT, || hang.connections() >= 1
            && [NTFY_PATH, "/po/1/messages.json", DISCORD_PATH]
                .iter()
                .all(|p| rx.requests(p).len() == 1)),
        "log:\n{}",
        server.log_text()
    );
    // The others were sent while Gotify's attempt was still open.
    wait_logged(&server, "alert ops sent (discord to");
    wait_logged(&server, "alert ops sent (ntfy to");
    wait_logged(&server, "alert ops sent (pushover to");
    assert!(
        !server.log_text().contains("alert ops (gotify"),
        "the hanging delivery ended first:\n{}",
        server.log_text()
    );
    // Its attempt ends at the 10 s budget and is retried.
    wait_logged(
        &server,
        &format!(
            "alert ops (gotify to http://{}/…) for view web: attempt 1 of 3 failed",
            hang.addr
        ),
    );
    assert_no_secret("the log", &server.log_text());
}
