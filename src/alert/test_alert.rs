//! `lovebeat -test-alert NAME`: a test message sent through every kind of
//! one `[alerts.NAME]`, synchronously, with the same attempts and retries
//! as real alerts (`dispatch::send_now`), and one line per kind saying how
//! it went.

use super::dispatch::{self, Attempted};
use super::plan::{self, Message};
use super::AlertSettings;
use crate::jobs::{Failure, Reason};
use crate::model::{Millis, State};
use std::fmt;
use std::sync::Arc;

/// The view the test message names.
pub const TEST_VIEW: &str = "lovebeat-test";
/// The failed service it lists.
pub const TEST_SERVICE: &str = "lovebeat-test.example";

/// Why no test could be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestAlertError {
    /// No `[alerts.NAME]` of that name; `defined` lists those there are.
    Undefined { name: String, defined: Vec<String> },
    /// The alert sets no `mail`, `webhook`, `slack_channel` nor `script`.
    Empty(String),
}

impl fmt::Display for TestAlertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TestAlertError::Undefined { name, defined } if defined.is_empty() => write!(
                f,
                "alert `{name}` is not defined: the configuration has no [alerts.NAME] section"
            ),
            TestAlertError::Undefined { name, defined } => write!(
                f,
                "alert `{name}` is not defined; defined alerts: {}",
                defined.join(", ")
            ),
            TestAlertError::Empty(name) => write!(
                f,
                "alert `{name}` sends nothing: set mail, webhook, slack_channel, script or a channel (ntfy, telegram, pagerduty, opsgenie, discord, teams, pushover, gotify, matrix, http)"
            ),
        }
    }
}

impl std::error::Error for TestAlertError {}

/// The result of one kind: `webhook http://... sent`.
#[derive(Debug)]
pub struct Line {
    pub kind: &'static str,
    pub destination: String,
    pub outcome: Attempted,
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ", self.kind, self.destination)?;
        match &self.outcome.result {
            Ok(()) => f.write_str("sent"),
            Err(e) => write!(
                f,
                "failed: {e} ({} attempt{})",
                self.outcome.attempts,
                if self.outcome.attempts == 1 { "" } else { "s" }
            ),
        }
    }
}

/// The test message: view `lovebeat-test` going from OK into ERROR,
/// incident 0, with one failed service.
pub fn message(settings: &AlertSettings, now: Millis) -> Message {
    let public_url = settings.public_url.trim_end_matches('/');
    Message {
        view: TEST_VIEW.into(),
        from: State::Ok,
        to: State::Error,
        incident: 0,
        failed: vec![TEST_SERVICE.into()],
        failures: vec![Failure {
            service: TEST_SERVICE.into(),
            reason: Reason::Missed,
            since: now,
            exit_code: None,
            ran: None,
            limit: None,
            output: None,
        }],
        link: (!public_url.is_empty()).then(|| format!("{public_url}/views/{TEST_VIEW}")),
        reminder: 0,
        down_ms: None,
        since: now,
    }
}

/// Sends the test message through every kind of `[alerts.name]`, one after
/// the other; one [`Line`] per kind, in plan order.
pub fn run(settings: &AlertSettings, name: &str, now: Millis) -> Result<Vec<Line>, TestAlertError> {
    if !settings.alerts.contains_key(name) {
        return Err(TestAlertError::Undefined {
            name: name.to_string(),
            defined: settings.alerts.keys().cloned().collect(),
        });
    }
    let message = Arc::new(message(settings, now));
    let mut unknown = Vec::new();
    let jobs = plan::jobs(message, &[name.to_string()], settings, &mut unknown);
    if jobs.is_empty() {
        return Err(TestAlertError::Empty(name.to_string()));
    }
    let outcomes = dispatch::send_now(settings.clone(), &jobs);
    Ok(jobs
        .iter()
        .zip(outcomes)
        .map(|(job, outcome)| Line {
            kind: job.kind.name(),
            destination: job.kind.destination(),
            outcome,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AlertConfig;

    fn settings(script: &str) -> AlertSettings {
        let mut s = AlertSettings::default();
        s.tuning.backoff = vec![];
        s.alerts.insert(
            "ops".into(),
            AlertConfig {
                script: script.into(),
                ..Default::default()
            },
        );
        s.alerts.insert("none".into(), AlertConfig::default());
        s
    }

    #[test]
    fn each_kind_gets_a_line_with_its_result() {
        let lines = run(&settings("/bin/true"), "ops", 0).unwrap_or_default();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].to_string(), "script /bin/true sent");
        let lines = run(&settings("/bin/false"), "ops", 0).unwrap_or_default();
        let line = lines.first().map(ToString::to_string).unwrap_or_default();
        assert!(
            line.starts_with("script /bin/false failed: /bin/false exited with"),
            "{line}"
        );
        assert!(line.ends_with("(1 attempt)"), "{line}");
    }

    #[test]
    fn unknown_and_empty_alerts_are_errors() {
        let s = settings("/bin/true");
        let Err(e) = run(&s, "nope", 0) else {
            panic!("nope is not defined")
        };
        assert_eq!(
            e.to_string(),
            "alert `nope` is not defined; defined alerts: none, ops"
        );
        assert!(matches!(run(&s, "none", 0), Err(TestAlertError::Empty(_))));
    }

    #[test]
    fn the_test_message_names_the_test_view_and_service() {
        let m = message(&AlertSettings::default(), 1_795_053_600_000);
        assert_eq!(m.subject(), "[LOVEBEAT] lovebeat-test-0");
        assert_eq!(
            m.reasons(),
            "lovebeat-test.example: missed since 2026-11-19 02:00 UTC"
        );
    }
}
