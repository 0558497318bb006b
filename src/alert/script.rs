//! Script alerts (SPEC 6): the program runs with no arguments and the
//! `LOVEBEAT_*` variables added to the environment; its output goes to the
//! log (truncated); it is killed when it outlives the attempt timeout.

use super::plan::Message;
use super::DeliveryError;
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError};
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Most of a script's output (stdout and stderr each) kept for the log.
pub const OUTPUT_LIMIT: usize = 4096;

/// The variables a script gets.
pub fn env(message: &Message) -> Vec<(&'static str, String)> {
    vec![
        ("LOVEBEAT_VIEW", message.view.clone()),
        ("LOVEBEAT_ALARM", message.view.clone()),
        ("LOVEBEAT_STATE", message.to.upper().to_string()),
        ("LOVEBEAT_PREVIOUS_STATE", message.from.upper().to_string()),
        ("LOVEBEAT_INCIDENT", message.incident.to_string()),
        ("LOVEBEAT_REASONS", message.reasons()),
        ("LOVEBEAT_REMINDER", message.reminder.to_string()),
    ]
}

pub fn run(path: &str, message: &Message, timeout: Duration) -> Result<(), DeliveryError> {
    let deadline = Instant::now() + timeout;
    // Its own process group, so that a kill also reaches what it started
    // (a shell script's `sleep`, `curl`, ...), which would otherwise keep
    // the output pipes, and our reader threads, alive.
    let mut child = Command::new(path)
        .process_group(0)
        .envs(env(message))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| DeliveryError::Script(format!("cannot run {path}: {e}")))?;
    let stdout = Arc::new(Mutex::new(Vec::new()));
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let (done_tx, done_rx) = bounded::<()>(2);
    if let Some(out) = child.stdout.take() {
        drain(out, Arc::clone(&stdout), done_tx.clone());
    }
    if let Some(err) = child.stderr.take() {
        drain(err, Arc::clone(&stderr), done_tx.clone());
    }
    drop(done_tx);
    let status = wait(&mut child, &done_rx, deadline);
    let text = |buf: &Arc<Mutex<Vec<u8>>>| {
        let bytes = buf.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).trim_end().to_string()
    };
    let (out, err) = (text(&stdout), text(&stderr));
    if !out.is_empty() {
        log::info!("script {path} (view {}) stdout: {out}", message.view);
    }
    if !err.is_empty() {
        log::info!("script {path} (view {}) stderr: {err}", message.view);
    }
    match status {
        Some(Ok(status)) if status.success() => Ok(()),
        Some(Ok(status)) => Err(DeliveryError::Script(format!(
            "{path} exited with {status}"
        ))),
        Some(Err(e)) => Err(DeliveryError::Script(format!("waiting for {path}: {e}"))),
        None => Err(DeliveryError::Script(format!(
            "{path} was killed after {} s",
            timeout.as_secs_f64()
        ))),
    }
}

/// Reads a pipe to its end, keeping the first `OUTPUT_LIMIT` bytes, and
/// signals `done` at the end.
fn drain(
    mut pipe: impl Read + Send + 'static,
    keep: Arc<Mutex<Vec<u8>>>,
    done: crossbeam_channel::Sender<()>,
) {
    let reader = move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut chunk) {
            if n == 0 {
                break;
            }
            if let Ok(mut buf) = keep.lock() {
                let room = OUTPUT_LIMIT.saturating_sub(buf.len());
                buf.extend_from_slice(&chunk[..n.min(room)]);
            }
        }
        let _ = done.send(());
    };
    // Without a reader the script could block on a full pipe; if no thread
    // can be started the pipe is dropped and the script gets EPIPE instead.
    let _ = std::thread::Builder::new()
        .name("alert-script-output".into())
        .spawn(reader);
}

/// Waits for the script until `deadline`, then kills it. `None` when killed.
fn wait(
    child: &mut Child,
    output_done: &Receiver<()>,
    deadline: Instant,
) -> Option<std::io::Result<std::process::ExitStatus>> {
    // Both pipes closing is the usual sign of the end; wait for that
    // without polling, then for the exit itself.
    let mut open = 2;
    while open > 0 {
        match output_done.recv_deadline(deadline) {
            Ok(()) => open -= 1,
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => break,
        }
    }
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(Ok(status)),
            Ok(None) if Instant::now() < deadline => {
                // Pipes closed but still running (or the reader threads are
                // gone): look again shortly.
                std::thread::sleep(Duration::from_millis(50));
            }
            Ok(None) => {
                kill_group(child);
                return None;
            }
            Err(e) => {
                kill_group(child);
                return Some(Err(e));
            }
        }
    }
}

/// Kills the script's whole process group and reaps the script.
fn kill_group(child: &mut Child) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill(2) with a negative pid signals that process group;
        // it touches no memory of ours. The group is the script's own
        // (`process_group(0)`), never ours.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}
