//! The pure half of a reload: what changed between the running
//! configuration and the new one, what to do about it, and the words for
//! the log. No I/O; `mod.rs` carries the plan out.

use crate::config::{Config, ViewConfig};
use crate::policy::TemplatePolicy;
use std::collections::{BTreeMap, BTreeSet};

/// What a reload does, section by section.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// `[[views]]`/`[[alarms]]` changed: the state thread gets new templates.
    pub views: bool,
    /// `[alerts.*]`, `[mail]`, `[mailgun]`, `[slack]` or `public_url`
    /// changed: the alerter gets new settings.
    pub alerts: bool,
    /// `[[notify]]` changed: its threads are replaced.
    pub notify: bool,
    /// `[metrics]` changed: its thread is replaced (or started, stopped).
    pub metrics: bool,
    /// `[limits] max_services` changed (the state thread gets it).
    pub max_services: bool,
    /// `[[services]]` blocks or `[limits] events_per_service` /
    /// `event_body_memory` changed: the state thread gets a new `JobConfig`.
    pub jobs: bool,
    /// The alert policy (`repeat`, `delay`, `depends_on`,
    /// `[[maintenance]]`) changed: the state thread gets new
    /// `PolicySettings` (it also gets them whenever `views` changed).
    pub policy: bool,
    /// One text per section: "views: 1 added (db)", "notify unchanged".
    pub sections: Vec<String>,
    /// Keys that changed but take effect only after a restart.
    pub restart: Vec<&'static str>,
}

impl Plan {
    /// Whether anything is applied at all.
    pub fn applies_anything(&self) -> bool {
        self.views
            || self.alerts
            || self.notify
            || self.metrics
            || self.max_services
            || self.jobs
            || self.policy
    }

    /// The one line logged for a reload.
    pub fn summary(&self) -> String {
        format!("reload: {}", self.sections.join("; "))
    }
}

/// Compares the running configuration with the new one.
pub fn plan(old: &Config, new: &Config) -> Plan {
    let mut p = Plan::default();

    let views = views_change(&old.views, &new.views);
    p.views = old.views != new.views;
    p.sections.push(match views {
        Some(text) => format!("views: {text}"),
        None => "views unchanged".into(),
    });

    let alerts = alerts_change(old, new);
    p.alerts = !alerts.is_empty();
    p.sections.push(if alerts.is_empty() {
        "alerts unchanged".into()
    } else {
        format!("alerts: {}", alerts.join(", "))
    });

    p.notify = old.notify != new.notify;
    p.sections.push(if !p.notify {
        "notify unchanged".into()
    } else {
        let urls =
            |c: &Config| -> Vec<String> { c.notify.iter().map(|n| n.lovebeat.clone()).collect() };
        if urls(old) == urls(new) {
            // Only tokens changed; never print them.
            format!("notify: tokens changed ({} targets)", new.notify.len())
        } else {
            format!(
                "notify: {} -> {} targets ({})",
                old.notify.len(),
                new.notify.len(),
                if new.notify.is_empty() {
                    "none".into()
                } else {
                    urls(new).join(", ")
                }
            )
        }
    });

    p.metrics = old.metrics != new.metrics;
    p.sections.push(if !p.metrics {
        "metrics unchanged".into()
    } else {
        let mut parts = Vec::new();
        let (o, n) = (&old.metrics, &new.metrics);
        if o.server != n.server {
            parts.push(format!("server {:?} -> {:?}", o.server, n.server));
        }
        if o.prefix != n.prefix {
            parts.push(format!("prefix {:?} -> {:?}", o.prefix, n.prefix));
        }
        if o.interval != n.interval {
            parts.push(format!("interval {} -> {} s", o.interval, n.interval));
        }
        format!("metrics: {}", parts.join(", "))
    });

    p.jobs = old.services != new.services
        || old.limits.events_per_service != new.limits.events_per_service
        || old.limits.event_body_memory != new.limits.event_body_memory
        || old.limits.history_days != new.limits.history_days
        || old.limits.history_memory != new.limits.history_memory;
    p.max_services = old.limits.max_services != new.limits.max_services;
    let (o, n) = (&old.limits, &new.limits);
    let limits: Vec<String> = [
        ("max_services", o.max_services, n.max_services),
        (
            "events_per_service",
            o.events_per_service,
            n.events_per_service,
        ),
        (
            "event_body_memory",
            o.event_body_memory,
            n.event_body_memory,
        ),
        ("history_days", o.history_days, n.history_days),
        ("history_memory", o.history_memory, n.history_memory),
    ]
    .into_iter()
    .filter(|(_, a, b)| a != b)
    .map(|(key, a, b)| format!("{key} {a} -> {b}"))
    .collect();
    p.sections.push(if limits.is_empty() {
        "limits unchanged".into()
    } else {
        format!("limits: {}", limits.join(", "))
    });
    if old.services != new.services {
        p.sections.push(format!(
            "services: {} -> {} blocks",
            old.services.len(),
            new.services.len()
        ));
    }

    let policy = policy_change(old, new);
    p.policy = !policy.is_empty();
    if p.policy {
        p.sections
            .push(format!("alert policy: {}", policy.join(", ")));
    }

    p.restart = restart_keys(old, new);
    p
}

/// "repeat", "delay/depends_on", "maintenance 1 -> 2 windows": what of the
/// alert policy changed (empty: nothing).
fn policy_change(old: &Config, new: &Config) -> Vec<String> {
    let (o, n) = (old.policy_settings(), new.policy_settings());
    // By view name, leaving out views without delay or dependencies, so
    // that adding or moving a plain view is not a policy change.
    let by_name = |c: &Config, templates: &[TemplatePolicy]| {
        c.views
            .iter()
            .zip(templates)
            .filter(|(_, t)| **t != TemplatePolicy::default())
            .map(|(v, t)| (v.name.clone(), t.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    let mut out = Vec::new();
    if o.repeat != n.repeat {
        out.push("repeat changed".to_string());
    }
    if by_name(old, &o.templates) != by_name(new, &n.templates) {
        out.push("delay/depends_on changed".to_string());
    }
    if o.windows != n.windows {
        out.push(format!(
            "maintenance {} -> {} windows",
            o.windows.len(),
            n.windows.len()
        ));
    }
    out
}

/// The configuration in force after applying `plan(old, new)`: `new`,
/// except for the keys that need a restart, which keep their running
/// values (so the next reload warns about them again until a restart).
pub fn effective(old: &Config, new: &Config) -> Config {
    let mut config = new.clone();
    config.udp = old.udp.clone();
    config.tcp = old.tcp.clone();
    config.http = old.http.clone();
    config.database = old.database.clone();
    config.eventlog = old.eventlog.clone();
    config.status_page = old.status_page.clone();
    config.limits.max_tcp_connections = old.limits.max_tcp_connections;
    config.limits.max_ws_clients = old.limits.max_ws_clients;
    config.limits.max_body_bytes = old.limits.max_body_bytes;
    config
}

/// Keys read only at start-up whose value changed.
fn restart_keys(old: &Config, new: &Config) -> Vec<&'static str> {
    let checks: [(&'static str, bool); 17] = [
        ("[udp] listen", old.udp != new.udp),
        ("[tcp] listen", old.tcp != new.tcp),
        ("[http] listen", old.http.listen != new.http.listen),
        (
            "[http] auth_token",
            old.http.auth_token != new.http.auth_token,
        ),
        ("[http] auth_read", old.http.auth_read != new.http.auth_read),
        (
            "[http] public_badges",
            old.http.public_badges != new.http.public_badges,
        ),
        ("[status_page]", old.status_page != new.status_page),
        (
            "[database] filename",
            old.database.filename != new.database.filename,
        ),
        (
            "[database] interval",
            old.database.interval != new.database.interval,
        ),
        (
            "[database] remote_s3_url",
            old.database.remote_s3_url != new.database.remote_s3_url,
        ),
        (
            "[database] remote_s3_region",
            old.database.remote_s3_region != new.database.remote_s3_region,
        ),
        (
            "[database] remote_s3_endpoint",
            old.database.remote_s3_endpoint != new.database.remote_s3_endpoint,
        ),
        ("[eventlog] path", old.eventlog.path != new.eventlog.path),
        ("[eventlog] mode", old.eventlog.mode != new.eventlog.mode),
        (
            "[limits] max_tcp_connections",
            old.limits.max_tcp_connections != new.limits.max_tcp_connections,
        ),
        (
            "[limits] max_ws_clients",
            old.limits.max_ws_clients != new.limits.max_ws_clients,
        ),
        (
            "[limits] max_body_bytes",
            old.limits.max_body_bytes != new.limits.max_body_bytes,
        ),
    ];
    checks
        .into_iter()
        .filter(|(_, changed)| *changed)
        .map(|(key, _)| key)
        .collect()
}

/// "2 added (a, b), 1 removed (c), 1 changed (d)", "reordered", or `None`.
fn views_change(old: &[ViewConfig], new: &[ViewConfig]) -> Option<String> {
    if old == new {
        return None;
    }
    let find = |list: &[ViewConfig], name: &str| list.iter().find(|v| v.name == name).cloned();
    let added: Vec<&str> = new
        .iter()
        .filter(|v| find(old, &v.name).is_none())
        .map(|v| v.name.as_str())
        .collect();
    let removed: Vec<&str> = old
        .iter()
        .filter(|v| find(new, &v.name).is_none())
        .map(|v| v.name.as_str())
        .collect();
    let changed: Vec<&str> = new
        .iter()
        .filter(|v| find(old, &v.name).is_some_and(|o| o != **v))
        .map(|v| v.name.as_str())
        .collect();
    let mut parts = Vec::new();
    for (what, names) in [("added", added), ("removed", removed), ("changed", changed)] {
        if !names.is_empty() {
            parts.push(format!("{} {what} ({})", names.len(), names.join(", ")));
        }
    }
    if parts.is_empty() {
        // Same views in another order: which template gives a view its
        // alerts may change.
        parts.push("reordered".into());
    }
    Some(parts.join(", "))
}

/// "ops added", "dev removed", "web changed", "[mail] changed", ...
fn alerts_change(old: &Config, new: &Config) -> Vec<String> {
    let mut out = Vec::new();
    let names: BTreeSet<&String> = old.alerts.keys().chain(new.alerts.keys()).collect();
    for name in names {
        match (old.alerts.get(name), new.alerts.get(name)) {
            (None, Some(_)) => out.push(format!("{name} added")),
            (Some(_), None) => out.push(format!("{name} removed")),
            (Some(a), Some(b)) if a != b => out.push(format!("{name} changed")),
            _ => {}
        }
    }
    if old.mail != new.mail {
        out.push("[mail] changed".into());
    }
    if old.mailgun != new.mailgun {
        out.push("[mailgun] changed".into());
    }
    if old.slack != new.slack {
        out.push("[slack] changed".into());
    }
    let tables = [
        ("[telegram]", old.telegram != new.telegram),
        ("[pagerduty]", old.pagerduty != new.pagerduty),
        ("[opsgenie]", old.opsgenie != new.opsgenie),
        ("[pushover]", old.pushover != new.pushover),
        ("[matrix]", old.matrix != new.matrix),
    ];
    for (table, changed) in tables {
        if changed {
            out.push(format!("{table} changed"));
        }
    }
    if old.general.public_url != new.general.public_url {
        out.push(format!(
            "public_url {:?} -> {:?}",
            old.general.public_url, new.general.public_url
        ));
    }
    out
}
