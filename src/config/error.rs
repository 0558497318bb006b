//! [`ConfigError`] and its messages, and working out from a TOML error's
//! position which line and dotted key (`udp.listen`, `views[1].alerts`) it
//! concerns, so that every error names file, line and key.

use std::fmt;
use std::path::PathBuf;

/// Why the configuration cannot be used. Every variant's message names the
/// file (when there is one), the line (when known) and the key.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigError {
    /// A file named on the command line does not exist.
    Missing { path: PathBuf },
    /// `-config-dir` names a directory that does not exist.
    MissingDir { path: PathBuf },
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
            ConfigError::MissingDir { path } => {
                write!(f, "{}: configuration directory not found", path.display())
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

pub(super) fn one_line(s: &str) -> String {
    s.trim().lines().collect::<Vec<_>>().join("; ")
}

/// 1-based line of a toml error, and the dotted key it concerns if it can
/// be worked out from the table header above and the `key =` on the line.
pub(super) fn locate(text: &str, e: &toml::de::Error) -> (usize, Option<String>) {
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
pub(super) fn array_entry_key_line(text: &str, kind: &str, idx: usize, key: &str) -> Option<usize> {
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

/// Line of `key` inside the (last) `[table]` of `text`.
pub(super) fn table_key_line(text: &str, table: &str, key: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let want = Some((table.to_string(), false));
    let h = lines
        .iter()
        .enumerate()
        .rev()
        .find(|(_, l)| header(l) == want)?
        .0;
    let p = lines[h + 1..]
        .iter()
        .take_while(|l| header(l).is_none())
        .position(|l| l.split_once('=').map(|(k, _)| dotted(k)) == Some(key.to_string()))?;
    Some(h + 2 + p)
}
