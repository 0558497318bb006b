//! Logging set-up: stderr by default, `-debug` for more, `-syslog` for the
//! local syslog (facility daemon, tag `lovebeat`).
