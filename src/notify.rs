//! `[[notify]]` (SPEC 7): our own heartbeats posted to other Lovebeat
//! instances, so that two instances can watch each other.
//!
//! Each target gets a thread of its own ("notify-N") with a small bounded
//! queue, so a slow or dead target delays only itself. [`Notifier`] is the
//! cheap, cloneable handle the rest of the process uses: `beat` only does a
//! `try_send` (a full queue means a post of that kind is already pending, so
//! nothing is lost by dropping it). Every post is
//! `POST <url>/api/services/lovebeat.<host>.<kind>` with `{"timeout": -2}`
//! and a 10 s timeout, with `Authorization: Bearer <token>` when the
//! target's `[[notify]] token` is set. `.monitor` (and whatever else
//! `periodic` names) is posted at start and every period; after a failed
//! periodic post the next one comes after 5 s, then 10, 20, 40 s, up to the
//! period.
//!
//! Failures are counted in `Counters::notify_failures`. Logging is
//! rate-limited per target: the first failure is a warning, later ones are
//! debug messages with one warning an hour saying how many failed, and the
//! first success after failures is logged at info.

use crate::counters::Counters;
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// Which of our heartbeats to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotifyBeat {
    /// The process is alive (sent at start and every `period`).
    Monitor,
    /// A database save succeeded.
    Save,
    /// The alert thread is alive.
    Alerter,
}

impl NotifyBeat {
    pub fn suffix(self) -> &'static str {
        match self {
            NotifyBeat::Monitor => "monitor",
            NotifyBeat::Save => "save",
            NotifyBeat::Alerter => "alerter",
        }
    }
}

/// Posts waiting per target, at most.
const QUEUE: usize = 8;
/// Timeout of one post (connect, send and answer).
pub const POST_TIMEOUT: Duration = Duration::from_secs(10);
/// After a failed periodic post the next one comes this much sooner,
/// doubling up to the period (so a target that starts after us soon hears
/// from us, and a dead one is tried once a period).
const FIRST_RETRY: Duration = Duration::from_secs(5);
/// While a target keeps failing, one warning per this long.
const WARN_EVERY: Duration = Duration::from_secs(3600);
/// The body of every post: keep (or make) the timeout automatic.
pub const BODY: &str = "{\"timeout\": -2}";

/// Cheap, cloneable, never blocks. A disabled notifier (no targets) does
/// nothing. Clones share their targets, so [`Notifier::replace_with`] (a
/// config reload) retargets every clone at once.
#[derive(Clone, Default)]
pub struct Notifier {
    targets: Arc<RwLock<Vec<Sender<NotifyBeat>>>>,
}

impl Notifier {
    /// Queues a post of `which` to every target without waiting.
    pub fn beat(&self, which: NotifyBeat) {
        let targets = self.targets.read().unwrap_or_else(PoisonError::into_inner);
        for tx in targets.iter() {
            let _ = tx.try_send(which);
        }
    }

    /// Takes `other`'s targets (leaving it none) and drops ours: the old
    /// threads post what they have queued and end.
    pub fn replace_with(&self, other: &Notifier) {
        let fresh = std::mem::take(
            &mut *other
                .targets
                .write()
                .unwrap_or_else(PoisonError::into_inner),
        );
        let old = std::mem::replace(
            &mut *self.targets.write().unwrap_or_else(PoisonError::into_inner),
            fresh,
        );
        drop(old);
    }

    /// How many targets it posts to.
    pub fn len(&self) -> usize {
        self.targets
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One other Lovebeat.
#[derive(Clone, PartialEq, Eq)]
pub struct NotifyTarget {
    /// Base URL (`http://other:8080`).
    pub url: String,
    /// Its `[http] auth_token`, "" = none.
    pub token: String,
}

impl std::fmt::Debug for NotifyTarget {
    /// Never prints the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyTarget")
            .field("url", &self.url)
            .field("token", &if self.token.is_empty() { "" } else { "***" })
            .finish()
    }
}

/// What the notify threads do.
#[derive(Clone, Debug)]
pub struct NotifyOptions {
    pub targets: Vec<NotifyTarget>,
    /// The `<host>` part of the service names, see [`service_host`].
    pub host: String,
    /// Sent by each notify thread at start and every `period`.
    pub periodic: Vec<NotifyBeat>,
    pub period: Duration,
}

/// Starts one thread per target. With no targets, returns a notifier that
/// does nothing.
pub fn spawn(opts: NotifyOptions, counters: Arc<Counters>) -> std::io::Result<Notifier> {
    let mut targets = Vec::new();
    for (i, t) in opts.targets.iter().enumerate() {
        let (tx, rx) = bounded(QUEUE);
        let target = Target {
            base: t.url.trim_end_matches('/').to_owned(),
            authorization: (!t.token.is_empty()).then(|| format!("Bearer {}", t.token)),
            host: opts.host.clone(),
            agent: agent(),
            counters: Arc::clone(&counters),
            failing_since: None,
            failures: 0,
            last_warning: None,
        };
        let periodic = opts.periodic.clone();
        let period = opts.period;
        std::thread::Builder::new()
            .name(format!("notify-{i}"))
            .spawn(move || run(target, rx, &periodic, period))?;
        targets.push(tx);
    }
    Ok(Notifier {
        targets: Arc::new(RwLock::new(targets)),
    })
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(POST_TIMEOUT))
        .build()
        .into()
}

fn run(mut target: Target, rx: Receiver<NotifyBeat>, periodic: &[NotifyBeat], period: Duration) {
    let mut next = Instant::now();
    let mut retry = FIRST_RETRY;
    loop {
        match rx.recv_deadline(next) {
            Ok(which) => {
                target.post(which);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        // Checked after every post too, so a steady stream of `.save`
        // beats never starves the periodic ones.
        if Instant::now() < next {
            continue;
        }
        let mut ok = true;
        for which in periodic {
            ok &= target.post(*which);
        }
        let wait = if ok {
            retry = FIRST_RETRY;
            period
        } else {
            let wait = retry.min(period);
            retry = (retry * 2).min(period);
            wait
        };
        next = Instant::now() + wait;
    }
}

/// One other Lovebeat and what we know about reaching it.
struct Target {
    base: String,
    /// The `Authorization` value, when the target wants a token.
    authorization: Option<String>,
    host: String,
    agent: ureq::Agent,
    counters: Arc<Counters>,
    /// Set while posts fail.
    failing_since: Option<Instant>,
    /// Failed posts since the last success.
    failures: u64,
    last_warning: Option<Instant>,
}

impl Target {
    fn url(&self, which: NotifyBeat) -> String {
        format!(
            "{}/api/services/lovebeat.{}.{}",
            self.base,
            self.host,
            which.suffix()
        )
    }

    /// Posts one beat; true when the other side accepted it.
    fn post(&mut self, which: NotifyBeat) -> bool {
        let url = self.url(which);
        let mut request = self
            .agent
            .post(&url)
            .header("Content-Type", "application/json");
        if let Some(value) = &self.authorization {
            request = request.header("Authorization", value);
        }
        let result = request.send(BODY);
        match result {
            Ok(_) => {
                log::debug!("notify: posted {url}");
                if self.failing_since.take().is_some() {
                    log::info!(
                        "notify: {} reachable again after {} failed posts",
                        self.base,
                        self.failures
                    );
                }
                self.failures = 0;
                true
            }
            Err(error) => {
                let error = match error {
                    ureq::Error::StatusCode(401) => format!(
                        "HTTP 401: the other lovebeat wants its [http] auth_token as `token` in \
                         this [[notify]] ({})",
                        if self.authorization.is_some() {
                            "ours was refused"
                        } else {
                            "none is set"
                        }
                    ),
                    other => other.to_string(),
                };
                Counters::add(&self.counters.notify_failures, 1);
                self.failures += 1;
                let now = Instant::now();
                let first = self.failing_since.is_none();
                self.failing_since.get_or_insert(now);
                let due = self
                    .last_warning
                    .is_none_or(|t| now.duration_since(t) >= WARN_EVERY);
                if first || due {
                    self.last_warning = Some(now);
                    log::warn!(
                        "notify: POST {url} failed ({error}); {} failed posts to {} so far, \
                         further failures are logged at debug level, at most one warning an hour",
                        self.failures,
                        self.base
                    );
                } else {
                    log::debug!("notify: POST {url} failed: {error}");
                }
                false
            }
        }
    }
}

/// The `<host>` of our service names: the short host name (up to the first
/// dot), lower-cased, every character outside `[a-z0-9_-]` replaced by `-`
/// ("localhost" when the name cannot be read).
pub fn service_host(hostname: &str) -> String {
    let short = hostname.trim().split('.').next().unwrap_or("");
    let out: String = short
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '_' | '-' => c,
            _ => '-',
        })
        .take(100)
        .collect();
    if out.is_empty() {
        "localhost".into()
    } else {
        out
    }
}

/// The machine's host name, as the kernel has it.
pub fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| {
            std::fs::read_to_string(p)
                .ok()
                .filter(|s| !s.trim().is_empty())
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::is_valid_name;

    #[test]
    fn host_part_is_short_lower_and_valid() {
        assert_eq!(service_host("Web-01.example.com\n"), "web-01");
        assert_eq!(service_host("ÄB C"), "-b-c");
        assert_eq!(service_host(""), "localhost");
        assert_eq!(service_host(".x"), "localhost");
        for h in ["Web-01.example.com", "a b", "😀", &"x".repeat(300)] {
            let name = format!("lovebeat.{}.alerter", service_host(h));
            assert!(is_valid_name(&name), "{name}");
        }
    }

    #[test]
    fn debug_output_hides_the_token() {
        let t = NotifyTarget {
            url: "http://o:1".into(),
            token: "s3cret-token-0123456789".into(),
        };
        let text = format!("{t:?}");
        assert!(
            text.contains("http://o:1") && !text.contains("s3cret"),
            "{text}"
        );
    }

    #[test]
    fn disabled_notifier_does_nothing_and_full_queue_does_not_block() {
        Notifier::default().beat(NotifyBeat::Save);
        let (tx, rx) = bounded(1);
        let n = Notifier {
            targets: Arc::new(RwLock::new(vec![tx])),
        };
        n.beat(NotifyBeat::Save);
        n.beat(NotifyBeat::Monitor);
        assert_eq!(rx.try_recv(), Ok(NotifyBeat::Save));
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn replacing_the_targets_retargets_every_clone_and_ends_the_old_queues() {
        let (old_tx, old_rx) = bounded(4);
        let (new_tx, new_rx) = bounded(4);
        let n = Notifier {
            targets: Arc::new(RwLock::new(vec![old_tx])),
        };
        let clone = n.clone();
        let fresh = Notifier {
            targets: Arc::new(RwLock::new(vec![new_tx])),
        };
        n.replace_with(&fresh);
        assert!(fresh.is_empty());
        assert_eq!(clone.len(), 1);
        clone.beat(NotifyBeat::Save);
        assert_eq!(new_rx.try_recv(), Ok(NotifyBeat::Save));
        // The old thread's queue is disconnected: it ends.
        assert_eq!(
            old_rx.try_recv(),
            Err(crossbeam_channel::TryRecvError::Disconnected)
        );
    }
}
