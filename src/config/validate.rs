//! Value checks: listen addresses, file modes, URLs, ranges, and the views'
//! cross-checks ([`Config::validate`]), plus the serde `deserialize_with`
//! functions that apply the same checks while a file is parsed.

use super::{Config, ConfigError, MAX_METRICS_INTERVAL, MAX_SAVE_INTERVAL};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::fmt;

impl Config {
    /// Checks everything [`load`](fn@super::load) checks, for a `Config` built in code.
    /// Errors carry the key but no file or line.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: String, message: String| ConfigError::Invalid {
            path: None,
            line: None,
            key,
            message,
        };
        for (key, value) in [
            ("udp.listen", &self.udp.listen),
            ("tcp.listen", &self.tcp.listen),
            ("http.listen", &self.http.listen),
        ] {
            check_listen(value).map_err(|m| invalid(key.into(), m))?;
        }
        if !(1..=MAX_SAVE_INTERVAL).contains(&self.database.interval) {
            return Err(invalid(
                "database.interval".into(),
                format!("must be from 1 to {MAX_SAVE_INTERVAL} (seconds)"),
            ));
        }
        let server = &self.metrics.server;
        let port_ok = |p: &str| p.parse::<u16>().is_ok_and(|p| p > 0);
        if !server.is_empty()
            && !server
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port_ok(port))
        {
            return Err(invalid(
                "metrics.server".into(),
                format!("{server:?} is not \"host:port\", e.g. \"localhost:8125\""),
            ));
        }
        if !(1..=MAX_METRICS_INTERVAL).contains(&self.metrics.interval) {
            return Err(invalid(
                "metrics.interval".into(),
                format!("must be from 1 to {MAX_METRICS_INTERVAL} (seconds)"),
            ));
        }
        for (key, value) in [
            ("limits.max_services", self.limits.max_services),
            (
                "limits.max_tcp_connections",
                self.limits.max_tcp_connections,
            ),
            ("limits.max_ws_clients", self.limits.max_ws_clients),
            ("limits.max_body_bytes", self.limits.max_body_bytes),
            ("limits.events_per_service", self.limits.events_per_service),
            ("limits.event_body_memory", self.limits.event_body_memory),
            ("limits.history_days", self.limits.history_days),
            ("limits.history_memory", self.limits.history_memory),
        ] {
            if value < 1 {
                return Err(invalid(key.into(), "must be at least 1".into()));
            }
        }
        if let Some((key, m)) = self.job_limits_problem() {
            return Err(invalid(format!("limits.{key}"), m));
        }
        if let Some((i, key, m)) = self.services_problem() {
            return Err(invalid(format!("services[{i}].{key}"), m));
        }
        parse_mode(&self.eventlog.mode).map_err(|m| invalid("eventlog.mode".into(), m))?;
        check_s3_url(&self.database.remote_s3_url)
            .map_err(|m| invalid("database.remote_s3_url".into(), m))?;
        check_s3_endpoint(&self.database.remote_s3_endpoint)
            .map_err(|m| invalid("database.remote_s3_endpoint".into(), m))?;
        check_token(&self.http.auth_token).map_err(|m| invalid("http.auth_token".into(), m))?;
        if let Some(m) = self.auth_problem() {
            return Err(invalid("http.auth_read".into(), m));
        }
        for (i, n) in self.notify.iter().enumerate() {
            check_http_url(&n.lovebeat).map_err(|m| invalid(format!("notify[{i}].lovebeat"), m))?;
            check_token(&n.token).map_err(|m| invalid(format!("notify[{i}].token"), m))?;
        }
        for (i, v) in self.views.iter().enumerate() {
            v.check()
                .map_err(|(k, m)| invalid(format!("views[{i}].{k}"), m))?;
        }
        if let Some((i, key, message)) = self.view_problem() {
            return Err(invalid(format!("views[{i}].{key}"), message));
        }
        if let Some((name, key, message)) = self.repeat_problem() {
            return Err(invalid(format!("alerts.{name}.{key}"), message));
        }
        if let Some((i, key, message)) = self.maintenance_problem() {
            return Err(invalid(format!("maintenance[{i}].{key}"), message));
        }
        Ok(())
    }

    /// `auth_read = true` without a token would protect nothing: refused.
    pub(super) fn auth_problem(&self) -> Option<String> {
        (self.http.auth_read && self.http.auth_token.is_empty()).then(|| {
            "`auth_read = true` needs `auth_token` in [http] (reads cannot need a token \
             when there is none); set a token, e.g. `openssl rand -hex 32`, or remove auth_read"
                .to_owned()
        })
    }

    /// Cross-file checks on views: undefined alerts, duplicate names, and
    /// `depends_on` (unknown names, self, cycles).
    /// Returns (index in `views`, key within the view, message).
    pub(super) fn view_problem(&self) -> Option<(usize, &'static str, String)> {
        let mut names = BTreeSet::new();
        for (i, v) in self.views.iter().enumerate() {
            if !names.insert(v.name.as_str()) {
                return Some((
                    i,
                    "name",
                    format!(
                        "view name `{}` is used by more than one view; names must be unique",
                        v.name
                    ),
                ));
            }
            if let Some(a) = v.alerts.iter().find(|a| !self.alerts.contains_key(*a)) {
                return Some((
                    i,
                    "alerts",
                    format!(
                        "view `{}` uses alert `{a}`, which is not defined; add an [alerts.{a}] section or remove it from `alerts`",
                        v.name
                    ),
                ));
            }
        }
        self.depends_on_problem()
    }
}

/// Parses a listen address: `""` → `None` (listener disabled), `":8080"` →
/// `[::]:8080` (every interface, IPv4 and IPv6: see `crate::net`),
/// `HOST:PORT` and `[IPv6]:PORT` unchanged.
pub fn listen_addr(s: &str) -> Result<Option<String>, ConfigError> {
    check_listen(s).map_err(|message| ConfigError::Invalid {
        path: None,
        line: None,
        key: "listen".into(),
        message,
    })
}

fn check_listen(s: &str) -> Result<Option<String>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    let help = "use \":PORT\" for all interfaces, \"HOST:PORT\", or \"\" to disable";
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("listen address `{s}` has no port; {help}"))?;
    let port_ok = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
    let port: u16 = port.parse().ok().filter(|_| port_ok).ok_or_else(|| {
        format!("listen address `{s}`: port `{port}` is not a number from 0 to 65535")
    })?;
    if host.is_empty() {
        return Ok(Some(format!("[::]:{port}")));
    }
    if let Some(inner) = host.strip_prefix('[') {
        let ok = inner
            .strip_suffix(']')
            .map(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok())
            .unwrap_or(false);
        if !ok {
            return Err(format!(
                "listen address `{s}`: `{host}` is not a bracketed IPv6 address like [::1]"
            ));
        }
    } else if host.contains(':') {
        return Err(format!(
            "listen address `{s}`: put IPv6 addresses in brackets, e.g. \"[::1]:{port}\""
        ));
    } else if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
    {
        return Err(format!(
            "listen address `{s}`: `{host}` is not a host name or IP address"
        ));
    }
    Ok(Some(s.to_string()))
}

pub(super) fn parse_mode(s: &str) -> Result<u32, String> {
    let ok = !s.is_empty() && s.bytes().all(|b| (b'0'..=b'7').contains(&b));
    u32::from_str_radix(s, 8)
        .ok()
        .filter(|&m| ok && m <= 0o777)
        .ok_or_else(|| format!("file mode `{s}` is not an octal mode from 0 to 777, e.g. \"644\""))
}

fn check_http_url(s: &str) -> Result<(), String> {
    let rest = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"))
        .unwrap_or("");
    if rest.is_empty() {
        return Err(format!(
            "`{s}` is not an http:// or https:// URL, e.g. \"http://other:8080\""
        ));
    }
    Ok(())
}

/// Shortest accepted access token.
pub const MIN_TOKEN_LEN: usize = 16;
/// Longest accepted access token.
pub const MAX_TOKEN_LEN: usize = 512;

/// An access token (`[http] auth_token`, `[[notify]] token`): "" (none), or
/// 16 to 512 visible ASCII characters (no spaces), so that it travels
/// unchanged in an `Authorization` header and is not trivially guessed.
pub fn check_token(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Ok(());
    }
    if let Some(c) = s.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(format!(
            "the token contains {c:?}; use visible ASCII characters only (no spaces), \
             e.g. the output of `openssl rand -hex 32`"
        ));
    }
    if !(MIN_TOKEN_LEN..=MAX_TOKEN_LEN).contains(&s.len()) {
        return Err(format!(
            "the token has {} characters; use {MIN_TOKEN_LEN} to {MAX_TOKEN_LEN}, \
             e.g. the output of `openssl rand -hex 32`",
            s.len()
        ));
    }
    Ok(())
}

pub(super) fn de_token<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    check_token(&s).map_err(de::Error::custom)?;
    Ok(s)
}

/// Splits `s3://bucket/key` into the bucket and the object key. The bucket
/// follows S3's naming rules (3 to 63 lowercase letters, digits, dots and
/// hyphens); the key is not empty and does not end in `/`.
pub fn s3_location(url: &str) -> Result<(String, String), String> {
    let help = "use \"s3://bucket/path/lovebeat.db\"";
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| format!("`{url}` is not an s3:// URL; {help}"))?;
    let (bucket, key) = rest
        .split_once('/')
        .ok_or_else(|| format!("`{url}` names a bucket but no object key; {help}"))?;
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !bucket_ok {
        return Err(format!(
            "`{url}`: `{bucket}` is not an S3 bucket name (3 to 63 lowercase letters, digits, dots and hyphens)"
        ));
    }
    if key.is_empty() || key.ends_with('/') {
        return Err(format!(
            "`{url}` names no object (the key after the bucket is empty or ends in /); {help}"
        ));
    }
    if key.chars().any(char::is_control) {
        return Err(format!(
            "`{url}`: the object key contains control characters"
        ));
    }
    Ok((bucket.to_string(), key.to_string()))
}

fn check_s3_url(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Ok(());
    }
    s3_location(s).map(|_| ())
}

fn check_s3_endpoint(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Ok(());
    }
    check_http_url(s).map_err(|_| {
        format!("`{s}` is not an http:// or https:// URL, e.g. \"http://127.0.0.1:9000\"")
    })
}

pub(super) fn de_s3_url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    check_s3_url(&s).map_err(de::Error::custom)?;
    Ok(s)
}

pub(super) fn de_s3_endpoint<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    check_s3_endpoint(&s).map_err(de::Error::custom)?;
    Ok(s)
}

pub(super) fn de_listen<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    check_listen(&s).map_err(de::Error::custom)?;
    Ok(s)
}

pub(super) fn de_http_url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    check_http_url(&s).map_err(de::Error::custom)?;
    Ok(s)
}

pub(super) fn de_save_interval<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = u64::deserialize(d)?;
    if !(1..=MAX_SAVE_INTERVAL).contains(&n) {
        return Err(de::Error::custom(format!(
            "must be from 1 to {MAX_SAVE_INTERVAL} (seconds)"
        )));
    }
    Ok(n)
}

pub(super) fn de_metrics_interval<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = u64::deserialize(d)?;
    if !(1..=MAX_METRICS_INTERVAL).contains(&n) {
        return Err(de::Error::custom(format!(
            "must be from 1 to {MAX_METRICS_INTERVAL} (seconds)"
        )));
    }
    Ok(n)
}

pub(super) fn de_positive_usize<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let n = usize::deserialize(d)?;
    if n < 1 {
        return Err(de::Error::custom("must be at least 1"));
    }
    Ok(n)
}

/// Mode as `"644"` or, like Lovebeat 1.x, the integer `644` (its decimal
/// digits read as octal).
pub(super) fn de_mode<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct ModeVisitor;
    impl Visitor<'_> for ModeVisitor {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an octal file mode such as \"644\"")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            parse_mode(v).map_err(E::custom)?;
            Ok(v.to_string())
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            self.visit_str(&v.to_string())
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            self.visit_str(&v.to_string())
        }
    }
    d.deserialize_any(ModeVisitor)
}
