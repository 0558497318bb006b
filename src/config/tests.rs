//! Tests for loading, merging, validating and error reporting, using
//! temporary directories and the example configs in the repository.

use super::*;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("lovebeat-config-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Loads `text` as the only file, with no default locations.
fn load_text(text: &str) -> (TempDir, Result<Config, ConfigError>) {
    let t = TempDir::new();
    let file = t.write("lovebeat.toml", text);
    let src = Source {
        config_file: Some(file),
        config_dir: None,
    };
    let r = load_with_defaults(&src, &[], &t.0.join("no-such-dir"));
    (t, r)
}

fn invalid(r: Result<Config, ConfigError>) -> (Option<PathBuf>, Option<usize>, String, String) {
    match r {
        Err(ConfigError::Invalid {
            path,
            line,
            key,
            message,
        }) => (path, line, key, message),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn defaults() {
    let c = Config::default();
    assert_eq!(c.general.public_url, "");
    assert_eq!(c.udp.listen, ":8127");
    assert_eq!(c.tcp.listen, ":8127");
    assert_eq!(c.http.listen, ":8080");
    assert_eq!(c.database.filename, "lovebeat.db");
    assert_eq!(c.database.interval, 60);
    assert_eq!(c.mail.server, "localhost:25");
    assert_eq!(c.mail.from, "lovebeat@example.com");
    assert_eq!(c.mailgun.api_base, "https://api.mailgun.net/v3");
    assert_eq!(c.metrics.prefix, "lovebeat");
    assert_eq!(c.metrics.interval, 10);
    assert_eq!(c.eventlog.mode, "644");
    assert_eq!(c.eventlog.mode_bits(), 0o644);
    assert_eq!(c.limits.max_services, 100_000);
    assert_eq!(c.limits.max_tcp_connections, 256);
    assert_eq!(c.limits.max_ws_clients, 64);
    assert!(c.views.is_empty() && c.notify.is_empty() && c.alerts.is_empty());
    assert_eq!(c.validate(), Ok(()));
    assert_eq!(c.udp.addr(), Ok(Some("[::]:8127".into())));
}

#[test]
fn no_files_gives_defaults() {
    let t = TempDir::new();
    let src = Source::default();
    let c = load_with_defaults(
        &src,
        &[t.0.join("a.toml"), t.0.join("a.cfg")],
        &t.0.join("d"),
    );
    assert_eq!(c, Ok(Config::default()));
    // An empty file too.
    assert_eq!(Config::from_toml_str(""), Ok(Config::default()));
}

#[test]
fn default_candidates_prefer_toml_then_cfg() {
    let t = TempDir::new();
    let toml_path = t.0.join("lovebeat.toml");
    let cfg = t.write("lovebeat.cfg", "[udp]\nlisten = \":1\"\n");
    let cands = [toml_path.clone(), cfg];
    let none = t.0.join("no-dir");
    let c = load_with_defaults(&Source::default(), &cands, &none).unwrap();
    assert_eq!(c.udp.listen, ":1");
    t.write("lovebeat.toml", "[udp]\nlisten = \":2\"\n");
    let c = load_with_defaults(&Source::default(), &cands, &none).unwrap();
    assert_eq!(c.udp.listen, ":2");
}

#[test]
fn every_section_parses() {
    let text = r##"
public_url = "http://top/"
[general]
public_url = "http://general/"
[udp]
listen = ""
[tcp]
listen = "127.0.0.1:9000"
[http]
listen = "[::1]:8081"
[database]
filename = "/var/lib/lovebeat/lovebeat.db"
interval = 5
remote_s3_url = "s3://bucket/lovebeat.db"
remote_s3_region = "eu-west-1"
remote_s3_endpoint = "http://minio:9000"
[mail]
server = "smtp:587"
from = "me@x.org"
username = "u"
password = "p"
[mailgun]
domain = "mg.x.org"
api_key = "key"
from = "lb@mg.x.org"
api_base = "http://127.0.0.1:1/v3"
[slack]
webhook_url = "https://hooks.slack.com/x"
[metrics]
server = "localhost:8125"
prefix = "lb"
interval = 2
[eventlog]
path = "/var/log/lovebeat.log"
mode = "600"
[[notify]]
lovebeat = "http://other:8080"
[[views]]
name = "web"
includes = ["web.*"]
excludes = ["web.canary.*"]
alerts = ["ops"]
[alerts.ops]
mail = "a@x.org"
webhook = "http://hook/"
slack_channel = "#ops"
script = "/bin/true"
[limits]
max_services = 10
max_tcp_connections = 2
max_ws_clients = 3
"##;
    let c = Config::from_toml_str(text).unwrap();
    assert_eq!(c.general.public_url, "http://top/", "top level wins");
    assert_eq!(c.udp.addr(), Ok(None));
    assert_eq!(c.tcp.addr(), Ok(Some("127.0.0.1:9000".into())));
    assert_eq!(c.http.addr(), Ok(Some("[::1]:8081".into())));
    assert_eq!(c.database.interval, 5);
    assert_eq!(c.database.remote_s3_endpoint, "http://minio:9000");
    assert_eq!(c.mail.username, "u");
    assert_eq!(c.mailgun.api_base, "http://127.0.0.1:1/v3");
    assert_eq!(c.slack.webhook_url, "https://hooks.slack.com/x");
    assert_eq!(c.metrics.prefix, "lb");
    assert_eq!(c.metrics.interval, 2);
    assert_eq!(c.eventlog.mode_bits(), 0o600);
    assert_eq!(c.notify[0].lovebeat, "http://other:8080");
    assert_eq!(c.views[0].include_patterns(), vec!["web.*".to_string()]);
    assert_eq!(c.views[0].excludes, vec!["web.canary.*".to_string()]);
    assert_eq!(c.alerts["ops"].slack_channel, "#ops");
    assert_eq!(c.alerts["ops"].script, "/bin/true");
    assert_eq!(c.limits.max_ws_clients, 3);
}

#[test]
fn public_url_top_level_or_general() {
    let c = Config::from_toml_str("public_url = \"http://a/\"\n").unwrap();
    assert_eq!(c.general.public_url, "http://a/");
    let c = Config::from_toml_str("[general]\npublic_url = \"http://b/\"\n").unwrap();
    assert_eq!(c.general.public_url, "http://b/");
}

#[test]
fn lovebeat_1x_config_reads_alarms_as_views() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/lovebeat-1.0.3/lovebeat.cfg"
    ));
    let src = Source {
        config_file: Some(path),
        config_dir: None,
    };
    let c = load_with_defaults(&src, &[], Path::new("/nonexistent/lovebeat.conf.d")).unwrap();
    assert_eq!(c.general.public_url, "http://lovebeat.example.com/");
    assert_eq!(c.database.interval, 3600);
    assert_eq!(c.views.len(), 2);
    assert_eq!(c.views[0].name, "backup-$host");
    assert_eq!(
        c.views[0].include_patterns(),
        vec!["backup.$host.*".to_string()]
    );
    assert_eq!(c.views[0].alerts, vec!["ops".to_string()]);
    assert_eq!(c.views[1].name, "web");
    assert_eq!(c.views[1].excludes, vec!["web.canary.*".to_string()]);
    assert_eq!(c.alerts["ops"].webhook, "http://127.0.0.1:9/hook");
}

#[test]
fn eventlog_mode_1x_integer_and_bad_modes() {
    let c = Config::from_toml_str("[eventlog]\nmode = 640\n").unwrap();
    assert_eq!(c.eventlog.mode, "640");
    assert_eq!(c.eventlog.mode_bits(), 0o640);
    for bad in ["\"888\"", "\"1000\"", "\"\"", "-1", "\"rw\""] {
        let (_, line, key, _) = invalid(Config::from_toml_str(&format!(
            "[eventlog]\nmode = {bad}\n"
        )));
        assert_eq!((line, key.as_str()), (Some(2), "eventlog.mode"), "{bad}");
    }
}

#[test]
fn unknown_key_names_file_line_and_key() {
    let (t, r) = load_text("# comment\n[http]\nlisten = \":1\"\n\n[udp]\nlisen = \":8127\"\n");
    let e = r.unwrap_err();
    let shown = e.to_string();
    let (path, line, key, message) = invalid(Err(e));
    assert_eq!(path, Some(t.0.join("lovebeat.toml")));
    assert_eq!(line, Some(6));
    assert_eq!(key, "udp.lisen");
    assert!(message.contains("unknown field `lisen`"), "{message}");
    assert!(shown.contains("lovebeat.toml:6:"), "{shown}");
    assert!(shown.contains("udp.lisen"), "{shown}");

    // Top-level, inline table, and inside an alert.
    let (_, line, key, _) = invalid(Config::from_toml_str("a = 1\nfoo = 2\n"));
    assert_eq!((line, key.as_str()), (Some(1), "a"));
    let (_, _, key, _) = invalid(Config::from_toml_str("udp = { lisen = \"x\" }\n"));
    assert_eq!(key, "udp.lisen");
    let (_, line, key, _) = invalid(Config::from_toml_str(
        "[alerts.ops]\nmail = \"a\"\nmial = \"b\"\n",
    ));
    assert_eq!((line, key.as_str()), (Some(3), "alerts.ops.mial"));
    let (_, line, key, _) = invalid(Config::from_toml_str("[udpp]\nlisten = \"\"\n"));
    assert_eq!((line, key.as_str()), (Some(1), "udpp"));
}

#[test]
fn bad_values_name_line_and_key() {
    let (_, line, key, message) =
        invalid(Config::from_toml_str("[database]\ninterval = \"sixty\"\n"));
    assert_eq!((line, key.as_str()), (Some(2), "database.interval"));
    assert!(message.contains("invalid type"), "{message}");
    let (_, line, key, _) = invalid(Config::from_toml_str("[database]\ninterval = 0\n"));
    assert_eq!((line, key.as_str()), (Some(2), "database.interval"));
    let (_, line, key, _) = invalid(Config::from_toml_str(
        "[database]\ninterval = 9223372036854775807\n",
    ));
    assert_eq!((line, key.as_str()), (Some(2), "database.interval"));
    let (_, line, key, _) = invalid(Config::from_toml_str("[metrics]\ninterval = 0\n"));
    assert_eq!((line, key.as_str()), (Some(2), "metrics.interval"));
    let (_, _, key, _) = invalid(Config::from_toml_str("[metrics]\ninterval = 3601\n"));
    assert_eq!(key, "metrics.interval");
    for bad in ["localhost", ":8125", "h:0", "h:x"] {
        let text = format!("[metrics]\nserver = {bad:?}\n");
        let (_, _, key, _) = invalid(Config::from_toml_str(&text));
        assert_eq!(key, "metrics.server", "{bad}");
    }
    assert!(Config::from_toml_str("[metrics]\nserver = \"[::1]:8125\"\n").is_ok());
    let (_, _, key, _) = invalid(Config::from_toml_str("[limits]\nmax_services = 0\n"));
    assert_eq!(key, "limits.max_services");
    let (_, _, key, message) = invalid(Config::from_toml_str("[http]\nlisten = \"8080\"\n"));
    assert_eq!(key, "http.listen");
    assert!(message.contains("no port"), "{message}");
    let (_, line, key, _) = invalid(Config::from_toml_str(
        "[[views]]\nname = \"a\"\nincludes = [\n  \"x\",\n  3,\n]\n",
    ));
    assert_eq!((line, key.as_str()), (Some(5), "views[0].includes"));
    let (_, _, key, _) = invalid(Config::from_toml_str(
        "[[notify]]\nlovebeat = \"other:8080\"\n",
    ));
    assert_eq!(key, "notify[0].lovebeat");
}

#[test]
fn s3_url_and_endpoint_are_checked() {
    for bad in [
        "bucket/key",
        "https://bucket/key",
        "s3://bucket",
        "s3://bucket/",
        "s3://bucket/dir/",
        "s3://Bucket/key",
        "s3://b/key",
        "s3:///key",
        "s3://-bucket/key",
    ] {
        let text = format!("[database]\nfilename = \"x.db\"\nremote_s3_url = {bad:?}\n");
        let (_, line, key, message) = invalid(Config::from_toml_str(&text));
        assert_eq!(
            (line, key.as_str()),
            (Some(3), "database.remote_s3_url"),
            "{bad}"
        );
        assert!(message.contains("s3://"), "{bad}: {message}");
    }
    let (_, _, key, message) = invalid(Config::from_toml_str(
        "[database]\nremote_s3_endpoint = \"minio:9000\"\n",
    ));
    assert_eq!(key, "database.remote_s3_endpoint");
    assert!(message.contains("http://"), "{message}");
    assert_eq!(
        super::s3_location("s3://my-bucket.eu/path/to/lovebeat.db"),
        Ok((
            "my-bucket.eu".to_string(),
            "path/to/lovebeat.db".to_string()
        ))
    );
    let mut c = Config::default();
    c.database.remote_s3_url = "s3://x".into();
    let error = c.validate().expect_err("bad url in code");
    assert!(
        error.to_string().contains("database.remote_s3_url"),
        "{error}"
    );
}

#[test]
fn bad_views() {
    let (_, line, key, message) = invalid(Config::from_toml_str(
        "[[views]]\nname = \"a\"\npattern = \"a.*\"\n\n[[views]]\npattern = \"b.*\"\n",
    ));
    assert_eq!((line, key.as_str()), (Some(5), "views[1].name"));
    assert!(message.contains("name"), "{message}");
    let (_, _, key, message) = invalid(Config::from_toml_str(
        "[[alarms]]\nname = \"a\"\nexcludes = [\"x\"]\n",
    ));
    assert_eq!(key, "alarms[0].pattern");
    assert!(message.contains("`pattern` or `includes`"), "{message}");
    let (_, _, key, message) = invalid(Config::from_toml_str(
        "[[views]]\nname = \"a\"\npattern = \"a\"\n[[alarms]]\nname = \"a\"\npattern = \"b\"\n",
    ));
    assert_eq!(key, "alarms[0].name");
    assert!(message.contains("more than one"), "{message}");
}

#[test]
fn syntax_error_names_file_and_line() {
    let (t, r) = load_text("[udp]\nlisten = \":1\"\n[tcp]\nlisten == 3\n");
    match r {
        Err(ConfigError::Syntax {
            path,
            line,
            message,
        }) => {
            assert_eq!(path, t.0.join("lovebeat.toml"));
            assert_eq!(line, 4);
            assert!(message.contains("tcp.listen"), "{message}");
            assert!(!message.contains('\n'), "{message}");
        }
        other => panic!("expected Syntax, got {other:?}"),
    }
}

#[test]
fn missing_named_file_or_dir() {
    let t = TempDir::new();
    let missing = t.0.join("nope.toml");
    let src = Source {
        config_file: Some(missing.clone()),
        config_dir: None,
    };
    let e = load_with_defaults(&src, &[], &t.0.join("d")).unwrap_err();
    assert_eq!(
        e,
        ConfigError::Missing {
            path: missing.clone()
        }
    );
    assert!(e.to_string().contains("nope.toml"));
    let src = Source {
        config_file: None,
        config_dir: Some(missing.clone()),
    };
    let e = load_with_defaults(&src, &[], &t.0.join("d")).unwrap_err();
    assert!(
        e.to_string().contains("configuration directory not found"),
        "{e}"
    );
    assert_eq!(e, ConfigError::MissingDir { path: missing });
}

#[test]
fn config_dir_merges_in_name_order() {
    let t = TempDir::new();
    let main = t.write(
        "main.toml",
        "[udp]\nlisten = \":1\"\n[http]\nlisten = \":2\"\n[alerts.ops]\nmail = \"a@x\"\n\
         [[views]]\nname = \"v0\"\npattern = \"a.*\"\n[[alarms]]\nname = \"a0\"\npattern = \"z\"\n",
    );
    let dir = t.0.join("conf.d");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("20-b.toml"),
        "[udp]\nlisten = \":3\"\n[[views]]\nname = \"v2\"\npattern = \"c.*\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("10-a.toml"),
        "[udp]\nlisten = \":9\"\n[alerts.ops]\nwebhook = \"http://h/\"\n\
         [[views]]\nname = \"v1\"\npattern = \"b.*\"\n[[notify]]\nlovebeat = \"http://o:1\"\n",
    )
    .unwrap();
    std::fs::write(dir.join(".hidden.toml"), "this is not toml").unwrap();
    std::fs::create_dir(dir.join("subdir")).unwrap();
    let src = Source {
        config_file: Some(main),
        config_dir: Some(dir),
    };
    let c = load_with_defaults(&src, &[], &t.0.join("unused")).unwrap();
    assert_eq!(c.udp.listen, ":3", "last file wins");
    assert_eq!(c.http.listen, ":2", "untouched keys stay");
    assert_eq!(c.alerts["ops"].mail, "a@x", "tables merge key by key");
    assert_eq!(c.alerts["ops"].webhook, "http://h/");
    let names: Vec<&str> = c.views.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["v0", "v1", "v2", "a0"]);
    assert_eq!(c.notify.len(), 1);
}

#[test]
fn default_dir_is_optional_and_read_when_present() {
    let t = TempDir::new();
    let dir = t.0.join("conf.d");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("x.toml"), "[tcp]\nlisten = \"\"\n").unwrap();
    let c = load_with_defaults(&Source::default(), &[], &dir).unwrap();
    assert_eq!(c.tcp.listen, "");
}

#[test]
fn unknown_alert_names_view_alert_and_file() {
    let t = TempDir::new();
    let main = t.write("main.toml", "[alerts.ops]\nmail = \"a@x\"\n");
    let dir = t.0.join("conf.d");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("views.toml"),
        "[[views]]\nname = \"ok\"\npattern = \"a\"\nalerts = [\"ops\"]\n\n\
         [[views]]\nname = \"backup\"\npattern = \"b\"\nalerts = [\"ops\", \"pager\"]\n",
    )
    .unwrap();
    let src = Source {
        config_file: Some(main),
        config_dir: Some(dir.clone()),
    };
    let e = load_with_defaults(&src, &[], &t.0.join("unused")).unwrap_err();
    let shown = e.to_string();
    let (path, line, key, message) = invalid(Err(e));
    assert_eq!(path, Some(dir.join("views.toml")));
    assert_eq!(line, Some(9));
    assert_eq!(key, "views[1].alerts");
    assert!(
        message.contains("`pager`") && message.contains("`backup`"),
        "{message}"
    );
    assert!(shown.contains("views.toml:9:"), "{shown}");
}

#[test]
fn validate_in_code() {
    let mut c = Config::default();
    c.views.push(ViewConfig {
        name: "v".into(),
        pattern: "x".into(),
        alerts: vec!["nope".into()],
        ..ViewConfig::default()
    });
    let (_, _, key, _) = invalid(c.validate().map(|_| Config::default()));
    assert_eq!(key, "views[0].alerts");
    c.views.clear();
    c.database.interval = 0;
    let (_, _, key, _) = invalid(c.validate().map(|_| Config::default()));
    assert_eq!(key, "database.interval");
    c.database.interval = 60;
    c.metrics.interval = 0;
    let (_, _, key, _) = invalid(c.validate().map(|_| Config::default()));
    assert_eq!(key, "metrics.interval");
}

#[test]
fn listen_addresses() {
    assert_eq!(listen_addr(""), Ok(None));
    assert_eq!(listen_addr(":8080"), Ok(Some("[::]:8080".into())));
    assert_eq!(listen_addr(":0"), Ok(Some("[::]:0".into())));
    for ok in [
        "127.0.0.1:8080",
        "[::1]:8080",
        "localhost:8080",
        "[::]:65535",
    ] {
        assert_eq!(listen_addr(ok), Ok(Some(ok.into())), "{ok}");
    }
    for bad in [
        "8080",
        "localhost",
        ":",
        ":65536",
        ":-1",
        ":+1",
        ":http",
        "::1:80",
        "[::1]",
        "[zz]:80",
        "a b:80",
        "host:80 ",
    ] {
        assert!(listen_addr(bad).is_err(), "{bad}");
    }
}

#[test]
fn example_config_in_repository_parses() {
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/lovebeat.toml"));
    let src = Source {
        config_file: Some(path),
        config_dir: None,
    };
    let c = load_with_defaults(&src, &[], Path::new("/nonexistent/lovebeat.conf.d")).unwrap();
    assert_eq!(c.udp, Config::default().udp);
    assert_eq!(c.database, Config::default().database);
    assert_eq!(c.limits, Config::default().limits);
}
