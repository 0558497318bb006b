//! The dashboard in a real browser: Debian's chromium, headless, driven by
//! playwright-core from plain node scripts in `tests/browser/`, against the
//! real lovebeat binary; once directly and once through a real nginx serving
//! it at `/monitoring/lovebeat/` with the README's location block,
//! websocket included. `tests/browser/auth.mjs` runs against a server with
//! an access token (`auth_token` with and without `auth_read`), directly
//! and through nginx. `tests/browser/policy.mjs` drives the alert policy's
//! parts (SPEC 15: maintenance page, timed mutes, pending and suppressed
//! views). `tests/browser/history.mjs` drives a service's page and a view's
//! uptime strip (SPEC 18) and prints how long 10,000 changes take to draw.
//! `tests/browser/status_page.mjs` opens the public status page (SPEC 18)
//! without a token on a server with `auth_read`, with and without
//! `show_services`, and draws a badge. `tests/browser/adaptive.mjs` checks
//! the adaptive timeout's column and editor (SPEC 19) across a restart.
//! `tests/browser/units.mjs` runs the page's pure functions in plain node.
//! Screenshots land in `target/test-artifacts/browser/`.
//! Needs what `.ci/run` installs (chromium, nginx, `npm ci` in
//! tests/browser); without them these tests fail, saying so.

mod common;

use common::tools::{self, Tool};
use common::{base_config, wait_until, Server, TempDir};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const VIEWS: &str = "[[views]]\nname = \"web\"\nincludes = [\"web.*\"]\n";
/// The views of the policy test: `app` depends on `network`, `slow` waits
/// an hour before alerting, and a config window covers `nightly`.
const POLICY_VIEWS: &str = r#"[[views]]
name = "web"
includes = ["web.*"]
[[views]]
name = "network"
includes = ["net.*"]
[[views]]
name = "app"
includes = ["app.*"]
depends_on = ["network"]
[[views]]
name = "slow"
includes = ["slow.*"]
delay = "1h"
[[maintenance]]
views = ["nightly"]
schedule = "0 3 * * *"
duration = "1h"
tz = "UTC"
comment = "nightly backups"
"#;
const NODE_DEADLINE: Duration = Duration::from_secs(240);
const TOKEN: &str = "browser-test-token-0123456789";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The browser, nginx and playwright-core (see `common::tools`).
fn tools_present() -> bool {
    tools::available(
        "the browser test",
        &[
            Tool::File("/usr/bin/chromium"),
            Tool::File("/usr/sbin/nginx"),
            Tool::Program("node"),
            Tool::InRepo("tests/browser/node_modules/playwright-core/package.json"),
        ],
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// lovebeat on a fixed port (so that a restart comes back where the page
/// and nginx expect it), with a `web` view and `extra` config, its
/// database in `dir`.
struct Lovebeat {
    server: Option<Server>,
    dir: PathBuf,
    config: String,
}

impl Lovebeat {
    fn start(dir: &Path, http_extra: &str) -> Lovebeat {
        Lovebeat::start_with(dir, http_extra, VIEWS)
    }

    /// Like `start`, with `views` (TOML) instead of the `web` view.
    fn start_with(dir: &Path, http_extra: &str, views: &str) -> Lovebeat {
        let http = "[http]\nlisten = \"127.0.0.1:0\"\n";
        let config = base_config(dir).replace(http, &format!("{http}{http_extra}")) + views;
        let first = Server::start_with_config(dir, &config);
        let port = first.http.port();
        let config = config.replace(
            "[http]\nlisten = \"127.0.0.1:0\"",
            &format!("[http]\nlisten = \"127.0.0.1:{port}\""),
        );
        Lovebeat {
            server: Some(first),
            dir: dir.to_path_buf(),
            config,
        }
    }

    fn port(&self) -> u16 {
        self.server.as_ref().map(|s| s.http.port()).unwrap_or(0)
    }

    /// SIGTERM, then start again on the same port with the same database.
    fn restart(&mut self) {
        let port = self.port();
        if let Some(server) = self.server.take() {
            assert!(server.stop().success(), "lovebeat did not stop cleanly");
        }
        let mut server = Server::start_with_config(&self.dir, &self.config);
        server.http = format!("127.0.0.1:{port}").parse().expect("addr");
        let up = wait_until(Duration::from_secs(20), || {
            server.log_text().contains("HTTP listening on")
        });
        assert!(up, "lovebeat did not come back:\n{}", server.log_text());
        self.server = Some(server);
    }
}

/// Debian's nginx in a temp prefix on a free port, with the location block
/// of the README's "Behind a reverse proxy" section. One process
/// (`master_process off`), so killing it leaves nothing behind.
struct Nginx {
    child: Child,
    port: u16,
    dir: TempDir,
}

/// The nginx `location` block of the README's "Behind a reverse proxy"
/// section, verbatim but for the upstream's port: the tests run what the
/// README tells people to write.
fn readme_location_block(upstream_port: u16) -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let section = readme
        .split("## Behind a reverse proxy")
        .nth(1)
        .expect("a \"Behind a reverse proxy\" section");
    let block = section
        .split("```nginx\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("an nginx block in that section");
    assert!(
        block.contains("proxy_pass http://localhost:8080/;"),
        "{block}"
    );
    block.replace(
        "proxy_pass http://localhost:8080/;",
        &format!("proxy_pass http://127.0.0.1:{upstream_port}/;"),
    )
}

/// The line the README asks token users to add to the block.
const FORWARD_HOST: &str = "proxy_set_header Host $http_host;";

impl Nginx {
    /// nginx with the README's (Lovebeat 1.x's) block; `forward_host` adds
    /// the `Host` line the README asks for when a token is configured.
    fn start(upstream_port: u16, forward_host: bool) -> Nginx {
        let dir = TempDir::new("nginx");
        let port = free_port();
        let d = dir.path().display();
        let conf = format!(
            "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/body;\n\
               proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n\
               uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
               server {{\n    listen 127.0.0.1:{port};\n\
                 {location}\n  }}\n}}\n",
            location = if forward_host {
                let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
                assert!(
                    readme.contains(FORWARD_HOST),
                    "the README must tell token users to add {FORWARD_HOST}"
                );
                readme_location_block(upstream_port).replace(
                    "    proxy_pass",
                    &format!("    {FORWARD_HOST}\n    proxy_pass"),
                )
            } else {
                readme_location_block(upstream_port)
            },
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("write nginx.conf");
        let child = Command::new("/usr/sbin/nginx")
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let mut nginx = Nginx { child, port, dir };
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let up = wait_until(Duration::from_secs(20), || {
            std::net::TcpStream::connect(addr).is_ok()
        });
        let exited = matches!(nginx.child.try_wait(), Ok(Some(_)));
        assert!(up && !exited, "nginx did not start:\n{}", nginx.error_log());
        nginx
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the node script (in tests/browser) against `url` with `env`;
/// "RESTART" on its stdout restarts lovebeat and answers "RESTARTED".
/// Panics when node fails.
fn run_node(script: &str, url: &str, label: &str, lovebeat: &mut Lovebeat, env: &[(&str, &str)]) {
    let artifacts = root().join("target/test-artifacts/browser");
    std::fs::create_dir_all(&artifacts).expect("artifacts dir");
    let mut child = Command::new("node")
        .arg(format!("tests/browser/{script}"))
        .current_dir(root())
        .envs(env.iter().copied())
        .env("LOVEBEAT_URL", url)
        .env("ARTIFACTS", &artifacts)
        .env("LABEL", label)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start node");
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + NODE_DEADLINE;
    let mut transcript = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                eprintln!("[{label}] {line}");
                if line == "RESTART" {
                    lovebeat.restart();
                    writeln!(stdin, "RESTARTED").expect("answer node");
                }
                transcript.push(line);
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "[{label}] node did not finish in time:\n{}",
                transcript.join("\n")
            );
        }
    }
    let status = child.wait().expect("node exit");
    let log = lovebeat
        .server
        .as_ref()
        .map(|s| s.log_text())
        .unwrap_or_default();
    assert!(
        status.success(),
        "[{label}] browser checks failed ({status}):\n{}\nserver log:\n{log}",
        transcript.join("\n")
    );
    assert!(
        transcript
            .iter()
            .any(|l| l.starts_with("ok: all browser checks passed")),
        "[{label}] node ended without finishing its checks"
    );
}

#[test]
fn dashboard_in_chromium() {
    if !tools_present() {
        return;
    }
    let dir = TempDir::new("browser");
    let mut lovebeat = Lovebeat::start(dir.path(), "");
    let url = format!("http://127.0.0.1:{}/", lovebeat.port());
    run_node("dashboard.mjs", &url, "direct", &mut lovebeat, &[]);
}

#[test]
fn dashboard_in_chromium_behind_nginx() {
    if !tools_present() {
        return;
    }
    let dir = TempDir::new("browser-nginx");
    let mut lovebeat = Lovebeat::start(dir.path(), "");
    let nginx = Nginx::start(lovebeat.port(), false);
    let url = format!("http://127.0.0.1:{}/monitoring/lovebeat/", nginx.port);
    run_node("dashboard.mjs", &url, "nginx", &mut lovebeat, &[]);
    // The page's websocket really went through nginx, at the sub-path.
    let access = std::fs::read_to_string(nginx.dir.path().join("access.log")).unwrap_or_default();
    assert!(
        access.contains("\"GET /monitoring/lovebeat/ws HTTP/1.1\" 101"),
        "no websocket upgrade in nginx's access log:\n{access}\n{}",
        nginx.error_log()
    );
}

/// The alert policy in the page: maintenance windows made and deleted from
/// the form, a view muted for 1 h, a service muted for 15 min, a view
/// pending its delay and one suppressed by the view it depends on.
#[test]
fn alert_policy_in_chromium() {
    if !tools_present() {
        return;
    }
    let dir = TempDir::new("browser-policy");
    let mut lovebeat = Lovebeat::start_with(dir.path(), "", POLICY_VIEWS);
    let url = format!("http://127.0.0.1:{}/", lovebeat.port());
    run_node("policy.mjs", &url, "policy", &mut lovebeat, &[]);
}

/// A service's page (SPEC 18): a failed scheduled job's schedule in words,
/// its output and timeline, nothing requested beyond 127.0.0.1, no
/// sideways scrolling at 390 px, the view's uptime strip; and the drawing
/// time of a history of 10,000 changes, printed ("perf:"), not asserted.
#[test]
fn service_page_in_chromium() {
    if !tools_present() {
        return;
    }
    let dir = TempDir::new("browser-history");
    let views = "[[views]]\nname = \"jobs\"\nincludes = [\"job.*\"]\n";
    let mut lovebeat = Lovebeat::start_with(dir.path(), "", views);
    let url = format!("http://127.0.0.1:{}/", lovebeat.port());
    run_node("history.mjs", &url, "history", &mut lovebeat, &[]);
}

/// The dashboard's pure functions (a schedule in words, a history cut
/// into spans and columns) in plain node: no browser, no server.
#[test]
fn dashboard_words_and_spans_in_node() {
    if !tools::available("the dashboard's unit checks", &[Tool::Program("node")]) {
        return;
    }
    let out = Command::new("node")
        .arg("tests/browser/units.mjs")
        .current_dir(root())
        .output()
        .expect("run node");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("ok: all unit checks passed"),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `[http]` keys of a server with the test token; `read` adds
/// `auth_read`.
fn auth_config(read: bool) -> String {
    format!("auth_token = \"{TOKEN}\"\nauth_read = {read}\n")
}

/// The page asks for the token before it shows anything, then works live.
#[test]
fn dashboard_with_auth_read_in_chromium() {
    if !tools_present() {
        return;
    }
    let dir = TempDir::new("browser-auth-read");
    let mut lovebeat = Lovebeat::start(dir.path(), &auth_config(true));
    let url = format!("http://127.0.0.1:{}/", lovebeat.port());
    let env = [("TOKEN", TOKEN), ("MODE", "read")];
    run_node("auth.mjs", &url, "auth-read", &mut lovebeat, &env);
}

/// Reads open, changes need the token: asked for on the first mute.
#[test]
fn dashboard_with_auth_token_in_chromium() {
    if !tools_present() {
        return;
    }
    let dir = TempDir::new("browser-auth-write");
    let mut lovebeat = Lovebeat::start(dir.path(), &auth_config(false));
    let url = format!("http://127.0.0.1:{}/", lovebeat.port());
    let env = [("TOKEN", TOKEN), ("MODE", "write")];
    run_node("auth.mjs", &url, "auth-write", &mut lovebeat, &env);
}

/// auth_read behind nginx: the token travels as a websocket subprotocol
/// through the proxy, and the Origin check passes with the README's block
/// plus the `Host` line it asks token users to add.
#[test]
fn dashboard_with_auth_read_behind_nginx() {
    if !tools_present() {
        return;
    }
    let dir = TempDir::new("browser-auth-nginx");
    let mut lovebeat = Lovebeat::start(dir.path(), &auth_config(true));
    let nginx = Nginx::start(lovebeat.port(), true);
    let url = format!("http://127.0.0.1:{}/monitoring/lovebeat/", nginx.port);
    let env = [("TOKEN", TOKEN), ("MODE", "read")];
    run_node("auth.mjs", &url, "auth-nginx", &mut lovebeat, &env);
    let access = std::fs::read_to_string(nginx.dir.path().join("access.log")).unwrap_or_default();
    assert!(
        access.contains("\"GET /monitoring/lovebeat/ws HTTP/1.1\" 101"),
        "no websocket upgrade in nginx's access log:\n{access}\n{}",
        nginx.error_log()
    );
    assert!(
        access.contains("\"GET /monitoring/lovebeat/version HTTP/1.1\" 401"),
        "the page's first read was not refused:\n{access}"
    );
}

/// SPEC 19 in the page: the timeout column says "adaptive (≈ …)" with the
/// model's value, keeps it across a restart (the stored model of a service
/// with more than 100 beats), and the editor sets "adaptive"
/// (`tests/browser/adaptive.mjs`). The database is seeded: 300 beats take
/// five minutes to send at one a second.
#[test]
fn adaptive_timeout_in_chromium() {
    use lovebeat::engine::adaptive::Adaptive;
    if !tools_present() {
        return;
    }
    let dir = TempDir::new("browser-adaptive");
    let last = lovebeat::clock::now_ms() - 5_000;
    let intervals: Vec<i64> = (0..300)
        .map(|i| {
            if i < 200 && i % 10 == 9 {
                600_000
            } else {
                60_000
            }
        })
        .collect();
    let mut model = Adaptive::new();
    let mut at = last - intervals.iter().sum::<i64>();
    model.observe(at);
    for &i in &intervals {
        at += i;
        model.observe(at);
    }
    let history = |from: usize| {
        let kept: Vec<String> = intervals[from..].iter().map(i64::to_string).collect();
        kept.join(",")
    };
    let text = format!(
        "SERV\t{{\"name\":\"web.adaptive\",\"last_beat\":{last},\"beat_history\":[{}],\
         \"timeout\":-2,\"auto_model\":\"adaptive\",\"auto_model_state\":\"{}\",\
         \"state\":\"ok\",\"muted_since\":0,\"last_state_change\":{last}}}\n\
         SERV\t{{\"name\":\"web.auto\",\"last_beat\":{last},\"beat_history\":[{}],\
         \"timeout\":-2,\"state\":\"ok\",\"muted_since\":0,\"last_state_change\":{last}}}\n",
        history(200),
        lovebeat::base64::standard(&model.to_bytes()),
        history(200),
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text.as_bytes()).expect("gzip");
    std::fs::write(dir.path().join("lovebeat.db"), gz.finish().expect("gzip")).expect("seed");
    let mut lovebeat = Lovebeat::start(dir.path(), "");
    let url = format!("http://127.0.0.1:{}/", lovebeat.port());
    run_node("adaptive.mjs", &url, "adaptive", &mut lovebeat, &[]);
}

/// The views of the status page test: `db` and `web` are listed on the
/// page, `secret` and `billing` are not.
const STATUS_VIEWS: &str = "[[views]]\nname = \"web\"\nincludes = [\"web.*\"]\n\
    [[views]]\nname = \"db\"\nincludes = [\"db.*\"]\n\
    [[views]]\nname = \"secret\"\nincludes = [\"secret.*\"]\n\
    [[views]]\nname = \"billing\"\nincludes = [\"billing.*\"]\n\
    [status_page]\ntitle = \"Acme Status\"\nviews = [\"db\", \"web\"]\n";

/// The public status page (SPEC 18) with `auth_read` on, opened without
/// the token (`tests/browser/status_page.mjs`): the listed views, their
/// uptime strips and the open incident, no unlisted view, no service name,
/// only GETs to 127.0.0.1, 390 px, dark, a recovery after a reload; then
/// with `show_services` (and `public_badges`): the failing service named,
/// a badge drawn as an `<img>`.
#[test]
fn status_page_in_chromium() {
    if !tools_present() {
        return;
    }
    let dir = TempDir::new("browser-status-page");
    let mut lovebeat = Lovebeat::start_with(dir.path(), &auth_config(true), STATUS_VIEWS);
    let url = format!("http://127.0.0.1:{}/", lovebeat.port());
    let env = [("TOKEN", TOKEN), ("MODE", "hidden")];
    run_node("status_page.mjs", &url, "status-page", &mut lovebeat, &env);
    drop(lovebeat);

    let dir = TempDir::new("browser-status-page-services");
    let http = format!("{}public_badges = true\n", auth_config(true));
    let views = STATUS_VIEWS.replace("[status_page]\n", "[status_page]\nshow_services = true\n");
    let mut lovebeat = Lovebeat::start_with(dir.path(), &http, &views);
    let url = format!("http://127.0.0.1:{}/", lovebeat.port());
    let env = [("TOKEN", TOKEN), ("MODE", "shown")];
    run_node(
        "status_page.mjs",
        &url,
        "status-page-services",
        &mut lovebeat,
        &env,
    );
}
