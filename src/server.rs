//! Start-up and wiring: parses the command line, loads the config and the
//! database, starts every thread, waits for a signal, and shuts down with a
//! final save. Exit codes: 0 normal, 1 runtime failure (a port in use),
//! 2 bad command line or configuration.

//!
//! Submodules: `start` (the named start-up steps, the signal loop and the
//! shutdown, in their fixed order) and `error` (`StartError`, every way
//! start-up or the final save can fail, with the message a user acts on).

mod error;
mod start;

pub use error::StartError;

use crate::cli;
use crate::config::{self, Config};
use crate::engine::auto;
use crate::engine::pattern::ViewTemplate;
use crate::logging;
use std::ffi::OsString;
use std::process::ExitCode;

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
    if let Some(model) = &args.simulate {
        return simulate(model);
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
    if let Some(name) = &args.test_alert {
        return test_alert(&args, &config, name);
    }
    if let Err(error) = logging::init(args.debug, args.syslog) {
        eprintln!("lovebeat: cannot set up logging: {error}");
        return ExitCode::FAILURE;
    }
    log::info!("configuration: {}", config_sources(&config));
    match start::run(&args, config, templates) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            log::error!("{error}");
            // The log already went to stderr unless it goes to syslog.
            if args.syslog {
                eprintln!("lovebeat: {error}");
            }
            ExitCode::FAILURE
        }
    }
}

/// `-simulate MODEL` (SPEC 19): exit 2 on an unknown model or a bad line.
fn simulate(model: &str) -> ExitCode {
    use crate::engine::simulate::{simulate, Model, SimulateError};
    let result = model
        .parse::<Model>()
        .and_then(|model| simulate(model, std::io::stdin().lock(), std::io::stdout().lock()));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error @ (SimulateError::NotAnInteger { .. } | SimulateError::UnknownModel(_))) => {
            eprintln!("lovebeat: {error}");
            ExitCode::from(2)
        }
        Err(error) => {
            eprintln!("lovebeat: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `-test-alert NAME`: 0 when every kind sent, 1 when one failed, 2 when
/// there is no such alert (or it sends nothing).
fn test_alert(args: &cli::Args, config: &Config, name: &str) -> ExitCode {
    use crate::alert::{test_alert, AlertSettings};
    // Retries and failures are logged to stderr as by the server.
    if let Err(error) = logging::init(args.debug, false) {
        eprintln!("lovebeat: cannot set up logging: {error}");
    }
    let settings = AlertSettings::from_config(config);
    for problem in settings.problems() {
        eprintln!("lovebeat: warning: {problem}");
    }
    match test_alert::run(&settings, name, crate::clock::now_ms()) {
        Ok(lines) => {
            for line in &lines {
                println!("{line}");
            }
            if lines.iter().all(|line| line.outcome.result.is_ok()) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("lovebeat: {error}");
            ExitCode::from(2)
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
