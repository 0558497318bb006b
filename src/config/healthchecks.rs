//! `[healthchecks]` (SPEC 17): healthchecks.io's ping routes on our HTTP
//! port. Absent, the routes are off (`/ping/...` is an unknown path).
//! `ping_key` enables the slug URLs `/ping/<ping_key>/<slug>`; `prefix` is
//! put before every service name these routes make. Both are checked here,
//! so a key that no URL could carry or a prefix that makes no service name
//! is a configuration error, not a route that silently never matches.

use serde::de::{self, Deserializer};
use serde::Deserialize;

/// Longest `prefix`: leaves room for a uuid (36) or a slug in a service
/// name of at most 200 characters.
pub const MAX_PEER_PREFIX_LEN: usize = 100;

/// `[healthchecks]`.
#[derive(Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Healthchecks {
    /// The project's ping key of the slug URLs ("" = slug URLs off).
    #[serde(deserialize_with = "de_ping_key")]
    pub ping_key: String,
    /// Put before the uuid or slug to make the service name ("" = none).
    #[serde(deserialize_with = "de_prefix")]
    pub prefix: String,
}

impl std::fmt::Debug for Healthchecks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Healthchecks")
            .field("ping_key", &(!self.ping_key.is_empty()).then_some("***"))
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// A ping key is what Django's `slug` path converter matches
/// (`[-a-zA-Z0-9_]+`, healthchecks' `hc/api/urls.py`), or "" for none.
pub fn check_ping_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Ok(());
    }
    if key.len() > 128 {
        return Err(format!(
            "the ping key has {} characters; use at most 128",
            key.len()
        ));
    }
    if let Some(c) = key
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(format!(
            "the ping key contains {c:?}; a ping key is letters, digits, '-' and '_' \
             (as healthchecks' ping keys, e.g. fqOOd6-F4MMNuCEnzTU01w)"
        ));
    }
    Ok(())
}

/// A prefix is the start of a service name: `[a-z0-9._-]`, at most
/// `MAX_PEER_PREFIX_LEN`, or "".
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    if prefix.len() > MAX_PEER_PREFIX_LEN {
        return Err(format!(
            "the prefix has {} characters; use at most {MAX_PEER_PREFIX_LEN}",
            prefix.len()
        ));
    }
    if let Some(c) = prefix
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '-'))
    {
        return Err(format!(
            "the prefix contains {c:?}; it starts service names, which are a-z, 0-9, \
             '.', '_' and '-' (e.g. \"hc.\")"
        ));
    }
    Ok(())
}

fn de_ping_key<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    check_ping_key(&s).map_err(de::Error::custom)?;
    Ok(s)
}

/// A peer section's `prefix` (healthchecks, Uptime Kuma, Cronitor, Sentry),
/// checked by `check_prefix`.
pub(super) fn de_prefix<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    check_prefix(&s).map_err(de::Error::custom)?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_prefixes() {
        for ok in ["", "fqOOd6-F4MMNuCEnzTU01w", "a_b-C9"] {
            assert!(check_ping_key(ok).is_ok(), "{ok}");
        }
        for bad in ["a b", "key/x", "ké", "a.b", &"k".repeat(129)] {
            assert!(check_ping_key(bad).is_err(), "{bad}");
        }
        for ok in ["", "hc.", "team-a_"] {
            assert!(check_prefix(ok).is_ok(), "{ok}");
        }
        for bad in ["HC.", "hc/", "a b", &"p".repeat(101)] {
            let e = check_prefix(bad).unwrap_err();
            assert!(e.contains("prefix"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_section_turns_the_routes_on() {
        let parse = |t: &str| toml::from_str::<crate::config::Config>(t);
        assert_eq!(parse("").map(|c| c.healthchecks), Ok(None));
        let c = parse("[healthchecks]\n").map(|c| c.healthchecks);
        assert_eq!(c, Ok(Some(Healthchecks::default())));
        let c = parse("[healthchecks]\nping_key = \"k-1\"\nprefix = \"hc.\"\n");
        let hc = c.map(|c| c.healthchecks.unwrap_or_default());
        assert_eq!(
            hc.as_ref().map(|h| (&*h.ping_key, &*h.prefix)),
            Ok(("k-1", "hc."))
        );
        for bad in [
            "[healthchecks]\nprefix = \"HC\"\n",
            "[healthchecks]\nping_key = \"a b\"\n",
            "[healthchecks]\nkey = \"k\"\n",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_hides_the_key() {
        let h = Healthchecks {
            ping_key: "secretkey".into(),
            prefix: "hc.".into(),
        };
        let shown = format!("{h:?}");
        assert!(
            !shown.contains("secretkey") && shown.contains("hc."),
            "{shown}"
        );
    }
}
