//! Start-up and wiring: parses the command line, loads the config and the
//! database, starts every thread, waits for a signal, and shuts down with a
//! final save. Exit codes: 0 normal, 1 runtime failure (a port in use),
//! 2 bad command line or configuration.

use crate::cli::{self, Args};
use crate::clock::now_ms;
use crate::config::{self, Config};
use crate::counters::Counters;
use crate::engine::pattern::ViewTemplate;
use crate::engine::{auto, Engine, EngineConfig};
use crate::notify::NotifyBeat;
use crate::state::{self, Command, StateHandle, StateOptions};
use crate::store::s3::{self, S3Settings};
use crate::{alert, changelog, eventlog, http, logging, metrics, notify, reload, statsd, store};
use crossbeam_channel::bounded;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Runs the program with these arguments (without the program name).
pub fn main(args: Vec<OsString>) -> ExitCode {
    let args = match cli::parse(args) {
        Ok(args) => args,
        Err(error) => {
            eprintln!("lovebeat: {error}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    if args.help {
        println!("{}", cli::USAGE);
        return ExitCode::SUCCESS;
    }
    if args.version {
        println!("lovebeat {}", crate::VERSION);
        return ExitCode::SUCCESS;
    }
    if args.validate_auto || args.explain_auto {
        let stdin = std::io::stdin();
        let stdout = std::io::stdout();
        let result = if args.explain_auto {
            auto::explain_auto(stdin.lock(), stdout.lock())
        } else {
            auto::validate_auto(stdin.lock(), stdout.lock())
        };
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(error @ auto::AutoInputError::NotAnInteger { .. }) => {
                eprintln!("lovebeat: {error}");
                ExitCode::from(2)
            }
            Err(error) => {
                eprintln!("lovebeat: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let source = config::Source {
        config_file: args.config.clone(),
        config_dir: args.config_dir.clone(),
    };
    let config = match config::load(&source) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("lovebeat: configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    let templates = match view_templates(&config) {
        Ok(templates) => templates,
        Err(error) => {
            eprintln!("lovebeat: configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    if args.check_config {
        println!("configuration OK: {}", config_sources(&config));
        return ExitCode::SUCCESS;
    }
    if let Err(error) = logging::init(args.debug, args.syslog) {
        eprintln!("lovebeat: cannot set up logging: {error}");
        return ExitCode::FAILURE;
    }
    log::info!("configuration: {}", config_sources(&config));
    match run(&args, config, templates) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            log::error!("{error}");
            eprintln!("lovebeat: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Which files a configuration came from, for the start-up log and
/// `-check-config`.
fn config_sources(config: &Config) -> String {
    if config.files.is_empty() {
        return "no configuration file found, built-in defaults only".to_string();
    }
    let names: Vec<String> = config
        .files
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    format!("read {}", names.join(", "))
}

/// Compiles the `[[views]]` of the config.
pub fn view_templates(config: &Config) -> Result<Vec<ViewTemplate>, String> {
    config
        .views
        .iter()
        .enumerate()
        .map(|(i, view)| {
            ViewTemplate::new(
                &view.name,
                &view.include_patterns(),
                &view.excludes,
                view.alerts.clone(),
            )
            .map_err(|error| format!("views[{i}] ({:?}): {error}", view.name))
        })
        .collect()
}

/// Threads whose panic leaves the process unable to monitor anything: the
/// process exits (code 70) so that its supervisor restarts it, rather than
/// staying up and answering 503 forever.
const CRITICAL_THREADS: [&str; 2] = ["state", "saver"];

/// How long shutdown waits for the upload of the final save.
const UPLOAD_AT_EXIT_WAIT: Duration = Duration::from_secs(20);

fn exit_on_critical_panic() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("unnamed");
        if CRITICAL_THREADS.contains(&name) {
            log::error!(
                "the {name} thread panicked ({info}); exiting so that lovebeat is restarted"
            );
            std::process::exit(70);
        }
        log::error!("thread {name} panicked: {info}");
    }));
}

fn run(args: &Args, config: Config, templates: Vec<ViewTemplate>) -> Result<(), String> {
    exit_on_critical_panic();
    // First, so that a SIGTERM during start-up (an S3 download, a big
    // database) waits in the queue and still ends in a clean save.
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP])
        .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    let started_at = now_ms();
    let counters = Arc::new(Counters::default());
    Counters::add(
        &counters.started_at_ms,
        u64::try_from(started_at).unwrap_or(0),
    );
    log::info!("lovebeat {} starting", crate::VERSION);

    let db_path = std::path::PathBuf::from(&config.database.filename);
    let s3 = match S3Settings::from_config(&config.database).transpose() {
        Ok(s3) => s3,
        Err(error) => return Err(format!("[database] remote_s3_url: {error}")),
    };
    store::remove_leftover_temps(&db_path);
    if let Some(settings) = &s3 {
        s3::fetch_at_start(settings, &db_path, s3::FETCH_BUDGET);
    }
    // Fails closed: a database that cannot be read stops start-up; one
    // that does not decode is moved aside and keeps /status unhealthy.
    let (database, quarantine) = store::open_database(&db_path, started_at)
        .map_err(|e| format!("cannot load the database: {e}"))?;
    log::info!(
        "database {}: {} services, {} views",
        db_path.display(),
        database.services.len(),
        database.views.len()
    );
    let mut engine = Engine::new(EngineConfig {
        templates,
        max_services: config.limits.max_services,
        started_at,
    });
    let loaded = engine.load(database.services, database.views, now_ms());
    store::log_load_report(&loaded);

    let host = notify::service_host(&notify::hostname());
    let notifier = notify::spawn(
        reload::notify_options(&config, &host, NOTIFY_PERIOD),
        Arc::clone(&counters),
    )
    .map_err(|e| format!("cannot start the notify threads: {e}"))?;
    if !config.notify.is_empty() {
        log::info!(
            "notifying {} other lovebeat(s) as lovebeat.{host}.*",
            config.notify.len()
        );
    }

    let (upload, uploader) = match s3 {
        Some(settings) => {
            let (trigger, uploader) =
                s3::spawn_uploader(settings, db_path.clone(), Arc::clone(&counters))
                    .map_err(|e| format!("cannot start the s3-upload thread: {e}"))?;
            (Some(trigger), Some(uploader))
        }
        None => (None, None),
    };

    let (save_tx, save_rx) = bounded(2);
    let saver_queue = save_rx.clone();
    let save_notifier = notifier.clone();
    let saver = store::spawn_saver(
        db_path.clone(),
        Arc::clone(&counters),
        save_rx,
        Box::new(move |_, _| {
            if let Some(upload) = &upload {
                upload.saved();
            }
            save_notifier.beat(NotifyBeat::Save);
        }),
    )
    .map_err(|e| format!("cannot start the saver thread: {e}"))?;

    let (command_tx, command_rx) = bounded::<Command>(state::COMMAND_QUEUE);
    let handle = StateHandle::new(command_tx).with_quarantine(quarantine);
    let state_thread = state::spawn(
        engine,
        command_rx,
        save_tx,
        Arc::clone(&counters),
        StateOptions {
            save_interval: Duration::from_secs(config.database.interval),
            stop: handle.stop_flag(),
            saver_queue: Some(saver_queue),
        },
    )
    .map_err(|e| format!("cannot start the state thread: {e}"))?;

    let metrics_thread = match reload::metrics_options(&config) {
        Some(options) => Some(
            metrics::spawn(options, Arc::clone(&counters), handle.clone())
                .map_err(|e| format!("cannot start the metrics thread: {e}"))?,
        ),
        None => None,
    };
    let (eventlog_reopen, eventlog_thread) = if config.eventlog.path.is_empty() {
        (None, None)
    } else {
        let path = std::path::PathBuf::from(&config.eventlog.path);
        let (reopen, thread) = eventlog::spawn(
            path,
            config.eventlog.mode_bits(),
            Arc::clone(&counters),
            &handle,
        )
        .map_err(|e| format!("cannot start the event log thread: {e}"))?;
        log::info!("event log: {}", config.eventlog.path);
        (Some(reopen), Some(thread))
    };

    // Every state change at info level, rate-limited (before any listener).
    changelog::spawn(&handle).map_err(|e| format!("cannot start the changelog thread: {e}"))?;
    // Subscribed before any listener starts, so no view change is missed.
    let alert_settings = alert::AlertSettings::from_config(&config);
    let alert_count = alert_settings.alerts.len();
    let (alert_reload, alert_reload_rx) = bounded(4);
    let _alerter = alert::spawn(
        alert_settings,
        alert_reload_rx,
        &handle,
        Arc::clone(&counters),
        // At start and every 60 s: the `[[notify]]` `.alerter` beat.
        {
            let notifier = notifier.clone();
            Box::new(move || notifier.beat(NotifyBeat::Alerter))
        },
    )
    .map_err(|e| format!("cannot start the alerter thread: {e}"))?;
    log::info!(
        "alerter started ({alert_count} alert{} configured)",
        if alert_count == 1 { "" } else { "s" }
    );

    if let Some(addr) = listen(&config.udp.listen)? {
        let (bound, _) = statsd::spawn_udp(&addr, handle.clone(), Arc::clone(&counters))
            .map_err(|e| format!("cannot listen for statsd on UDP {addr}: {e}"))?;
        log::info!("statsd UDP listening on {bound}");
    }
    if let Some(addr) = listen(&config.tcp.listen)? {
        let (bound, _) = statsd::spawn_tcp(
            &addr,
            handle.clone(),
            Arc::clone(&counters),
            config.limits.max_tcp_connections,
        )
        .map_err(|e| format!("cannot listen for statsd on TCP {addr}: {e}"))?;
        log::info!(
            "statsd TCP listening on {bound} (at most {} connections)",
            config.limits.max_tcp_connections
        );
    }
    if let Some(addr) = listen(&config.http.listen)? {
        let (bound, _) = http::spawn(
            &addr,
            handle.clone(),
            Arc::clone(&counters),
            http::HttpOptions {
                max_ws_clients: config.limits.max_ws_clients,
                auth: http::auth::Auth::new(&config.http.auth_token, config.http.auth_read),
                ..http::HttpOptions::default()
            },
        )
        .map_err(|e| format!("cannot listen for HTTP on {addr}: {e}"))?;
        log::info!("HTTP listening on {bound}");
        if !config.http.auth_token.is_empty() {
            log::info!(
                "HTTP access token required for {}",
                if config.http.auth_read {
                    "every request but the dashboard's page"
                } else {
                    "changes (POST, DELETE)"
                }
            );
        }
    }

    let mut reloader = reload::Reloader {
        source: config::Source {
            config_file: args.config.clone(),
            config_dir: args.config_dir.clone(),
        },
        running: config,
        state: handle.clone(),
        counters: Arc::clone(&counters),
        alerts: alert_reload,
        notifier,
        notify_host: host,
        notify_period: NOTIFY_PERIOD,
        metrics: metrics_thread,
    };
    for signal in signals.forever() {
        match signal {
            SIGHUP => {
                log::info!("SIGHUP received");
                if let Some(reopen) = &eventlog_reopen {
                    let _ = reopen.try_send(());
                }
                reloader.reload();
            }
            _ => {
                log::info!("signal {signal} received, saving and stopping");
                break;
            }
        }
    }
    handle.shutdown();
    drop(handle);
    let final_save = state_thread
        .join()
        .unwrap_or_else(|_| Err("the state thread panicked".to_string()));
    // The event bus is gone with the state thread: the event log writes
    // what is queued and ends.
    if let Some(thread) = eventlog_thread {
        let _ = thread.join();
    }
    drop(eventlog_reopen);
    let _ = saver.join();
    if let Some(uploader) = uploader {
        uploader.finish(UPLOAD_AT_EXIT_WAIT);
    }
    final_save?;
    log::info!("stopped");
    Ok(())
}

/// How often `.monitor` (and, until alerts land, `.alerter`) is posted to
/// each `[[notify]]` target; the first post goes out at start.
const NOTIFY_PERIOD: Duration = Duration::from_secs(60);

fn listen(text: &str) -> Result<Option<String>, String> {
    config::listen_addr(text).map_err(|e| e.to_string())
}
