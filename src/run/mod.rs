//! `lovebeat run NAME -- COMMAND ARGS` (SPEC 17): the binary as a client
//! that wraps a job. It owns the wrapped child process: `start` with a
//! fresh rid is sent (on its own thread, so the command is not delayed)
//! while the command runs with its stdout/stderr passed through (tail.rs
//! keeps the last bytes), SIGINT/SIGTERM/SIGHUP are forwarded to it, and
//! at its end the exit code (`/<code>`, or `fail` naming the signal that
//! killed it) goes to lovebeat with the tail as the body. lovebeat being
//! down never fails or hangs the job: each request has a bounded budget
//! (client.rs), then one warning; the exit code is always the command's.

pub mod args;
pub mod client;
pub mod tail;

use args::RunArgs;
use client::{encode, Client, REQUEST_BUDGET};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::ffi::OsString;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The output kept by default: lovebeat's default `[limits] max_body_bytes`.
pub const DEFAULT_MAX_BODY: usize = 10_000;
/// How long to wait, after the command ended, for output that no longer
/// arrives (a background child of the command may hold the pipes open).
const DRAIN_IDLE: Duration = Duration::from_secs(2);

/// The child's pid once spawned (0 before and after), for the forwarder.
static CHILD: AtomicI32 = AtomicI32::new(0);
/// A signal that came before the child was spawned.
static PENDING: AtomicI32 = AtomicI32::new(0);

/// Runs `lovebeat run` with the arguments after `run`.
pub fn main(args: Vec<OsString>) -> ExitCode {
    let args = match args::parse(args) {
        Ok(a) if a.help => {
            print!("{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(a) => a,
        Err(e) => {
            eprintln!("lovebeat run: {e}");
            return ExitCode::from(2);
        }
    };
    let mut warnings = Vec::new();
    let client = Client {
        base: base_url(&args),
        token: token(&mut warnings),
        budget: REQUEST_BUDGET,
    };
    let code = run(&args, &client, &mut warnings);
    if !warnings.is_empty() {
        eprintln!(
            "lovebeat run: warning: lovebeat was not told about this run of {} ({}); \
             the command ran and its exit code is returned",
            args.name,
            warnings.join("; ")
        );
    }
    ExitCode::from(code)
}

fn base_url(args: &RunArgs) -> String {
    let url = args
        .url
        .clone()
        .or_else(|| std::env::var("LOVEBEAT_URL").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| args::DEFAULT_URL.to_string());
    url.trim_end_matches('/').to_string()
}

/// `$LOVEBEAT_TOKEN`, else the first line of `$LOVEBEAT_TOKEN_FILE`.
fn token(warnings: &mut Vec<String>) -> Option<String> {
    if let Some(t) = std::env::var("LOVEBEAT_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
    {
        return Some(t);
    }
    let path = std::env::var_os("LOVEBEAT_TOKEN_FILE").filter(|p| !p.is_empty())?;
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(text.lines().next().unwrap_or("").trim().to_string()),
        Err(e) => {
            warnings.push(format!(
                "cannot read LOVEBEAT_TOKEN_FILE {}: {e}",
                path.to_string_lossy()
            ));
            None
        }
    }
}

/// A run id no other run shares: 64 random bits (std's per-process random
/// hash keys, mixed with the time and pid), as 16 hex digits.
pub fn fresh_rid() -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

/// Runs the command and reports it; the exit code to leave with.
fn run(args: &RunArgs, client: &Client, warnings: &mut Vec<String>) -> u8 {
    let rid = fresh_rid();
    let mut start_query = format!("rid={rid}");
    for (key, value) in &args.settings {
        start_query.push_str(&format!("&{key}={}", encode(value)));
    }
    forward_signals(warnings);
    let starter = {
        let (client, name) = (client.clone(), args.name.clone());
        std::thread::spawn(move || client.signal(&name, "start", &start_query, b""))
    };
    let capacity = args.max_body.unwrap_or(DEFAULT_MAX_BODY);
    let tail = Arc::new(Mutex::new(tail::Tail::new(capacity)));
    let (signal, note, code) = match execute(&args.command, &tail) {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => (code.to_string(), String::new(), (code & 0xff) as u8),
            (None, Some(sig)) => (
                "fail".to_string(),
                format!("\nlovebeat run: killed by signal {}\n", signal_name(sig)),
                (128 + sig).clamp(0, 255) as u8,
            ),
            (None, None) => ("fail".to_string(), String::new(), 1),
        },
        Err((code, why)) => {
            let note = format!("lovebeat run: {why}\n");
            eprint!("{note}");
            (code.to_string(), note, code)
        }
    };
    let limit = match starter.join() {
        Ok(Ok(answer)) => answer.body_limit,
        Ok(Err(why)) => {
            warnings.push(format!("start: {why}"));
            None
        }
        Err(_) => None,
    };
    let mut body = tail
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .body_with(note.as_bytes());
    // lovebeat keeps the head of a body over its limit; send it the end.
    if let Some(limit) = limit.filter(|l| *l < body.len()) {
        body.drain(..body.len() - limit);
    }
    if let Err(why) = client.signal(&args.name, &signal, &format!("rid={rid}"), &body) {
        warnings.push(format!("{signal}: {why}"));
    }
    code
}

/// Spawns the command with piped output, copies it through and waits.
/// `Err` is the shell's exit code for a command that cannot run (127 not
/// found, 126 otherwise) and why.
fn execute(
    command: &[OsString],
    tail: &Arc<Mutex<tail::Tail>>,
) -> Result<std::process::ExitStatus, (u8, String)> {
    let (program, rest) = command
        .split_first()
        .ok_or((127, "no command given".to_string()))?;
    let spawned = Command::new(program)
        .args(rest)
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            let code = if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            return Err((code, format!("cannot run {:?}: {e}", program)));
        }
    };
    CHILD.store(child.id() as i32, Ordering::SeqCst);
    let early = PENDING.swap(0, Ordering::SeqCst);
    if early != 0 {
        // SAFETY: kill(2) with our own child's pid and a valid signal.
        unsafe { libc::kill(child.id() as i32, early) };
    }
    let progress = Arc::new(AtomicU64::new(0));
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let mut copiers = 0;
    if let Some(out) = child.stdout.take() {
        copiers += 1;
        spawn_tee(out, std::io::stdout(), tail, &progress, done_tx.clone());
    }
    if let Some(err) = child.stderr.take() {
        copiers += 1;
        spawn_tee(err, std::io::stderr(), tail, &progress, done_tx.clone());
    }
    drop(done_tx);
    let status = child.wait();
    CHILD.store(0, Ordering::SeqCst);
    // The pipes end with the command, unless something it started holds
    // them: wait while output still flows, then go on without it.
    let mut idle_since = (Instant::now(), progress.load(Ordering::Relaxed));
    while copiers > 0 {
        match done_rx.recv_timeout(Duration::from_millis(100)) {
            Ok(()) => copiers -= 1,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let now = progress.load(Ordering::Relaxed);
                if now != idle_since.1 {
                    idle_since = (Instant::now(), now);
                } else if idle_since.0.elapsed() >= DRAIN_IDLE {
                    break;
                }
            }
        }
    }
    let _ = std::io::stdout().flush();
    status.map_err(|e| (1, format!("waiting for {:?} failed: {e}", program)))
}

fn spawn_tee(
    from: impl std::io::Read + Send + 'static,
    to: impl Write + Send + 'static,
    tail: &Arc<Mutex<tail::Tail>>,
    progress: &Arc<AtomicU64>,
    done: mpsc::Sender<()>,
) {
    let (tail, progress) = (Arc::clone(tail), Arc::clone(progress));
    std::thread::spawn(move || {
        let counted = Counted {
            inner: from,
            progress,
        };
        tail::tee(counted, to, &tail);
        let _ = done.send(());
    });
}

/// A reader that counts the bytes read, so the drain wait sees progress.
struct Counted<R> {
    inner: R,
    progress: Arc<AtomicU64>,
}

impl<R: std::io::Read> std::io::Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// From here on SIGINT, SIGTERM and SIGHUP go to the child (or wait for
/// it to be spawned) instead of ending us before the run is reported.
fn forward_signals(warnings: &mut Vec<String>) {
    let mut signals = match signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) {
        Ok(s) => s,
        Err(e) => {
            warnings.push(format!("signals are not passed on: {e}"));
            return;
        }
    };
    std::thread::spawn(move || {
        for sig in signals.forever() {
            let pid = CHILD.load(Ordering::SeqCst);
            if sig != SIGTERM && in_terminal_foreground() {
                // Ctrl-C (or a hangup) from our terminal: the kernel sent
                // it to the whole foreground group, the child included;
                // a second one would be a second Ctrl-C to it.
                continue;
            }
            if pid > 0 {
                // SAFETY: kill(2) with our child's pid and a valid signal.
                unsafe { libc::kill(pid, sig) };
            } else {
                PENDING.store(sig, Ordering::SeqCst);
            }
        }
    });
}

/// True when we (and so the child, which shares our process group) are
/// the foreground group of a controlling terminal. Under cron or systemd
/// there is none: every signal is forwarded.
fn in_terminal_foreground() -> bool {
    let Ok(tty) = std::fs::File::open("/dev/tty") else {
        return false;
    };
    use std::os::fd::AsRawFd;
    // SAFETY: plain calls on a descriptor we hold open.
    unsafe { libc::tcgetpgrp(tty.as_raw_fd()) == libc::getpgrp() }
}

/// `SIGTERM (15)` and the like.
pub fn signal_name(sig: i32) -> String {
    let name = match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        10 => "SIGUSR1",
        11 => "SIGSEGV",
        12 => "SIGUSR2",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        _ => return format!("{sig}"),
    };
    format!("{name} ({sig})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rids_are_valid_and_fresh() {
        let a = fresh_rid();
        let b = fresh_rid();
        assert!(crate::jobs::is_valid_rid(&a), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn signal_names() {
        assert_eq!(signal_name(15), "SIGTERM (15)");
        assert_eq!(signal_name(64), "64");
    }
}
