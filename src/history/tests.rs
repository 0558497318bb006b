//! The history's rules in a few lines each: what is kept, what the limits
//! drop (oldest first, counted), the answer's window and the uptime's edges.

use super::*;

const H: Millis = 3_600_000;
const T0: Millis = 1_764_000_000_000;

fn change(at: Millis, from: State, to: State) -> Change {
    Change {
        at,
        from,
        to,
        reason: Cow::Borrowed("test"),
    }
}

fn flap(h: &mut History, name: &str, from: Millis, n: usize, every: Millis) {
    for i in 0..n {
        let at = from + i as Millis * every;
        let (a, b) = if i % 2 == 0 {
            (State::Ok, State::Error)
        } else {
            (State::Error, State::Ok)
        };
        h.record(Kind::Service, name, from - H, change(at, a, b));
    }
}

#[test]
fn a_first_step_out_of_new_costs_nothing_unless_it_is_an_error() {
    let mut h = History::default();
    h.record(
        Kind::Service,
        "a",
        T0,
        change(T0 + 1, State::New, State::Ok),
    );
    h.record(
        Kind::Service,
        "m",
        T0,
        change(T0 + 1, State::New, State::Muted),
    );
    assert!(h.is_empty());
    assert_eq!(h.used(), 0);
    h.record(
        Kind::Service,
        "e",
        T0,
        change(T0 + 1, State::New, State::Error),
    );
    let s = h.get(Kind::Service, "e").cloned();
    let s = s.unwrap_or_default();
    assert_eq!((s.base_at, s.base, s.changes.len()), (T0, State::New, 1));
    // Once a subject has a history, every change is kept.
    h.record(
        Kind::Service,
        "a",
        T0 + 1,
        change(T0 + H, State::Ok, State::Error),
    );
    h.record(
        Kind::Service,
        "a",
        T0 + H,
        change(T0 + 2 * H, State::Error, State::Ok),
    );
    let a = h.get(Kind::Service, "a").cloned().unwrap_or_default();
    assert_eq!((a.base_at, a.base, a.changes.len()), (T0 + 1, State::Ok, 2));
    // Services and views have separate names.
    assert!(h.get(Kind::View, "a").is_none());
}

#[test]
fn a_view_without_a_time_is_known_from_its_first_change() {
    let mut h = History::default();
    h.record(Kind::View, "v", 0, change(T0, State::New, State::Error));
    let v = h.get(Kind::View, "v").cloned().unwrap_or_default();
    assert_eq!(v.base_at, T0);
}

#[test]
fn changes_older_than_history_days_go_first_and_are_counted() {
    let mut h = History::new(HistoryLimits {
        days: 1,
        memory: 1 << 30,
    });
    flap(&mut h, "a", T0, 4, H); // T0 .. T0+3h
    assert_eq!(h.next_deadline(), Some(T0 + DAY_MS));
    h.prune(T0 + DAY_MS + H + 1); // T0 and T0+1h are older than a day
    let a = h.get(Kind::Service, "a").cloned().unwrap_or_default();
    assert_eq!(a.changes.len(), 2);
    assert_eq!(a.dropped, 2);
    // The base moved to the last dropped change: ok from T0 + 1h.
    assert_eq!((a.base_at, a.base), (T0 + H, State::Ok));
    assert_eq!(h.dropped_total(), 2);
    assert_eq!(h.next_deadline(), Some(T0 + 2 * H + DAY_MS));
}

#[test]
fn the_memory_budget_drops_the_oldest_change_of_any_subject() {
    let per_change = std::mem::size_of::<Change>() + FIFO_ENTRY;
    let mut h = History::new(HistoryLimits {
        days: 90,
        memory: 2 * subject_cost("a") + 10 * per_change,
    });
    flap(&mut h, "a", T0, 6, H); // a: T0 .. T0+5h
    flap(&mut h, "b", T0 + 10 * H, 6, H); // b later: a's oldest go first
    assert!(h.used() <= h.limits().memory, "{} bytes", h.used());
    let a = h.get(Kind::Service, "a").cloned().unwrap_or_default();
    let b = h.get(Kind::Service, "b").cloned().unwrap_or_default();
    assert_eq!((a.changes.len(), a.dropped), (4, 2));
    assert_eq!((b.changes.len(), b.dropped), (6, 0));
    assert_eq!(h.dropped_total(), 2);
    assert_eq!(a.changes.front().map(|c| c.at), Some(T0 + 2 * H));
}

#[test]
fn a_deleted_subject_frees_its_memory_and_its_fifo_entries_are_skipped() {
    let mut h = History::new(HistoryLimits {
        days: 1,
        memory: 1 << 30,
    });
    flap(&mut h, "a", T0, 3, H);
    flap(&mut h, "b", T0 + 10 * H, 2, H);
    let before_b = h.used();
    h.forget(Kind::Service, "a");
    assert!(h.get(Kind::Service, "a").is_none());
    assert!(h.used() < before_b);
    // The stale entries at the front are due at once, then b's deadline.
    assert_eq!(h.next_deadline(), Some(Millis::MIN));
    h.prune(T0 + 10 * H);
    assert_eq!(h.next_deadline(), Some(T0 + 10 * H + DAY_MS));
    assert_eq!(h.dropped_total(), 0);
    let b = h.get(Kind::Service, "b").cloned().unwrap_or_default();
    assert_eq!(b.changes.len(), 2);
    // Everything forgotten and pruned: nothing counted any more.
    h.forget(Kind::Service, "b");
    h.prune(T0 + 20 * H);
    assert_eq!(h.used(), 0);
}

#[test]
fn a_clock_that_went_back_keeps_the_changes_in_order() {
    let mut h = History::default();
    h.record(
        Kind::Service,
        "a",
        T0,
        change(T0 + H, State::Ok, State::Error),
    );
    h.record(
        Kind::Service,
        "a",
        T0 + H,
        change(T0, State::Error, State::Ok),
    );
    let a = h.get(Kind::Service, "a").cloned().unwrap_or_default();
    let times: Vec<Millis> = a.changes.iter().map(|c| c.at).collect();
    assert_eq!(times, [T0 + H, T0 + H]);
}

#[test]
fn restore_rebuilds_the_order_and_applies_the_limits() {
    let mut h = History::new(HistoryLimits {
        days: 1,
        memory: 1 << 30,
    });
    let subject = |times: &[Millis]| Subject {
        base_at: T0 - H,
        base: State::Ok,
        changes: times
            .iter()
            .map(|&t| change(t, State::Ok, State::Error))
            .collect(),
        dropped: 1,
    };
    h.restore(
        vec![
            (Kind::Service, "a".into(), subject(&[T0, T0 + 3 * H])),
            (Kind::View, "v".into(), subject(&[T0 + H, T0 + 2 * H])),
        ],
        T0 + DAY_MS + 90 * 60_000, // T0 and T0+1h are too old
    );
    let a = h.get(Kind::Service, "a").cloned().unwrap_or_default();
    let v = h.get(Kind::View, "v").cloned().unwrap_or_default();
    assert_eq!((a.changes.len(), a.dropped, a.base_at), (1, 2, T0));
    assert_eq!((v.changes.len(), v.dropped, v.base_at), (1, 2, T0 + H));
    assert_eq!(h.next_deadline(), Some(T0 + 2 * H + DAY_MS));
    assert_eq!(h.iter().count(), 2);
}

// ----- answers and uptime -------------------------------------------------

fn timeline_of(base_at: Millis, base: State, changes: &[(Millis, State)]) -> Subject {
    let mut from = base;
    Subject {
        base_at,
        base,
        changes: changes
            .iter()
            .map(|&(at, to)| {
                let c = change(at, from, to);
                from = to;
                c
            })
            .collect(),
        dropped: 0,
    }
}

#[test]
fn no_changes_is_all_uptime_since_known() {
    let s = Timeline::unchanged(State::Ok, T0 - 40 * DAY_MS);
    let r = s.reply("a", T0 - 30 * DAY_MS, T0, T0);
    assert_eq!(r.uptime.day, Some(1.0));
    assert_eq!(r.uptime.month, Some(1.0));
    assert_eq!(r.state_at_since, State::Ok);
    assert!(r.changes.is_empty());
    assert_eq!(r.known_since, Some(T0 - 40 * DAY_MS));
    // Always in ERROR: no uptime at all.
    let e = Timeline::unchanged(State::Error, T0 - 2 * DAY_MS);
    assert_eq!(e.uptime(T0, DAY_MS), Some(0.0));
    assert_eq!(e.uptime(T0, 7 * DAY_MS), Some(0.0));
    // Nothing known (a view that never had a member): null.
    let none = Timeline::unchanged(State::New, 0);
    let r = none.reply("v", T0 - DAY_MS, T0, T0);
    assert_eq!((r.known_since, r.uptime.day), (None, None));
    assert_eq!(r.state_at_since, State::New);
}

#[test]
fn an_error_span_crossing_the_window_start_counts_only_inside() {
    // ERROR from 2 days ago until 12 h ago, OK since.
    let s = timeline_of(
        T0 - 40 * DAY_MS,
        State::Ok,
        &[(T0 - 2 * DAY_MS, State::Error), (T0 - 12 * H, State::Ok)],
    );
    let t = s.timeline();
    assert_eq!(t.uptime(T0, DAY_MS), Some(0.5));
    assert_eq!(t.uptime(T0, 7 * DAY_MS), Some(1.0 - 1.5 / 7.0));
    assert_eq!(t.uptime(T0, 30 * DAY_MS), Some(1.0 - 1.5 / 30.0));
    // The window starting inside the span: ERROR in force at `since`.
    let r = t.reply("a", T0 - DAY_MS, T0, T0);
    assert_eq!(r.state_at_since, State::Error);
    assert_eq!(r.changes.len(), 1);
    assert_eq!(r.changes[0].at, T0 - 12 * H);
}

#[test]
fn a_service_created_two_hours_ago_counts_only_those_hours() {
    // Created 2 h ago, in ERROR for the last 30 min.
    let s = timeline_of(
        T0 - 2 * H,
        State::New,
        &[(T0 - 2 * H + 60_000, State::Ok), (T0 - H / 2, State::Error)],
    );
    let t = s.timeline();
    assert_eq!(t.uptime(T0, DAY_MS), Some(0.75));
    assert_eq!(t.uptime(T0, 30 * DAY_MS), Some(0.75));
    // Before creation the state is unknown: "new".
    let r = t.reply("a", T0 - DAY_MS, T0, T0);
    assert_eq!(r.state_at_since, State::New);
    assert_eq!(r.known_since, Some(T0 - 2 * H));
    assert_eq!(r.changes.len(), 2);
}

#[test]
fn muted_time_is_not_error() {
    // ERROR for 6 h, then muted for 6 h, then OK: a quarter of the day lost.
    let s = timeline_of(
        T0 - 10 * DAY_MS,
        State::Ok,
        &[
            (T0 - 18 * H, State::Error),
            (T0 - 12 * H, State::Muted),
            (T0 - 6 * H, State::Ok),
        ],
    );
    assert_eq!(s.timeline().uptime(T0, DAY_MS), Some(0.75));
}

#[test]
fn the_window_is_inclusive_and_the_newest_changes_are_kept() {
    let times: Vec<(Millis, State)> = (0..(MAX_CHANGES as Millis + 5))
        .map(|i| {
            let to = if i % 2 == 0 { State::Error } else { State::Ok };
            (T0 + i * 1000, to)
        })
        .collect();
    let s = timeline_of(T0 - H, State::Ok, &times);
    let t = s.timeline();
    let r = t.reply("a", T0 + 1000, T0 + 3000, T0 + 10 * H);
    let at: Vec<Millis> = r.changes.iter().map(|c| c.at).collect();
    assert_eq!(at, [T0 + 1000, T0 + 2000, T0 + 3000]);
    assert_eq!(r.state_at_since, State::Error); // from the change at T0
    assert_eq!(r.omitted, 0);
    let all = t.reply("a", T0 - H, T0 + 10 * H, T0 + 10 * H);
    assert_eq!(all.changes.len(), MAX_CHANGES);
    assert_eq!(all.omitted, 5);
    assert_eq!(all.changes[0].at, T0 + 5000);
    // The JSON keys of the contract.
    let json = serde_json::to_value(&r).unwrap_or_default();
    for key in [
        "name",
        "since",
        "until",
        "now",
        "state_at_since",
        "changes",
        "known_since",
        "dropped",
        "uptime",
    ] {
        assert!(json.get(key).is_some(), "no {key} in {json}");
    }
    assert_eq!(json["state_at_since"], "error");
    assert_eq!(json["changes"][0]["from"], "error");
    assert!(json["uptime"]["30d"].is_f64());
}

#[test]
fn under_memory_pressure_an_emptied_subject_goes_too() {
    let per_change = std::mem::size_of::<Change>() + FIFO_ENTRY;
    let mut h = History::new(HistoryLimits {
        days: 90,
        memory: subject_cost("b") + 3 * per_change,
    });
    flap(&mut h, "a", T0, 1, H); // a: one change, oldest
    flap(&mut h, "b", T0 + 10 * H, 2, H);
    // a's change went first; a, still over the budget, went with it.
    assert!(h.get(Kind::Service, "a").is_none());
    assert!(h.used() <= h.limits().memory, "{} bytes", h.used());
    let b = h.get(Kind::Service, "b").cloned().unwrap_or_default();
    assert_eq!((b.changes.len(), b.dropped), (2, 0));
    assert_eq!(h.dropped_total(), 1);
    // Dropped by age only, an emptied subject stays (with its count).
    let mut h = History::new(HistoryLimits {
        days: 1,
        memory: 1 << 20,
    });
    flap(&mut h, "a", T0, 1, H);
    h.prune(T0 + 2 * DAY_MS);
    let a = h.get(Kind::Service, "a").cloned().unwrap_or_default();
    assert_eq!((a.changes.len(), a.dropped, a.base_at), (0, 1, T0));
    assert_eq!(a.base, State::Error);
}
