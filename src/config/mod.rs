//! Configuration: TOML files (SPEC 10), merged from `-config` and
//! `-config-dir`, validated with errors that name file, line and key.
//!
//! Owns the [`Config`] types and their defaults, finding the files
//! (`/etc/lovebeat.toml`, `/etc/lovebeat.cfg`, `/etc/lovebeat.conf.d`),
//! merging them (tables key by key, `[[views]]`/`[[alarms]]`/`[[notify]]`/
//! `[[services]]` appended), and validation. Each file is first checked on its own so that
//! an error can point at the file and line it came from.
//!
//! This file holds the public types, their defaults and serde attributes;
//! the work is done in the submodules: `load` (finding, reading and merging
//! files), `error` ([`ConfigError`] and locating errors in the text) and
//! `validate` (value checks and the custom deserializers), `services`
//! (`[[services]]` blocks and the job limits, SPEC 14.4), `policy` (the
//! alert policy's keys and `[[maintenance]]`, SPEC 15), `status_page`
//! (`[status_page]`, SPEC 18).

#[cfg(test)]
mod auth_tests;
mod channels;
mod error;
mod healthchecks;
mod load;
mod policy;
#[cfg(test)]
mod policy_tests;
mod sentry;
mod services;
#[cfg(test)]
mod services_tests;
mod status_page;
#[cfg(test)]
mod tests;
mod uptime_kuma;
mod validate;

pub use channels::{
    ChannelAccounts, HttpTemplate, Matrix, Opsgenie, PagerDuty, Pushover, Telegram,
};
pub use error::ConfigError;
pub use healthchecks::Healthchecks;
pub use load::{load, load_with_defaults, Source};
pub use policy::{MaintenanceConfig, MAX_DELAY_MS, MIN_REPEAT_MS};
pub use sentry::Sentry;
pub use services::{
    DurationValue, ServiceDefaults, MAX_BODIES_PER_SERVICE, MAX_BODY_BYTES_LIMIT,
    MAX_EVENTS_PER_SERVICE,
};
pub use status_page::StatusPage;
pub use uptime_kuma::{Cronitor, UptimeKuma};
pub use validate::{check_token, listen_addr, s3_location, MIN_TOKEN_LEN};

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use validate::{
    de_http_url, de_listen, de_metrics_interval, de_mode, de_positive_usize, de_s3_endpoint,
    de_s3_url, de_save_interval, de_token, parse_mode,
};

/// Looked for in this order when no `-config` is given; the first that
/// exists is read (`.cfg` is Lovebeat 1.x's name).
pub const DEFAULT_CONFIG_FILES: [&str; 2] = ["/etc/lovebeat.toml", "/etc/lovebeat.cfg"];
/// Longest accepted `[database] interval`: one day, in seconds.
pub const MAX_SAVE_INTERVAL: u64 = 86_400;
/// Longest accepted `[metrics] interval`: one hour, in seconds.
pub const MAX_METRICS_INTERVAL: u64 = 3600;

/// Read when no `-config-dir` is given, if it exists.
pub const DEFAULT_CONFIG_DIR: &str = "/etc/lovebeat.conf.d";

/// The whole configuration, after merging all files.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(from = "RawConfig")]
pub struct Config {
    pub general: General,
    pub udp: Listen,
    pub tcp: Listen,
    pub http: Http,
    pub database: Database,
    pub mail: Mail,
    pub mailgun: Mailgun,
    pub slack: Slack,
    pub telegram: Telegram,
    pub pagerduty: PagerDuty,
    pub opsgenie: Opsgenie,
    pub pushover: Pushover,
    pub matrix: Matrix,
    pub metrics: Metrics,
    pub eventlog: EventLog,
    pub notify: Vec<Notify>,
    /// `[[views]]` entries first, then `[[alarms]]` (Lovebeat 1.x), each in
    /// file order.
    pub views: Vec<ViewConfig>,
    pub alerts: BTreeMap<String, AlertConfig>,
    pub limits: Limits,
    /// `[[services]]` blocks, in file order (SPEC 14.4).
    pub services: Vec<ServiceDefaults>,
    /// `[[maintenance]]` windows, in file order (SPEC 15).
    pub maintenance: Vec<MaintenanceConfig>,
    /// `[healthchecks]` (SPEC 17): its ping routes; `None` = off.
    pub healthchecks: Option<Healthchecks>,
    /// `[uptime_kuma]` (SPEC 17): its push route, on with `enabled = true`.
    pub uptime_kuma: Option<UptimeKuma>,
    /// `[cronitor]` (SPEC 17): its telemetry route; `None` = off.
    pub cronitor: Option<Cronitor>,
    /// `[sentry]` (SPEC 17): its cron check-in route; `None` = off.
    pub sentry: Option<Sentry>,
    /// `[status_page]` (SPEC 18): the public `/status-page`; `None` = off.
    pub status_page: Option<StatusPage>,
    /// The files this configuration was read from, in order; empty when
    /// none was found and only the built-in defaults apply.
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct General {
    /// Base URL of the dashboard, used for links in alerts. "" = none.
    pub public_url: String,
}

/// `[udp]` / `[tcp]`: statsd listeners.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Listen {
    /// `":8127"` = all interfaces; `""` disables the listener.
    #[serde(deserialize_with = "de_listen")]
    pub listen: String,
}

impl Default for Listen {
    fn default() -> Self {
        Listen {
            listen: ":8127".into(),
        }
    }
}

impl Listen {
    /// The address to bind, or `None` when the listener is disabled.
    pub fn addr(&self) -> Result<Option<String>, ConfigError> {
        listen_addr(&self.listen)
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Http {
    /// `":8080"` = all interfaces; `""` disables the HTTP server.
    #[serde(deserialize_with = "de_listen")]
    pub listen: String,
    /// When set, POST and DELETE need `Authorization: Bearer <token>`
    /// ("" = everything open). See [`validate::check_token`] for the rules.
    #[serde(deserialize_with = "de_token")]
    pub auth_token: String,
    /// With `auth_token`: reads (the API, `/metrics`, `/ws`) need the token
    /// too; the dashboard's page and assets stay open.
    pub auth_read: bool,
    /// `/badge/<view>.svg|.json` need no token even with `auth_read`
    /// (SPEC 18).
    pub public_badges: bool,
}

impl Default for Http {
    fn default() -> Self {
        Http {
            listen: ":8080".into(),
            auth_token: String::new(),
            auth_read: false,
            public_badges: false,
        }
    }
}

impl Http {
    /// The address to bind, or `None` when the HTTP server is disabled.
    pub fn addr(&self) -> Result<Option<String>, ConfigError> {
        listen_addr(&self.listen)
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Database {
    pub filename: String,
    /// Seconds between periodic saves, 1 to `MAX_SAVE_INTERVAL`.
    #[serde(deserialize_with = "de_save_interval")]
    pub interval: u64,
    /// `s3://bucket/key`, or empty (no S3 copy).
    #[serde(deserialize_with = "de_s3_url")]
    pub remote_s3_url: String,
    pub remote_s3_region: String,
    /// `http(s)://host[:port]` of an S3-compatible store, or empty (AWS).
    #[serde(deserialize_with = "de_s3_endpoint")]
    pub remote_s3_endpoint: String,
}

impl Default for Database {
    fn default() -> Self {
        Database {
            filename: "lovebeat.db".into(),
            interval: 60,
            remote_s3_url: String::new(),
            remote_s3_region: String::new(),
            remote_s3_endpoint: String::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Mail {
    pub server: String,
    pub from: String,
    pub username: String,
    pub password: String,
}

impl Default for Mail {
    fn default() -> Self {
        Mail {
            server: "localhost:25".into(),
            from: "lovebeat@example.com".into(),
            username: String::new(),
            password: String::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Mailgun {
    /// Mail goes through Mailgun when this is set.
    pub domain: String,
    pub api_key: String,
    pub from: String,
    pub api_base: String,
}

impl Default for Mailgun {
    fn default() -> Self {
        Mailgun {
            domain: String::new(),
            api_key: String::new(),
            from: String::new(),
            api_base: "https://api.mailgun.net/v3".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Slack {
    pub webhook_url: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Metrics {
    /// statsd `host:port`; "" = no metrics sent.
    pub server: String,
    pub prefix: String,
    /// Seconds between two sends of the counters and counts, 1 to
    /// `MAX_METRICS_INTERVAL`.
    #[serde(deserialize_with = "de_metrics_interval")]
    pub interval: u64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            server: String::new(),
            prefix: "lovebeat".into(),
            interval: 10,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EventLog {
    /// "" = no event log.
    pub path: String,
    /// File mode as octal text, e.g. "644". Lovebeat 1.x's integer form
    /// (`mode = 644`) is accepted and read the same way.
    #[serde(deserialize_with = "de_mode")]
    pub mode: String,
}

impl Default for EventLog {
    fn default() -> Self {
        EventLog {
            path: String::new(),
            mode: "644".into(),
        }
    }
}

impl EventLog {
    /// The mode as permission bits (0o644 if the text is not valid octal,
    /// which a loaded config never is).
    pub fn mode_bits(&self) -> u32 {
        parse_mode(&self.mode).unwrap_or(0o644)
    }
}

/// `[[notify]]`: another Lovebeat to send our own heartbeats to.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    /// Base URL, e.g. `http://other:8080`.
    #[serde(deserialize_with = "de_http_url")]
    pub lovebeat: String,
    /// Sent as `Authorization: Bearer <token>` when the other side has an
    /// `[http] auth_token` ("" = none).
    #[serde(default, deserialize_with = "de_token")]
    pub token: String,
}

/// `[[views]]` / `[[alarms]]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ViewConfig {
    pub name: String,
    pub pattern: String,
    pub includes: Vec<String>,
    pub excludes: Vec<String>,
    pub alerts: Vec<String>,
    /// How long the view must be in ERROR before its alerts go out
    /// (SPEC 15); `None` = at once.
    pub delay: Option<DurationValue>,
    /// Views (by configured `name`) whose ERROR holds this view's alerts.
    pub depends_on: Vec<String>,
}

impl ViewConfig {
    /// `pattern` (when set) followed by `includes`.
    pub fn include_patterns(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.includes.len() + 1);
        if !self.pattern.is_empty() {
            out.push(self.pattern.clone());
        }
        out.extend(self.includes.iter().cloned());
        out
    }

    /// A view needs a name and something to select services with.
    /// Returns (offending key, message).
    fn check(&self) -> Result<(), (&'static str, String)> {
        if self.name.is_empty() {
            return Err(("name", "a view needs a non-empty `name`".into()));
        }
        if self.pattern.is_empty() && self.includes.is_empty() {
            return Err((
                "pattern",
                format!(
                    "view `{}` needs a `pattern` or `includes` to select services",
                    self.name
                ),
            ));
        }
        self.delay_ms()?;
        Ok(())
    }
}

/// `[alerts.NAME]`: where to send an alert. Empty fields are unused.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AlertConfig {
    pub mail: String,
    pub webhook: String,
    pub slack_channel: String,
    pub script: String,
    /// SPEC 16 channels: an ntfy topic URL, with an optional access token.
    pub ntfy: String,
    pub ntfy_token: String,
    /// A Telegram chat id (`[telegram] bot_token` sends).
    pub telegram: String,
    /// A PagerDuty Events API v2 routing key.
    pub pagerduty: String,
    /// An Opsgenie API key.
    pub opsgenie: String,
    /// A Discord webhook URL.
    pub discord: String,
    /// A Microsoft Teams workflow webhook URL.
    pub teams: String,
    /// A Pushover user (or group) key (`[pushover] token` sends).
    pub pushover: String,
    /// A Gotify server URL and its application token.
    pub gotify: String,
    pub gotify_token: String,
    /// A Matrix room id (`[matrix]` homeserver and access token send).
    pub matrix: String,
    /// A templated request.
    pub http: Option<HttpTemplate>,
    /// While the view stays in ERROR, send again every interval (SPEC 15);
    /// `None` or `"none"` = no reminders.
    pub repeat: Option<DurationValue>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    #[serde(deserialize_with = "de_positive_usize")]
    pub max_services: usize,
    #[serde(deserialize_with = "de_positive_usize")]
    pub max_tcp_connections: usize,
    #[serde(deserialize_with = "de_positive_usize")]
    pub max_ws_clients: usize,
    /// How much of a request body is kept as a run's output (SPEC 14.3).
    #[serde(deserialize_with = "de_positive_usize")]
    pub max_body_bytes: usize,
    /// Events kept per service.
    #[serde(deserialize_with = "de_positive_usize")]
    pub events_per_service: usize,
    /// Bytes of event bodies kept, all services together.
    #[serde(deserialize_with = "de_positive_usize")]
    pub event_body_memory: usize,
    /// Days of state changes kept (SPEC 18).
    #[serde(deserialize_with = "de_positive_usize")]
    pub history_days: usize,
    /// Bytes of state-change history kept, all services and views together.
    #[serde(deserialize_with = "de_positive_usize")]
    pub history_memory: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_services: 100_000,
            max_tcp_connections: 256,
            max_ws_clients: 64,
            max_body_bytes: 10_000,
            events_per_service: 20,
            event_body_memory: 64 << 20,
            history_days: 90,
            history_memory: 64 << 20,
        }
    }
}

/// The file as written: accepts Lovebeat 1.x's top-level `public_url` and
/// `[[alarms]]`, folded into [`Config`] by `From`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawConfig {
    public_url: Option<String>,
    general: General,
    udp: Listen,
    tcp: Listen,
    http: Http,
    database: Database,
    mail: Mail,
    mailgun: Mailgun,
    slack: Slack,
    telegram: Telegram,
    pagerduty: PagerDuty,
    opsgenie: Opsgenie,
    pushover: Pushover,
    matrix: Matrix,
    metrics: Metrics,
    eventlog: EventLog,
    notify: Vec<Notify>,
    views: Vec<ViewConfig>,
    alarms: Vec<ViewConfig>,
    alerts: BTreeMap<String, AlertConfig>,
    limits: Limits,
    services: Vec<ServiceDefaults>,
    maintenance: Vec<MaintenanceConfig>,
    healthchecks: Option<Healthchecks>,
    uptime_kuma: Option<UptimeKuma>,
    cronitor: Option<Cronitor>,
    sentry: Option<Sentry>,
    status_page: Option<StatusPage>,
}

impl From<RawConfig> for Config {
    fn from(raw: RawConfig) -> Self {
        let mut general = raw.general;
        if let Some(url) = raw.public_url {
            general.public_url = url;
        }
        let mut views = raw.views;
        views.extend(raw.alarms);
        Config {
            general,
            udp: raw.udp,
            tcp: raw.tcp,
            http: raw.http,
            database: raw.database,
            mail: raw.mail,
            mailgun: raw.mailgun,
            slack: raw.slack,
            telegram: raw.telegram,
            pagerduty: raw.pagerduty,
            opsgenie: raw.opsgenie,
            pushover: raw.pushover,
            matrix: raw.matrix,
            metrics: raw.metrics,
            eventlog: raw.eventlog,
            notify: raw.notify,
            views,
            alerts: raw.alerts,
            limits: raw.limits,
            services: raw.services,
            maintenance: raw.maintenance,
            healthchecks: raw.healthchecks,
            uptime_kuma: raw.uptime_kuma,
            cronitor: raw.cronitor,
            sentry: raw.sentry,
            status_page: raw.status_page,
            files: Vec::new(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        RawConfig::default().into()
    }
}
