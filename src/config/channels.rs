//! The account-wide tables of the alert channels of SPEC 16 (`[telegram]`,
//! `[pagerduty]`, `[opsgenie]`, `[pushover]`, `[matrix]`), as 1.x keeps
//! `[slack]` and `[mailgun]`, and the templated request of
//! `[alerts.NAME] http`. Every `api_base` can point elsewhere (an EU
//! region, a self-hosted server, a test receiver).

use serde::Deserialize;
use std::collections::BTreeMap;

/// `[telegram]`: the bot that sends.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Telegram {
    pub bot_token: String,
    pub api_base: String,
}

impl Default for Telegram {
    fn default() -> Self {
        Telegram {
            bot_token: String::new(),
            api_base: "https://api.telegram.org".into(),
        }
    }
}

/// `[pagerduty]`: where the Events API v2 is.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PagerDuty {
    pub api_base: String,
}

impl Default for PagerDuty {
    fn default() -> Self {
        PagerDuty {
            api_base: "https://events.pagerduty.com".into(),
        }
    }
}

/// `[opsgenie]`: where the Alert API is (`https://api.eu.opsgenie.com`
/// for the EU).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Opsgenie {
    pub api_base: String,
}

impl Default for Opsgenie {
    fn default() -> Self {
        Opsgenie {
            api_base: "https://api.opsgenie.com".into(),
        }
    }
}

/// `[pushover]`: the application token that sends.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Pushover {
    pub token: String,
    pub api_base: String,
}

impl Default for Pushover {
    fn default() -> Self {
        Pushover {
            token: String::new(),
            api_base: "https://api.pushover.net".into(),
        }
    }
}

/// `[matrix]`: the homeserver and the sending user's token.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Matrix {
    pub homeserver: String,
    pub access_token: String,
}

/// `[alerts.NAME] http = { url, method, headers, body }`: a request shaped
/// by the user; `body` may use `{{view}}`, `{{state}}`,
/// `{{previous_state}}`, `{{incident}}`, `{{failed_services}}`,
/// `{{reasons}}`, `{{url}}` (each JSON-escaped).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpTemplate {
    pub url: String,
    #[serde(default = "default_method")]
    pub method: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: String,
}

fn default_method() -> String {
    "POST".into()
}

/// All the account-wide channel tables, as the alerter takes them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChannelAccounts {
    pub telegram: Telegram,
    pub pagerduty: PagerDuty,
    pub opsgenie: Opsgenie,
    pub pushover: Pushover,
    pub matrix: Matrix,
}
