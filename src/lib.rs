//! Lovebeat: a zero-configuration heartbeat monitor. See ARCHITECTURE.md for
//! the threads and how they talk; each module says what it owns.

pub mod alert;
pub mod base64;
pub mod changelog;
pub mod cli;
pub mod clock;
pub mod config;
pub mod counters;
pub mod cron;
pub mod engine;
pub mod eventlog;
pub mod events;
#[doc(hidden)]
pub mod fuzzing;
pub mod history;
pub mod http;
pub mod jobs;
pub mod json;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod net;
pub mod notify;
pub mod policy;
pub mod reload;
pub mod run;
pub mod server;
pub mod state;
pub mod statsd;
pub mod store;
pub mod ws;

/// The version reported by `-version` and `GET /version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
