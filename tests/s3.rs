//! The database on S3 (SPEC 8) against a real S3-compatible server: moto's
//! server mode (`python3 -m moto.server`, from `pip install 'moto[server]'`)
//! on 127.0.0.1 with a free port. Most tests run it in its auth mode
//! (`INITIAL_NO_AUTH_ACTION_COUNT`): after the setup requests every request
//! must be signed with the access key of an IAM user, so wrong credentials
//! are really refused. The objects are read and written on the test side
//! with boto3 (tests/fixtures/s3_admin.py), a client independent of ours.

mod common;

use common::tools::{self, Tool};
use common::{request, wait_until, Server, TempDir};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BUCKET: &str = "lovebeat-test";
const KEY: &str = "path/to/lovebeat.db";
const ADMIN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/s3_admin.py");
/// Requests `s3_admin.py setup` makes before moto starts checking keys.
const SETUP_REQUESTS: &str = "4";

/// A moto server; killed on drop.
/// moto's S3 server and boto3 (see `common::tools`).
fn moto_available() -> bool {
    tools::available(
        "the S3 tests",
        &[
            Tool::PythonModule("moto.server"),
            Tool::PythonModule("boto3"),
        ],
    )
}

struct Moto {
    child: Option<Child>,
    port: u16,
    auth: bool,
    log: PathBuf,
}

impl Moto {
    /// Starts moto and creates the bucket and an IAM user; returns it with
    /// that user's (key id, secret).
    fn start(dir: &Path, auth: bool) -> (Moto, (String, String)) {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut moto = Moto {
            child: None,
            port,
            auth,
            log: dir.join("moto.log"),
        };
        let keys = moto.spawn();
        (moto, keys)
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// (Re)starts moto on its port, empty, and sets it up.
    fn spawn(&mut self) -> (String, String) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("moto log");
        let mut command = Command::new("python3");
        command
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log);
        if self.auth {
            command.env("INITIAL_NO_AUTH_ACTION_COUNT", SETUP_REQUESTS);
        } else {
            command.env_remove("INITIAL_NO_AUTH_ACTION_COUNT");
        }
        let child = command
            .spawn()
            .expect("start python3 (needed for moto: pip install 'moto[server]')");
        self.child = Some(child);
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        let mut exited = false;
        let up = wait_until(Duration::from_secs(60), || {
            exited = matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(Some(_))));
            exited
                || (TcpStream::connect(addr).is_ok()
                    && request(addr, "GET", "/moto-api/", &[], b"").status == 200)
        });
        assert!(
            up && !exited,
            "moto did not start (is it installed? pip install 'moto[server]'); log:\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
        let out = admin(&["setup", &self.endpoint(), BUCKET]);
        let mut words = out.split_whitespace().map(str::to_string);
        let keys = (words.next(), words.next());
        match keys {
            (Some(id), Some(secret)) => (id, secret),
            _ => panic!("s3_admin.py setup printed {out:?}"),
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The object's bytes, or None when it does not exist.
    fn get(&self, keys: &(String, String), dir: &Path) -> Option<Vec<u8>> {
        let out = dir.join("downloaded.db");
        let status = Command::new("python3")
            .args([
                ADMIN,
                "get",
                &self.endpoint(),
                &keys.0,
                &keys.1,
                BUCKET,
                KEY,
            ])
            .arg(&out)
            .status()
            .expect("run s3_admin.py");
        match status.code() {
            Some(0) => Some(std::fs::read(&out).expect("read downloaded object")),
            Some(3) => None,
            _ => panic!("s3_admin.py get failed: {status}"),
        }
    }

    fn put(&self, keys: &(String, String), file: &Path) {
        let status = Command::new("python3")
            .args([
                ADMIN,
                "put",
                &self.endpoint(),
                &keys.0,
                &keys.1,
                BUCKET,
                KEY,
            ])
            .arg(file)
            .status()
            .expect("run s3_admin.py");
        assert!(status.success(), "s3_admin.py put failed: {status}");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.kill();
    }
}

fn admin(args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg(ADMIN)
        .args(args)
        .output()
        .expect("run s3_admin.py (python3 with boto3, from moto[server])");
    assert!(
        out.status.success(),
        "s3_admin.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Credentials for the server: the given keys in the environment (or none),
/// nothing inherited, HOME in the test dir (no ~/.aws of the machine), no
/// instance metadata.
fn aws_env(keys: Option<&(String, String)>, home: &Path) -> Vec<(&'static str, Option<String>)> {
    let mut env: Vec<(&'static str, Option<String>)> = [
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_PROFILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ]
    .into_iter()
    .map(|name| (name, None))
    .collect();
    env.push(("HOME", Some(home.display().to_string())));
    env.push(("AWS_EC2_METADATA_DISABLED", Some("true".into())));
    env.push(("AWS_ACCESS_KEY_ID", keys.map(|k| k.0.clone())));
    env.push(("AWS_SECRET_ACCESS_KEY", keys.map(|k| k.1.clone())));
    env
}

fn s3_config(endpoint: &str) -> String {
    format!(
        "remote_s3_url = \"s3://{BUCKET}/{KEY}\"\nremote_s3_region = \"us-east-1\"\nremote_s3_endpoint = \"{endpoint}\"\n"
    )
}

fn start(dir: &Path, endpoint: &str, env: &[(&'static str, Option<String>)]) -> Server {
    let config = format!("{}{}", common::base_config(dir), s3_config(endpoint));
    let env: Vec<(&str, Option<&str>)> = env.iter().map(|(k, v)| (*k, v.as_deref())).collect();
    Server::start_with_env(dir, &config, &env)
}

fn metric(server: &Server, name: &str) -> u64 {
    let text = server.get("/metrics").text();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
}

fn logged(server: &Server, needle: &str) -> bool {
    server.log_text().contains(needle)
}

/// Waits until the object equals the local database file.
fn wait_for_upload(moto: &Moto, keys: &(String, String), server: &Server, tmp: &Path) {
    let local = server.dir.join("lovebeat.db");
    let mut last = None;
    let same = wait_until(Duration::from_secs(60), || {
        last = moto.get(keys, tmp);
        last.is_some() && last == std::fs::read(&local).ok()
    });
    assert!(
        same,
        "the object never equalled {} (object: {:?} bytes); log:\n{}",
        local.display(),
        last.map(|b| b.len()),
        server.log_text()
    );
}

fn database_names(bytes: &[u8]) -> Vec<String> {
    let db = lovebeat::store::decode(bytes).expect("a Lovebeat database");
    db.services.into_iter().map(|s| s.name).collect()
}

#[test]
fn empty_bucket_start_then_every_save_is_uploaded() {
    if !moto_available() {
        return;
    }
    let dir = TempDir::new("s3-empty");
    let tmp = TempDir::new("s3-empty-tmp");
    let (moto, keys) = Moto::start(tmp.path(), true);
    let server = start(
        dir.path(),
        &moto.endpoint(),
        &aws_env(Some(&keys), dir.path()),
    );
    assert!(
        logged(
            &server,
            "does not exist yet; starting from an empty database"
        ),
        "{}",
        server.log_text()
    );
    assert!(logged(&server, &format!("s3://{BUCKET}/{KEY}")));
    assert_eq!(
        server.json("/api/services")["services"],
        serde_json::json!([])
    );

    assert_eq!(server.post("/api/services/web.one?timeout=60").status, 200);
    wait_for_upload(&moto, &keys, &server, tmp.path());
    let object = moto.get(&keys, tmp.path()).expect("object");
    assert_eq!(database_names(&object), ["web.one"]);

    // A later change is uploaded too.
    assert_eq!(server.post("/api/services/web.two").status, 200);
    assert_eq!(server.post("/api/services/web.two/mute").status, 200);
    wait_until(Duration::from_secs(60), || {
        moto.get(&keys, tmp.path())
            .map(|b| database_names(&b).len() == 2)
            .unwrap_or(false)
    });
    wait_for_upload(&moto, &keys, &server, tmp.path());
    assert!(metric(&server, "lovebeat_s3_uploads_total") >= 2);
    assert_eq!(metric(&server, "lovebeat_s3_upload_failures_total"), 0);
}

#[test]
fn an_existing_object_is_loaded_over_the_local_file() {
    if !moto_available() {
        return;
    }
    let tmp = TempDir::new("s3-existing-tmp");
    let (moto, keys) = Moto::start(tmp.path(), true);
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/lovebeat-1.0.3/lovebeat.db"
    );
    moto.put(&keys, Path::new(fixture));

    // A local file with other contents, written by a server without S3.
    let dir = TempDir::new("s3-existing");
    let local = Server::start(dir.path(), "");
    assert_eq!(local.post("/api/services/local.only").status, 200);
    assert!(local.stop().success());
    assert!(dir.path().join("lovebeat.db").exists());

    // Credentials from a profile of a shared credentials file this time.
    let credentials = dir.path().join("aws-credentials");
    std::fs::write(
        &credentials,
        format!(
            "[default]\naws_access_key_id = AKIAWRONGWRONGWRONG0\naws_secret_access_key = wrong\n\n[lovebeat]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            keys.0, keys.1
        ),
    )
    .expect("credentials file");
    let mut env = aws_env(None, dir.path());
    env.push((
        "AWS_SHARED_CREDENTIALS_FILE",
        Some(credentials.display().to_string()),
    ));
    env.push(("AWS_PROFILE", Some("lovebeat".into())));
    let server = start(dir.path(), &moto.endpoint(), &env);
    assert!(logged(&server, "downloaded s3://"), "{}", server.log_text());
    assert!(server.service("local.only").is_none());
    assert_eq!(
        server.service("web.api.worker").expect("from the object")["state"],
        "muted"
    );
    assert!(server.service("web.frontend").is_some());
}

/// Issue 13 §4: a corrupt local file falls back to the S3 copy first; the
/// corrupt bytes are kept aside, and since the copy stands in for them the
/// server is healthy (nothing for an operator to acknowledge).
#[test]
fn a_corrupt_local_file_falls_back_to_the_s3_copy() {
    if !moto_available() {
        return;
    }
    let tmp = TempDir::new("s3-corrupt-local-tmp");
    let (moto, keys) = Moto::start(tmp.path(), true);
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/lovebeat-1.0.3/lovebeat.db"
    );
    moto.put(&keys, Path::new(fixture));
    let dir = TempDir::new("s3-corrupt-local");
    std::fs::write(dir.path().join("lovebeat.db"), b"torn local file").expect("write");

    let server = start(
        dir.path(),
        &moto.endpoint(),
        &aws_env(Some(&keys), dir.path()),
    );
    let log = server.log_text();
    assert!(log.contains("using the S3 copy"), "{log}");
    assert!(server.service("web.frontend").is_some(), "{log}");
    let status = server.get("/status").text();
    assert!(!status.contains("quarantined"), "{status}");
    let kept: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".corrupt-"))
        .map(|e| e.path())
        .collect();
    assert_eq!(kept.len(), 1, "{log}");
    assert_eq!(
        std::fs::read(&kept[0]).ok(),
        Some(b"torn local file".to_vec())
    );
}

#[test]
fn an_object_that_is_not_a_database_never_replaces_the_local_file() {
    if !moto_available() {
        return;
    }
    let tmp = TempDir::new("s3-garbage-tmp");
    let (moto, keys) = Moto::start(tmp.path(), true);
    let garbage = tmp.path().join("garbage");
    std::fs::write(&garbage, b"\x1f\x8b\x08 not really gzip \xff\xfe").expect("write");
    moto.put(&keys, &garbage);

    let dir = TempDir::new("s3-garbage");
    let local = Server::start(dir.path(), "");
    assert_eq!(local.post("/api/services/kept.local").status, 200);
    assert!(local.stop().success());
    let before = std::fs::read(dir.path().join("lovebeat.db")).expect("local db");

    let server = start(
        dir.path(),
        &moto.endpoint(),
        &aws_env(Some(&keys), dir.path()),
    );
    let log = server.log_text();
    assert!(log.contains("is not a readable Lovebeat database"), "{log}");
    assert!(log.contains("starting from the local file"), "{log}");
    assert!(server.service("kept.local").is_some());
    assert_eq!(
        std::fs::read(dir.path().join("lovebeat.db")).ok(),
        Some(before)
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".s3-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // The next save replaces the bad object with the local database.
    assert_eq!(server.post("/api/services/kept.local").status, 200);
    assert_eq!(server.post("/api/services/new.one").status, 200);
    wait_for_upload(&moto, &keys, &server, tmp.path());
}

#[test]
fn a_transient_host_starts_with_the_services_of_the_stopped_one() {
    if !moto_available() {
        return;
    }
    let tmp = TempDir::new("s3-transient-tmp");
    let (moto, keys) = Moto::start(tmp.path(), true);
    let first_dir = TempDir::new("s3-host-a");
    let first = start(
        first_dir.path(),
        &moto.endpoint(),
        &aws_env(Some(&keys), first_dir.path()),
    );
    assert_eq!(
        first
            .post("/api/services/batch.nightly?timeout=86400")
            .status,
        200
    );
    assert_eq!(first.post("/api/services/batch.nightly/mute").status, 200);
    assert_eq!(first.post("/api/services/web.ping?timeout=60").status, 200);
    // Only beats since the last save: the final save on SIGTERM has them,
    // and is uploaded before the process exits.
    assert_eq!(first.post("/api/services/web.ping").status, 200);
    let last_beat = first.service("web.ping").expect("web.ping")["last_beat"].clone();
    assert!(first.stop().success());

    let second_dir = TempDir::new("s3-host-b");
    assert!(!second_dir.path().join("lovebeat.db").exists());
    let second = start(
        second_dir.path(),
        &moto.endpoint(),
        &aws_env(Some(&keys), second_dir.path()),
    );
    assert_eq!(
        second.service("batch.nightly").expect("batch.nightly")["state"],
        "muted"
    );
    assert_eq!(
        second.service("web.ping").expect("web.ping")["last_beat"],
        last_beat
    );
}

#[test]
fn a_store_that_is_down_at_start_means_the_local_file() {
    let dir = TempDir::new("s3-down");
    let local = Server::start(dir.path(), "");
    assert_eq!(local.post("/api/services/kept.local").status, 200);
    assert!(local.stop().success());
    let before = std::fs::read(dir.path().join("lovebeat.db")).expect("local db");

    // A port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let keys = ("AKIAEXAMPLEEXAMPLE00".to_string(), "secret".to_string());
    let server = start(dir.path(), &endpoint, &aws_env(Some(&keys), dir.path()));
    assert!(server.service("kept.local").is_some());
    let log = server.log_text();
    assert!(log.contains("S3 download failed"), "{log}");
    assert!(
        log.contains(&format!("s3://{BUCKET}/{KEY} (endpoint {endpoint})")),
        "{log}"
    );
    assert!(log.contains("starting from the local file"), "{log}");
    // Nothing was overwritten by the failed download.
    assert_eq!(
        std::fs::read(dir.path().join("lovebeat.db")).ok(),
        Some(before)
    );

    // The uploads fail, are counted, and the server goes on.
    assert_eq!(server.post("/api/services/new.one").status, 200);
    assert!(wait_until(Duration::from_secs(30), || {
        metric(&server, "lovebeat_s3_upload_failures_total") >= 1
    }));
    assert!(logged(&server, "S3 upload failed"));
    assert!(server.service("new.one").is_some());
}

#[test]
fn a_store_that_never_answers_delays_neither_start_nor_saves() {
    // Accepts connections and never answers: the slowest possible store.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let dir = TempDir::new("s3-silent");
    let keys = ("AKIAEXAMPLEEXAMPLE00".to_string(), "secret".to_string());
    // Server::start gives a server 20 s to listen; the download gets 10.
    let server = start(dir.path(), &endpoint, &aws_env(Some(&keys), dir.path()));
    assert!(
        logged(&server, "no answer within 10 s"),
        "{}",
        server.log_text()
    );

    // Saves go on while the first upload hangs.
    for name in ["a.one", "a.two", "a.three"] {
        let saves = metric(&server, "lovebeat_db_saves_total");
        assert_eq!(server.post(&format!("/api/services/{name}")).status, 200);
        assert!(
            wait_until(Duration::from_secs(30), || metric(
                &server,
                "lovebeat_db_saves_total"
            ) > saves),
            "no save after creating {name}; log:\n{}",
            server.log_text()
        );
    }
    assert_eq!(metric(&server, "lovebeat_s3_uploads_total"), 0);
    server.kill9();
}

#[test]
fn a_store_going_down_and_coming_back() {
    if !moto_available() {
        return;
    }
    let dir = TempDir::new("s3-flaky");
    let tmp = TempDir::new("s3-flaky-tmp");
    // Without auth: a restarted moto is empty, and its new IAM user would
    // have new keys.
    let (mut moto, keys) = Moto::start(tmp.path(), false);
    let server = start(
        dir.path(),
        &moto.endpoint(),
        &aws_env(Some(&keys), dir.path()),
    );
    assert_eq!(server.post("/api/services/s.one").status, 200);
    wait_for_upload(&moto, &keys, &server, tmp.path());

    moto.kill();
    let failures = metric(&server, "lovebeat_s3_upload_failures_total");
    assert_eq!(server.post("/api/services/s.two").status, 200);
    assert!(
        wait_until(Duration::from_secs(30), || metric(
            &server,
            "lovebeat_s3_upload_failures_total"
        ) > failures),
        "{}",
        server.log_text()
    );
    assert!(logged(
        &server,
        &format!("S3 upload failed: s3://{BUCKET}/{KEY}")
    ));
    // Beats and reads go on.
    assert_eq!(server.post("/api/services/s.one").status, 200);
    assert_eq!(server.service("s.two").expect("s.two")["state"], "ok");

    let keys = moto.spawn();
    // The next save (another change) uploads everything.
    assert_eq!(server.post("/api/services/s.three").status, 200);
    wait_for_upload(&moto, &keys, &server, tmp.path());
    let mut names = database_names(&moto.get(&keys, tmp.path()).expect("object"));
    names.sort();
    assert_eq!(names, ["s.one", "s.three", "s.two"]);
    assert!(logged(&server, "again"), "{}", server.log_text());
}

#[test]
fn wrong_credentials_give_a_clear_error_and_no_crash() {
    if !moto_available() {
        return;
    }
    let tmp = TempDir::new("s3-creds-tmp");
    let (moto, keys) = Moto::start(tmp.path(), true);
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/lovebeat-1.0.3/lovebeat.db"
    );
    moto.put(&keys, Path::new(fixture));

    // A real key id with a wrong secret, then a key id moto does not know.
    for (id, code) in [
        (keys.0.as_str(), "SignatureDoesNotMatch"),
        ("AKIANOSUCHKEYANYWHER", "InvalidAccessKeyId"),
    ] {
        let dir = TempDir::new("s3-creds");
        let wrong = (id.to_string(), "not-the-secret".to_string());
        let server = start(
            dir.path(),
            &moto.endpoint(),
            &aws_env(Some(&wrong), dir.path()),
        );
        let log = server.log_text();
        assert!(log.contains("S3 download failed"), "{log}");
        assert!(log.contains(code), "{log}");
        assert!(log.contains("wrong credentials"), "{log}");
        assert!(log.contains(&format!("s3://{BUCKET}/{KEY}")), "{log}");
        // Started empty (no local file), and works.
        assert!(server.service("web.frontend").is_none());
        assert_eq!(server.post("/api/services/x.y").status, 200);
        assert!(wait_until(Duration::from_secs(30), || metric(
            &server,
            "lovebeat_s3_upload_failures_total"
        ) >= 1));
        assert!(logged(&server, "S3 upload failed"));
        assert!(server.stop().success());
    }
    // The object was not touched.
    assert_eq!(moto.get(&keys, tmp.path()), std::fs::read(fixture).ok());
}

#[test]
fn no_credentials_anywhere_is_reported() {
    let dir = TempDir::new("s3-nocreds");
    // No request is made without credentials: any endpoint will do.
    let server = start(dir.path(), "http://127.0.0.1:9", &aws_env(None, dir.path()));
    let log = server.log_text();
    assert!(log.contains("no AWS credentials found"), "{log}");
    assert!(log.contains("AWS_ACCESS_KEY_ID"), "{log}");
    assert_eq!(server.post("/api/services/x.y").status, 200);
    assert!(wait_until(Duration::from_secs(30), || metric(
        &server,
        "lovebeat_s3_upload_failures_total"
    ) >= 1));
}

#[test]
fn a_bad_s3_url_stops_start_up_with_a_config_error() {
    let dir = TempDir::new("s3-badurl");
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[database]\nremote_s3_url = \"bucket/lovebeat.db\"\n",
    )
    .expect("write");
    let out = Command::new(common::BIN)
        .arg("-config")
        .arg(&path)
        .output()
        .expect("run lovebeat");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("database.remote_s3_url"), "{stderr}");
    assert!(stderr.contains("s3://"), "{stderr}");
}
