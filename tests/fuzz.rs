//! Runs every cargo-fuzz target (`fuzz/`, libFuzzer on the nightly
//! toolchain) for a bounded time: `LOVEBEAT_FUZZ_SECONDS` per target
//! (default 60). Each run starts from a temporary copy of the target's seeds
//! and regressions, so the repository is never written to, except for
//! `fuzz/artifacts/<target>/`, where libFuzzer leaves a crashing input. Copy
//! that input to `fuzz/regressions/<target>/`, where
//! `tests/fuzz_regressions.rs` keeps it as a regression test, and fix the
//! bug. Needs `cargo-fuzz` and the nightly toolchain (installed by `.ci/run`).

mod common;

use common::tools::{self, Tool};
use common::TempDir;
use lovebeat::fuzzing::TARGETS;
use std::path::Path;
use std::process::Command;

/// A cargo process that picks its own toolchain (`+nightly`), not the one
/// the test suite runs under.
fn cargo(dir: &Path) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(dir);
    for var in [
        "RUSTUP_TOOLCHAIN",
        "RUSTC",
        "RUSTDOC",
        "RUSTC_WRAPPER",
        "RUSTFLAGS",
        "CARGO",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn copy_inputs(from: &Path, to: &Path) {
    if let Ok(entries) = std::fs::read_dir(from) {
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name();
            if entry.path().is_file() && !name.to_string_lossy().starts_with('.') {
                std::fs::copy(entry.path(), to.join(&name)).expect("copy a fuzz input");
            }
        }
    }
}

#[test]
fn every_fuzz_target_runs_clean_for_a_bounded_time() {
    if !tools::available("fuzzing", &[Tool::Nightly, Tool::Program("cargo-fuzz")]) {
        return;
    }
    let seconds: u64 = std::env::var("LOVEBEAT_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let build = cargo(&fuzz)
        .args(["+nightly", "fuzz", "build", "-O"])
        .output()
        .expect("cargo must be on PATH");
    assert!(
        build.status.success(),
        "`cargo +nightly fuzz build` failed (are cargo-fuzz and the nightly toolchain installed? .ci/run installs them):\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    for (target, _) in TARGETS {
        let corpus = TempDir::new(&format!("fuzz-{target}"));
        copy_inputs(&fuzz.join("seeds").join(target), corpus.path());
        copy_inputs(&fuzz.join("regressions").join(target), corpus.path());
        let run = cargo(&fuzz)
            .args(["+nightly", "fuzz", "run", "-O", target])
            .arg(corpus.path())
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .args(["-rss_limit_mb=2048", "-timeout=10", "-print_final_stats=1"])
            .output()
            .expect("cargo fuzz run");
        let stderr = String::from_utf8_lossy(&run.stderr);
        let stats: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("stat::number_of_executed_units") || l.starts_with("Done "))
            .collect();
        eprintln!("fuzz {target}: {}", stats.join("; "));
        assert!(
            run.status.success(),
            "fuzz target {target} found a problem; its input is in fuzz/artifacts/{target}/ — copy it to fuzz/regressions/{target}/ and fix the bug:\n{}",
            stderr.lines().rev().take(60).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
        );
        assert!(
            stats.iter().any(|l| l.starts_with("Done ")),
            "fuzz target {target} did not run:\n{stderr}"
        );
    }
}
