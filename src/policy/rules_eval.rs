//! Applying the rules to one view: what is due (`look`), what holds it
//! (`hold`), the messages that go (`evaluate`), an incident's end with its
//! recovery (`close_incident`), and looking again at held views
//! (`release`). The inputs and deadlines that call these are `rules.rs`'.

use super::{Decision, Policy, ViewInfo, Views, NEVER};
use crate::model::{Millis, State};
use crate::policy::MUTED_FOREVER;

/// What `look` found due for a view in ERROR.
enum Look {
    /// The delay runs until then.
    Wait(Millis),
    /// The first message is due.
    First,
    /// Nothing due; the next reminder then, if any.
    Quiet(Option<Millis>),
    /// Reminders due (alert, number), and the next one after.
    Reminders {
        due: Vec<(String, u32)>,
        next: Option<Millis>,
    },
}

/// Why a view's messages are held now, and the earliest known end.
struct Hold {
    /// `None`: ends only with an event (a parent's recovery, an unmute).
    until: Option<Millis>,
}

impl Policy {
    fn muted(&self, name: &str, now: Millis) -> bool {
        self.entries
            .get(name)
            .is_some_and(|e| e.muted_until == MUTED_FOREVER || e.muted_until > now)
    }

    /// What holds `name`'s messages at `now`, if anything.
    fn hold(
        &self,
        name: &str,
        template: Option<usize>,
        now: Millis,
        views: &dyn Views,
    ) -> Option<Hold> {
        let mut held = false;
        let mut until = NEVER;
        if let Some(entry) = self.entries.get(name) {
            if entry.muted_until == MUTED_FOREVER || entry.muted_until > now {
                held = true;
                if entry.muted_until != MUTED_FOREVER {
                    until = until.min(entry.muted_until);
                }
            }
        }
        if let Some(end) = self.maintenance_until(name, now) {
            held = true;
            until = until.min(end);
        }
        if !self.suppressed_by(template, views).is_empty() {
            held = true;
        }
        held.then_some(Hold {
            until: (until != NEVER).then_some(until),
        })
    }

    /// Applies the rules to one view at `now`.
    pub(super) fn evaluate(
        &mut self,
        name: &str,
        now: Millis,
        views: &dyn Views,
        out: &mut Vec<Decision>,
    ) {
        let Some(info) = views.info(name) else {
            self.entries.remove(name);
            self.held.remove(name);
            return;
        };
        let delay = self.template(info.template).delay;
        let Some(look) = self.look(name, info, delay, now) else {
            return;
        };
        let (first, due, next) = match look {
            Look::Wait(at) => {
                self.schedule(name, at);
                return;
            }
            Look::Quiet(next) => {
                if let Some(at) = next {
                    self.schedule(name, at);
                }
                self.held.remove(name);
                return;
            }
            Look::First => (true, Vec::new(), None),
            Look::Reminders { due, next } => (false, due, next),
        };
        if let Some(hold) = self.hold(name, info.template, now, views) {
            self.held.insert(name.to_owned());
            let wake = hold.until.unwrap_or(NEVER).min(next.unwrap_or(NEVER));
            if wake != NEVER {
                self.schedule(name, wake);
            }
            return;
        }
        self.held.remove(name);
        let Some(incident) = self.entries.get_mut(name).and_then(|e| e.incident.as_mut()) else {
            return;
        };
        if first {
            incident.alerted_at = now.max(1);
            incident.sent.clear();
            let previous = incident.previous;
            self.dirty = true;
            out.push(Decision {
                view: name.to_owned(),
                previous,
                reminder: 0,
                down_ms: None,
                alerts: info.alerts.to_vec(),
            });
            // Counts the reminders from now and schedules the first.
            self.evaluate(name, now, views, out);
            return;
        }
        // One message per reminder number (alerts with the same repeat
        // share it).
        let mut by_number: Vec<(u32, Vec<String>)> = Vec::new();
        for (alert, k) in due {
            if let Some((_, k_sent)) = incident.sent.iter_mut().find(|(a, _)| *a == alert) {
                *k_sent = k;
            }
            match by_number.iter_mut().find(|(n, _)| *n == k) {
                Some((_, alerts)) => alerts.push(alert),
                None => by_number.push((k, vec![alert])),
            }
        }
        for (k, alerts) in by_number {
            out.push(Decision {
                view: name.to_owned(),
                previous: State::Error,
                reminder: k,
                down_ms: None,
                alerts,
            });
        }
        if let Some(at) = next {
            self.schedule(name, at);
        }
    }

    /// What is due for `name` at `now`, before holds are considered.
    /// `None`: nothing going on (the incident ended).
    fn look(&mut self, name: &str, info: ViewInfo<'_>, delay: Millis, now: Millis) -> Option<Look> {
        let entry = self.entries.get_mut(name)?;
        if entry.muted_until != 0 && entry.muted_until != MUTED_FOREVER && entry.muted_until <= now
        {
            entry.muted_until = 0;
            self.dirty = true;
        }
        if info.state != State::Error {
            // The engine tells every transition; this is a leftover.
            entry.incident = None;
            self.held.remove(name);
            return None;
        }
        let incident = entry.incident.as_mut()?;
        if incident.alerted_at == 0 {
            let due = incident.since.saturating_add(delay);
            return Some(if now < due {
                Look::Wait(due)
            } else {
                Look::First
            });
        }
        let elapsed = now.saturating_sub(incident.alerted_at).max(0);
        let mut due = Vec::new();
        let mut next = NEVER;
        for alert in info.alerts {
            let Some(&every) = self.settings.repeat.get(alert).filter(|r| **r > 0) else {
                continue;
            };
            let k_now = u32::try_from(elapsed / every).unwrap_or(u32::MAX);
            let sent = match incident.sent.iter().position(|(a, _)| a == alert) {
                Some(i) => incident.sent[i].1,
                None => {
                    incident.sent.push((alert.clone(), k_now));
                    k_now
                }
            };
            if k_now > sent {
                due.push((alert.clone(), k_now));
            }
            let k_next = Millis::from(k_now.max(sent)) + 1;
            next = next.min(
                incident
                    .alerted_at
                    .saturating_add(k_next.saturating_mul(every)),
            );
        }
        let next = (next != NEVER).then_some(next);
        Some(if due.is_empty() {
            Look::Quiet(next)
        } else {
            Look::Reminders { due, next }
        })
    }

    /// Ends `name`'s incident; a recovery goes when its first message did
    /// (and the view is not muted).
    pub(super) fn close_incident(
        &mut self,
        name: &str,
        state: State,
        now: Millis,
        views: &dyn Views,
        out: &mut Vec<Decision>,
    ) {
        self.held.remove(name);
        let muted = self.muted(name, now);
        let Some(entry) = self.entries.get_mut(name) else {
            return;
        };
        let Some(incident) = entry.incident.take() else {
            return;
        };
        self.dirty = true;
        if incident.alerted_at != 0 && state == State::Ok && !muted {
            let alerts = views
                .info(name)
                .map(|i| i.alerts.to_vec())
                .unwrap_or_default();
            out.push(Decision {
                view: name.to_owned(),
                previous: State::Error,
                reminder: 0,
                down_ms: Some(now.saturating_sub(incident.since).max(0)),
                alerts,
            });
        }
        self.forget_if_idle(name);
    }

    /// Looks again at the held views `which` picks: their holds may have
    /// ended. Only held views are looked at (rare, and few).
    pub(super) fn release(
        &mut self,
        now: Millis,
        views: &dyn Views,
        out: &mut Vec<Decision>,
        which: impl Fn(&Policy, &str) -> bool,
    ) {
        let picked: Vec<String> = self
            .held
            .iter()
            .filter(|name| which(self, name))
            .cloned()
            .collect();
        for name in picked {
            self.evaluate(&name, now, views, out);
        }
    }
}
