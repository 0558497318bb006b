//! The rules of SPEC 15 as a state machine per view, driven by the
//! engine's view transitions and by deadlines.
//!
//! # The rules
//!
//! - A view going into ERROR opens an incident. Its first message goes
//!   once the view has been in ERROR for its `delay` and nothing holds it.
//!   A view that recovers before its first message went sends nothing at
//!   all (no recovery either).
//! - A hold is a mute of the view (`muted_until`), an open maintenance
//!   window covering it, or a view it `depends_on` in ERROR. A held first
//!   message or reminder goes when the last hold ends, if the view is
//!   still in ERROR then.
//! - Reminders: each alert with a `repeat` sends reminder `k` at
//!   `alerted_at + k × repeat` while the view stays in ERROR. Reminders
//!   that fall inside a hold are not sent one by one: when the hold ends,
//!   one reminder goes (numbered by the interval it falls in).
//! - A recovery goes to every alert of the view when the incident's first
//!   message went, with how long the view was down — unless the view is
//!   muted (a muted view sends nothing). Maintenance and dependencies do
//!   not hold a recovery: it closes an incident the receivers already
//!   have open.
//!
//! # Deadlines
//!
//! Every future moment is a deadline: the end of a delay, the next
//! reminder, the end of a mute (one entry per view in a lazy min-heap,
//! like the engine's expiry `timers`), and the next edge of every window
//! (kept as one cached minimum). Nothing is scanned on a timer: a window
//! edge and a view recovering look only at the views held right now.
//!
//! A view going into ERROR is evaluated at the next `tick` (a deadline at
//! `now`), not at once, so all transitions of one engine call are known
//! first: a network view and the views that depend on it failing in the
//! same tick hold the dependants' alerts.
//!
//! This file holds the state, its inputs and what a view shows; applying
//! the rules to one view is `rules_eval.rs` (`eval`).

use super::window::{Origin, Window, WindowError, WindowSpec};
use super::{PolicySettings, TemplatePolicy, ViewAlerting, MUTED_FOREVER};
use crate::model::{Millis, State};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

/// "Nothing scheduled".
const NEVER: Millis = Millis::MAX;

/// What the policy needs to know about a view from the engine.
#[derive(Clone, Copy, Debug)]
pub struct ViewInfo<'a> {
    pub state: State,
    /// The `[[views]]` entry that produced it (index into
    /// `PolicySettings::templates`).
    pub template: Option<usize>,
    /// Its `[alerts.NAME]`s.
    pub alerts: &'a [String],
}

/// The engine's views, as the policy looks them up.
pub trait Views {
    fn info(&self, name: &str) -> Option<ViewInfo<'_>>;
}

/// A message the policy says must go now; the engine adds the view's
/// record and publishes it as an `AlertNotice`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub view: String,
    /// The state the message says the view came from.
    pub previous: State,
    /// 0 = first message or recovery; n = the n-th reminder.
    pub reminder: u32,
    /// Set on recovery: how long it was in ERROR (ms).
    pub down_ms: Option<Millis>,
    pub alerts: Vec<String>,
}

/// One view in ERROR since `since`.
#[derive(Clone, Debug)]
pub(super) struct Incident {
    /// The state before ERROR (the first message's `from`).
    previous: State,
    pub(super) since: Millis,
    /// When the first message went; 0 = not yet.
    alerted_at: Millis,
    /// The last reminder number sent per alert (absent: none counted yet;
    /// set to the current interval without sending).
    sent: Vec<(String, u32)>,
}

/// A view with something going on: an incident, a mute, or both.
#[derive(Clone, Debug, Default)]
pub(super) struct Entry {
    muted_until: Millis,
    pub(super) incident: Option<Incident>,
    /// The deadline it has in the heap (`NEVER` = none).
    scheduled: Millis,
}

/// The alert policy's state: settings, maintenance windows and, per view
/// with something going on, its incident, mute and alert marks.
#[derive(Debug, Default)]
pub struct Policy {
    settings: PolicySettings,
    /// Windows made through the API, in creation order (stored).
    api_windows: Vec<Window>,
    /// The number the next API window's id gets.
    next_window_id: u64,
    pub(super) entries: HashMap<String, Entry>,
    /// (deadline, view): lazy, an entry is live when it equals the view's
    /// `scheduled`.
    pub(super) heap: BinaryHeap<Reverse<(Millis, String)>>,
    /// The earliest edge of any window after the last look (`NEVER`).
    next_window_edge: Millis,
    /// Views whose message is held now.
    held: BTreeSet<String>,
    /// Something stored changed (a mark, a mute, a window).
    dirty: bool,
    /// The latest `now` it was given (what `alerting` shows is as of it:
    /// every edge it could change at is a deadline, so it is current).
    clock: Millis,
}

impl Policy {
    pub fn new() -> Policy {
        Policy {
            next_window_id: 1,
            next_window_edge: NEVER,
            ..Policy::default()
        }
    }

    /// The latest `now` it was given.
    pub fn clock(&self) -> Millis {
        self.clock
    }

    fn observe(&mut self, now: Millis) {
        self.clock = self.clock.max(now);
    }

    /// The settings in force.
    pub fn settings(&self) -> &PolicySettings {
        &self.settings
    }

    /// Every window: the config's, then the API's.
    pub fn windows(&self) -> impl Iterator<Item = &Window> {
        self.settings.windows.iter().chain(&self.api_windows)
    }

    /// The windows made through the API (what the database stores).
    pub fn api_windows(&self) -> &[Window] {
        &self.api_windows
    }

    /// True once after something stored changed.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    /// The earliest moment `tick` has work.
    pub fn next_deadline(&self) -> Option<Millis> {
        let view = self.heap.peek().map_or(NEVER, |Reverse((at, _))| *at);
        let at = view.min(self.next_window_edge);
        (at != NEVER).then_some(at)
    }

    // ----- inputs ---------------------------------------------------------

    /// New settings (start-up, reload): every view with something going
    /// on is looked at again at the next tick.
    pub fn set_settings(&mut self, settings: PolicySettings, now: Millis) {
        self.observe(now);
        self.settings = settings;
        self.windows_changed(now);
        let names: Vec<String> = self.entries.keys().cloned().collect();
        for name in names {
            self.schedule(&name, now);
        }
    }

    /// A view as the database had it (before any input).
    pub fn load_view(
        &mut self,
        name: &str,
        state: State,
        last_state_change: Millis,
        alerting: &ViewAlerting,
        now: Millis,
    ) {
        self.observe(now);
        let mut entry = Entry {
            scheduled: NEVER,
            ..Entry::default()
        };
        if alerting.muted_until == MUTED_FOREVER || alerting.muted_until > now {
            entry.muted_until = alerting.muted_until;
        } else if alerting.muted_until != 0 {
            self.dirty = true; // it ended while we were down
        }
        if state == State::Error {
            entry.incident = Some(Incident {
                previous: State::Ok,
                since: last_state_change,
                alerted_at: alerting.alerted_at,
                sent: Vec::new(),
            });
        }
        if entry.muted_until != 0 || entry.incident.is_some() {
            self.entries.insert(name.to_owned(), entry);
            self.schedule(name, now);
        }
    }

    /// Windows made through the API, as the database had them.
    pub fn load_windows(&mut self, windows: Vec<Window>, now: Millis) {
        for w in &windows {
            if let Ok(n) = w.id.parse::<u64>() {
                self.next_window_id = self.next_window_id.max(n.saturating_add(1));
            }
        }
        self.api_windows = windows;
        self.windows_changed(now);
    }

    /// A view changed state. Into ERROR opens an incident (looked at by
    /// the next tick); ERROR to OK closes it, with a recovery when its
    /// first message went.
    pub fn view_changed(
        &mut self,
        name: &str,
        previous: State,
        state: State,
        now: Millis,
        views: &dyn Views,
        out: &mut Vec<Decision>,
    ) {
        self.observe(now);
        if state == State::Error && previous != State::Error {
            let entry = self.entry(name);
            entry.incident = Some(Incident {
                previous,
                since: now,
                alerted_at: 0,
                sent: Vec::new(),
            });
            self.dirty = true;
            self.schedule(name, now);
        } else if previous == State::Error && state != State::Error {
            self.close_incident(name, state, now, views, out);
            self.release(now, views, out, |policy, held| {
                policy.depends_on(held, views).iter().any(|p| p == name)
            });
        }
    }

    /// A view is gone (deleted, or a reload dropped its template): its
    /// pending messages go with it; views that depended on it are free.
    pub fn view_removed(
        &mut self,
        name: &str,
        now: Millis,
        views: &dyn Views,
        out: &mut Vec<Decision>,
    ) {
        self.observe(now);
        if self.entries.remove(name).is_some() {
            self.dirty = true;
        }
        self.held.remove(name);
        self.release(now, views, out, |policy, held| {
            policy.depends_on(held, views).iter().any(|p| p == name)
        });
    }

    /// Mutes a view until `until` ([`MUTED_FOREVER`] for an unmute to end
    /// it), or unmutes it (`until == 0`): held messages go then.
    pub fn set_view_muted(
        &mut self,
        name: &str,
        until: Millis,
        now: Millis,
        views: &dyn Views,
        out: &mut Vec<Decision>,
    ) {
        self.observe(now);
        let entry = self.entry(name);
        if entry.muted_until == until {
            return;
        }
        entry.muted_until = until;
        self.dirty = true;
        if until == 0 {
            self.evaluate(name, now, views, out);
        } else if until != MUTED_FOREVER {
            self.schedule(name, until);
        }
        self.forget_if_idle(name);
    }

    /// Adds a window made through the API; returns its id.
    pub fn add_window(&mut self, spec: &WindowSpec, now: Millis) -> Result<String, WindowError> {
        self.observe(now);
        let id = self.next_window_id.to_string();
        let window = Window::from_spec(id.clone(), Origin::Api, spec, Some(now))?;
        self.next_window_id += 1;
        self.api_windows.push(window);
        self.dirty = true;
        self.windows_changed(now);
        Ok(id)
    }

    /// Deletes a window made through the API: messages it held go now.
    /// `Err` says why not (unknown id, or a window of the config).
    pub fn delete_window(
        &mut self,
        id: &str,
        now: Millis,
        views: &dyn Views,
        out: &mut Vec<Decision>,
    ) -> Result<(), DeleteWindowError> {
        self.observe(now);
        let Some(at) = self.api_windows.iter().position(|w| w.id == id) else {
            return Err(if self.settings.windows.iter().any(|w| w.id == id) {
                DeleteWindowError::FromConfig(id.to_owned())
            } else {
                DeleteWindowError::NotFound(id.to_owned())
            });
        };
        self.api_windows.remove(at);
        self.dirty = true;
        self.windows_changed(now);
        self.release(now, views, out, |_, _| true);
        Ok(())
    }

    /// Everything due by `now`: delays ended, reminders, mutes ended,
    /// window edges.
    pub fn tick(&mut self, now: Millis, views: &dyn Views, out: &mut Vec<Decision>) {
        self.observe(now);
        while let Some(Reverse((at, _))) = self.heap.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((at, name))) = self.heap.pop() else {
                break;
            };
            match self.entries.get_mut(&name) {
                Some(entry) if entry.scheduled == at => entry.scheduled = NEVER,
                _ => continue, // stale
            }
            self.evaluate(&name, now, views, out);
            self.forget_if_idle(&name);
        }
        if self.next_window_edge <= now {
            let before = self.api_windows.len();
            self.api_windows.retain(|w| !w.is_over(now));
            if self.api_windows.len() != before {
                self.dirty = true;
            }
            self.windows_changed(now);
            self.release(now, views, out, |_, _| true);
        }
    }

    // ----- what a view shows ------------------------------------------------

    /// How `name`'s alerts stand at `now`.
    pub fn alerting(&self, name: &str, template: Option<usize>, now: Millis) -> ViewAlerting {
        let entry = self.entries.get(name);
        let mut out = ViewAlerting {
            muted_until: entry.map_or(0, |e| e.muted_until),
            ..ViewAlerting::default()
        };
        let policy = self.template(template);
        if let Some(incident) = entry.and_then(|e| e.incident.as_ref()) {
            out.alerted_at = incident.alerted_at;
            let due = incident.since.saturating_add(policy.delay);
            if incident.alerted_at == 0 && now < due {
                out.pending_until = Some(due);
            }
        }
        out.maintenance_until = self.maintenance_until(name, now);
        out
    }

    /// The views `name` depends on that are in ERROR now, sorted.
    pub fn suppressed_by(&self, template: Option<usize>, views: &dyn Views) -> Vec<String> {
        let mut out: Vec<String> = self
            .template(template)
            .depends_on
            .iter()
            .filter(|p| views.info(p).is_some_and(|i| i.state == State::Error))
            .cloned()
            .collect();
        out.sort();
        out
    }

    /// When a window covering `name` is open at `now`: the latest close of
    /// those open.
    pub fn maintenance_until(&self, name: &str, now: Millis) -> Option<Millis> {
        self.windows()
            .filter(|w| w.covers(name))
            .filter_map(|w| w.open_until(now))
            .max()
    }

    // ----- the rules' helpers (the rules themselves: `rules_eval.rs`) ------

    fn template(&self, template: Option<usize>) -> &TemplatePolicy {
        static NONE: TemplatePolicy = TemplatePolicy {
            delay: 0,
            depends_on: Vec::new(),
        };
        template
            .and_then(|t| self.settings.templates.get(t))
            .unwrap_or(&NONE)
    }

    fn depends_on(&self, name: &str, views: &dyn Views) -> &[String] {
        let template = views.info(name).and_then(|i| i.template);
        &self.template(template).depends_on
    }

    fn entry(&mut self, name: &str) -> &mut Entry {
        self.entries.entry(name.to_owned()).or_insert(Entry {
            scheduled: NEVER,
            ..Entry::default()
        })
    }

    /// Puts `name` in the heap at `at` unless it is there earlier.
    fn schedule(&mut self, name: &str, at: Millis) {
        if let Some(entry) = self.entries.get_mut(name) {
            if at < entry.scheduled {
                entry.scheduled = at;
                self.heap.push(Reverse((at, name.to_owned())));
            }
        }
    }

    /// Drops an entry with nothing going on.
    fn forget_if_idle(&mut self, name: &str) {
        if let Some(entry) = self.entries.get(name) {
            if entry.muted_until == 0 && entry.incident.is_none() {
                self.entries.remove(name);
                self.held.remove(name);
            }
        }
    }

    /// Recomputes the earliest window edge after `now`.
    fn windows_changed(&mut self, now: Millis) {
        self.next_window_edge = self
            .windows()
            .filter_map(|w| w.next_edge(now))
            .min()
            .unwrap_or(NEVER);
    }
}

/// Why a window could not be deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeleteWindowError {
    NotFound(String),
    /// Windows of the config change only with the config.
    FromConfig(String),
}

impl std::fmt::Display for DeleteWindowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeleteWindowError::NotFound(id) => write!(f, "no maintenance window with id {id:?}"),
            DeleteWindowError::FromConfig(id) => write!(
                f,
                "maintenance window {id:?} comes from the configuration; remove it there and reload"
            ),
        }
    }
}

impl std::error::Error for DeleteWindowError {}

#[path = "rules_eval.rs"]
mod eval;
