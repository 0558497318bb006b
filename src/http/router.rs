//! The route table of the HTTP API: `endpoint` matches the method and
//! path of a request to one `Endpoint` (every path the server answers,
//! `/metrics` and `/ws` included), and `answer` calls its handler. It never
//! panics on any input. `/ws` needs the connection itself and `/metrics`
//! the process counters, so `http::handle` answers those two itself after
//! asking this table.

use super::dashboard;
use super::handlers;
use super::jobs;
use super::policy;
use super::request::{ApiError, HttpRequest, HttpResponse};
use crate::counters::Counters;
use crate::history::Kind;
use crate::jobs::SignalKind;
use crate::json::Dialect;
use crate::state::StateHandle;

/// A path segment, percent-decoded. Bytes that are not UTF-8 are replaced,
/// which makes the name fail validation later (it can never match).
fn segment(raw: &str) -> String {
    String::from_utf8_lossy(&super::urlenc::percent_decode(raw, false)).into_owned()
}

/// Every route of the API, as the table finds it: names are decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// The dashboard's page (`/`, `/services`, `/views/<name>`, `/services/<name>`).
    Page,
    /// A dashboard asset (`/static/<file>`).
    Asset(String),
    /// `/status`, `/api/status`, `/api/views/<name>/status`.
    Status(Option<String>),
    Quarantine,
    AcknowledgeQuarantine,
    Version,
    ListServices,
    GetService(String),
    Beat(String),
    DeleteService(String),
    /// `/api/services/<name>/mute` (true) and `/unmute` (false).
    Mute(String, bool),
    /// `POST /api/services/<name>/start|success|fail|log|<0-255>`.
    Signal(String, SignalKind),
    /// `POST /api/services/<name>/<x>` where `x` is no signal (`/256`,
    /// `/abc`): 400 with this message.
    BadSignal(String),
    /// `GET /api/services/<name>/events`.
    Events(String),
    /// `GET /api/services/<name>/events/<n>/body` (`n` as given).
    EventBody(String, String),
    /// `POST /api/views/<name>/mute` (true) and `/unmute` (false).
    MuteView(String, bool),
    /// `GET /api/maintenance`.
    ListMaintenance,
    /// `POST /api/maintenance`.
    AddMaintenance,
    /// `DELETE /api/maintenance/<id>`.
    DeleteMaintenance(String),
    ListViews(Dialect),
    GetView(String, Dialect),
    DeleteView(String),
    /// `GET /metrics` (Prometheus text); needs the process counters.
    Metrics,
    /// `GET /api/alerts/history`; `http::handle` answers it from the
    /// alerter's delivery history.
    AlertHistory,
    /// `/ws` (any method: the handshake check answers a wrong one); the
    /// connection upgrades on its own thread.
    Websocket,
    /// `/ping/...` with `[healthchecks]` configured (SPEC 17), any method:
    /// `peer_healthchecks` answers as healthchecks.io does.
    Healthchecks,
    /// `/api/push/...` with `[uptime_kuma] enabled` (SPEC 17), any method
    /// (Kuma's `router.all`): `peer_kuma` answers as Uptime Kuma does.
    UptimeKuma,
    /// `/p/...` with `[cronitor]` configured (SPEC 17): `peer_cronitor`.
    Cronitor,
    /// `/api/<project>/cron/<slug>[/<key>]/` with `[sentry]` configured
    /// (SPEC 17): `peer_sentry` answers as Sentry's Relay does.
    Sentry,
    /// `GET /api/services/<name>/history` (SPEC 18).
    ServiceHistory(String),
    /// `GET /api/views/<name>/history` (SPEC 18).
    ViewHistory(String),
    /// `GET /badge/<file>` (SPEC 18): `<view>.svg` or `<view>.json`.
    Badge(String),
    /// `GET /status-page` (SPEC 18), with `[status_page]` configured.
    StatusPage,
    /// A known path with another method: 405 with this `Allow`.
    NotAllowed(&'static str),
    NotFound,
}

/// The route table: which endpoint answers this method and path.
pub fn endpoint(req: &HttpRequest) -> Endpoint {
    use Endpoint as E;
    // HEAD is GET without a body (tiny_http drops the body for HEAD).
    let method = match req.method.as_str() {
        "HEAD" => "GET",
        m => m,
    };
    let path = req.path.as_str();
    // One trailing slash is forgiven (`/api/services/`), except on `/`.
    let trimmed = match path.strip_suffix('/') {
        Some(p) if !p.is_empty() => p,
        _ => path,
    };
    let raw: Vec<&str> = trimmed.split('/').skip(1).collect();
    let seg: Vec<String> = raw.iter().map(|s| segment(s)).collect();
    let s: Vec<&str> = seg.iter().map(String::as_str).collect();
    let name = |n: &str| n.to_owned();
    if req.healthchecks.is_some() && path.starts_with("/ping/") {
        return E::Healthchecks;
    }
    if req.uptime_kuma.is_some() && path.starts_with("/api/push/") {
        return E::UptimeKuma;
    }
    if req.cronitor.is_some() && path.starts_with("/p/") {
        return E::Cronitor;
    }
    if req.sentry.is_some() && super::peer_sentry::is_cron_path(path) {
        return E::Sentry;
    }
    match (s.as_slice(), method) {
        ([""] | ["services"] | ["views" | "services", _], "GET") => E::Page,
        ([""] | ["services"] | ["views" | "services", _], _) => E::NotAllowed("GET, HEAD"),
        (["static", file], "GET") => E::Asset(name(file)),
        (["static", _], _) => E::NotAllowed("GET, HEAD"),
        (["status"], "GET") | (["api", "status"], "GET") => E::Status(None),
        (["status"], _) | (["api", "status"], _) => E::NotAllowed("GET, HEAD"),
        (["metrics"], "GET") => E::Metrics,
        (["metrics"], _) => E::NotAllowed("GET, HEAD"),
        (["ws"], _) => E::Websocket,
        (["api", "alerts", "history"], "GET") => E::AlertHistory,
        (["api", "alerts", "history"], _) => E::NotAllowed("GET, HEAD"),
        (["api", "quarantine"], "GET") => E::Quarantine,
        (["api", "quarantine"], "DELETE") => E::AcknowledgeQuarantine,
        (["api", "quarantine"], _) => E::NotAllowed("GET, HEAD, DELETE"),
        (["version"], "GET") => E::Version,
        (["version"], _) => E::NotAllowed("GET, HEAD"),
        (["api", "services"], "GET") => E::ListServices,
        (["api", "services"], _) => E::NotAllowed("GET, HEAD"),
        (["api", "services", n], "GET") => E::GetService(name(n)),
        (["api", "services", n], "POST") => E::Beat(name(n)),
        (["api", "services", n], "DELETE") => E::DeleteService(name(n)),
        (["api", "services", _], _) => E::NotAllowed("GET, HEAD, POST, DELETE"),
        (["api", "services", n, "mute"], "POST") => E::Mute(name(n), true),
        (["api", "services", n, "unmute"], "POST") => E::Mute(name(n), false),
        (["api", "services", _, "mute" | "unmute"], _) => E::NotAllowed("POST"),
        (["api", "services", n, "events"], "GET") => E::Events(name(n)),
        (["api", "services", _, "events"], _) => E::NotAllowed("GET, HEAD"),
        (["api", "services", n, "events", k, "body"], "GET") => E::EventBody(name(n), name(k)),
        (["api", "services", _, "events", _, "body"], _) => E::NotAllowed("GET, HEAD"),
        // SPEC 18: the history of a service or a view.
        (["api", "services", n, "history"], "GET") => E::ServiceHistory(name(n)),
        (["api", "services", _, "history"], _) => E::NotAllowed("GET, HEAD"),
        (["api", "views", n, "history"], "GET") => E::ViewHistory(name(n)),
        (["api", "views", _, "history"], _) => E::NotAllowed("GET, HEAD"),
        (["api", "services", n, sig], "POST") => match jobs::parse_signal(sig) {
            Ok(kind) => E::Signal(name(n), kind),
            Err(why) => E::BadSignal(why),
        },
        (["api", "services", _, sig], _)
            if jobs::parse_signal(sig).is_ok() || jobs::looks_numeric(sig) =>
        {
            E::NotAllowed("POST")
        }
        (["api", "views", n, "mute"], "POST") => E::MuteView(name(n), true),
        (["api", "views", n, "unmute"], "POST") => E::MuteView(name(n), false),
        (["api", "views", _, "mute" | "unmute"], _) => E::NotAllowed("POST"),
        (["api", "maintenance"], "GET") => E::ListMaintenance,
        (["api", "maintenance"], "POST") => E::AddMaintenance,
        (["api", "maintenance"], _) => E::NotAllowed("GET, HEAD, POST"),
        (["api", "maintenance", id], "DELETE") => E::DeleteMaintenance(name(id)),
        (["api", "maintenance", _], _) => E::NotAllowed("DELETE"),
        (["api", kind @ ("views" | "alarms")], "GET") => E::ListViews(dialect_of(kind)),
        (["api", "views" | "alarms"], _) => E::NotAllowed("GET, HEAD"),
        (["api", kind @ ("views" | "alarms"), n], "GET") => E::GetView(name(n), dialect_of(kind)),
        (["api", "views" | "alarms", n], "DELETE") => E::DeleteView(name(n)),
        (["api", "views" | "alarms", _], _) => E::NotAllowed("GET, HEAD, DELETE"),
        (["api", "views" | "alarms", n, "status"], "GET") => E::Status(Some(name(n))),
        (["api", "views" | "alarms", _, "status"], _) => E::NotAllowed("GET, HEAD"),
        // SPEC 18: badges and the public status page.
        (["badge", file], "GET") => E::Badge(name(file)),
        (["badge", _], _) => E::NotAllowed("GET, HEAD"),
        (["status-page"], "GET") if req.status_page.is_some() => E::StatusPage,
        (["status-page"], _) if req.status_page.is_some() => E::NotAllowed("GET, HEAD"),
        _ => E::NotFound,
    }
}

/// Answers one request. Never panics. `/metrics` is rendered with zeroed
/// process counters here (the server answers it with its own, see
/// `answer`); `/ws` needs a connection and gets 500.
pub fn route(req: &HttpRequest, state: &StateHandle) -> HttpResponse {
    answer(req, endpoint(req), state, &Counters::default())
}

/// Answers `req`, already matched to `endpoint`. Never panics.
pub fn answer(
    req: &HttpRequest,
    endpoint: Endpoint,
    state: &StateHandle,
    counters: &Counters,
) -> HttpResponse {
    let limit_header = endpoint.takes_output();
    let mut resp = match call(req, endpoint, state, counters) {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    if limit_header {
        resp.headers.push(body_limit_header(req.max_body_bytes));
    }
    resp
}

/// `Ping-Body-Limit: <max_body_bytes>`, on every reply of a route whose
/// body is a run's output.
pub fn body_limit_header(max_body_bytes: usize) -> (String, String) {
    (jobs::BODY_LIMIT_HEADER.into(), max_body_bytes.to_string())
}

impl Endpoint {
    /// The routes whose request body is a run's output (SPEC 14.3): read
    /// only up to `max_body_bytes`, and answered with `Ping-Body-Limit`.
    pub fn takes_output(&self) -> bool {
        matches!(
            self,
            Endpoint::Beat(_) | Endpoint::Signal(..) | Endpoint::BadSignal(_)
        )
    }
}

fn call(
    req: &HttpRequest,
    endpoint: Endpoint,
    state: &StateHandle,
    counters: &Counters,
) -> Result<HttpResponse, ApiError> {
    use Endpoint as E;
    let path = || req.path.clone();
    match endpoint {
        E::Page => Ok(dashboard::page(req)),
        E::Asset(file) => dashboard::asset(req, &file).ok_or_else(|| ApiError::NotFound(path())),
        E::Status(view) => handlers::status(req, state, view.as_deref()),
        E::Quarantine => Ok(handlers::quarantine(state)),
        E::AcknowledgeQuarantine => Ok(handlers::acknowledge_quarantine(state)),
        E::Version => Ok(handlers::version(req)),
        E::ListServices => handlers::list_services(req, state, Dialect::Ours),
        E::GetService(name) => handlers::get_service(req, state, &name),
        E::Beat(name) => jobs::beat(req, state, &name),
        E::DeleteService(name) => handlers::delete_service(state, &name),
        E::Mute(name, muted) => policy::mute_service(req, state, &name, muted),
        E::MuteView(name, muted) => policy::mute_view(req, state, &name, muted),
        E::ListMaintenance => policy::list_windows(state),
        E::AddMaintenance => policy::add_window(req, state),
        E::DeleteMaintenance(id) => policy::delete_window(state, &id),
        E::Signal(name, kind) => jobs::signal(req, state, &name, kind),
        E::BadSignal(why) => Err(ApiError::BadRequest(why)),
        E::Events(name) => jobs::events(state, &name),
        E::EventBody(name, n) => jobs::event_body(state, &name, &n),
        E::ListViews(dialect) => handlers::list_views(state, dialect),
        E::GetView(name, dialect) => handlers::get_view(state, &name, dialect),
        E::DeleteView(name) => handlers::delete_view(state, &name),
        E::Metrics => handlers::metrics(state, counters),
        // Without the alerter's history at hand (`route`): none.
        E::AlertHistory => Ok(HttpResponse::json(
            200,
            &crate::alert::History::default().to_json(),
        )),
        E::Websocket => Ok(HttpResponse::json(
            500,
            &serde_json::json!({"error": "websocket needs a TCP connection"}),
        )),
        E::NotAllowed(allow) => Err(ApiError::MethodNotAllowed {
            path: path(),
            allow,
        }),
        E::Healthchecks => Ok(match &req.healthchecks {
            Some(hc) => super::peer_healthchecks::answer(req, state, hc, counters),
            None => super::peer_healthchecks::not_found(),
        }),
        E::UptimeKuma => Ok(match &req.uptime_kuma {
            Some(k) => super::peer_kuma::answer(req, state, k, counters),
            None => super::peer_kuma::not_found(),
        }),
        E::Cronitor => Ok(match &req.cronitor {
            Some(c) => super::peer_cronitor::answer(req, state, c),
            None => super::peer_cronitor::not_found(),
        }),
        E::Sentry => Ok(match &req.sentry {
            Some(s) => super::peer_sentry::answer(req, state, s),
            None => super::peer_sentry::not_found(),
        }),
        E::ServiceHistory(n) => super::history::history(req, state, Kind::Service, &n),
        E::ViewHistory(n) => super::history::history(req, state, Kind::View, &n),
        E::Badge(file) => Ok(super::badge::answer(state, &req.badges, &file)),
        E::StatusPage => Ok(match &req.status_page {
            Some(page) => page.answer(state),
            None => ApiError::NotFound(path()).into_response(),
        }),
        E::NotFound => Err(ApiError::NotFound(path())),
    }
}

fn dialect_of(kind: &str) -> Dialect {
    if kind == "alarms" {
        Dialect::V1
    } else {
        Dialect::Ours
    }
}

#[cfg(test)]
mod table_tests {
    use super::*;

    fn at(method: &str, path: &str) -> Endpoint {
        endpoint(&HttpRequest {
            method: method.into(),
            path: path.into(),
            ..HttpRequest::default()
        })
    }

    #[test]
    fn metrics_and_ws_are_in_the_table() {
        assert_eq!(at("GET", "/metrics"), Endpoint::Metrics);
        assert_eq!(at("HEAD", "/metrics"), Endpoint::Metrics);
        assert_eq!(at("POST", "/metrics"), Endpoint::NotAllowed("GET, HEAD"));
        assert_eq!(at("GET", "/ws"), Endpoint::Websocket);
        // The handshake check answers a wrong method, not the table.
        assert_eq!(at("POST", "/ws"), Endpoint::Websocket);
        assert_eq!(at("GET", "/wss"), Endpoint::NotFound);
        assert_eq!(at("GET", "/api/alerts/history"), Endpoint::AlertHistory);
        assert_eq!(at("HEAD", "/api/alerts/history/"), Endpoint::AlertHistory);
        assert_eq!(
            at("POST", "/api/alerts/history"),
            Endpoint::NotAllowed("GET, HEAD")
        );
        // Behind the read token like the other GET routes.
        assert_eq!(
            super::super::auth::need("GET", "/api/alerts/history"),
            super::super::auth::Need::Read
        );
    }

    #[test]
    fn badges_always_and_the_status_page_only_when_configured() {
        assert_eq!(
            at("GET", "/badge/a%2Eb.svg"),
            Endpoint::Badge("a.b.svg".into())
        );
        assert_eq!(
            at("HEAD", "/badge/a.json"),
            Endpoint::Badge("a.json".into())
        );
        assert_eq!(
            at("POST", "/badge/a.svg"),
            Endpoint::NotAllowed("GET, HEAD")
        );
        assert_eq!(at("GET", "/badge/a/b.svg"), Endpoint::NotFound);
        assert_eq!(at("GET", "/status-page"), Endpoint::NotFound);
        let page = crate::config::StatusPage {
            title: "t".into(),
            views: vec!["v".into()],
            show_services: false,
        };
        let mut req = HttpRequest {
            method: "GET".into(),
            path: "/status-page/".into(),
            status_page: Some(std::sync::Arc::new(
                super::super::status_page::Published::new(page),
            )),
            ..HttpRequest::default()
        };
        assert_eq!(endpoint(&req), Endpoint::StatusPage);
        req.method = "DELETE".into();
        assert_eq!(endpoint(&req), Endpoint::NotAllowed("GET, HEAD"));
    }

    #[test]
    fn names_are_decoded_and_dialects_follow_the_path() {
        assert_eq!(
            at("POST", "/api/services/a%2Eb/mute"),
            Endpoint::Mute("a.b".into(), true)
        );
        assert_eq!(
            at("GET", "/api/alarms/x"),
            Endpoint::GetView("x".into(), Dialect::V1)
        );
        assert_eq!(at("GET", "/api/views/"), Endpoint::ListViews(Dialect::Ours));
        assert_eq!(
            at("POST", "/api/views/a%2Eb/unmute"),
            Endpoint::MuteView("a.b".into(), false)
        );
        // A service's page, like a view's (SPEC 18); its API stays apart.
        assert_eq!(at("GET", "/services/db.backup"), Endpoint::Page);
        assert_eq!(at("POST", "/services/x"), Endpoint::NotAllowed("GET, HEAD"));
        assert_eq!(at("GET", "/api/maintenance"), Endpoint::ListMaintenance);
        assert_eq!(at("POST", "/api/maintenance/"), Endpoint::AddMaintenance);
        assert_eq!(
            at("DELETE", "/api/maintenance/w-1"),
            Endpoint::DeleteMaintenance("w-1".into())
        );
        assert_eq!(
            at("GET", "/api/maintenance/w-1"),
            Endpoint::NotAllowed("DELETE")
        );
        assert_eq!(at("GET", "/api/views/a/mute"), Endpoint::NotAllowed("POST"));
        assert_eq!(
            at("PUT", "/api/services/a"),
            Endpoint::NotAllowed("GET, HEAD, POST, DELETE")
        );
    }
}
