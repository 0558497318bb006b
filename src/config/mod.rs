//! Configuration: TOML files (SPEC 10), merged from `-config` and
//! `-config-dir`, validated with errors that name file, line and key.
//!
//! Owns the [`Config`] types and their defaults, finding the files
//! (`/etc/lovebeat.toml`, `/etc/lovebeat.cfg`, `/etc/lovebeat.conf.d`),
//! merging them (tables key by key, `[[views]]`/`[[alarms]]`/`[[notify]]`
//! appended), and validation. Each file is first checked on its own so that
//! an error can point at the file and line it came from.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// Looked for in this order when no `-config` is given; the first that
/// exists is read (`.cfg` is Lovebeat 1.x's name).
pub const DEFAULT_CONFIG_FILES: [&str; 2] = ["/etc/lovebeat.toml", "/etc/lovebeat.cfg"];
/// Read when no `-config-dir` is given, if it exists.
/// Longest accepted `[database] interval`: one day, in seconds.
pub const MAX_SAVE_INTERVAL: u64 = 86_400;

pub const DEFAULT_CONFIG_DIR: &str = "/etc/lovebeat.conf.d";

/// Top-level keys whose arrays of tables append across files instead of
/// being replaced.
const APPEND_KEYS: [&str; 3] = ["views", "alarms", "notify"];

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
    pub metrics: Metrics,
    pub eventlog: EventLog,
    pub notify: Vec<Notify>,
    /// `[[views]]` entries first, then `[[alarms]]` (Lovebeat 1.x), each in
    /// file order.
    pub views: Vec<ViewConfig>,
    pub alerts: BTreeMap<String, AlertConfig>,
    pub limits: Limits,
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
}

impl Default for Http {
    fn default() -> Self {
        Http {
            listen: ":8080".into(),
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
    pub remote_s3_url: String,
    pub remote_s3_region: String,
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
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            server: String::new(),
            prefix: "lovebeat".into(),
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
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_services: 100_000,
            max_tcp_connections: 256,
            max_ws_clients: 64,
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
    metrics: Metrics,
    eventlog: EventLog,
    notify: Vec<Notify>,
    views: Vec<ViewConfig>,
    alarms: Vec<ViewConfig>,
    alerts: BTreeMap<String, AlertConfig>,
    limits: Limits,
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
            metrics: raw.metrics,
            eventlog: raw.eventlog,
            notify: raw.notify,
            views,
            alerts: raw.alerts,
            limits: raw.limits,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        RawConfig::default().into()
    }
}

/// Why the configuration cannot be used. Every variant's message names the
/// file (when there is one), the line (when known) and the key.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigError {
    /// A file named on the command line does not exist.
    Missing { path: PathBuf },
    /// A file or directory exists but cannot be read.
    Io { path: PathBuf, error: String },
    /// The file is not valid TOML.
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// Valid TOML, but a key is unknown, a value has the wrong type or is
    /// out of range, or (after merging) a view names an undefined alert.
    Invalid {
        path: Option<PathBuf>,
        line: Option<usize>,
        key: String,
        message: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Missing { path } => {
                write!(f, "{}: configuration file not found", path.display())
            }
            ConfigError::Io { path, error } => {
                write!(f, "{}: cannot read: {error}", path.display())
            }
            ConfigError::Syntax {
                path,
                line,
                message,
            } => write!(f, "{}:{line}: {message}", path.display()),
            ConfigError::Invalid {
                path,
                line,
                key,
                message,
            } => {
                match (path, line) {
                    (Some(p), Some(l)) => write!(f, "{}:{l}: ", p.display())?,
                    (Some(p), None) => write!(f, "{}: ", p.display())?,
                    (None, _) => write!(f, "configuration: ")?,
                }
                write!(f, "{message} (key {key})")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// Where to read the configuration from (the `-config` and `-config-dir`
/// flags); `None` means the default locations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Source {
    pub config_file: Option<PathBuf>,
    pub config_dir: Option<PathBuf>,
}

/// Reads, merges and validates the configuration from `src`, falling back
/// to [`DEFAULT_CONFIG_FILES`] and [`DEFAULT_CONFIG_DIR`].
pub fn load(src: &Source) -> Result<Config, ConfigError> {
    let defaults: Vec<PathBuf> = DEFAULT_CONFIG_FILES.iter().map(PathBuf::from).collect();
    load_with_defaults(src, &defaults, Path::new(DEFAULT_CONFIG_DIR))
}

/// [`load`] with the default locations given (for tests).
pub fn load_with_defaults(
    src: &Source,
    default_file_candidates: &[PathBuf],
    default_dir: &Path,
) -> Result<Config, ConfigError> {
    let mut files = Vec::new();
    for path in config_files(src, default_file_candidates, default_dir)? {
        log::info!("reading configuration file {}", path.display());
        let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::Io {
            path: path.clone(),
            error: e.to_string(),
        })?;
        let (table, raw) = parse_file(&path, &text)?;
        files.push(ParsedFile {
            path,
            text,
            table,
            raw,
        });
    }
    merge(&files)
}

impl Config {
    /// Parses one TOML document (as if it were the only file, named
    /// `<string>` in errors) and validates it.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        let path = PathBuf::from("<string>");
        let (table, raw) = parse_file(&path, text)?;
        merge(&[ParsedFile {
            path,
            text: text.to_string(),
            table,
            raw,
        }])
    }

    /// Checks everything [`load`] checks, for a `Config` built in code.
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
        for (key, value) in [
            ("limits.max_services", self.limits.max_services),
            (
                "limits.max_tcp_connections",
                self.limits.max_tcp_connections,
            ),
            ("limits.max_ws_clients", self.limits.max_ws_clients),
        ] {
            if value < 1 {
                return Err(invalid(key.into(), "must be at least 1".into()));
            }
        }
        parse_mode(&self.eventlog.mode).map_err(|m| invalid("eventlog.mode".into(), m))?;
        for (i, n) in self.notify.iter().enumerate() {
            check_http_url(&n.lovebeat).map_err(|m| invalid(format!("notify[{i}].lovebeat"), m))?;
        }
        for (i, v) in self.views.iter().enumerate() {
            v.check()
                .map_err(|(k, m)| invalid(format!("views[{i}].{k}"), m))?;
        }
        if let Some((i, key, message)) = self.view_problem() {
            return Err(invalid(format!("views[{i}].{key}"), message));
        }
        Ok(())
    }

    /// Cross-file checks on views: undefined alerts and duplicate names.
    /// Returns (index in `views`, key within the view, message).
    fn view_problem(&self) -> Option<(usize, &'static str, String)> {
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
        None
    }
}

/// The files to read, in order: the main file (if any), then the directory's.
fn config_files(
    src: &Source,
    default_file_candidates: &[PathBuf],
    default_dir: &Path,
) -> Result<Vec<PathBuf>, ConfigError> {
    let mut files = Vec::new();
    match &src.config_file {
        Some(path) => {
            if !path.exists() {
                return Err(ConfigError::Missing { path: path.clone() });
            }
            files.push(path.clone());
        }
        None => {
            if let Some(path) = default_file_candidates.iter().find(|p| p.exists()) {
                files.push(path.clone());
            }
        }
    }
    let dir = match &src.config_dir {
        Some(dir) => {
            if !dir.exists() {
                return Err(ConfigError::Missing { path: dir.clone() });
            }
            Some(dir.as_path())
        }
        None => Some(default_dir).filter(|d| d.exists()),
    };
    if let Some(dir) = dir {
        let io_err = |e: std::io::Error| ConfigError::Io {
            path: dir.to_path_buf(),
            error: e.to_string(),
        };
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io_err)? {
            let entry = entry.map_err(io_err)?;
            let name = entry.file_name();
            if name.as_encoded_bytes().starts_with(b".") {
                continue;
            }
            let path = entry.path();
            // Follows symlinks, so a link to a file counts as a file.
            if std::fs::metadata(&path)
                .map(|m| m.is_file())
                .unwrap_or(false)
            {
                names.push((name, path));
            }
        }
        names.sort();
        files.extend(names.into_iter().map(|(_, p)| p));
    }
    Ok(files)
}

struct ParsedFile {
    path: PathBuf,
    text: String,
    table: toml::Table,
    raw: RawConfig,
}

/// Checks one file on its own: TOML syntax, then keys, types and values.
fn parse_file(path: &Path, text: &str) -> Result<(toml::Table, RawConfig), ConfigError> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let (line, key) = locate(text, &e);
        let line_text = text.lines().nth(line - 1).unwrap_or("").trim();
        let mut message = one_line(e.message());
        match key {
            Some(key) => message.push_str(&format!(" (key {key}, in `{line_text}`)")),
            None => message.push_str(&format!(" (in `{line_text}`)")),
        }
        ConfigError::Syntax {
            path: path.to_path_buf(),
            line,
            message,
        }
    })?;
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let (line, key) = locate(text, &e);
        ConfigError::Invalid {
            path: Some(path.to_path_buf()),
            line: Some(line),
            key: key.unwrap_or_else(|| "(top level)".into()),
            message: one_line(e.message()),
        }
    })?;
    for (kind, views) in [("views", &raw.views), ("alarms", &raw.alarms)] {
        for (idx, view) in views.iter().enumerate() {
            view.check()
                .map_err(|(key, message)| ConfigError::Invalid {
                    path: Some(path.to_path_buf()),
                    line: array_entry_key_line(text, kind, idx, key),
                    key: format!("{kind}[{idx}].{key}"),
                    message,
                })?;
        }
    }
    Ok((table, raw))
}

/// Merges the files' tables in order, builds the [`Config`] and runs the
/// cross-file checks, pointing errors at the file that caused them.
fn merge(files: &[ParsedFile]) -> Result<Config, ConfigError> {
    let mut acc = toml::Table::new();
    for f in files {
        merge_table(&mut acc, f.table.clone(), true);
    }
    let config: Config = acc.try_into().map_err(|e| ConfigError::Invalid {
        path: None,
        line: None,
        key: "(merged configuration)".into(),
        message: one_line(e.message()),
    })?;
    if let Some((i, key, message)) = config.view_problem() {
        // Where did view `i` come from? Views of all files, then alarms.
        let mut origins = Vec::new();
        for kind in ["views", "alarms"] {
            for f in files {
                let n = if kind == "views" {
                    f.raw.views.len()
                } else {
                    f.raw.alarms.len()
                };
                origins.extend((0..n).map(|idx| (f, kind, idx)));
            }
        }
        if let Some(&(f, kind, idx)) = origins.get(i) {
            return Err(ConfigError::Invalid {
                path: Some(f.path.clone()),
                line: array_entry_key_line(&f.text, kind, idx, key),
                key: format!("{kind}[{idx}].{key}"),
                message,
            });
        }
    }
    config.validate()?;
    Ok(config)
}

fn merge_table(acc: &mut toml::Table, new: toml::Table, top_level: bool) {
    for (k, v) in new {
        let append = top_level && APPEND_KEYS.contains(&k.as_str());
        match acc.get_mut(&k) {
            Some(existing) => match (existing, v) {
                (toml::Value::Array(a), toml::Value::Array(b)) if append => a.extend(b),
                (toml::Value::Table(a), toml::Value::Table(b)) => merge_table(a, b, false),
                (existing, v) => *existing = v,
            },
            None => {
                acc.insert(k, v);
            }
        }
    }
}

fn one_line(s: &str) -> String {
    s.trim().lines().collect::<Vec<_>>().join("; ")
}

/// 1-based line of a toml error, and the dotted key it concerns if it can
/// be worked out from the table header above and the `key =` on the line.
fn locate(text: &str, e: &toml::de::Error) -> (usize, Option<String>) {
    let offset = e.span().map(|s| s.start).unwrap_or(0).min(text.len());
    let line_idx = text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count();
    (line_idx + 1, key_at(text, line_idx, e.message()))
}

/// A table header line: `[a.b]` → ("a.b", false), `[[views]]` → ("views", true).
fn header(line: &str) -> Option<(String, bool)> {
    let t = line.split('#').next().unwrap_or("").trim();
    let (inner, array) = if let Some(r) = t.strip_prefix("[[") {
        (r.strip_suffix("]]")?, true)
    } else {
        (t.strip_prefix('[')?.strip_suffix(']')?, false)
    };
    Some((dotted(inner), array))
}

/// `a . "b c"` → `a.b c`.
fn dotted(s: &str) -> String {
    s.split('.')
        .map(|p| p.trim().trim_matches(|c| c == '"' || c == '\''))
        .collect::<Vec<_>>()
        .join(".")
}

fn quoted_field(message: &str, prefix: &str) -> Option<String> {
    let rest = message.split(prefix).nth(1)?;
    let rest = rest.strip_prefix('`')?;
    Some(rest.split('`').next()?.to_string())
}

fn key_at(text: &str, line_idx: usize, message: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let field =
        quoted_field(message, "unknown field ").or_else(|| quoted_field(message, "missing field "));
    let join = |a: &str, b: &str| {
        if a.is_empty() {
            b.to_string()
        } else {
            format!("{a}.{b}")
        }
    };
    // The section: nearest header at or above the line, with an index for
    // arrays of tables.
    let mut base = String::new();
    let mut header_idx = None;
    for i in (0..=line_idx.min(lines.len().saturating_sub(1))).rev() {
        if let Some((path, array)) = lines.get(i).and_then(|l| header(l)) {
            base = if array {
                let n = lines[..i]
                    .iter()
                    .filter(|l| header(l) == Some((path.clone(), true)))
                    .count();
                format!("{path}[{n}]")
            } else {
                path
            };
            header_idx = Some(i);
            break;
        }
    }
    if header_idx == Some(line_idx) {
        // The error is about the section itself (e.g. a missing field).
        return Some(match field {
            Some(f) if !base.ends_with(&f) => join(&base, &f),
            _ => base,
        });
    }
    // The `key =` line: this one, or the one a multi-line value started on.
    let start = header_idx.map(|h| h + 1).unwrap_or(0);
    let assign = (start..=line_idx)
        .rev()
        .find_map(|i| lines.get(i).and_then(|l| l.split_once('=')))?;
    let key = dotted(assign.0);
    if key.is_empty() {
        return None;
    }
    let mut full = join(&base, &key);
    if let Some(f) = field {
        if key.rsplit('.').next() != Some(f.as_str()) {
            full = join(&full, &f); // inline table: `udp = { lisen = 1 }`
        }
    }
    Some(full)
}

/// Line of `key` inside the `idx`th `[[kind]]` of `text` (or of the header
/// itself when the key is not written there).
fn array_entry_key_line(text: &str, kind: &str, idx: usize, key: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let want = Some((kind.to_string(), true));
    let h = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| header(l) == want)
        .nth(idx)?
        .0;
    let in_section = lines[h + 1..]
        .iter()
        .take_while(|l| header(l).is_none())
        .position(|l| l.split_once('=').map(|(k, _)| dotted(k)) == Some(key.to_string()));
    Some(in_section.map(|p| h + 2 + p).unwrap_or(h + 1))
}

/// Parses a listen address: `""` → `None` (listener disabled), `":8080"` →
/// `0.0.0.0:8080`, `HOST:PORT` and `[IPv6]:PORT` unchanged.
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
        return Ok(Some(format!("0.0.0.0:{port}")));
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

fn parse_mode(s: &str) -> Result<u32, String> {
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

fn de_listen<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    check_listen(&s).map_err(de::Error::custom)?;
    Ok(s)
}

fn de_http_url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    check_http_url(&s).map_err(de::Error::custom)?;
    Ok(s)
}

fn de_save_interval<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = u64::deserialize(d)?;
    if !(1..=MAX_SAVE_INTERVAL).contains(&n) {
        return Err(de::Error::custom(format!(
            "must be from 1 to {MAX_SAVE_INTERVAL} (seconds)"
        )));
    }
    Ok(n)
}

fn de_positive_usize<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let n = usize::deserialize(d)?;
    if n < 1 {
        return Err(de::Error::custom("must be at least 1"));
    }
    Ok(n)
}

/// Mode as `"644"` or, like Lovebeat 1.x, the integer `644` (its decimal
/// digits read as octal).
fn de_mode<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A temporary directory removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let n = COUNTER.fetch_add(1, Ordering::SeqCst);
            let dir = std::env::temp_dir()
                .join(format!("lovebeat-config-test-{}-{n}", std::process::id()));
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
        assert_eq!(c.eventlog.mode, "644");
        assert_eq!(c.eventlog.mode_bits(), 0o644);
        assert_eq!(c.limits.max_services, 100_000);
        assert_eq!(c.limits.max_tcp_connections, 256);
        assert_eq!(c.limits.max_ws_clients, 64);
        assert!(c.views.is_empty() && c.notify.is_empty() && c.alerts.is_empty());
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.udp.addr(), Ok(Some("0.0.0.0:8127".into())));
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
        assert_eq!(e, ConfigError::Missing { path: missing });
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
    }

    #[test]
    fn listen_addresses() {
        assert_eq!(listen_addr(""), Ok(None));
        assert_eq!(listen_addr(":8080"), Ok(Some("0.0.0.0:8080".into())));
        assert_eq!(listen_addr(":0"), Ok(Some("0.0.0.0:0".into())));
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
}
