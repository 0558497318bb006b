//! The command line of `lovebeat run [OPTIONS] NAME -- COMMAND [ARGS...]`.
//! Flags take one or two dashes and `=VALUE` or a separate value, like the
//! server's (cli.rs); everything after `--` (or after NAME) is the command.

use crate::http::settings::SETTING_KEYS;
use crate::model::{is_valid_name, NAME_RULE};
use std::ffi::OsString;
use std::fmt;

pub const USAGE: &str = "\
Usage: lovebeat run [OPTIONS] NAME -- COMMAND [ARGS...]

Runs COMMAND and reports it to lovebeat as a run of service NAME: `start`
with a fresh run id, then its exit code (or `fail` when a signal killed it)
with the last of its output. The output is still shown; SIGINT, SIGTERM and
SIGHUP are passed on to the command; the exit code is the command's (128 +
the signal when killed). When lovebeat cannot be reached the command runs
all the same and one warning is printed.

Options:
  -url URL            lovebeat's HTTP address (default $LOVEBEAT_URL, or
                      http://127.0.0.1:8080); $LOVEBEAT_TOKEN or
                      $LOVEBEAT_TOKEN_FILE is sent as a Bearer token
  -max-body BYTES     how much of the output's end to send (default 10000,
                      lovebeat's default [limits] max_body_bytes)
  -timeout T, -schedule EXPR, -tz ZONE, -grace D, -max-runtime D,
  -min-duration D     job settings sent with `start` (SPEC 14)
  -h, -help           print this help and exit
";

/// Default `--url`.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";
/// Most `--max-body` accepted: lovebeat keeps at most 1 MiB of a body.
pub const MAX_BODY_LIMIT: usize = 1 << 20;

#[derive(Debug, PartialEq, Default)]
pub struct RunArgs {
    pub name: String,
    pub url: Option<String>,
    pub max_body: Option<usize>,
    /// Job settings for the start request, as (key, value).
    pub settings: Vec<(String, String)>,
    /// The command and its arguments; never empty.
    pub command: Vec<OsString>,
    pub help: bool,
}

#[derive(Debug, PartialEq)]
pub enum RunArgsError {
    UnknownOption(String),
    MissingValue(String),
    Repeated(String),
    BadMaxBody(String),
    /// A second word before `--`.
    UnexpectedArgument(String),
    MissingName,
    BadName(String),
    MissingCommand,
}

impl fmt::Display for RunArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunArgsError::UnknownOption(o) => write!(f, "unknown option `{o}`"),
            RunArgsError::MissingValue(o) => write!(f, "option `{o}` needs a value"),
            RunArgsError::Repeated(o) => write!(f, "option `{o}` is given more than once"),
            RunArgsError::BadMaxBody(v) => write!(
                f,
                "`--max-body {v}`: give a whole number of bytes from 0 to {MAX_BODY_LIMIT}"
            ),
            RunArgsError::UnexpectedArgument(a) => write!(
                f,
                "unexpected argument `{a}` before `--`: the command goes after `--`"
            ),
            RunArgsError::MissingName => write!(f, "the service NAME is missing"),
            RunArgsError::BadName(n) => write!(f, "bad service name `{n}`: {NAME_RULE}"),
            RunArgsError::MissingCommand => write!(f, "the COMMAND to run is missing"),
        }?;
        write!(f, "; run `lovebeat run -help` for usage")
    }
}

impl std::error::Error for RunArgsError {}

/// Parses the arguments after `run`.
pub fn parse(args: Vec<OsString>) -> Result<RunArgs, RunArgsError> {
    let mut out = RunArgs::default();
    // With `--`, everything before it is NAME and flags in any order.
    let separated = args.iter().any(|a| a == "--");
    let mut iter = args.into_iter();
    let mut name = None;
    while let Some(arg) = iter.next() {
        let text = arg.to_string_lossy().into_owned();
        if text == "--" {
            break;
        }
        let flag = text
            .strip_prefix("--")
            .or_else(|| text.strip_prefix('-'))
            .filter(|b| !b.is_empty() && (name.is_none() || separated));
        let Some(body) = flag else {
            if name.is_none() {
                name = Some(text);
                continue;
            }
            if separated {
                return Err(RunArgsError::UnexpectedArgument(text));
            }
            // No `--`: the command starts at the first word after NAME.
            out.command.push(arg);
            break;
        };
        let (key, inline) = match body.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (body.to_string(), None),
        };
        if key == "h" || key == "help" {
            out.help = true;
            return Ok(out);
        }
        let setting = key.replace('-', "_");
        let known = key == "url" || key == "max-body" || SETTING_KEYS.contains(&setting.as_str());
        if !known {
            return Err(RunArgsError::UnknownOption(text));
        }
        let dashed = format!("--{key}");
        let value = match inline {
            Some(v) => v,
            None => iter
                .next()
                .map(|v| v.to_string_lossy().into_owned())
                .ok_or_else(|| RunArgsError::MissingValue(dashed.clone()))?,
        };
        if value.is_empty() {
            return Err(RunArgsError::MissingValue(dashed));
        }
        let repeated = match key.as_str() {
            "url" => out.url.replace(value).is_some(),
            "max-body" => {
                let n = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n <= MAX_BODY_LIMIT)
                    .ok_or(RunArgsError::BadMaxBody(value))?;
                out.max_body.replace(n).is_some()
            }
            _ => {
                let seen = out.settings.iter().any(|(k, _)| *k == setting);
                out.settings.push((setting, value));
                seen
            }
        };
        if repeated {
            return Err(RunArgsError::Repeated(dashed));
        }
    }
    out.command.extend(iter);
    out.name = name.ok_or(RunArgsError::MissingName)?;
    if !is_valid_name(&out.name) {
        return Err(RunArgsError::BadName(out.name));
    }
    if out.command.is_empty() {
        return Err(RunArgsError::MissingCommand);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<RunArgs, RunArgsError> {
        parse(args.iter().map(OsString::from).collect())
    }

    fn cmd(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn name_and_command() {
        let a = p(&["backup", "--", "tar", "-c", "--", "x"]).unwrap();
        assert_eq!(a.name, "backup");
        assert_eq!(a.command, cmd(&["tar", "-c", "--", "x"]));
        // Without `--` the command starts after NAME, its flags its own.
        let b = p(&["backup", "tar", "-c", "x"]).unwrap();
        assert_eq!(b.command, cmd(&["tar", "-c", "x"]));
        // With `--`, flags may follow NAME.
        let c = p(&["backup", "--url", "http://h", "--", "true"]).unwrap();
        assert_eq!(
            (c.name.as_str(), c.url.as_deref()),
            ("backup", Some("http://h"))
        );
        assert_eq!(c.command, cmd(&["true"]));
    }

    #[test]
    fn options() {
        let a = p(&[
            "-url",
            "http://h:1",
            "--max-body=20",
            "--schedule",
            "0 3 * * *",
            "-max-runtime=2h",
            "--timeout",
            "none",
            "job.x",
            "--",
            "true",
        ])
        .unwrap();
        assert_eq!(a.url.as_deref(), Some("http://h:1"));
        assert_eq!(a.max_body, Some(20));
        assert_eq!(
            a.settings,
            vec![
                ("schedule".to_string(), "0 3 * * *".to_string()),
                ("max_runtime".to_string(), "2h".to_string()),
                ("timeout".to_string(), "none".to_string()),
            ]
        );
        assert!(p(&["-help"]).unwrap().help);
    }

    #[test]
    fn errors() {
        use RunArgsError::*;
        assert_eq!(p(&["--nope", "x"]), Err(UnknownOption("--nope".into())));
        assert_eq!(p(&["--url"]), Err(MissingValue("--url".into())));
        assert_eq!(p(&["--url="]), Err(MissingValue("--url".into())));
        assert_eq!(
            p(&["--url", "a", "-url", "b", "n", "--", "x"]),
            Err(Repeated("--url".into()))
        );
        assert_eq!(
            p(&["--tz", "a", "-tz", "b", "n", "--", "x"]),
            Err(Repeated("--tz".into()))
        );
        assert_eq!(p(&["--max-body", "-1"]), Err(BadMaxBody("-1".into())));
        assert_eq!(
            p(&["--max-body", "2000000"]),
            Err(BadMaxBody("2000000".into()))
        );
        assert_eq!(p(&[]), Err(MissingName));
        assert_eq!(p(&["--", "true"]), Err(MissingName));
        assert_eq!(p(&["Backup", "--", "true"]), Err(BadName("Backup".into())));
        assert_eq!(
            p(&["backup", "tar", "--", "x"]),
            Err(UnexpectedArgument("tar".into()))
        );
        assert_eq!(p(&["backup"]), Err(MissingCommand));
        assert_eq!(p(&["backup", "--"]), Err(MissingCommand));
        assert!(p(&["-x"]).unwrap_err().to_string().contains("-help"));
    }
}
