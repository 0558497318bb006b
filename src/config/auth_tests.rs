//! Tests of the access-token keys: `[http] auth_token` / `auth_read` and
//! `[[notify]] token`, loaded from files and checked in code.

use super::*;
use std::path::PathBuf;

/// A temporary directory removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let dir =
            std::env::temp_dir().join(format!("lovebeat-config-auth-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        Dir(dir)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Loads `main` (and `extra` from a config dir, when given).
fn load_files(tag: &str, main: &str, extra: Option<&str>) -> Result<Config, ConfigError> {
    let d = Dir::new(tag);
    let file = d.0.join("lovebeat.toml");
    std::fs::write(&file, main).expect("write");
    let config_dir = extra.map(|text| {
        let dir = d.0.join("conf.d");
        std::fs::create_dir_all(&dir).expect("conf.d");
        std::fs::write(dir.join("50-auth.toml"), text).expect("write");
        dir
    });
    let src = Source {
        config_file: Some(file),
        config_dir,
    };
    load_with_defaults(&src, &[], &d.0.join("none"))
}

const TOKEN: &str = "0123456789abcdef-token";

#[test]
fn tokens_default_to_off_and_load() {
    let c = Config::default();
    assert_eq!(c.http.auth_token, "");
    assert!(!c.http.auth_read);
    let c = load_files(
        "load",
        &format!(
            "[http]\nauth_token = \"{TOKEN}\"\nauth_read = true\n\
             [[notify]]\nlovebeat = \"http://o:1\"\ntoken = \"{TOKEN}\"\n\
             [[notify]]\nlovebeat = \"http://p:1\"\n"
        ),
        None,
    )
    .expect("valid");
    assert_eq!(c.http.auth_token, TOKEN);
    assert!(c.http.auth_read);
    assert_eq!(c.notify[0].token, TOKEN);
    assert_eq!(c.notify[1].token, "", "token is optional");
    assert_eq!(c.validate(), Ok(()));
}

#[test]
fn auth_read_without_token_names_file_line_and_key() {
    let err = load_files(
        "noread",
        "[udp]\nlisten = \"\"\n[http]\nauth_read = true\n",
        None,
    )
    .expect_err("refused");
    match &err {
        ConfigError::Invalid {
            path, line, key, ..
        } => {
            assert_eq!(key, "http.auth_read");
            assert!(path.as_ref().is_some_and(|p| p.ends_with("lovebeat.toml")));
            assert_eq!(*line, Some(4));
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert!(err.to_string().contains("needs `auth_token`"), "{err}");
    // The token may come from another file: merged, it is fine.
    let c = load_files(
        "split",
        "[http]\nauth_read = true\n",
        Some(&format!("[http]\nauth_token = \"{TOKEN}\"\n")),
    )
    .expect("token from conf.d");
    assert!(c.http.auth_read);
    // ...and the file that sets auth_read is the one blamed.
    let err = load_files(
        "blame",
        "[http]\nlisten = \":1\"\n",
        Some("[http]\nauth_read = true\n"),
    )
    .expect_err("refused");
    assert!(err.to_string().contains("50-auth.toml:2:"), "{err}");
    // In code too.
    let mut c = Config::default();
    c.http.auth_read = true;
    assert!(
        matches!(c.validate(), Err(ConfigError::Invalid { key, .. }) if key == "http.auth_read")
    );
}

#[test]
fn bad_tokens_are_refused_where_they_are_written() {
    for (bad, why) in [
        ("short", "characters"),
        ("has a space in it somewhere", "' '"),
        ("tab\there-and-long-enough", "'\\t'"),
        ("non-ascii-é-long-enough-token", "'é'"),
    ] {
        let err =
            load_files("bad", &format!("[http]\nauth_token = \"{bad}\"\n"), None).expect_err(bad);
        let text = err.to_string();
        assert!(text.contains("lovebeat.toml:2:"), "{bad}: {text}");
        assert!(text.contains(why), "{bad}: {text}");
        let err = load_files(
            "badn",
            &format!("[[notify]]\nlovebeat = \"http://o:1\"\ntoken = \"{bad}\"\n"),
            None,
        )
        .expect_err(bad);
        assert!(err.to_string().contains("lovebeat.toml:3:"), "{bad}: {err}");
    }
    assert!(check_token(&"x".repeat(MIN_TOKEN_LEN)).is_ok());
    assert!(check_token(&"x".repeat(MIN_TOKEN_LEN - 1)).is_err());
    assert!(check_token(&"x".repeat(513)).is_err());
    assert!(check_token("").is_ok(), "empty = off");
    let mut c = Config::default();
    c.http.auth_token = "short".into();
    assert!(
        matches!(c.validate(), Err(ConfigError::Invalid { key, .. }) if key == "http.auth_token")
    );
}
