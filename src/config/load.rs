//! Finding the configuration files (`-config`, `-config-dir` and the default
//! locations), reading and checking each file on its own, and merging their
//! TOML tables into one [`Config`]: [`load`], [`load_with_defaults`] and
//! [`Config::from_toml_str`].

use super::error::{array_entry_key_line, locate, one_line, table_key_line};
use super::{Config, ConfigError, RawConfig, DEFAULT_CONFIG_DIR, DEFAULT_CONFIG_FILES};
use std::path::{Path, PathBuf};

/// Top-level keys whose arrays of tables append across files instead of
/// being replaced.
const APPEND_KEYS: [&str; 5] = ["views", "alarms", "notify", "services", "maintenance"];

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
    let mut config = merge(&files)?;
    config.files = files.into_iter().map(|f| f.path).collect();
    Ok(config)
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
                return Err(ConfigError::MissingDir { path: dir.clone() });
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
    for (idx, block) in raw.services.iter().enumerate() {
        block
            .block(idx)
            .map_err(|(key, message)| ConfigError::Invalid {
                path: Some(path.to_path_buf()),
                line: array_entry_key_line(text, "services", idx, key),
                key: format!("services[{idx}].{key}"),
                message,
            })?;
    }
    for (idx, block) in raw.maintenance.iter().enumerate() {
        block
            .window(idx, idx + 1)
            .map_err(|(key, message)| ConfigError::Invalid {
                path: Some(path.to_path_buf()),
                line: array_entry_key_line(text, "maintenance", idx, key),
                key: format!("maintenance[{idx}].{key}"),
                message,
            })?;
    }
    for (name, alert) in &raw.alerts {
        alert
            .repeat_ms(name)
            .map_err(|(key, message)| ConfigError::Invalid {
                path: Some(path.to_path_buf()),
                line: table_key_line(text, &format!("alerts.{name}"), key),
                key: format!("alerts.{name}.{key}"),
                message,
            })?;
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
    if let Some(message) = config.auth_problem() {
        // Point at the last file that sets auth_read (it decided the value).
        let f = files.iter().rev().find(|f| {
            f.table
                .get("http")
                .and_then(|h| h.get("auth_read"))
                .is_some()
        });
        return Err(ConfigError::Invalid {
            path: f.map(|f| f.path.clone()),
            line: f.and_then(|f| table_key_line(&f.text, "http", "auth_read")),
            key: "http.auth_read".into(),
            message,
        });
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
