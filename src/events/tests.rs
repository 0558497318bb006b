use super::*;
use crossbeam_channel::{bounded, unbounded, Receiver};

fn changed(prev: State, now: State) -> Event {
    Event::ServiceChanged {
        service: ServiceRecord {
            name: "a".into(),
            state: now,
            ..Default::default()
        },
        previous: prev,
    }
}

fn view_changed(name: &str, prev: State, now: State) -> Event {
    Event::ViewChanged {
        view: ViewRecord {
            name: name.into(),
            state: now,
            ..Default::default()
        },
        previous: prev,
    }
}

fn limited(bus: &mut Bus, interest: Interest, limit: Limit) -> (Receiver<Arc<Event>>, Arc<Losses>) {
    let (tx, rx) = unbounded();
    let losses = Arc::new(Losses::default());
    bus.subscribe(Subscriber {
        limit,
        ..Subscriber::new(tx, interest, Arc::clone(&losses))
    });
    (rx, losses)
}

#[test]
fn interest_filters_beats_and_full_queues_drop() {
    let mut bus = Bus::default();
    let (tx1, rx1) = bounded(1);
    let (tx2, rx2) = bounded(10);
    let d1 = Arc::new(Losses::default());
    bus.subscribe(Subscriber::new(tx1, Interest::StateChanges, d1.clone()));
    bus.subscribe(Subscriber::new(tx2, Interest::Everything, Arc::default()));
    assert!(bus.wants_everything());
    bus.publish([
        changed(State::Ok, State::Ok),
        changed(State::Ok, State::Error),
        changed(State::Error, State::Ok),
    ]);
    assert_eq!(rx1.len(), 1);
    assert_eq!(d1.total(), 1);
    assert_eq!(rx2.len(), 3);
    drop(rx2);
    bus.publish([changed(State::Ok, State::Ok)]);
    assert_eq!(bus.len(), 1);
}

#[test]
fn view_transitions_are_never_behind_a_flood_of_service_changes() {
    let mut bus = Bus::default();
    bus.set_sizes(100_000, 100);
    let (views, view_losses) = limited(
        &mut bus,
        Interest::ViewErrorChanges,
        Limit::Views {
            base: 16,
            per_view: 4,
        },
    );
    let (tx, flood) = bounded(1024);
    let flood_dropped = Arc::new(Losses::default());
    bus.subscribe(Subscriber::new(
        tx,
        Interest::StateChanges,
        Arc::clone(&flood_dropped),
    ));
    // 100,000 services fail at once, and with them 100 views, in one turn.
    let mut events: Vec<Event> = (0..100_000)
        .map(|_| changed(State::Ok, State::Error))
        .collect();
    events.extend((0..100).map(|i| view_changed(&format!("v{i}"), State::Ok, State::Error)));
    bus.publish(events);
    let got: Vec<String> = views
        .try_iter()
        .map(|e| match &*e {
            Event::ViewChanged { view, .. } => view.name.clone(),
            other => panic!("not a view change: {other:?}"),
        })
        .collect();
    let want: Vec<String> = (0..100).map(|i| format!("v{i}")).collect();
    assert_eq!(got, want, "every view, in order");
    assert_eq!(view_losses.take(), [0; crate::events::KINDS]);
    // The flood's own subscriber lost (and counted) what did not fit.
    assert_eq!(flood.len(), 1024);
    assert_eq!(flood_dropped.total(), 100_100 - 1024);
    // Only ERROR in or out: not a view change that is no state change,
    // nor a view's NEW/OK churn while members are created, nor additions.
    bus.publish([
        view_changed("v0", State::Error, State::Error),
        view_changed("v0", State::Ok, State::New),
        view_changed("v0", State::New, State::Ok),
        Event::ViewAdded {
            view: ViewRecord::default(),
        },
    ]);
    assert!(views.is_empty());
    bus.publish([
        view_changed("v0", State::Error, State::Ok),
        view_changed("v0", State::New, State::Error),
        view_changed("v0", State::Error, State::Muted),
    ]);
    assert_eq!(views.len(), 3);
}

#[test]
fn limits_follow_the_state_and_losses_are_counted_per_kind() {
    assert_eq!(Limit::Channel.bound(10, 10), None);
    assert_eq!(
        Limit::Views {
            base: 8,
            per_view: 4
        }
        .bound(1_000, 3),
        Some(20)
    );
    assert_eq!(
        Limit::State {
            base: 8,
            per_item: 2
        }
        .bound(1_000, 3),
        Some(2_014)
    );
    let mut bus = Bus::default();
    bus.set_sizes(0, 1);
    let (rx, losses) = limited(
        &mut bus,
        Interest::ViewErrorChanges,
        Limit::Views {
            base: 1,
            per_view: 2,
        },
    );
    let flips = [
        view_changed("v", State::Ok, State::Error),
        view_changed("v", State::Error, State::Ok),
        view_changed("v", State::Ok, State::Error),
        view_changed("v", State::Error, State::Ok),
    ];
    bus.publish(flips);
    assert_eq!(rx.len(), 3, "1 + 2 × 1 view");
    assert_eq!(losses.take(), [0, 0, 0, 0, 1, 0, 0]);
    assert_eq!(losses.take(), [0; crate::events::KINDS], "taken");
    // The queue drains: room again, and the limit grows with the state.
    rx.try_iter().for_each(drop);
    bus.set_sizes(0, 3);
    bus.publish((0..10).map(|_| view_changed("v", State::Error, State::Ok)));
    assert_eq!(rx.len(), 7);
    assert_eq!(losses.take()[4], 3);

    // The state limit holds a burst in which every service and view changes.
    let mut bus = Bus::default();
    bus.set_sizes(5_000, 10);
    let (rx, losses) = limited(
        &mut bus,
        Interest::StateChanges,
        Limit::State {
            base: 0,
            per_item: 1,
        },
    );
    let mut burst: Vec<Event> = (0..5_000)
        .map(|_| changed(State::Ok, State::Error))
        .collect();
    burst.extend((0..10).map(|_| view_changed("v", State::Ok, State::Error)));
    bus.publish(burst);
    assert_eq!(rx.len(), 5_010);
    assert_eq!(losses.take(), [0; crate::events::KINDS]);
    bus.publish([changed(State::Error, State::Ok)]);
    assert_eq!(losses.take(), [0, 1, 0, 0, 0, 0, 0]);
}
