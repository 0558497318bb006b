//! The life of a running lovebeat, as named steps in their fixed order:
//! signal handlers first (a SIGTERM during start-up waits in the queue and
//! still ends in a clean save), then `start_store` (S3 download, database
//! load), `start_notifier`, `start_saver` (S3 uploader and saver),
//! `start_state`, `start_outputs` (metrics, event log, changelog, alerter:
//! subscribed before any listener so no change is missed),
//! `start_listeners` (statsd UDP/TCP, HTTP), `wait_for_signal` (SIGHUP
//! reloads), and `shut_down` (final save, final upload within 20 s). Every
//! step returns `Result<_, StartError>`.

use super::StartError;
use crate::cli::Args;
use crate::clock::now_ms;
use crate::config::{self, Config};
use crate::counters::Counters;
use crate::engine::pattern::ViewTemplate;
use crate::engine::{Engine, EngineConfig};
use crate::metrics::MetricsThread;
use crate::notify::{Notifier, NotifyBeat};
use crate::state::{self, Command, StateHandle, StateOptions};
use crate::store::s3::{self, S3Settings, Uploader};
use crate::store::{Quarantine, SaveJob};
use crate::{alert, changelog, eventlog, http, metrics, notify, reload, statsd, store};
use crossbeam_channel::{bounded, Receiver, Sender};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Threads whose panic leaves the process unable to monitor anything: the
/// process exits (code 70) so that its supervisor restarts it, rather than
/// staying up and answering 503 forever.
const CRITICAL_THREADS: [&str; 2] = ["state", "saver"];

/// How long shutdown waits for the upload of the final save.
const UPLOAD_AT_EXIT_WAIT: Duration = Duration::from_secs(20);

/// How often `.monitor` (and, until alerts land, `.alerter`) is posted to
/// each `[[notify]]` target; the first post goes out at start.
const NOTIFY_PERIOD: Duration = Duration::from_secs(60);

/// Starts everything, serves until SIGTERM/SIGINT, and stops with a final
/// save. The steps run in this order; see the module comment for why.
pub fn run(args: &Args, config: Config, templates: Vec<ViewTemplate>) -> Result<(), StartError> {
    exit_on_critical_panic();
    // First, so that a SIGTERM during start-up (an S3 download, a big
    // database) waits in the queue and still ends in a clean save.
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP]).map_err(StartError::Signals)?;
    let started_at = now_ms();
    let counters = Arc::new(Counters::default());
    Counters::add(
        &counters.started_at_ms,
        u64::try_from(started_at).unwrap_or(0),
    );
    log::info!("lovebeat {} starting", crate::VERSION);

    let store = start_store(&config, templates, started_at)?;
    let (notifier, host) = start_notifier(&config, &counters)?;
    let saving = start_saver(store.db_path, store.s3, &counters, &notifier)?;
    let (handle, state_thread) = start_state(
        store.engine,
        store.quarantine,
        saving.jobs,
        saving.queue,
        &config,
        &counters,
    )?;
    // Finished alert deliveries: the alerter's workers append, the HTTP
    // API (`GET /api/alerts/history`) reads.
    let alert_history = alert::History::default();
    let outputs = start_outputs(&config, &handle, &counters, &notifier, &alert_history)?;
    start_listeners(&config, &handle, &counters, alert_history)?;

    let mut reloader = reload::Reloader {
        source: config::Source {
            config_file: args.config.clone(),
            config_dir: args.config_dir.clone(),
        },
        running: config,
        state: handle.clone(),
        counters: Arc::clone(&counters),
        alerts: outputs.alert_reload,
        notifier,
        notify_host: host,
        notify_period: NOTIFY_PERIOD,
        metrics: outputs.metrics,
    };
    wait_for_signal(
        &mut signals,
        &mut reloader,
        outputs.eventlog_reopen.as_ref(),
    );
    // `signals` and `reloader` (its state handle, the metrics thread, the
    // alerter's reload channel) live on until the final save is done: a
    // second SIGTERM is absorbed, and no output stops early.
    shut_down(
        handle,
        state_thread,
        outputs.eventlog,
        outputs.eventlog_reopen,
        saving.saver,
        saving.uploader,
    )
}

/// Logs every panic with its thread; a panic of a `CRITICAL_THREADS` one
/// exits the process (code 70).
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

/// The database as loaded, in an engine, with where it lives.
struct Store {
    engine: Engine,
    quarantine: Quarantine,
    db_path: PathBuf,
    s3: Option<S3Settings>,
}

/// Fetches the database from S3 (when configured), loads it, and builds the
/// engine. Fails closed: a database that cannot be read stops start-up; one
/// that does not decode is moved aside and keeps /status unhealthy.
fn start_store(
    config: &Config,
    templates: Vec<ViewTemplate>,
    started_at: i64,
) -> Result<Store, StartError> {
    let db_path = PathBuf::from(&config.database.filename);
    let s3 = S3Settings::from_config(&config.database)
        .transpose()
        .map_err(StartError::S3Url)?;
    store::remove_leftover_temps(&db_path);
    if let Some(settings) = &s3 {
        s3::fetch_at_start(settings, &db_path, s3::FETCH_BUDGET);
    }
    let (database, quarantine) = store::open_database(&db_path, started_at)
        .map_err(|e| StartError::Database(e.to_string()))?;
    log::info!(
        "database {}: {} services, {} views",
        db_path.display(),
        database.services.len(),
        database.views.len()
    );
    let problems = &database.job_key_problems;
    if problems.count > 0 {
        log::warn!(
            "database: {} malformed job keys skipped (the services loaded without them): {}",
            problems.count,
            problems.samples.join("; ")
        );
    }
    let mut engine = Engine::new(EngineConfig {
        templates,
        max_services: config.limits.max_services,
        started_at,
        jobs: config.job_config(),
    });
    // Nothing the policy decides may go before the alerter listens: held
    // until it subscribes (`Command::Subscribe` with `Interest::Alerts`).
    engine.hold_alerts(true);
    store::log_policy_problems(&database.policy_key_problems);
    store::log_model_problems(&database.model_key_problems);
    store::log_history_problems(&database.history_problems);
    // The histories first, so what changed while we were down follows them.
    engine.restore_history(database.history, now_ms());
    let loaded = engine.load(database.services, database.views, now_ms());
    engine.drop_orphan_history();
    store::log_load_report(&loaded);
    engine.load_windows(database.maintenance, now_ms());
    // The alert policy's settings are in force before the first tick;
    // what they make due (a delay ended while we were down, a held alert
    // whose window closed) is decided once the alerter listens.
    engine.set_policy_settings(config.policy_settings(), now_ms(), &mut Vec::new());
    Ok(Store {
        engine,
        quarantine,
        db_path,
        s3,
    })
}

/// Starts the `[[notify]]` threads; returns them and our `<host>` name.
fn start_notifier(
    config: &Config,
    counters: &Arc<Counters>,
) -> Result<(Notifier, String), StartError> {
    let host = notify::service_host(&notify::hostname());
    let notifier = notify::spawn(
        reload::notify_options(config, &host, NOTIFY_PERIOD),
        Arc::clone(counters),
    )
    .map_err(StartError::thread("the notify threads"))?;
    if !config.notify.is_empty() {
        log::info!(
            "notifying {} other lovebeat(s) as lovebeat.{host}.*",
            config.notify.len()
        );
    }
    Ok((notifier, host))
}

/// The saver thread and, with S3, the uploader it triggers after each save.
struct Saving {
    /// Where the state thread sends save jobs.
    jobs: Sender<SaveJob>,
    /// The saver's end of `jobs`, so the state thread sees it fill up.
    queue: Receiver<SaveJob>,
    saver: JoinHandle<()>,
    uploader: Option<Uploader>,
}

/// Starts the S3 uploader (when configured) and the saver; each save
/// triggers an upload and the `.save` notify beat.
fn start_saver(
    db_path: PathBuf,
    s3: Option<S3Settings>,
    counters: &Arc<Counters>,
    notifier: &Notifier,
) -> Result<Saving, StartError> {
    let (upload, uploader) = match s3 {
        Some(settings) => {
            let (trigger, uploader) =
                s3::spawn_uploader(settings, db_path.clone(), Arc::clone(counters))
                    .map_err(StartError::thread("the s3-upload thread"))?;
            (Some(trigger), Some(uploader))
        }
        None => (None, None),
    };
    let (jobs, save_rx) = bounded(2);
    let queue = save_rx.clone();
    let save_notifier = notifier.clone();
    let saver = store::spawn_saver(
        db_path,
        Arc::clone(counters),
        save_rx,
        Box::new(move |_, _| {
            if let Some(upload) = &upload {
                upload.saved();
            }
            save_notifier.beat(NotifyBeat::Save);
        }),
    )
    .map_err(StartError::thread("the saver thread"))?;
    Ok(Saving {
        jobs,
        queue,
        saver,
        uploader,
    })
}

/// Starts the state thread that owns the engine; returns the handle every
/// other thread talks to it through.
fn start_state(
    engine: Engine,
    quarantine: Quarantine,
    jobs: Sender<SaveJob>,
    saver_queue: Receiver<SaveJob>,
    config: &Config,
    counters: &Arc<Counters>,
) -> Result<(StateHandle, JoinHandle<Result<(), String>>), StartError> {
    let (command_tx, command_rx) = bounded::<Command>(state::COMMAND_QUEUE);
    let handle = StateHandle::new(command_tx).with_quarantine(quarantine);
    let thread = state::spawn(
        engine,
        command_rx,
        jobs,
        Arc::clone(counters),
        StateOptions {
            save_interval: Duration::from_secs(config.database.interval),
            stop: handle.stop_flag(),
            saver_queue: Some(saver_queue),
            parked: Some(handle.parked()),
        },
    )
    .map_err(StartError::thread("the state thread"))?;
    Ok((handle, thread))
}

/// The threads that consume state changes, and their control ends.
struct Outputs {
    metrics: Option<MetricsThread>,
    /// SIGHUP sends here: the event log reopens its file.
    eventlog_reopen: Option<Sender<()>>,
    eventlog: Option<JoinHandle<()>>,
    /// A reload sends the new `[[alerts]]` here.
    alert_reload: Sender<alert::AlertSettings>,
}

/// Starts the metrics push, the event log, the changelog and the alerter,
/// all subscribed before any listener starts so no change is missed.
fn start_outputs(
    config: &Config,
    handle: &StateHandle,
    counters: &Arc<Counters>,
    notifier: &Notifier,
    alert_history: &alert::History,
) -> Result<Outputs, StartError> {
    let metrics = match reload::metrics_options(config) {
        Some(options) => Some(
            metrics::spawn(options, Arc::clone(counters), handle.clone())
                .map_err(StartError::thread("the metrics thread"))?,
        ),
        None => None,
    };
    let (eventlog_reopen, eventlog) = if config.eventlog.path.is_empty() {
        (None, None)
    } else {
        let path = PathBuf::from(&config.eventlog.path);
        let (reopen, thread) = eventlog::spawn(
            path,
            config.eventlog.mode_bits(),
            Arc::clone(counters),
            handle,
        )
        .map_err(StartError::thread("the event log thread"))?;
        log::info!("event log: {}", config.eventlog.path);
        (Some(reopen), Some(thread))
    };

    // Every state change at info level, rate-limited (before any listener).
    changelog::spawn(handle).map_err(StartError::thread("the changelog thread"))?;
    let alert_settings = alert::AlertSettings::from_config(config);
    let alert_count = alert_settings.alerts.len();
    let (alert_reload, alert_reload_rx) = bounded(4);
    let _alerter = alert::spawn(
        alert_settings,
        alert_reload_rx,
        handle,
        Arc::clone(counters),
        alert_history.clone(),
        // At start and every 60 s: the `[[notify]]` `.alerter` beat.
        {
            let notifier = notifier.clone();
            Box::new(move || notifier.beat(NotifyBeat::Alerter))
        },
    )
    .map_err(StartError::thread("the alerter thread"))?;
    log::info!(
        "alerter started ({alert_count} alert{} configured)",
        if alert_count == 1 { "" } else { "s" }
    );
    Ok(Outputs {
        metrics,
        eventlog_reopen,
        eventlog,
        alert_reload,
    })
}

/// Binds the statsd UDP and TCP listeners and the HTTP API (each unless
/// its `listen` is ""); a listener that cannot bind names its config key.
fn start_listeners(
    config: &Config,
    handle: &StateHandle,
    counters: &Arc<Counters>,
    alert_history: alert::History,
) -> Result<(), StartError> {
    if let Some(addr) = listen(&config.udp.listen)? {
        let (bound, _) = statsd::spawn_udp(&addr, handle.clone(), Arc::clone(counters))
            .map_err(StartError::listen("statsd on UDP", &addr, "[udp] listen"))?;
        log::info!("statsd UDP listening on {bound}");
    }
    if let Some(addr) = listen(&config.tcp.listen)? {
        let (bound, _) = statsd::spawn_tcp(
            &addr,
            handle.clone(),
            Arc::clone(counters),
            config.limits.max_tcp_connections,
        )
        .map_err(StartError::listen("statsd on TCP", &addr, "[tcp] listen"))?;
        log::info!(
            "statsd TCP listening on {bound} (at most {} connections)",
            config.limits.max_tcp_connections
        );
    }
    if let Some(addr) = listen(&config.http.listen)? {
        let (bound, _) = http::spawn(
            &addr,
            handle.clone(),
            Arc::clone(counters),
            http::HttpOptions {
                max_ws_clients: config.limits.max_ws_clients,
                auth: http::auth::Auth::new(&config.http.auth_token, config.http.auth_read)
                    .with_public_badges(config.http.public_badges),
                max_body_bytes: config.limits.max_body_bytes,
                alert_history,
                healthchecks: config.healthchecks.clone(),
                uptime_kuma: config.uptime_kuma.clone(),
                cronitor: config.cronitor.clone(),
                sentry: config.sentry.clone(),
                status_page: config.status_page.clone(),
                ..http::HttpOptions::default()
            },
        )
        .map_err(StartError::listen("HTTP", &addr, "[http] listen"))?;
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
    Ok(())
}

/// A `listen` value as an address, `None` when it is "" (disabled).
fn listen(text: &str) -> Result<Option<String>, StartError> {
    config::listen_addr(text).map_err(|e| StartError::ListenAddr(e.to_string()))
}

/// Serves until SIGTERM or SIGINT. SIGHUP reopens the event log and
/// reloads the configuration, then waits on.
fn wait_for_signal(
    signals: &mut Signals,
    reloader: &mut reload::Reloader,
    eventlog_reopen: Option<&Sender<()>>,
) {
    for signal in signals.forever() {
        match signal {
            SIGHUP => {
                log::info!("SIGHUP received");
                if let Some(reopen) = eventlog_reopen {
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
}

/// Stops the state thread (which makes the final save), lets the event log
/// and the saver finish, and waits up to `UPLOAD_AT_EXIT_WAIT` for the
/// final upload. Fails when the final save did.
fn shut_down(
    handle: StateHandle,
    state_thread: JoinHandle<Result<(), String>>,
    eventlog: Option<JoinHandle<()>>,
    eventlog_reopen: Option<Sender<()>>,
    saver: JoinHandle<()>,
    uploader: Option<Uploader>,
) -> Result<(), StartError> {
    handle.shutdown();
    drop(handle);
    let final_save = state_thread
        .join()
        .unwrap_or_else(|_| Err("the state thread panicked".to_string()));
    // The event bus is gone with the state thread: the event log writes
    // what is queued and ends.
    if let Some(thread) = eventlog {
        let _ = thread.join();
    }
    drop(eventlog_reopen);
    let _ = saver.join();
    if let Some(uploader) = uploader {
        uploader.finish(UPLOAD_AT_EXIT_WAIT);
    }
    final_save.map_err(StartError::FinalSave)?;
    log::info!("stopped");
    Ok(())
}
