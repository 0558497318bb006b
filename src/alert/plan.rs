//! Deciding, without any IO, which alerts an event fires and what they say:
//! the [`Message`] every kind renders from, and one [`Job`] per delivery.
//!
//! SPEC 15: the alert policy (in the engine) says what goes out, as an
//! `Event::Alert` carrying an `AlertNotice`: the first message, a reminder
//! or a recovery, through the alerts it names. (SPEC 6's rule, a view going
//! into ERROR from OK or NEW and recovering from ERROR to OK, is the
//! policy's with no delay, repeat or hold.)

use super::failure;
use super::AlertSettings;
use crate::events::Event;
use crate::jobs::Failure;
use crate::model::{Millis, State, ViewRecord};
use std::sync::Arc;

/// What happened to a view, as every alert kind reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub view: String,
    pub from: State,
    pub to: State,
    pub incident: u64,
    /// Failed member services, sorted (empty on recovery).
    pub failed: Vec<String>,
    /// Why each failed, where known (the engine fills it for views in
    /// ERROR); may be shorter than `failed`.
    pub failures: Vec<Failure>,
    /// `<public_url>/views/<view>`, when `public_url` is set.
    pub link: Option<String>,
    /// 0 for the first message of an incident and for a recovery; n for
    /// the n-th reminder.
    pub reminder: u32,
    /// On recovery, when known: how long the view was in ERROR (ms).
    pub down_ms: Option<Millis>,
    /// When the view's state last changed (for a reminder: since when it
    /// is in ERROR).
    pub since: Millis,
}

impl Message {
    /// `[LOVEBEAT] <view>-<incident>`.
    pub fn subject(&self) -> String {
        format!("[LOVEBEAT] {}-{}", self.view, self.incident)
    }

    /// The first sentence of every text: what happened.
    pub fn headline(&self) -> String {
        if self.reminder > 0 {
            return format!(
                "Reminder {}: view '{}' is still in '{}' (since {}).",
                self.reminder,
                self.view,
                self.to.upper(),
                failure::clock_time(self.since)
            );
        }
        format!(
            "The status of view '{}' has changed from '{}' to '{}'.",
            self.view,
            self.from.upper(),
            self.to.upper()
        )
    }

    /// `It was down for 2 h 10 min.` on a recovery whose downtime is known.
    pub fn downtime(&self) -> Option<String> {
        self.down_ms
            .map(|ms| format!("It was down for {}.", failure::duration(ms)))
    }

    /// The plain-text body of mails (SMTP and Mailgun).
    pub fn text(&self) -> String {
        let mut out = format!(
            "{}\n\nIncident number: {}\n\n",
            self.headline(),
            self.incident
        );
        if let Some(down) = self.downtime() {
            out.push_str(&down);
            out.push_str("\n\n");
        }
        if self.failed.is_empty() {
            out.push_str("Failed services: none\n");
        } else {
            out.push_str("Failed services:\n");
            for name in &self.failed {
                out.push_str("  - ");
                out.push_str(name);
                if let Some(f) = self.failure(name) {
                    out.push_str(": ");
                    out.push_str(&failure::describe(f));
                }
                out.push('\n');
            }
            for f in self.failures.iter().filter(|f| f.output.is_some()) {
                let output = f.output.as_deref().unwrap_or_default();
                out.push_str(&format!("\nOutput of {} (the end):\n", f.service));
                for line in failure::tail(output).lines() {
                    out.push_str("    ");
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        if let Some(link) = &self.link {
            out.push_str("\nView: ");
            out.push_str(link);
            out.push('\n');
        }
        out
    }
}

impl Message {
    /// Why `service` failed, when known.
    pub fn failure(&self, service: &str) -> Option<&Failure> {
        self.failures.iter().find(|f| f.service == service)
    }

    /// `service: reason`, one line per failed service (the reason omitted
    /// where unknown).
    pub fn reasons(&self) -> String {
        self.failed
            .iter()
            .map(|name| match self.failure(name) {
                Some(f) => format!("{name}: {}", failure::describe(f)),
                None => name.clone(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Where one delivery goes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// SMTP (`[mail] server`), to every recipient in one mail.
    Mail {
        to: Vec<String>,
    },
    /// Mailgun's HTTP API (when `[mailgun] domain` is set).
    Mailgun {
        to: Vec<String>,
    },
    /// `[slack] webhook_url`, posting to this channel.
    Slack {
        channel: String,
    },
    Webhook {
        url: String,
    },
    Script {
        path: String,
    },
    /// A SPEC 16 channel: `channel::CHANNELS[index]`, to `target` (the
    /// value of its key: a topic URL, a chat id, a routing key...).
    Channel {
        index: usize,
        target: String,
    },
}

impl Kind {
    /// Short name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Mail { .. } => "mail",
            Kind::Mailgun { .. } => "mailgun",
            Kind::Slack { .. } => "slack",
            Kind::Webhook { .. } => "webhook",
            Kind::Script { .. } => "script",
            Kind::Channel { index, .. } => super::channel::CHANNELS
                .get(*index)
                .map_or("channel", |c| c.name),
        }
    }

    /// Where it goes, for logs.
    pub fn destination(&self) -> String {
        match self {
            Kind::Mail { to } | Kind::Mailgun { to } => to.join(","),
            Kind::Slack { channel } => channel.clone(),
            Kind::Webhook { url } => url.clone(),
            Kind::Script { path } => path.clone(),
            Kind::Channel { index, target } => super::channel::CHANNELS
                .get(*index)
                .map_or_else(|| "…".to_string(), |c| (c.shown)(target)),
        }
    }

    /// HTTP and SMTP deliveries are retried; a script runs once (it may not
    /// be safe to run twice).
    pub fn retried(&self) -> bool {
        !matches!(self, Kind::Script { .. })
    }
}

/// One delivery of one alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// The `[alerts.NAME]` it comes from.
    pub alert: String,
    pub kind: Kind,
    pub message: Arc<Message>,
}

/// True for the transitions that fire alerts: into ERROR, and ERROR -> OK.
pub fn fires(previous: State, state: State) -> bool {
    (state == State::Error && previous != State::Error)
        || (previous == State::Error && state == State::Ok)
}

/// The deliveries `event` causes (none for most events). Alert names that
/// are not configured are skipped and returned in `unknown` (start-up
/// validation makes that impossible for a loaded config).
pub fn plan(event: &Event, settings: &AlertSettings, unknown: &mut Vec<String>) -> Vec<Job> {
    match event {
        Event::Alert { notice } => {
            let message = message(
                &notice.view,
                notice.previous,
                notice.reminder,
                notice.down_ms,
                settings,
            );
            jobs(message, &notice.alerts, settings, unknown)
        }
        _ => Vec::new(),
    }
}

/// What every kind renders for `view` coming from `previous`.
fn message(
    view: &ViewRecord,
    previous: State,
    reminder: u32,
    down_ms: Option<Millis>,
    settings: &AlertSettings,
) -> Arc<Message> {
    let public_url = settings.public_url.trim_end_matches('/');
    Arc::new(Message {
        view: view.name.clone(),
        from: previous,
        to: view.state,
        incident: view.incident_number,
        failed: view.failed_services.clone(),
        failures: if view.state == State::Error {
            view.failures.clone()
        } else {
            Vec::new()
        },
        link: (!public_url.is_empty()).then(|| format!("{public_url}/views/{}", view.name)),
        reminder,
        down_ms,
        since: view.last_state_change,
    })
}

/// One job per kind of each alert in `alerts`, all sharing `message`.
pub fn jobs(
    message: Arc<Message>,
    alerts: &[String],
    settings: &AlertSettings,
    unknown: &mut Vec<String>,
) -> Vec<Job> {
    let mut jobs = Vec::new();
    for name in alerts {
        let Some(alert) = settings.alerts.get(name) else {
            unknown.push(name.clone());
            continue;
        };
        let mut push = |kind| {
            jobs.push(Job {
                alert: name.clone(),
                kind,
                message: Arc::clone(&message),
            })
        };
        let to = recipients(&alert.mail);
        if !to.is_empty() {
            if settings.mailgun.domain.is_empty() {
                push(Kind::Mail { to });
            } else {
                push(Kind::Mailgun { to });
            }
        }
        if !alert.webhook.trim().is_empty() {
            push(Kind::Webhook {
                url: alert.webhook.trim().to_string(),
            });
        }
        if !alert.slack_channel.trim().is_empty() {
            push(Kind::Slack {
                channel: alert.slack_channel.trim().to_string(),
            });
        }
        if !alert.script.trim().is_empty() {
            push(Kind::Script {
                path: alert.script.trim().to_string(),
            });
        }
        for (index, channel) in super::channel::CHANNELS.iter().enumerate() {
            for target in (channel.targets)(alert) {
                push(Kind::Channel { index, target });
            }
        }
    }
    jobs
}

/// `"a@x.org, b@y.org"` -> both addresses, blanks dropped.
pub fn recipients(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}
