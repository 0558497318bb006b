//! `StartError`: every way start-up, the signal loop or the final save can
//! fail, one shape for every step of `start`. Its messages are the ones a
//! user reads on stderr (or in syslog) and acts on; exit code 1.

use std::fmt;
use std::io;

/// A start-up step that failed, or a final save that did not happen.
#[derive(Debug)]
pub enum StartError {
    /// The SIGTERM/SIGINT/SIGHUP handlers could not be installed.
    Signals(io::Error),
    /// `[database] remote_s3_url` does not parse.
    S3Url(String),
    /// The database file exists but cannot be read (start-up fails closed).
    Database(String),
    /// A thread could not be spawned (`what`: "the saver thread", ...).
    Thread {
        what: &'static str,
        error: io::Error,
    },
    /// A `listen` value that does not parse.
    ListenAddr(String),
    /// A listener that could not be bound, with the key that sets it.
    Listen {
        what: &'static str,
        addr: String,
        key: &'static str,
        error: io::Error,
    },
    /// The state thread's final save failed (or the thread panicked).
    FinalSave(String),
}

impl StartError {
    /// Wraps a spawn error: `thread("the saver thread")(error)`.
    pub fn thread(what: &'static str) -> impl FnOnce(io::Error) -> StartError {
        move |error| StartError::Thread { what, error }
    }

    /// Wraps a bind error of the listener for `what` on `addr`, set by `key`.
    pub fn listen<'a>(
        what: &'static str,
        addr: &'a str,
        key: &'static str,
    ) -> impl FnOnce(io::Error) -> StartError + 'a {
        move |error| StartError::Listen {
            what,
            addr: addr.to_owned(),
            key,
            error,
        }
    }
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Signals(e) => write!(f, "cannot install signal handlers: {e}"),
            StartError::S3Url(e) => write!(f, "[database] remote_s3_url: {e}"),
            StartError::Database(e) => write!(f, "cannot load the database: {e}"),
            StartError::Thread { what, error } => write!(f, "cannot start {what}: {error}"),
            StartError::ListenAddr(e) => e.fmt(f),
            StartError::Listen {
                what,
                addr,
                key,
                error,
            } => {
                let hint = match error.kind() {
                    io::ErrorKind::AddrInUse => {
                        format!("another process uses that port: stop it, or change {key}")
                    }
                    io::ErrorKind::PermissionDenied => {
                        format!("ports below 1024 need privileges: choose another port with {key}")
                    }
                    _ => format!("check {key}"),
                };
                write!(
                    f,
                    "cannot listen for {what} on {addr}: {error}; {hint} (\"\" disables it)"
                )
            }
            StartError::FinalSave(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for StartError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_errors_name_the_key_and_the_fix() {
        let in_use = io::Error::from(io::ErrorKind::AddrInUse);
        let text = StartError::listen("HTTP", "[::]:80", "[http] listen")(in_use).to_string();
        assert!(
            text.starts_with("cannot listen for HTTP on [::]:80: "),
            "{text}"
        );
        assert!(
            text.ends_with("another process uses that port: stop it, or change [http] listen (\"\" disables it)"),
            "{text}"
        );
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        let text = StartError::listen("statsd on UDP", ":1", "[udp] listen")(denied).to_string();
        assert!(text.contains("ports below 1024 need privileges"), "{text}");
    }

    #[test]
    fn thread_errors_name_the_thread() {
        let e = io::Error::other("no memory");
        let text = StartError::thread("the saver thread")(e).to_string();
        assert_eq!(text, "cannot start the saver thread: no memory");
    }
}
