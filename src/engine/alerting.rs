//! The engine's side of the alert policy (SPEC 15): it owns the
//! [`Policy`] so view states, mutes and alert marks change, load and save
//! together; these are the calls the state thread makes about it, the
//! hooks the engine's view transitions call, and timed mutes of services
//! (their ends are deadlines in `mute_ends`, a lazy heap like `timers`).

use super::{Engine, View};
use crate::engine::pattern::ViewTemplate;
use crate::engine::EngineError;
use crate::events::Event;
use crate::model::{Millis, State, ViewRecord};
use crate::policy::window::{Window, WindowError, WindowSpec};
use crate::policy::{AlertNotice, Decision, DeleteWindowError, PolicySettings, ViewInfo, Views};
use hashbrown::HashMap;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// The engine's views as the policy looks them up.
struct EngineViews<'a> {
    views: &'a [Option<View>],
    index: &'a HashMap<String, u32>,
    templates: &'a [ViewTemplate],
}

impl Views for EngineViews<'_> {
    fn info(&self, name: &str) -> Option<ViewInfo<'_>> {
        let v = self.views.get(*self.index.get(name)? as usize)?.as_ref()?;
        Some(ViewInfo {
            state: v.state,
            template: v.template,
            alerts: v
                .template
                .and_then(|t| self.templates.get(t))
                .map_or(&[][..], |t| &t.alerts[..]),
        })
    }
}

/// Timed mutes of services: when each ends.
#[derive(Debug, Default)]
pub(super) struct MuteEnds {
    /// Service id -> the moment its mute ends.
    until: HashMap<u32, Millis>,
    /// (end, id), lazy: live when it equals `until[id]`.
    heap: BinaryHeap<Reverse<(Millis, u32)>>,
}

impl MuteEnds {
    pub(super) fn get(&self, id: u32) -> Millis {
        self.until.get(&id).copied().unwrap_or(0)
    }

    pub(super) fn set(&mut self, id: u32, until: Millis) {
        if until == 0 {
            self.until.remove(&id);
        } else {
            self.until.insert(id, until);
            self.heap.push(Reverse((until, id)));
        }
    }

    fn next(&self) -> Option<Millis> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// The next service whose mute has ended by `now`.
    fn pop_due(&mut self, now: Millis) -> Option<u32> {
        while let Some(Reverse((at, id))) = self.heap.peek().copied() {
            if at > now {
                return None;
            }
            self.heap.pop();
            if self.until.get(&id) == Some(&at) {
                self.until.remove(&id);
                return Some(id);
            }
        }
        None
    }
}

impl Engine {
    fn policy_views(&self) -> EngineViews<'_> {
        EngineViews {
            views: &self.views,
            index: &self.view_index,
            templates: &self.config.templates,
        }
    }

    /// New policy settings (start-up and every reload): delays and
    /// dependencies of the `[[views]]` entries, `repeat` of the alerts,
    /// the config's maintenance windows.
    pub fn set_policy_settings(
        &mut self,
        settings: PolicySettings,
        now: Millis,
        out: &mut Vec<Event>,
    ) {
        self.policy.set_settings(settings, now);
        self.policy_tick(now, out);
    }

    /// The maintenance windows made through the API (for saving).
    pub fn api_windows(&self) -> Vec<Window> {
        self.policy.api_windows().to_vec()
    }

    /// Every maintenance window: the config's, then the API's.
    pub fn windows(&self) -> Vec<Window> {
        self.policy.windows().cloned().collect()
    }

    /// The API's windows as the database had them (after `load`).
    pub fn load_windows(&mut self, windows: Vec<Window>, now: Millis) {
        self.policy.load_windows(windows, now);
    }

    /// `POST /api/maintenance`: returns the new window's id.
    pub fn add_window(&mut self, spec: &WindowSpec, now: Millis) -> Result<String, WindowError> {
        let id = self.policy.add_window(spec, now)?;
        self.dirty = true;
        Ok(id)
    }

    /// `DELETE /api/maintenance/<id>`: alerts it held go now.
    pub fn delete_window(
        &mut self,
        id: &str,
        now: Millis,
        out: &mut Vec<Event>,
    ) -> Result<(), DeleteWindowError> {
        let mut decisions = Vec::new();
        let views = EngineViews {
            views: &self.views,
            index: &self.view_index,
            templates: &self.config.templates,
        };
        self.policy.delete_window(id, now, &views, &mut decisions)?;
        self.dirty = true;
        self.publish_decisions(decisions, out);
        Ok(())
    }

    /// Mutes view `name` until `until` (`MUTED_FOREVER`: until an
    /// unmute), or unmutes it (`until == 0`). A muted view's members are
    /// still evaluated; it sends no alerts.
    pub fn set_view_muted(
        &mut self,
        name: &str,
        until: Millis,
        now: Millis,
        out: &mut Vec<Event>,
    ) -> Result<(), EngineError> {
        let vid = self
            .find_view(name)
            .ok_or_else(|| EngineError::ViewNotFound(name.to_owned()))?;
        let mut decisions = Vec::new();
        let views = EngineViews {
            views: &self.views,
            index: &self.view_index,
            templates: &self.config.templates,
        };
        self.policy
            .set_view_muted(name, until, now, &views, &mut decisions);
        self.dirty = true;
        self.publish_decisions(decisions, out);
        let previous = self.view(vid).state;
        out.push(Event::ViewChanged {
            view: self.view_record(vid),
            previous,
        });
        Ok(())
    }

    /// Mutes service `name` until `until` (0: until an unmute), or
    /// unmutes it (`muted` false).
    pub fn set_muted_until(
        &mut self,
        name: &str,
        muted: bool,
        until: Millis,
        now: Millis,
        out: &mut Vec<Event>,
    ) -> Result<(), EngineError> {
        let id = self
            .find(name)
            .ok_or_else(|| EngineError::ServiceNotFound(name.to_owned()))?;
        let until = if muted { until.max(0) } else { 0 };
        let was_muted = self.svc(id).muted_since != 0;
        if was_muted == muted && self.mute_ends.get(id) == until {
            return Ok(());
        }
        self.mute_ends.set(id, until);
        self.dirty = true;
        let previous = if was_muted == muted {
            self.svc(id).state // only the end moved
        } else {
            // A muted_since of 0 means "not muted": never 0 for a mute.
            self.svc_mut(id).muted_since = if muted { now.max(1) } else { 0 };
            self.reevaluate(id, now, out)
        };
        out.push(Event::ServiceChanged {
            service: self.service_record(id, false),
            previous,
        });
        Ok(())
    }

    /// While `true`, the policy decides nothing on its deadlines (they
    /// wait): for the start, until the alerter listens, so no alert is
    /// decided (and marked sent) with nobody to send it.
    pub fn hold_alerts(&mut self, hold: bool) {
        self.alerts_held = hold;
    }

    /// The earliest moment the policy or a timed mute has work.
    pub(super) fn policy_deadline(&self) -> Option<Millis> {
        let policy = if self.alerts_held {
            None
        } else {
            self.policy.next_deadline()
        };
        match (policy, self.mute_ends.next()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Ends timed mutes due and runs the policy's deadlines (`tick`).
    pub(super) fn policy_tick(&mut self, now: Millis, out: &mut Vec<Event>) {
        while let Some(id) = self.mute_ends.pop_due(now) {
            let name = self.names.get(self.svc(id).name).to_owned();
            // Found: the id came from a live service (deletes clear it).
            let _ = self.set_muted(&name, false, now, out);
        }
        if self.alerts_held {
            return;
        }
        let mut decisions = Vec::new();
        let views = EngineViews {
            views: &self.views,
            index: &self.view_index,
            templates: &self.config.templates,
        };
        self.policy.tick(now, &views, &mut decisions);
        self.publish_decisions(decisions, out);
        if self.policy.take_dirty() {
            self.dirty = true;
        }
    }

    /// Hook: view `vid` changed from `previous` to its state now.
    pub(super) fn policy_view_changed(
        &mut self,
        vid: u32,
        previous: State,
        now: Millis,
        out: &mut Vec<Event>,
    ) {
        let Some(v) = self.views.get(vid as usize).and_then(Option::as_ref) else {
            return;
        };
        let (name, state) = (v.name.clone(), v.state);
        let mut decisions = Vec::new();
        let views = EngineViews {
            views: &self.views,
            index: &self.view_index,
            templates: &self.config.templates,
        };
        self.policy
            .view_changed(&name, previous, state, now, &views, &mut decisions);
        self.publish_decisions(decisions, out);
    }

    /// Hook: view `name` is gone.
    pub(super) fn policy_view_removed(&mut self, name: &str, out: &mut Vec<Event>) {
        let now = self.policy.clock();
        let mut decisions = Vec::new();
        let views = EngineViews {
            views: &self.views,
            index: &self.view_index,
            templates: &self.config.templates,
        };
        self.policy.view_removed(name, now, &views, &mut decisions);
        self.publish_decisions(decisions, out);
    }

    /// Hook (load): what the database knew of a view's alerts.
    pub(super) fn policy_load_view(&mut self, record: &ViewRecord, now: Millis) {
        self.policy.load_view(
            &record.name,
            record.state,
            record.last_state_change,
            &record.alerting,
            now,
        );
    }

    /// The policy part of a view's record.
    pub(super) fn view_alerting(&self, v: &View) -> crate::policy::ViewAlerting {
        let mut alerting = self
            .policy
            .alerting(&v.name, v.template, self.policy.clock());
        alerting.suppressed_by = self.policy.suppressed_by(v.template, &self.policy_views());
        alerting
    }

    /// Turns decisions into `Event::Alert`s carrying the view's record.
    fn publish_decisions(&mut self, decisions: Vec<Decision>, out: &mut Vec<Event>) {
        for d in decisions {
            let Some(vid) = self.find_view(&d.view) else {
                continue;
            };
            out.push(Event::Alert {
                notice: Box::new(AlertNotice {
                    view: self.view_record(vid),
                    previous: d.previous,
                    reminder: d.reminder,
                    down_ms: d.down_ms,
                    alerts: d.alerts,
                }),
            });
        }
        if self.policy.take_dirty() {
            self.dirty = true;
        }
    }
}
