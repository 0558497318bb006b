//! The tools some suites need beyond Rust (a browser, nginx, promtool, a
//! Python package, ...), all installed by the README's test command
//! (`./test`). Under `./test` (which sets `LOVEBEAT_FULL_TESTS=1`) a missing
//! tool fails the test, so CI never passes by skipping. Under plain `cargo
//! test` the suite prints one `SKIPPED` line naming what is missing and the
//! command to run, and returns: the self-contained tests still run on a
//! machine with only Rust.

use std::path::Path;
use std::process::{Command, Stdio};

/// Set by `./test`: a missing tool is a failure, not a skip.
pub const FULL_TESTS: &str = "LOVEBEAT_FULL_TESTS";

/// One thing a suite needs, and how to see that it is there.
pub enum Tool<'a> {
    /// An executable on PATH.
    Program(&'a str),
    /// A file at a fixed path (Debian's /usr/bin/chromium, ...).
    File(&'a str),
    /// A Python module importable by `python3`.
    PythonModule(&'a str),
    /// A path inside the repository (an npm install).
    InRepo(&'a str),
    /// The nightly toolchain (`cargo +nightly`).
    Nightly,
}

impl Tool<'_> {
    fn present(&self) -> bool {
        let quiet = |cmd: &mut Command| {
            cmd.stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        match self {
            Tool::Program(name) => std::env::var_os("PATH").is_some_and(|paths| {
                std::env::split_paths(&paths).any(|dir| dir.join(name).is_file())
            }),
            Tool::File(path) => Path::new(path).exists(),
            Tool::PythonModule(module) => {
                quiet(Command::new("python3").args(["-c", &format!("import {module}")]))
            }
            Tool::InRepo(path) => Path::new(env!("CARGO_MANIFEST_DIR")).join(path).exists(),
            Tool::Nightly => quiet(Command::new("rustup").args(["run", "nightly", "rustc", "-V"])),
        }
    }

    fn describe(&self) -> String {
        match self {
            Tool::Program(name) => format!("`{name}`"),
            Tool::File(path) => path.to_string(),
            Tool::PythonModule(module) => format!("python3 module `{module}`"),
            Tool::InRepo(path) => path.to_string(),
            Tool::Nightly => "the nightly toolchain".to_string(),
        }
    }
}

/// True when every tool `suite` needs is there. Otherwise: under `./test`
/// (`LOVEBEAT_FULL_TESTS` set) the test fails naming what is missing; under
/// plain `cargo test` it prints `SKIPPED` and the caller returns.
pub fn available(suite: &str, tools: &[Tool]) -> bool {
    let missing: Vec<String> = tools
        .iter()
        .filter(|tool| !tool.present())
        .map(Tool::describe)
        .collect();
    if missing.is_empty() {
        return true;
    }
    let message = format!(
        "{suite} needs {}: run ./test (the README's test command), which installs it",
        missing.join(", ")
    );
    if std::env::var_os(FULL_TESTS).is_some() {
        panic!("{message}");
    }
    eprintln!("SKIPPED {message}");
    false
}
