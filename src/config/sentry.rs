//! `[sentry]` (SPEC 17): Sentry Crons' check-in route on our HTTP port.
//! Absent, the route is off (`/api/<project>/cron/...` is an unknown
//! path). `key` is the DSN's public key (required: it is the route's
//! credential); `prefix` is put before every service name it makes.

use super::healthchecks::de_prefix;
use serde::de::{self, Deserializer};
use serde::Deserialize;

/// `[sentry]`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sentry {
    /// The DSN's public key (`http://<key>@host/<project>`).
    #[serde(deserialize_with = "de_key")]
    pub key: String,
    /// Put before the lower-cased monitor slug ("" = none).
    #[serde(default, deserialize_with = "de_prefix")]
    pub prefix: String,
}

impl std::fmt::Debug for Sentry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sentry")
            .field("key", &"***")
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// A DSN public key is what a URL path segment and the DSN's user part
/// carry: letters, digits, '-' and '_' (Sentry's are 32 hex digits).
pub fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > 128 {
        return Err(format!(
            "the key has {} characters; give the DSN's public key (1 to 128 characters, \
             e.g. the 32 hex digits before '@' in the DSN)",
            key.len()
        ));
    }
    if let Some(c) = key
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(format!(
            "the key contains {c:?}; a DSN public key is letters, digits, '-' and '_'"
        ));
    }
    Ok(())
}

fn de_key<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    check_key(&s).map_err(de::Error::custom)?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_needs_a_key() {
        let parse = |t: &str| toml::from_str::<crate::config::Config>(t).map(|c| c.sentry);
        assert_eq!(parse(""), Ok(None));
        let s = parse("[sentry]\nkey = \"abc123\"\nprefix = \"s.\"\n");
        let s = s.map(|s| s.map(|s| (s.key, s.prefix)));
        assert_eq!(s, Ok(Some(("abc123".into(), "s.".into()))));
        for bad in [
            "[sentry]\n",
            "[sentry]\nkey = \"\"\n",
            "[sentry]\nkey = \"a b\"\n",
            "[sentry]\nkey = \"k\"\nprefix = \"S\"\n",
            "[sentry]\nkey = \"k\"\ndsn = \"x\"\n",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let shown = format!(
            "{:?}",
            Sentry {
                key: "secretkey".into(),
                prefix: String::new()
            }
        );
        assert!(!shown.contains("secretkey"), "{shown}");
    }
}
