//! `[uptime_kuma]` and `[cronitor]` (SPEC 17): Uptime Kuma's push route and
//! Cronitor's telemetry route on our HTTP port. Kuma's is on only with
//! `enabled = true` (its push token is its only credential, as in Kuma);
//! Cronitor's whenever `[cronitor] key` is set (the key in its URLs).
//! `prefix` is put before every service name a route makes; it is checked
//! as `[healthchecks] prefix` is.

use super::healthchecks::de_prefix;
use serde::de::{self, Deserializer};
use serde::Deserialize;

/// `[uptime_kuma]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct UptimeKuma {
    /// `/api/push/<token>` answers only when true.
    pub enabled: bool,
    /// Put before the push token to make the service name ("" = none).
    #[serde(deserialize_with = "de_prefix")]
    pub prefix: String,
}

/// `[cronitor]`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cronitor {
    /// The API key of `/p/<key>/<monitor>`: required, the route's credential.
    #[serde(deserialize_with = "de_key")]
    pub key: String,
    /// Put before the monitor key to make the service name ("" = none).
    #[serde(default, deserialize_with = "de_prefix")]
    pub prefix: String,
}

impl std::fmt::Debug for Cronitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cronitor")
            .field("key", &"***")
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// A Cronitor key is one URL path segment: letters, digits, '-', '_'
/// (Cronitor's keys are 32 hex-like characters), 1 to 128 of them.
pub fn check_cronitor_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("the key is empty; set the API key your Cronitor clients send".into());
    }
    if key.len() > 128 {
        return Err(format!(
            "the key has {} characters; use at most 128",
            key.len()
        ));
    }
    if let Some(c) = key
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(format!(
            "the key contains {c:?}; a key is letters, digits, '-' and '_' \
             (as Cronitor's API keys)"
        ));
    }
    Ok(())
}

fn de_key<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    check_cronitor_key(&s).map_err(de::Error::custom)?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Result<crate::config::Config, toml::de::Error> {
        toml::from_str::<crate::config::Config>(t)
    }

    #[test]
    fn kuma_section() {
        assert_eq!(parse("").map(|c| c.uptime_kuma), Ok(None));
        let k = parse("[uptime_kuma]\nenabled = true\nprefix = \"kuma.\"\n")
            .map(|c| c.uptime_kuma.unwrap_or_default());
        assert_eq!(
            k,
            Ok(UptimeKuma {
                enabled: true,
                prefix: "kuma.".into()
            })
        );
        assert_eq!(
            parse("[uptime_kuma]\n").map(|c| c.uptime_kuma),
            Ok(Some(UptimeKuma::default()))
        );
        for bad in [
            "[uptime_kuma]\nprefix = \"K\"\n",
            "[uptime_kuma]\ntoken = \"x\"\n",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cronitor_section() {
        assert!(parse("").map(|c| c.cronitor.is_none()).unwrap_or(false));
        let c = parse("[cronitor]\nkey = \"abc_1-2\"\nprefix = \"cr.\"\n")
            .map(|c| c.cronitor.map(|c| (c.key, c.prefix)));
        assert_eq!(c, Ok(Some(("abc_1-2".into(), "cr.".into()))));
        for bad in [
            "[cronitor]\n",
            "[cronitor]\nkey = \"\"\n",
            "[cronitor]\nkey = \"a/b\"\n",
            "[cronitor]\nkey = \"k\"\nprefix = \"Cr\"\n",
            "[cronitor]\nkey = \"k\"\nenabled = true\n",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let shown = format!(
            "{:?}",
            Cronitor {
                key: "secretkey".into(),
                prefix: String::new()
            }
        );
        assert!(!shown.contains("secretkey"), "{shown}");
    }
}
