//! Test harness: starts the real `lovebeat` binary on 127.0.0.1 with port 0
//! listeners in a temp dir, learns the bound ports from its log, and talks
//! to it over real sockets. Waits poll with deadlines; nothing sleeps a
//! fixed time to assert.

#![allow(dead_code)]

pub mod tools;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_lovebeat");

/// A temp directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!(
            "lovebeat-test-{tag}-{}-{n}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Polls `f` until it returns true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub struct Server {
    pub child: Child,
    pub dir: PathBuf,
    pub http: SocketAddr,
    pub udp: Option<SocketAddr>,
    pub tcp: Option<SocketAddr>,
    pub log: Arc<Mutex<Vec<String>>>,
}

/// The config every test server starts from: all listeners on loopback with
/// port 0, the database in `dir`.
pub fn base_config(dir: &Path) -> String {
    format!(
        "[udp]\nlisten = \"127.0.0.1:0\"\n[tcp]\nlisten = \"127.0.0.1:0\"\n[http]\nlisten = \"127.0.0.1:0\"\n[database]\nfilename = \"{}\"\n",
        dir.join("lovebeat.db").display()
    )
}

impl Server {
    /// Starts a server in `dir` with `base_config` plus `extra` TOML.
    pub fn start(dir: &Path, extra: &str) -> Server {
        let config = format!("{}{}", base_config(dir), extra);
        Server::start_with_config(dir, &config)
    }

    pub fn start_with_config(dir: &Path, config: &str) -> Server {
        Server::start_with_env(dir, config, &[])
    }

    /// Like `start_with_config`, with environment variables set (`Some`) or
    /// removed (`None`) for the server process.
    pub fn start_with_env(dir: &Path, config: &str, env: &[(&str, Option<&str>)]) -> Server {
        Server::launch(dir, config, env, true)
    }

    /// Starts `base_config` plus `extra` the way production runs it, without
    /// `-debug` (at debug level every invalid statsd line is logged, which
    /// would turn a garbage flood into a stderr flood).
    pub fn start_at_info_level(dir: &Path, extra: &str) -> Server {
        let config = format!("{}{}", base_config(dir), extra);
        Server::launch(dir, &config, &[], false)
    }

    fn launch(dir: &Path, config: &str, env: &[(&str, Option<&str>)], debug: bool) -> Server {
        let path = dir.join("lovebeat.toml");
        std::fs::write(&path, config).expect("write config");
        // LOVEBEAT_TEST_BIN runs another build (to measure an old one).
        let mut command = Command::new(std::env::var("LOVEBEAT_TEST_BIN").unwrap_or(BIN.into()));
        // The test runner's own switch is nothing the server (or an alert
        // script it runs, which inherits its environment) should see.
        command.env_remove(tools::FULL_TESTS);
        for (name, value) in env {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        command.arg("-config").arg(&path);
        if debug {
            command.arg("-debug");
        }
        let mut child = command
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start lovebeat");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if std::env::var_os("LOVEBEAT_TEST_LOG").is_some() {
                    eprintln!("server: {line}");
                }
                sink.lock().expect("log lock").push(line);
            }
        });
        let mut server = Server {
            child,
            dir: dir.to_path_buf(),
            http: "127.0.0.1:0".parse().expect("addr"),
            udp: None,
            tcp: None,
            log,
        };
        let http_on = config.contains("[http]\nlisten = \"127.0.0.1:0\"");
        let ready = wait_until(Duration::from_secs(20), || {
            let http = server.logged_addr("HTTP listening on ");
            if let Some(a) = http {
                server.http = a;
            }
            server.udp = server.logged_addr("statsd UDP listening on ");
            server.tcp = server.logged_addr("statsd TCP listening on ");
            let exited = matches!(server.child.try_wait(), Ok(Some(_)));
            exited || !http_on || http.is_some()
        });
        let exited = matches!(server.child.try_wait(), Ok(Some(_)));
        if exited {
            // Let the log reader catch the last lines.
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            ready && !exited,
            "server did not start; log:\n{}",
            server.log_text()
        );
        server
    }

    fn logged_addr(&self, prefix: &str) -> Option<SocketAddr> {
        let log = self.log.lock().expect("log lock");
        log.iter().find_map(|line| {
            let rest = &line[line.find(prefix)? + prefix.len()..];
            rest.split_whitespace().next()?.parse().ok()
        })
    }

    pub fn log_text(&self) -> String {
        self.log.lock().expect("log lock").join("\n")
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        request(self.http, method, path, headers, body)
    }

    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[], b"")
    }

    pub fn post(&self, path: &str) -> Response {
        self.request("POST", path, &[], b"")
    }

    /// GET and parse JSON, asserting 200.
    pub fn json(&self, path: &str) -> serde_json::Value {
        let r = self.get(path);
        assert_eq!(r.status, 200, "GET {path}: {}", r.text());
        r.json()
    }

    /// The service object, or None on 404.
    pub fn service(&self, name: &str) -> Option<serde_json::Value> {
        let r = self.get(&format!("/api/services/{name}?details=1"));
        match r.status {
            200 => Some(r.json()["service"].clone()),
            404 => None,
            other => panic!("GET service {name}: {other} {}", r.text()),
        }
    }

    pub fn udp_send(&self, payload: &[u8]) {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("udp bind");
        socket
            .send_to(payload, self.udp.expect("udp listener"))
            .expect("udp send");
    }

    pub fn tcp_send(&self, payload: &[u8]) {
        let mut stream = TcpStream::connect(self.tcp.expect("tcp listener")).expect("tcp connect");
        stream.write_all(payload).expect("tcp write");
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        self.signal("TERM");
        let mut status = None;
        wait_until(Duration::from_secs(30), || {
            status = self.child.try_wait().ok().flatten();
            status.is_some()
        });
        status.unwrap_or_else(|| panic!("server did not stop; log:\n{}", self.log_text()))
    }

    /// SIGKILL: no chance to save.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A minimal HTTP/1.1 client (Connection: close) so tests control every byte.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut raw = head.into_bytes();
    raw.extend_from_slice(body);
    raw_request(addr, &raw)
}

/// Sends raw bytes and parses the response.
pub fn raw_request(addr: SocketAddr, raw: &[u8]) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    // The server may answer (e.g. 413) before reading everything.
    let _ = stream.write_all(raw);
    let mut data = Vec::new();
    let _ = stream.read_to_end(&mut data);
    parse_response(&data)
}

/// Sends raw bytes, closes the sending side (the client has nothing more
/// to say), and parses whatever comes back; status 0 when nothing does.
pub fn raw_request_then_eof(addr: SocketAddr, raw: &[u8]) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let _ = stream.write_all(raw);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut data = Vec::new();
    let _ = stream.read_to_end(&mut data);
    if !data.windows(4).any(|w| w == b"\r\n\r\n") {
        return Response {
            status: 0,
            headers: Vec::new(),
            body: data,
        };
    }
    parse_response(&data)
}

pub fn parse_response(data: &[u8]) -> Response {
    let split = data
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP response: {:?}", String::from_utf8_lossy(data)));
    let head = String::from_utf8_lossy(&data[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    let mut body = data[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        if size == 0 || data.len() < eol + 2 + size {
            break;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[(eol + 2 + size + 2).min(data.len())..];
    }
    out
}

/// Lovebeat 1.0.3's files (written by the Go version): `lovebeat.db`,
/// `lovebeat.cfg` and what its API said (`go-services.json`).
pub const FIXTURE_1_0_3: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/lovebeat-1.0.3");

/// Copies 1.0.3's database into `dir` and returns its configuration with
/// only the listeners (port 0 on loopback) and the database file moved:
/// its views and alerts are kept.
pub fn lovebeat_1_0_3_config(dir: &Path) -> String {
    let db = dir.join("lovebeat.db");
    std::fs::copy(format!("{FIXTURE_1_0_3}/lovebeat.db"), &db).expect("copy");
    let cfg = std::fs::read_to_string(format!("{FIXTURE_1_0_3}/lovebeat.cfg")).expect("cfg");
    cfg.replace(":8127", "127.0.0.1:0")
        .replace(":8080", "127.0.0.1:0")
        .replace(
            "filename = \"lovebeat.db\"",
            &format!("filename = {:?}", db.display().to_string()),
        )
}

/// How long a server is given to stop by itself, or to log what a reload
/// did.
const EXIT_OR_RELOAD: Duration = Duration::from_secs(30);

/// Runs the binary on `config` expecting it to stop by itself: its exit
/// code and stderr. A server that keeps running instead fails the test.
pub fn run_expecting_exit(dir: &Path, config: &str) -> (i32, String) {
    let path = dir.join("lovebeat.toml");
    std::fs::write(&path, config).expect("write config");
    let mut child = Command::new(BIN)
        .arg("-config")
        .arg(&path)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start lovebeat");
    let mut status = None;
    wait_until(EXIT_OR_RELOAD, || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    if status.is_none() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let Some(status) = status else {
        panic!("lovebeat started instead of stopping; log:\n{stderr}")
    };
    (status.code().unwrap_or(-1), stderr)
}

/// How many lines of the server's log contain `text`.
pub fn log_count(server: &Server, text: &str) -> usize {
    server
        .log
        .lock()
        .expect("log lock")
        .iter()
        .filter(|line| line.contains(text))
        .count()
}

/// Writes `base_config + extra` as the server's config, sends SIGHUP and
/// waits until the reload logged a line containing `expect`.
pub fn reload(server: &Server, dir: &Path, extra: &str, expect: &str) {
    let config = format!("{}{}", base_config(dir), extra);
    std::fs::write(dir.join("lovebeat.toml"), config).expect("write config");
    let before = log_count(server, expect);
    server.signal("HUP");
    assert!(
        wait_until(EXIT_OR_RELOAD, || log_count(server, expect) > before),
        "no {expect:?} after SIGHUP; log:\n{}",
        server.log_text()
    );
}

/// The names of the server's views, sorted.
pub fn view_names(server: &Server) -> Vec<String> {
    let mut names: Vec<String> = server.json("/api/views")["views"]
        .as_array()
        .expect("views")
        .iter()
        .filter_map(|v| v["name"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}
