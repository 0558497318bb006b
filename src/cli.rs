//! The command line (SPEC 10): flags with one or two dashes, via pico-args.
//!
//! Lovebeat 1.x used Go's flag package (`-config FILE`), so every long flag
//! is accepted with one or two dashes and with `=VALUE` or a separate value.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

pub const USAGE: &str = "\
Usage: lovebeat [OPTIONS]

A zero-configuration heartbeat monitor.

Options (one or two dashes both work):
  -config FILE        configuration file
                      (default /etc/lovebeat.toml, or /etc/lovebeat.cfg)
  -config-dir DIR     directory of extra configuration files, read in name
                      order (default /etc/lovebeat.conf.d, if it exists)
  -debug              log debug messages
  -syslog             log to the local syslog instead of stderr
  -version            print the version and exit
  -validate-auto      check the auto-timeout calculation and exit
  -explain-auto       like -validate-auto, one JSON line per value with the
                      timeout and the values dropped as outliers
  -simulate MODEL     read beat times (ms since the epoch, one a line) and
                      print the deadline MODEL (auto or adaptive) sets
                      after each (-1: none yet), then exit
  -check-config       check the configuration and exit (0 = valid, 2 = not)
  -test-alert NAME    send a test message through every kind of
                      [alerts.NAME], print each result and exit
                      (0 = all sent, 1 = some failed, 2 = no such alert)
  -h, -help           print this help and exit

lovebeat run NAME -- COMMAND [ARGS...] wraps a job and reports its runs;
see `lovebeat run -help`.
";

/// The parsed command line.
#[derive(Debug, Default, PartialEq)]
pub struct Args {
    pub config: Option<PathBuf>,
    pub config_dir: Option<PathBuf>,
    /// `-simulate MODEL`: the model's name, checked when it runs.
    pub simulate: Option<String>,
    /// `-test-alert NAME`: the `[alerts.NAME]` to test.
    pub test_alert: Option<String>,
    pub debug: bool,
    pub syslog: bool,
    pub version: bool,
    pub validate_auto: bool,
    pub explain_auto: bool,
    pub check_config: bool,
    pub help: bool,
}

/// A command line that cannot be used.
#[derive(Debug, Clone, PartialEq)]
pub enum CliError {
    /// A flag we do not know, e.g. `-confg`.
    UnknownOption(String),
    /// A flag that needs a value was last or given an empty one.
    MissingValue(String),
    /// A flag given twice.
    Repeated(String),
    /// A bare argument where none is expected.
    UnexpectedArgument(String),
    /// A switch given a value, e.g. `--debug=yes`.
    UnexpectedValue(String),
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::UnknownOption(o) => write!(f, "unknown option `{o}`"),
            CliError::MissingValue(o) => write!(f, "option `{o}` needs a value"),
            CliError::Repeated(o) => write!(f, "option `{o}` is given more than once"),
            CliError::UnexpectedArgument(a) => write!(f, "unexpected argument `{a}`"),
            CliError::UnexpectedValue(o) => write!(f, "option `{o}` takes no value"),
        }?;
        write!(f, "; run `lovebeat -help` for usage")
    }
}

impl std::error::Error for CliError {}

/// Flags that take a value.
const VALUE_FLAGS: [&str; 4] = ["config", "config-dir", "simulate", "test-alert"];
/// Flags that are switches.
const SWITCHES: [&str; 8] = [
    "debug",
    "syslog",
    "version",
    "validate-auto",
    "explain-auto",
    "check-config",
    "help",
    "h",
];

/// Parses the arguments after the program name (`env::args_os().skip(1)`).
pub fn parse(args: Vec<OsString>) -> Result<Args, CliError> {
    let normalized = normalize(args)?;
    let mut p = pico_args::Arguments::from_vec(normalized);
    let path = |s: &std::ffi::OsStr| Ok::<PathBuf, std::convert::Infallible>(PathBuf::from(s));
    let value = |p: &mut pico_args::Arguments, flag: &'static str| {
        p.opt_value_from_os_str(flag, path)
            .map_err(|_| CliError::MissingValue(flag.to_string()))
    };
    let out = Args {
        config: value(&mut p, "--config")?,
        config_dir: value(&mut p, "--config-dir")?,
        simulate: value(&mut p, "--simulate")?.map(|v: PathBuf| v.to_string_lossy().into_owned()),
        test_alert: value(&mut p, "--test-alert")?
            .map(|v: PathBuf| v.to_string_lossy().into_owned()),
        debug: p.contains("--debug"),
        syslog: p.contains("--syslog"),
        version: p.contains("--version"),
        validate_auto: p.contains("--validate-auto"),
        explain_auto: p.contains("--explain-auto"),
        check_config: p.contains("--check-config"),
        help: p.contains(["-h", "--help"]),
    };
    // `normalize` has rejected everything else; this is a safety net.
    if let Some(rest) = p.finish().into_iter().next() {
        return Err(CliError::UnexpectedArgument(
            rest.to_string_lossy().into_owned(),
        ));
    }
    Ok(out)
}

/// Rewrites `-flag`, `-flag=v` and `--flag=v` into the `--flag [v]` form
/// pico-args understands, and rejects unknown, repeated and stray
/// arguments. A flag's value is passed through untouched even if it starts
/// with a dash.
fn normalize(args: Vec<OsString>) -> Result<Vec<OsString>, CliError> {
    let mut out = Vec::with_capacity(args.len());
    let mut seen: Vec<&'static str> = Vec::new();
    let mut iter = args.into_iter();
    while let Some(arg) = iter.next() {
        let Some(text) = arg.to_str() else {
            return Err(CliError::UnexpectedArgument(
                arg.to_string_lossy().into_owned(),
            ));
        };
        let Some(body) = text
            .strip_prefix("--")
            .or_else(|| text.strip_prefix('-'))
            .filter(|b| !b.is_empty())
        else {
            return Err(CliError::UnexpectedArgument(text.to_string()));
        };
        let (name, inline_value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let flag = VALUE_FLAGS
            .iter()
            .chain(SWITCHES.iter())
            .find(|f| **f == name)
            .copied()
            .ok_or_else(|| CliError::UnknownOption(text.to_string()))?;
        let canonical = if flag == "h" { "help" } else { flag };
        let dashed = format!("--{canonical}");
        if seen.contains(&canonical) {
            return Err(CliError::Repeated(dashed));
        }
        seen.push(canonical);
        if VALUE_FLAGS.contains(&flag) {
            let value = match inline_value {
                Some(v) => OsString::from(v),
                None => iter
                    .next()
                    .ok_or_else(|| CliError::MissingValue(dashed.clone()))?,
            };
            if value.is_empty() {
                return Err(CliError::MissingValue(dashed));
            }
            out.push(OsString::from(dashed));
            out.push(value);
        } else {
            if inline_value.is_some() {
                return Err(CliError::UnexpectedValue(dashed));
            }
            out.push(OsString::from(dashed));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Args, CliError> {
        parse(args.iter().map(OsString::from).collect())
    }

    #[test]
    fn empty() {
        assert_eq!(p(&[]), Ok(Args::default()));
    }

    #[test]
    fn single_and_double_dash() {
        let want = Args {
            config: Some("/etc/x.toml".into()),
            config_dir: Some("/etc/x.d".into()),
            simulate: Some("adaptive".into()),
            test_alert: Some("ops".into()),
            debug: true,
            syslog: true,
            version: true,
            validate_auto: true,
            explain_auto: true,
            check_config: true,
            help: false,
        };
        let single = [
            "-config",
            "/etc/x.toml",
            "-config-dir",
            "/etc/x.d",
            "-simulate",
            "adaptive",
            "-test-alert",
            "ops",
            "-debug",
            "-syslog",
            "-version",
            "-validate-auto",
            "-explain-auto",
            "-check-config",
        ];
        assert_eq!(p(&single), Ok(want));
        let double: Vec<String> = single
            .iter()
            .map(|a| {
                if a.starts_with('-') {
                    format!("-{a}")
                } else {
                    a.to_string()
                }
            })
            .collect();
        let double: Vec<&str> = double.iter().map(String::as_str).collect();
        assert_eq!(p(&double), p(&single));
    }

    #[test]
    fn equals_form() {
        let a = p(&["--config=/a.toml", "-config-dir=/d"]).unwrap();
        assert_eq!(a.config, Some("/a.toml".into()));
        assert_eq!(a.config_dir, Some("/d".into()));
        // A value may itself start with a dash or contain `=`.
        let a = p(&["-config", "-odd=name"]).unwrap();
        assert_eq!(a.config, Some("-odd=name".into()));
    }

    #[test]
    fn help() {
        for h in ["-h", "--h", "-help", "--help"] {
            assert!(p(&[h]).unwrap().help, "{h}");
        }
        assert!(USAGE.contains("-config-dir"));
    }

    #[test]
    fn errors() {
        assert_eq!(
            p(&["-confg", "x"]),
            Err(CliError::UnknownOption("-confg".into()))
        );
        assert_eq!(
            p(&["--config"]),
            Err(CliError::MissingValue("--config".into()))
        );
        assert_eq!(
            p(&["-config="]),
            Err(CliError::MissingValue("--config".into()))
        );
        assert_eq!(
            p(&["stray"]),
            Err(CliError::UnexpectedArgument("stray".into()))
        );
        assert_eq!(p(&["-"]), Err(CliError::UnexpectedArgument("-".into())));
        assert_eq!(
            p(&["-debug", "--debug"]),
            Err(CliError::Repeated("--debug".into()))
        );
        assert_eq!(
            p(&["--debug=1"]),
            Err(CliError::UnexpectedValue("--debug".into()))
        );
        let shown = p(&["-x"]).unwrap_err().to_string();
        assert!(shown.contains("`-x`") && shown.contains("-help"), "{shown}");
    }
}
