//! Every rule of SPEC 15 and their interactions, with time passed in: a
//! tiny set of views stands in for the engine.

use super::window::{Origin, Window, WindowSpec};
use super::*;
use std::cell::RefCell;

const T0: Millis = 1_800_000_000_000;
const MIN: Millis = 60_000;
const HOUR: Millis = 60 * MIN;

/// Views by name: state and template; every view alerts through "ops"
/// (template 0) or "net" (template 1).
struct Fake {
    views: RefCell<Vec<(String, State, Option<usize>)>>,
    alerts: Vec<String>,
}

impl Views for Fake {
    fn info(&self, name: &str) -> Option<ViewInfo<'_>> {
        let views = self.views.borrow();
        let (_, state, template) = views.iter().find(|(n, _, _)| n == name)?;
        Some(ViewInfo {
            state: *state,
            template: *template,
            alerts: &self.alerts,
        })
    }
}

struct World {
    policy: Policy,
    views: Fake,
    now: Millis,
    sent: Vec<Decision>,
}

impl World {
    /// Views "web" (template 0) and "network" (template 1); `web` may
    /// depend on "network" and have a delay; alert "ops" repeats per
    /// `repeat` (0 = never).
    fn new(delay: Millis, depends: bool, repeat: Millis) -> World {
        let mut settings = PolicySettings {
            templates: vec![
                TemplatePolicy {
                    delay,
                    depends_on: if depends {
                        vec!["network".into()]
                    } else {
                        vec![]
                    },
                },
                TemplatePolicy::default(),
            ],
            ..PolicySettings::default()
        };
        if repeat > 0 {
            settings.repeat.insert("ops".into(), repeat);
        }
        let mut policy = Policy::new();
        policy.set_settings(settings, T0);
        World {
            policy,
            views: Fake {
                views: RefCell::new(vec![
                    ("web".into(), State::Ok, Some(0)),
                    ("network".into(), State::Ok, Some(1)),
                ]),
                alerts: vec!["ops".into()],
            },
            now: T0,
            sent: Vec::new(),
        }
    }

    fn set(&mut self, name: &str, state: State) {
        let previous = {
            let mut views = self.views.views.borrow_mut();
            let v = views.iter_mut().find(|(n, _, _)| n == name).expect("view");
            std::mem::replace(&mut v.1, state)
        };
        self.policy
            .view_changed(name, previous, state, self.now, &self.views, &mut self.sent);
    }

    /// Moves the clock to `at`, running every deadline on the way at its
    /// own moment (as the state thread does).
    fn run_to(&mut self, at: Millis) {
        while let Some(d) = self.policy.next_deadline() {
            if d > at {
                break;
            }
            self.now = self.now.max(d);
            self.policy.tick(self.now, &self.views, &mut self.sent);
        }
        self.now = at;
        self.policy.tick(at, &self.views, &mut self.sent);
    }

    fn take(&mut self) -> Vec<(String, u32, Option<Millis>)> {
        self.sent
            .drain(..)
            .map(|d| (d.view, d.reminder, d.down_ms))
            .collect()
    }

    fn window(&mut self, from: Millis, until: Millis) -> String {
        let spec = WindowSpec {
            views: vec!["web".into()],
            from: Some(window::rfc3339(from)),
            until: Some(window::rfc3339(until)),
            ..WindowSpec::default()
        };
        self.policy.add_window(&spec, self.now).expect("window")
    }
}

fn first(view: &str) -> (String, u32, Option<Millis>) {
    (view.into(), 0, None)
}

fn reminder(view: &str, n: u32) -> (String, u32, Option<Millis>) {
    (view.into(), n, None)
}

fn recovery(view: &str, down: Millis) -> (String, u32, Option<Millis>) {
    (view.into(), 0, Some(down))
}

#[test]
fn without_policy_the_first_message_goes_at_the_next_tick_and_recovery_says_downtime() {
    let mut w = World::new(0, false, 0);
    w.set("web", State::Error);
    assert!(
        w.take().is_empty(),
        "decided at the tick, not inside the change"
    );
    assert_eq!(w.policy.next_deadline(), Some(T0));
    w.run_to(T0);
    assert_eq!(w.take(), [first("web")]);
    w.run_to(T0 + 5 * MIN);
    w.set("web", State::Ok);
    assert_eq!(w.take(), [recovery("web", 5 * MIN)]);
    assert_eq!(w.policy.next_deadline(), None, "nothing left to do");
}

#[test]
fn first_message_says_the_state_before_error() {
    let mut w = World::new(0, false, 0);
    {
        let mut views = w.views.views.borrow_mut();
        views[0].1 = State::New;
    }
    w.set("web", State::Error);
    w.run_to(T0);
    assert_eq!(w.sent[0].previous, State::New);
    assert_eq!(w.sent[0].alerts, ["ops"]);
}

#[test]
fn delay_a_view_that_recovers_sooner_sends_nothing_at_all() {
    let mut w = World::new(2 * MIN, false, 0);
    w.set("web", State::Error);
    w.run_to(T0 + MIN);
    assert_eq!(
        w.policy.alerting("web", Some(0), w.now).pending_until,
        Some(T0 + 2 * MIN)
    );
    w.set("web", State::Ok);
    w.run_to(T0 + 10 * MIN);
    assert!(w.take().is_empty());
}

#[test]
fn delay_a_view_still_in_error_alerts_when_the_delay_ends() {
    let mut w = World::new(2 * MIN, false, 0);
    w.set("web", State::Error);
    assert_eq!(w.policy.next_deadline(), Some(T0));
    w.run_to(T0 + 2 * MIN - 1);
    assert!(w.take().is_empty());
    assert_eq!(
        w.policy.next_deadline(),
        Some(T0 + 2 * MIN),
        "a deadline, not a scan"
    );
    w.run_to(T0 + 2 * MIN);
    assert_eq!(w.take(), [first("web")]);
    assert_eq!(w.policy.alerting("web", Some(0), w.now).pending_until, None);
}

#[test]
fn repeat_sends_numbered_reminders_until_recovery() {
    let mut w = World::new(0, false, HOUR);
    w.set("web", State::Error);
    w.run_to(T0);
    w.run_to(T0 + 3 * HOUR + MIN);
    assert_eq!(
        w.take(),
        [
            first("web"),
            reminder("web", 1),
            reminder("web", 2),
            reminder("web", 3)
        ]
    );
    w.set("web", State::Ok);
    assert_eq!(w.take(), [recovery("web", 3 * HOUR + MIN)]);
    w.run_to(T0 + 10 * HOUR);
    assert!(w.take().is_empty(), "reminders stop on recovery");
}

#[test]
fn reminders_go_only_through_alerts_that_repeat() {
    let mut w = World::new(0, false, HOUR);
    w.views.alerts.push("mail".into());
    w.set("web", State::Error);
    w.run_to(T0);
    assert_eq!(w.sent[0].alerts, ["ops", "mail"]);
    w.run_to(T0 + HOUR);
    assert_eq!(w.sent[1].alerts, ["ops"]);
}

#[test]
fn timed_mute_holds_the_first_message_until_it_ends_by_itself() {
    let mut w = World::new(0, false, 0);
    w.policy
        .set_view_muted("web", T0 + 2 * HOUR, w.now, &w.views, &mut w.sent);
    w.set("web", State::Error);
    w.run_to(T0 + HOUR);
    assert!(w.take().is_empty(), "a muted view sends no alerts");
    assert_eq!(
        w.policy.alerting("web", Some(0), w.now).muted_until,
        T0 + 2 * HOUR
    );
    w.run_to(T0 + 2 * HOUR);
    assert_eq!(
        w.take(),
        [first("web")],
        "still in ERROR when the mute ends"
    );
    assert_eq!(w.policy.alerting("web", Some(0), w.now).muted_until, 0);
}

#[test]
fn a_muted_view_sends_no_recovery_and_unmute_sends_what_was_held() {
    let mut w = World::new(0, false, 0);
    w.set("web", State::Error);
    w.run_to(T0);
    assert_eq!(w.take(), [first("web")]);
    w.policy
        .set_view_muted("web", MUTED_FOREVER, w.now, &w.views, &mut w.sent);
    w.set("web", State::Ok);
    assert!(w.take().is_empty(), "muted: no recovery");
    w.set("web", State::Error);
    w.run_to(T0 + MIN);
    assert!(w.take().is_empty());
    w.policy
        .set_view_muted("web", 0, w.now, &w.views, &mut w.sent);
    assert_eq!(w.take(), [first("web")]);
}

#[test]
fn maintenance_holds_alerts_and_a_view_still_in_error_alerts_when_it_ends() {
    let mut w = World::new(0, false, 0);
    w.window(T0 + MIN, T0 + HOUR);
    w.run_to(T0 + 2 * MIN);
    w.set("web", State::Error);
    w.run_to(T0 + 30 * MIN);
    assert!(w.take().is_empty());
    assert_eq!(
        w.policy.alerting("web", Some(0), w.now).maintenance_until,
        Some(T0 + HOUR)
    );
    w.run_to(T0 + HOUR);
    assert_eq!(w.take(), [first("web")]);
}

#[test]
fn maintenance_a_view_that_recovers_inside_the_window_sends_nothing() {
    let mut w = World::new(0, false, 0);
    w.window(T0, T0 + HOUR);
    w.set("web", State::Error);
    w.run_to(T0 + 10 * MIN);
    w.set("web", State::Ok);
    w.run_to(T0 + 2 * HOUR);
    assert!(w.take().is_empty());
}

#[test]
fn a_reminder_during_maintenance_is_held_and_one_goes_when_it_ends() {
    let mut w = World::new(0, false, 10 * MIN);
    w.set("web", State::Error);
    w.run_to(T0);
    assert_eq!(w.take(), [first("web")]);
    w.window(T0 + 5 * MIN, T0 + HOUR);
    w.run_to(T0 + HOUR - 1);
    assert!(w.take().is_empty(), "reminders 1..5 fall in the window");
    w.run_to(T0 + HOUR);
    assert_eq!(
        w.take(),
        [reminder("web", 6)],
        "one, numbered by its interval"
    );
    w.run_to(T0 + 70 * MIN);
    assert_eq!(w.take(), [reminder("web", 7)]);
}

#[test]
fn a_delay_that_ends_inside_a_window_alerts_at_the_window_end() {
    let mut w = World::new(10 * MIN, false, 0);
    w.set("web", State::Error);
    w.window(T0 + 5 * MIN, T0 + HOUR);
    w.run_to(T0 + 30 * MIN);
    assert!(w.take().is_empty());
    w.run_to(T0 + HOUR);
    assert_eq!(w.take(), [first("web")]);
}

#[test]
fn a_recovery_is_not_held_by_maintenance() {
    let mut w = World::new(0, false, 0);
    w.set("web", State::Error);
    w.run_to(T0);
    w.take();
    w.window(T0 + MIN, T0 + HOUR);
    w.run_to(T0 + 2 * MIN);
    w.set("web", State::Ok);
    assert_eq!(w.take(), [recovery("web", 2 * MIN)]);
}

#[test]
fn recurring_window_from_config_holds_at_each_fire() {
    let mut w = World::new(0, false, 0);
    let spec = WindowSpec {
        views: vec!["w*".into()],
        schedule: Some("0 2 * * *".into()),
        duration: Some(HOUR),
        tz: Some("UTC".into()),
        ..WindowSpec::default()
    };
    let window = Window::from_spec("config-1".into(), Origin::Config, &spec, None).expect("ok");
    let mut settings = w.policy.settings().clone();
    settings.windows = vec![window];
    w.policy.set_settings(settings, w.now);
    // T0 is 2027-01-15 08:00 UTC; the next 02:00 is the day after.
    let two_am = T0 + 18 * HOUR;
    w.run_to(two_am + MIN);
    w.set("web", State::Error);
    w.run_to(two_am + 30 * MIN);
    assert!(w.take().is_empty());
    w.run_to(two_am + HOUR);
    assert_eq!(w.take(), [first("web")]);
}

#[test]
fn deleting_a_window_releases_what_it_held() {
    let mut w = World::new(0, false, 0);
    let id = w.window(T0, T0 + HOUR);
    w.set("web", State::Error);
    w.run_to(T0 + MIN);
    assert!(w.take().is_empty());
    w.policy
        .delete_window(&id, w.now, &w.views, &mut w.sent)
        .expect("deleted");
    assert_eq!(w.take(), [first("web")]);
    assert_eq!(
        w.policy.delete_window(&id, w.now, &w.views, &mut w.sent),
        Err(DeleteWindowError::NotFound(id))
    );
}

#[test]
fn an_ended_api_window_is_forgotten_at_its_end() {
    let mut w = World::new(0, false, 0);
    w.window(T0, T0 + HOUR);
    w.policy.take_dirty();
    w.run_to(T0 + HOUR);
    assert!(w.policy.api_windows().is_empty());
    assert!(w.policy.take_dirty(), "the database forgets it too");
    assert_eq!(w.policy.next_deadline(), None);
}

#[test]
fn depends_on_holds_while_the_parent_is_in_error_and_releases_on_its_recovery() {
    let mut w = World::new(0, true, 0);
    w.set("network", State::Error);
    w.set("web", State::Error);
    w.run_to(T0);
    // "network" has no template alerts of its own in this world... it
    // alerts through "ops" too; "web" is held.
    assert_eq!(w.take(), [first("network")]);
    assert_eq!(w.policy.suppressed_by(Some(0), &w.views), ["network"]);
    w.run_to(T0 + 10 * MIN);
    w.set("network", State::Ok);
    assert_eq!(
        w.take(),
        [recovery("network", 10 * MIN), first("web")],
        "web is still in ERROR when network recovers: its alert goes then"
    );
}

#[test]
fn depends_on_parent_and_child_failing_in_the_same_call_holds_the_child() {
    let mut w = World::new(0, true, 0);
    // The child's change is told first: the decision waits for the tick.
    w.set("web", State::Error);
    w.set("network", State::Error);
    w.run_to(T0);
    assert_eq!(w.take(), [first("network")]);
}

#[test]
fn depends_on_a_child_that_recovers_while_held_sends_nothing() {
    let mut w = World::new(0, true, 0);
    w.set("network", State::Error);
    w.set("web", State::Error);
    w.run_to(T0);
    w.take();
    w.set("web", State::Ok);
    w.set("network", State::Ok);
    assert_eq!(w.take(), [recovery("network", 0)]);
}

#[test]
fn a_parent_recovering_while_the_child_is_muted_keeps_it_held_until_the_mute_ends() {
    let mut w = World::new(0, true, 0);
    w.policy
        .set_view_muted("web", T0 + HOUR, w.now, &w.views, &mut w.sent);
    w.set("network", State::Error);
    w.set("web", State::Error);
    w.run_to(T0 + MIN);
    w.take();
    w.set("network", State::Ok);
    assert_eq!(w.take(), [recovery("network", MIN)]);
    w.run_to(T0 + HOUR);
    assert_eq!(w.take(), [first("web")]);
}

#[test]
fn a_removed_view_with_a_pending_reminder_sends_nothing_more() {
    let mut w = World::new(0, false, 10 * MIN);
    w.set("web", State::Error);
    w.run_to(T0);
    w.take();
    w.views.views.borrow_mut().retain(|(n, _, _)| n != "web");
    w.policy.view_removed("web", w.now, &w.views, &mut w.sent);
    w.run_to(T0 + HOUR);
    assert!(w.take().is_empty());
}

#[test]
fn removing_a_parent_releases_its_children() {
    let mut w = World::new(0, true, 0);
    w.set("network", State::Error);
    w.set("web", State::Error);
    w.run_to(T0);
    w.take();
    w.views
        .views
        .borrow_mut()
        .retain(|(n, _, _)| n != "network");
    w.policy
        .view_removed("network", w.now, &w.views, &mut w.sent);
    assert_eq!(w.take(), [first("web")]);
}

/// A restarted policy: the views as stored, then the loads.
fn restarted(w: &World, now: Millis) -> World {
    let mut settings = w.policy.settings().clone();
    settings.windows.clear();
    let mut policy = Policy::new();
    policy.set_settings(settings, now);
    let views = Fake {
        views: RefCell::new(w.views.views.borrow().clone()),
        alerts: w.views.alerts.clone(),
    };
    policy.load_windows(w.policy.api_windows().to_vec(), now);
    for (name, state, template) in views.views.borrow().iter() {
        let alerting = w.policy.alerting(name, *template, w.now);
        let since = w
            .policy
            .entries
            .get(name)
            .and_then(|e| e.incident.as_ref())
            .map_or(0, |i| i.since);
        policy.load_view(name, *state, since, &alerting, now);
    }
    World {
        policy,
        views,
        now,
        sent: Vec::new(),
    }
}

#[test]
fn a_restart_during_a_delay_keeps_counting_from_the_incident_start() {
    let mut w = World::new(10 * MIN, false, 0);
    w.set("web", State::Error);
    w.run_to(T0 + 3 * MIN);
    let mut w = restarted(&w, T0 + 4 * MIN);
    w.run_to(T0 + 10 * MIN - 1);
    assert!(w.take().is_empty());
    w.run_to(T0 + 10 * MIN);
    assert_eq!(w.take(), [first("web")]);
}

#[test]
fn a_restart_after_the_first_message_neither_repeats_nor_forgets_it() {
    let mut w = World::new(0, false, HOUR);
    w.set("web", State::Error);
    w.run_to(T0);
    w.take();
    let mut w = restarted(&w, T0 + 30 * MIN);
    w.run_to(T0 + 59 * MIN);
    assert!(w.take().is_empty(), "not sent again");
    w.run_to(T0 + HOUR);
    assert_eq!(
        w.take(),
        [reminder("web", 1)],
        "reminders keep their rhythm"
    );
    w.set("web", State::Ok);
    assert_eq!(w.take(), [recovery("web", HOUR)]);
}

#[test]
fn a_restart_during_a_window_holds_until_its_end_and_a_mute_survives() {
    let mut w = World::new(0, false, 0);
    w.window(T0, T0 + HOUR);
    w.policy
        .set_view_muted("network", T0 + 2 * HOUR, w.now, &w.views, &mut w.sent);
    w.set("web", State::Error);
    w.set("network", State::Error);
    w.run_to(T0 + MIN);
    let mut w = restarted(&w, T0 + 2 * MIN);
    w.run_to(T0 + HOUR - 1);
    assert!(w.take().is_empty());
    w.run_to(T0 + HOUR);
    assert_eq!(w.take(), [first("web")]);
    w.run_to(T0 + 2 * HOUR);
    assert_eq!(w.take(), [first("network")]);
}

#[test]
fn a_loaded_view_in_error_already_alerted_sends_nothing_at_start() {
    let mut policy = Policy::new();
    let alerting = ViewAlerting {
        alerted_at: T0 - HOUR,
        ..ViewAlerting::default()
    };
    let views = Fake {
        views: RefCell::new(vec![("web".into(), State::Error, Some(0))]),
        alerts: vec!["ops".into()],
    };
    policy.load_view("web", State::Error, T0 - HOUR, &alerting, T0);
    let mut sent = Vec::new();
    policy.tick(T0, &views, &mut sent);
    assert!(sent.is_empty());
}

#[test]
fn settings_that_add_a_delay_apply_to_incidents_not_yet_alerted() {
    let mut w = World::new(10 * MIN, false, 0);
    w.set("web", State::Error);
    w.run_to(T0 + MIN);
    let mut settings = w.policy.settings().clone();
    settings.templates[0].delay = 0;
    w.policy.set_settings(settings, w.now);
    w.run_to(T0 + MIN);
    assert_eq!(w.take(), [first("web")]);
}

#[test]
fn many_views_with_reminders_keep_one_heap_entry_each() {
    let mut w = World::new(0, false, MIN);
    for i in 0..1000 {
        let name = format!("v{i}");
        w.views
            .views
            .borrow_mut()
            .push((name.clone(), State::Ok, Some(0)));
        w.set(&name, State::Error);
    }
    w.run_to(T0 + 10 * MIN);
    assert_eq!(w.take().len(), 1000 * 11);
    assert!(w.policy.heap.len() <= 1000, "{}", w.policy.heap.len());
}
