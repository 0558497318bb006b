//! Runs `contrib/auto-timeout.ipynb` headless against the binary under test
//! (issue 7, SPEC 19): the notebook checks the SPEC 2.3 known values through
//! `-validate-auto`, `-explain-auto` and `-simulate auto`, and drives both
//! timeout models through `-simulate` on ten traces, raising if `adaptive`
//! fires more often than `auto` on any, so either change fails this test.
//! The binary's path reaches it as `LOVEBEAT_BIN`. Needs the Python packages of
//! `contrib/requirements.txt` (installed by `.ci/run`).

mod common;

use common::tools::{self, Tool};
use common::{TempDir, BIN};
use std::path::Path;
use std::process::Command;

#[test]
fn auto_timeout_notebook_executes_and_the_known_values_match() {
    let needs = [
        Tool::PythonModule("nbconvert"),
        Tool::PythonModule("numpy"),
        Tool::PythonModule("matplotlib"),
    ];
    if !tools::available("the notebook test", &needs) {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let notebook = root.join("contrib/auto-timeout.ipynb");
    let out = TempDir::new("notebook");
    let run = Command::new("python3")
        .args(["-m", "nbconvert", "--to", "notebook", "--execute"])
        .arg("--output-dir")
        .arg(out.path())
        .args(["--output", "executed.ipynb"])
        .arg(&notebook)
        .current_dir(root.join("contrib"))
        .env("LOVEBEAT_BIN", BIN)
        .env("JUPYTER_RUNTIME_DIR", out.path())
        .output()
        .expect("python3 must be installed (see .ci/run)");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        !stderr.contains("No module named"),
        "the notebook's Python packages are missing; run `pip install -r contrib/requirements.txt` (as .ci/run does):\n{stderr}"
    );
    assert!(run.status.success(), "the notebook failed:\n{stderr}");

    let executed = std::fs::read_to_string(out.path().join("executed.ipynb"))
        .expect("nbconvert wrote the executed notebook");
    let parsed: serde_json::Value = serde_json::from_str(&executed).expect("the notebook is JSON");
    let outputs: String = parsed["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .flat_map(|c| c["outputs"].as_array().cloned().unwrap_or_default())
        .map(|o| o.to_string())
        .collect();
    assert!(
        outputs.contains("SPEC 2.3 known values: all match"),
        "the known-values cell did not report a match"
    );
    // Every trace made it into the table, and every trace has its plot.
    for trace in [
        "cron",
        "jittery worker",
        "bursty consumer",
        "weekday job",
        "drifting",
        "dies",
        "heavy-tailed runtimes",
        "poisson sender",
        "hourly, nightly gap",
        "slowing down",
    ] {
        assert!(
            outputs.contains(&format!("| {trace} |")),
            "no table row for {trace}"
        );
    }
    assert_eq!(
        outputs.matches("image/png").count(),
        10,
        "one plot per trace"
    );
    // SPEC 19: both models through -simulate, and the notebook checked
    // (it raises otherwise) that adaptive fires no more often than auto.
    assert!(
        outputs.contains("-simulate auto: matches"),
        "-simulate auto does not reproduce the SPEC 2.3 values"
    );
    assert!(
        outputs.contains("adaptive: no more false alarms than auto on every trace"),
        "the false-alarm comparison did not run"
    );
}
