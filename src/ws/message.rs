//! The websocket's messages as JSON text (SPEC 5): the first `SNAPSHOT`, then
//! one message per change. Service and view objects are the API's own
//! (`crate::json`, our dialect), so the dashboard reads one shape everywhere.

use crate::events::Event;
use crate::json::{self, Dialect};
use crate::model::{Millis, ServiceRecord, ViewRecord};
use serde_json::json;

/// `{"type": "SNAPSHOT", "services": [...], "views": [...], "now": ms}`,
/// sorted by name. Written object by object into one string, so a large
/// setup costs the text, not a JSON tree of every service on top of it.
pub fn snapshot(services: &mut [ServiceRecord], views: &mut [ViewRecord], now: Millis) -> String {
    services.sort_by(|a, b| a.name.cmp(&b.name));
    views.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = String::with_capacity(64 + services.len() * 256 + views.len() * 128);
    out.push_str("{\"type\":\"SNAPSHOT\",\"now\":");
    out.push_str(&now.to_string());
    out.push_str(",\"services\":[");
    for (i, s) in services.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&json::service(s, Dialect::Ours, false).to_string());
    }
    out.push_str("],\"views\":[");
    for (i, v) in views.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&json::view(v, Dialect::Ours).to_string());
    }
    out.push_str("]}");
    out
}

/// One change: `ADD_SERVICE`, `UPDATE_SERVICE`, `REMOVE_SERVICE` (with
/// `service`) or `ADD_VIEW`, `UPDATE_VIEW`, `REMOVE_VIEW` (with `view`).
pub fn event(event: &Event) -> String {
    change(event, false)
}

/// `event`, or with `added` a change of something the client has not been
/// told about yet (its addition was coalesced into it) as an `ADD_*`.
pub fn change(event: &Event, added: bool) -> String {
    let service = |kind: &str, s: &ServiceRecord| json!({"type": kind, "service": json::service(s, Dialect::Ours, false)});
    let view =
        |kind: &str, v: &ViewRecord| json!({"type": kind, "view": json::view(v, Dialect::Ours)});
    let value = match event {
        Event::ServiceAdded { service: s } => service("ADD_SERVICE", s),
        Event::ServiceChanged { service: s, .. } if added => service("ADD_SERVICE", s),
        Event::ServiceChanged { service: s, .. } => service("UPDATE_SERVICE", s),
        Event::ServiceRemoved { service: s } => service("REMOVE_SERVICE", s),
        Event::ViewAdded { view: v } => view("ADD_VIEW", v),
        Event::ViewChanged { view: v, .. } if added => view("ADD_VIEW", v),
        Event::ViewChanged { view: v, .. } => view("UPDATE_VIEW", v),
        Event::ViewRemoved { view: v } => view("REMOVE_VIEW", v),
        // Never subscribed to (`Interest::Everything` leaves them out).
        Event::Alert { notice } => json!({"type": "ALERT", "view": notice.view.name}),
    };
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::State;

    fn parse(text: &str) -> serde_json::Value {
        serde_json::from_str(text).expect("valid JSON")
    }

    #[test]
    fn snapshot_shape() {
        let mut services = vec![
            ServiceRecord {
                name: "b".into(),
                ..Default::default()
            },
            ServiceRecord {
                name: "a".into(),
                state: State::Error,
                ..Default::default()
            },
        ];
        let mut views = vec![ViewRecord {
            name: "all".into(),
            ..Default::default()
        }];
        let v = parse(&snapshot(&mut services, &mut views, 42));
        assert_eq!(v["type"], "SNAPSHOT");
        assert_eq!(v["now"], 42);
        assert_eq!(v["services"][0]["name"], "a");
        assert_eq!(v["services"][0]["state"], "error");
        assert_eq!(v["views"][0]["name"], "all");
        assert_eq!(v["views"][0]["incident_number"], 0);
        // The alert policy's keys (SPEC 15) ride along.
        assert_eq!(v["views"][0]["muted"], false);
        assert_eq!(v["views"][0]["suppressed_by"], serde_json::json!([]));
        assert!(v["views"][0]["maintenance_until"].is_null());
        let muted = parse(&snapshot(
            &mut [ServiceRecord {
                muted_until: 9,
                ..Default::default()
            }],
            &mut [ViewRecord {
                alerting: crate::policy::ViewAlerting {
                    muted_until: 7,
                    pending_until: Some(8),
                    ..Default::default()
                },
                ..Default::default()
            }],
            1,
        ));
        assert_eq!(muted["services"][0]["muted_until"], 9);
        assert_eq!(muted["views"][0]["muted_until"], 7);
        assert_eq!(muted["views"][0]["pending_until"], 8);
        let empty = parse(&snapshot(&mut [], &mut [], 1));
        assert_eq!(empty["services"], serde_json::json!([]));
        assert_eq!(empty["views"], serde_json::json!([]));
    }

    #[test]
    fn every_event_kind() {
        let s = ServiceRecord {
            name: "x".into(),
            ..Default::default()
        };
        let w = ViewRecord {
            name: "v".into(),
            ..Default::default()
        };
        let cases = [
            (
                Event::ServiceAdded { service: s.clone() },
                "ADD_SERVICE",
                "service",
            ),
            (
                Event::ServiceChanged {
                    service: s.clone(),
                    previous: State::Ok,
                },
                "UPDATE_SERVICE",
                "service",
            ),
            (
                Event::ServiceRemoved { service: s.clone() },
                "REMOVE_SERVICE",
                "service",
            ),
            (Event::ViewAdded { view: w.clone() }, "ADD_VIEW", "view"),
            (
                Event::ViewChanged {
                    view: w.clone(),
                    previous: State::Ok,
                },
                "UPDATE_VIEW",
                "view",
            ),
            (
                Event::ViewRemoved { view: w.clone() },
                "REMOVE_VIEW",
                "view",
            ),
        ];
        for (ev, kind, key) in cases {
            let v = parse(&event(&ev));
            assert_eq!(v["type"], kind);
            assert!(v[key]["name"].is_string(), "{v}");
            assert!(!event(&ev).contains('\n'), "one line per message");
        }
    }
}
