//! Where services and views live (see "Layout" in `mod.rs`): finding
//! them by name or id in their slabs, and making new ones there: a service
//! (joined to the views its name produces) and a view (when a template
//! first produces it, or at construction for a name without a `$word`).
//! Deleting stays in `mod.rs`, beside the history it forgets.

use super::service::Service;
use super::view::View;
use super::{Engine, EngineError};
use crate::events::Event;
use crate::model::{Millis, State};
use std::hash::BuildHasher;

impl Engine {
    /// Creates the views whose names have no `$word` (see
    /// `ViewTemplate::fixed_name`). Nobody subscribes yet, so no event. The
    /// template that gives a view its alerts is still the first to produce
    /// it for a member (SPEC 2), so these start without one.
    pub(super) fn create_fixed_views(&mut self) {
        let mut sink = Vec::new();
        for t in 0..self.config.templates.len() {
            if let Some(name) = self.config.templates[t].fixed_name() {
                let vid = self.get_or_create_view(name.to_owned(), t, &mut sink);
                self.view_mut(vid).template = None;
            }
        }
        self.dirty = false;
    }

    // ----- lookups -------------------------------------------------------

    pub(super) fn find(&self, name: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(name);
        let (services, names) = (&self.services, &self.names);
        self.index
            .find(hash, |&id| {
                services[id as usize]
                    .as_ref()
                    .is_some_and(|s| names.get(s.name) == name)
            })
            .copied()
    }

    pub(super) fn svc(&self, id: u32) -> &Service {
        match &self.services[id as usize] {
            Some(s) => s,
            None => unreachable!("service id {id} points at an empty slot"),
        }
    }

    pub(super) fn svc_mut(&mut self, id: u32) -> &mut Service {
        match &mut self.services[id as usize] {
            Some(s) => s,
            None => unreachable!("service id {id} points at an empty slot"),
        }
    }

    pub(super) fn view(&self, id: u32) -> &View {
        match &self.views[id as usize] {
            Some(v) => v,
            None => unreachable!("view id {id} points at an empty slot"),
        }
    }

    pub(super) fn view_mut(&mut self, id: u32) -> &mut View {
        match &mut self.views[id as usize] {
            Some(v) => v,
            None => unreachable!("view id {id} points at an empty slot"),
        }
    }

    pub(super) fn find_view(&self, name: &str) -> Option<u32> {
        self.view_index.get(name).copied()
    }

    // ----- creation ------------------------------------------------------

    /// The view `name`, created when missing; `template` produced it (the
    /// first template to produce a view gives it its alerts).
    pub(super) fn get_or_create_view(
        &mut self,
        name: String,
        template: usize,
        out: &mut Vec<Event>,
    ) -> u32 {
        if let Some(vid) = self.find_view(&name) {
            let v = self.view_mut(vid);
            v.template.get_or_insert(template);
            return vid;
        }
        let mut view = View::new(name.clone());
        view.template = Some(template);
        let vid = match self.free_views.pop() {
            Some(vid) => {
                self.views[vid as usize] = Some(view);
                vid
            }
            None => {
                self.views.push(Some(view));
                (self.views.len() - 1) as u32
            }
        };
        self.view_index.insert(name, vid);
        self.view_counts[State::New.gauge() as usize] += 1;
        self.dirty = true;
        out.push(Event::ViewAdded {
            view: self.view_record(vid),
        });
        vid
    }

    /// Creates a service (state NEW) and joins it to its views.
    pub(super) fn create(
        &mut self,
        name: &str,
        now: Millis,
        out: &mut Vec<Event>,
    ) -> Result<u32, EngineError> {
        if self.live >= self.config.max_services {
            return Err(EngineError::TooManyServices {
                max: self.config.max_services,
            });
        }
        let mut view_ids = Vec::new();
        for t in 0..self.config.templates.len() {
            if let Some(view_name) = self.config.templates[t].view_for(name) {
                let vid = self.get_or_create_view(view_name, t, out);
                if !view_ids.contains(&vid) {
                    view_ids.push(vid);
                }
            }
        }
        let Some(name_ref) = self.names.push(name) else {
            return Err(EngineError::TooManyServices { max: self.live });
        };
        let service = Service::new(name_ref, now, view_ids.into_boxed_slice());
        let id = match self.free_services.pop() {
            Some(id) => {
                self.services[id as usize] = Some(service);
                id
            }
            None => {
                self.services.push(Some(service));
                (self.services.len() - 1) as u32
            }
        };
        let (hasher, services, names) = (&self.hasher, &self.services, &self.names);
        self.index
            .insert_unique(hasher.hash_one(name), id, |&other| {
                hasher.hash_one(
                    services[other as usize]
                        .as_ref()
                        .map(|s| names.get(s.name))
                        .unwrap_or(""),
                )
            });
        for &vid in self.svc(id).views.clone().iter() {
            self.view_mut(vid).members.insert(id);
        }
        self.attach_block(id, name, now);
        self.live += 1;
        self.service_counts[State::New.gauge() as usize] += 1;
        self.dirty = true;
        out.push(Event::ServiceAdded {
            service: self.service_record(id, false),
        });
        Ok(id)
    }
}
