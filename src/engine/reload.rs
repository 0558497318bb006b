//! A configuration reload (SIGHUP) as the engine sees it: new view
//! templates ([`Engine::set_templates`]) and a new `max_services`
//! ([`Engine::set_max_services`]). Sans-IO like the rest of the engine.
//!
//! `set_templates` is the one deliberate whole-set walk outside snapshots:
//! it recomputes the views of every service, once per reload (an operator
//! action, rare; about as costly as one save snapshot). The rules:
//! - a view that still has members keeps its state and incident number;
//!   if its failing members changed, it goes OK/ERROR with the usual
//!   `ViewChanged` events (a reload that puts a view into ERROR opens an
//!   incident and fires its alerts, as any other failure would);
//! - a new view is created as usual (`ViewAdded`, then its state); a new
//!   template without a `$word` creates its view even with no member, as
//!   at start-up (state NEW);
//! - a view that loses its last member in the reload is removed
//!   (`ViewRemoved`, no recovery alert: the operator removed it), unless a
//!   new template names it without a `$word` (it stays, with no members);
//!   so is a member-less view whose `$word`-free template is gone; other
//!   views without members (known only from the database) are left alone;
//! - every view takes its alerts from the first new template producing it;
//! - a service whose views changed gets a `ServiceChanged` (same state)
//!   when someone subscribed to everything (`set_emit_beats`: a websocket
//!   client), so the dashboard sees its new views.

use super::{Engine, ViewTemplate};
use crate::events::Event;
use crate::model::{Millis, State};
use hashbrown::HashSet;

/// What [`Engine::set_templates`] did to the views.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ViewsReloaded {
    /// Views created by the new templates, by name.
    pub added: Vec<String>,
    /// Views removed because they lost their last member.
    pub removed: Vec<String>,
    /// Services whose set of views changed.
    pub services_moved: usize,
}

impl Engine {
    /// Services beyond this many are refused from now on; existing ones
    /// are kept even above it.
    pub fn set_max_services(&mut self, max: usize) {
        self.config.max_services = max;
    }

    /// Replaces the view templates and recomputes the views of every
    /// service as of `now` (see the module comment for the rules).
    pub fn set_templates(
        &mut self,
        templates: Vec<ViewTemplate>,
        now: Millis,
        out: &mut Vec<Event>,
    ) -> ViewsReloaded {
        let old_fixed: HashSet<String> = fixed_names(&self.config.templates);
        let new_fixed: HashSet<String> = fixed_names(&templates);
        self.config.templates = templates;
        for view in self.views.iter_mut().flatten() {
            view.template = None;
        }
        let first_event = out.len();
        let mut touched: HashSet<u32> = HashSet::new();
        let mut report = ViewsReloaded::default();
        let mut name = String::new();
        for id in 0..self.services.len() as u32 {
            let Some(s) = self.services[id as usize].as_ref() else {
                continue;
            };
            name.clear();
            name.push_str(self.names.get(s.name));
            let mut views: Vec<u32> = Vec::new();
            for t in 0..self.config.templates.len() {
                if let Some(view_name) = self.config.templates[t].view_for(&name) {
                    let vid = self.get_or_create_view(view_name, t, out);
                    if !views.contains(&vid) {
                        views.push(vid);
                    }
                }
            }
            let s = self.svc(id);
            if s.views.len() == views.len() && s.views.iter().all(|v| views.contains(v)) {
                continue;
            }
            let old = s.views.clone();
            let failing = s.state == State::Error;
            let previous = s.state;
            for &vid in old.iter().filter(|v| !views.contains(v)) {
                let v = self.view_mut(vid);
                v.members.remove(&id);
                v.failed.remove(&id);
                touched.insert(vid);
            }
            for &vid in views.iter().filter(|v| !old.contains(v)) {
                let v = self.view_mut(vid);
                v.members.insert(id);
                if failing {
                    v.failed.insert(id);
                }
                touched.insert(vid);
            }
            self.svc_mut(id).views = views.into_boxed_slice();
            self.dirty = true;
            report.services_moved += 1;
            // Only a subscriber to everything (a websocket client) wants
            // these, as with plain beats.
            if self.emit_beats {
                out.push(Event::ServiceChanged {
                    service: self.service_record(id, false),
                    previous,
                });
            }
        }
        // Views of `$word`-free templates exist even without members (as
        // at start-up); their alerts come from the first template to
        // produce them for a member.
        for t in 0..self.config.templates.len() {
            if let Some(name) = self.config.templates[t].fixed_name() {
                if self.find_view(name).is_none() {
                    let vid = self.get_or_create_view(name.to_owned(), t, out);
                    self.view_mut(vid).template = None;
                }
            }
        }
        let mut touched: Vec<u32> = touched.into_iter().collect();
        touched.sort_unstable();
        for vid in touched {
            let v = self.view(vid);
            if v.members.is_empty() && !new_fixed.contains(&v.name) {
                self.remove_view(vid, out);
            } else {
                self.update_view_state(vid, now, out);
            }
        }
        let mut gone: Vec<u32> = old_fixed
            .difference(&new_fixed)
            .filter_map(|name| self.find_view(name))
            .filter(|&vid| self.view(vid).members.is_empty())
            .collect();
        gone.sort_unstable();
        for vid in gone {
            self.remove_view(vid, out);
        }
        for event in &out[first_event..] {
            match event {
                Event::ViewAdded { view } => report.added.push(view.name.clone()),
                Event::ViewRemoved { view } => report.removed.push(view.name.clone()),
                _ => {}
            }
        }
        report
    }

    /// Drops a view (its members must be gone) with its `ViewRemoved`.
    fn remove_view(&mut self, vid: u32, out: &mut Vec<Event>) {
        let record = self.view_record(vid);
        self.view_counts[record.state.gauge() as usize] -= 1;
        self.views[vid as usize] = None;
        self.view_index.remove(&record.name);
        self.history
            .forget(crate::history::Kind::View, &record.name);
        self.free_views.push(vid);
        self.dirty = true;
        let name = record.name.clone();
        out.push(Event::ViewRemoved { view: record });
        self.policy_view_removed(&name, out);
    }
}

/// The names of the views that exist without members (no `$word`).
fn fixed_names(templates: &[ViewTemplate]) -> HashSet<String> {
    templates
        .iter()
        .filter_map(|t| t.fixed_name().map(str::to_owned))
        .collect()
}
