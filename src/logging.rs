//! Logging set-up: stderr by default, `-debug` for more, `-syslog` for the
//! local syslog (facility daemon, tag `lovebeat`).

use log::LevelFilter;
use std::fmt;

/// Logging could not be started.
#[derive(Debug)]
pub enum LoggingError {
    /// The local syslog socket could not be reached.
    Syslog(String),
    /// A logger was already installed (init called twice).
    AlreadySet,
}

impl fmt::Display for LoggingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoggingError::Syslog(e) => write!(
                f,
                "cannot connect to the local syslog ({e}); is a syslog daemon running? \
                 Run without -syslog to log to stderr"
            ),
            LoggingError::AlreadySet => write!(f, "logging was already initialised"),
        }
    }
}

impl std::error::Error for LoggingError {}

/// Installs the global logger: Info level (Debug with `debug`), to stderr
/// with timestamps, or to the local syslog with `syslog`.
pub fn init(debug: bool, syslog: bool) -> Result<(), LoggingError> {
    let level = if debug {
        LevelFilter::Debug
    } else {
        LevelFilter::Info
    };
    if syslog {
        let formatter = syslog::Formatter3164 {
            facility: syslog::Facility::LOG_DAEMON,
            hostname: None,
            process: "lovebeat".into(),
            pid: std::process::id(),
        };
        let logger = syslog::unix(formatter).map_err(|e| LoggingError::Syslog(e.to_string()))?;
        log::set_boxed_logger(Box::new(syslog::BasicLogger::new(logger)))
            .map_err(|_| LoggingError::AlreadySet)?;
        log::set_max_level(level);
        return Ok(());
    }
    let config = simplelog::ConfigBuilder::new()
        .set_time_format_rfc3339()
        .build();
    simplelog::TermLogger::init(
        level,
        config,
        simplelog::TerminalMode::Stderr,
        simplelog::ColorChoice::Never,
    )
    .map_err(|_| LoggingError::AlreadySet)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_what_to_do() {
        let e = LoggingError::Syslog("No such file or directory".into());
        assert!(e.to_string().contains("without -syslog"));
    }
}
