//! healthchecks.io's ping API on our port (SPEC 17), on when `[healthchecks]`
//! is configured: `/ping/<uuid>[/start|/fail|/log|/<0-255>]` and
//! `/ping/<ping_key>/<slug>[/start|/fail|/log|/<0-255>]`, any method (as
//! healthchecks' views, which check none), `?rid=<uuid>`, `?create=1` on
//! slug URLs. Each becomes a run signal of SPEC 14 on the service named by
//! the uuid or slug (with `[healthchecks] prefix`); the body is the run's
//! output, already cut to `max_body_bytes` (`http::read_body`). The replies
//! are healthchecks' own, byte for byte: its clients read the status and
//! the text ("not found" in a body means an unknown check to them).
//!
//! The uuid or the ping key is the credential, as there: these routes do
//! not ask for `[http] auth_token` (`http::handle`). The ping key is
//! compared in constant time. A uuid URL creates its service on first use,
//! like a beat, unless `[http] auth_token` is set: then only a ping that
//! sends the token (`Authorization: Bearer`) creates one, and a tokenless
//! ping to a uuid no service has gets healthchecks' 404 `not found` for an
//! unknown check (counted in `lovebeat_peer_unknown_total`), as
//! healthchecks.io answers a uuid it never issued. A known uuid (created
//! earlier, or named exactly by a `[[services]]` block) pings tokenless.
//! A slug URL creates only with `?create=1` (201 `Created`), else an
//! unknown slug is 404 `not found`.
//!
//! References (healthchecks/healthchecks): the routes are `hc/api/urls.py`
//! (`uuid_urls`, `slug_urls`, `urlpatterns`); the answers `hc/api/views.py`
//! `ping` and `ping_by_slug`; the content type and headers the examples of
//! `templates/docs/http_api.md`.

use super::auth::ct_eq;
use super::request::{ApiError, HttpRequest, HttpResponse};
use super::urlenc;
use crate::config::Healthchecks;
use crate::counters::Counters;
use crate::jobs::{Body, Signal, SignalKind, Source};
use crate::model::is_valid_name;
use crate::state::StateHandle;
use std::sync::Arc;

/// Who a ping URL names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `/ping/<uuid>...`: the uuid, canonical and lower-case.
    Uuid(String),
    /// `/ping/<key>/<slug>...`, as written.
    Slug { key: String, slug: String },
}

/// What the path's last part asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Signal(SignalKind),
    /// `/<n>` with n > 255: healthchecks' 400 `invalid url format`.
    ExitTooLarge,
}

/// A ping URL, parsed; `None` from `parse` is a path healthchecks has no
/// route for (Django's 404).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ping {
    pub target: Target,
    pub action: Action,
}

/// Django's `uuid` converter: lower-case hex in the 8-4-4-4-12 form.
fn is_django_uuid(s: &str) -> bool {
    uuid_shape(s, false)
}

/// `8-4-4-4-12` hex; `any_case` also takes upper-case digits (Python's
/// `uuid.UUID` does, for `?rid=`).
fn uuid_shape(s: &str, any_case: bool) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => {
                c.is_ascii_digit()
                    || (b'a'..=b'f').contains(&c)
                    || (any_case && (b'A'..=b'F').contains(&c))
            }
        })
}

/// Django's `slug` converter: `[-a-zA-Z0-9_]+`.
fn is_django_slug(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The action of a last segment: `fail`, `start`, `log` or Django's `int`
/// converter (`[0-9]+`).
fn action(segment: &str) -> Option<Action> {
    Some(match segment {
        "fail" => Action::Signal(SignalKind::Fail),
        "start" => Action::Signal(SignalKind::Start),
        "log" => Action::Signal(SignalKind::Log),
        s if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            match s.trim_start_matches('0').len() {
                n if n > 3 => Action::ExitTooLarge,
                _ => match s.parse::<u16>() {
                    Ok(code) if code <= 255 => Action::Signal(SignalKind::Exit(code as u8)),
                    _ => Action::ExitTooLarge,
                },
            }
        }
        _ => return None,
    })
}

/// Matches `path` as Django matches healthchecks' `urlpatterns`, in order:
/// `ping/<uuid>`, `ping/<uuid>/` + (`""`, `fail`, `start`, `log`,
/// `<int>`), `ping/<slug>/<slug>`, `ping/<slug>/<slug>/` + (`fail`,
/// `start`, `log`, `<int>`). The path is still percent-encoded; none of
/// these patterns matches a `%`.
pub fn parse(path: &str) -> Option<Ping> {
    let rest = path.strip_prefix("/ping/")?;
    let parts: Vec<&str> = rest.split('/').collect();
    let success = Action::Signal(SignalKind::Success);
    let uuid = |u: &str| Target::Uuid(u.to_owned());
    let slug = |k: &str, s: &str| Target::Slug {
        key: k.to_owned(),
        slug: s.to_owned(),
    };
    let (target, action) = match parts.as_slice() {
        [u] | [u, ""] if is_django_uuid(u) => (uuid(u), success),
        [u, a] if is_django_uuid(u) && action(a).is_some() => (uuid(u), action(a)?),
        [k, s] if is_django_slug(k) && is_django_slug(s) => (slug(k, s), success),
        [k, s, a] if is_django_slug(k) && is_django_slug(s) => (slug(k, s), action(a)?),
        _ => return None,
    };
    Some(Ping { target, action })
}

/// A query parameter as Django's `request.GET.get` reads it: the last
/// value given.
fn last<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// `Cache-Control` of Django's `never_cache`, which wraps `ping`.
const NEVER_CACHE: &str = "max-age=0, no-cache, no-store, must-revalidate, private";

/// Django's default content type, which `HttpResponse("OK")` and
/// `HttpResponseNotFound("not found")` send (`settings.DEFAULT_CHARSET`).
const CT_DJANGO: &str = "text/html; charset=utf-8";

/// A healthchecks answer as Django sends it: its default content type
/// (`hc/api/views.py` sets none), the body as given.
fn text(status: u16, body: &str) -> HttpResponse {
    HttpResponse {
        status,
        content_type: CT_DJANGO,
        headers: Vec::new(),
        body: body.as_bytes().to_vec(),
    }
}

/// `hc/api/views.py` `ping`: `return HttpResponseNotFound("not found")`,
/// also Django's answer to a path no pattern matches.
pub fn not_found() -> HttpResponse {
    text(404, "not found")
}

/// `hc/api/views.py` `ping`: `HttpResponseBadRequest("invalid url format")`
/// for an exit status over 255.
fn invalid_url() -> HttpResponse {
    text(400, "invalid url format")
}

/// `hc/api/views.py` `ping`: `HttpResponseBadRequest("invalid uuid format")`
/// for a `rid` that is not a uuid.
fn invalid_uuid() -> HttpResponse {
    text(400, "invalid uuid format")
}

/// `hc/api/views.py` `ping`: `HttpResponse("OK")` with `Ping-Body-Limit`
/// and `Access-Control-Allow-Origin: *`; `ping_by_slug` turns it into 201
/// `Created` when `?create=1` made the check. `never_cache` adds its
/// `Cache-Control`.
fn ok(created: bool, max_body_bytes: usize) -> HttpResponse {
    let mut r = if created {
        text(201, "Created")
    } else {
        text(200, "OK")
    };
    r.headers.extend([
        (
            super::jobs::BODY_LIMIT_HEADER.to_owned(),
            max_body_bytes.to_string(),
        ),
        ("Access-Control-Allow-Origin".to_owned(), "*".to_owned()),
        ("Cache-Control".to_owned(), NEVER_CACHE.to_owned()),
    ]);
    r
}

/// Answers a request to `/ping/...` (the router sends them here only when
/// `[healthchecks]` is configured) with the answers healthchecks gives
/// (our JSON error only when the state thread cannot answer, or the
/// service limit is reached). The path and query are checked before
/// anything changes, as the newer `_ping` does (exit status, then `rid`).
pub fn answer(
    req: &HttpRequest,
    state: &StateHandle,
    settings: &Healthchecks,
    counters: &Counters,
) -> HttpResponse {
    let Some(ping) = parse(&req.path) else {
        return not_found();
    };
    let pairs = urlenc::parse_pairs(&req.query);
    let prefix = &settings.prefix;
    let slug_url = matches!(ping.target, Target::Slug { .. });
    let (name, create) = match &ping.target {
        // `ping`: `Check.objects.get(code=code)`, else
        // `HttpResponseNotFound("not found")`; with a token set, only its
        // holder makes new checks here.
        Target::Uuid(uuid) => (format!("{prefix}{uuid}"), req.token_granted),
        Target::Slug { key, slug } => {
            let configured = settings.ping_key.as_bytes();
            if configured.is_empty() || !ct_eq(key.as_bytes(), configured) {
                return not_found();
            }
            // Slugs are lower-case (`Spec.slug`'s pattern `^[a-z0-9-_]*$`);
            // one with capitals names no check that can exist.
            if slug.bytes().any(|b| b.is_ascii_uppercase()) {
                return invalid_url();
            }
            (
                format!("{prefix}{slug}"),
                last(&pairs, "create") == Some("1"),
            )
        }
    };
    if !is_valid_name(&name) {
        // Too long for a service name: no such check.
        return not_found();
    }
    let kind = match ping.action {
        Action::Signal(kind) => kind,
        Action::ExitTooLarge => return invalid_url(),
    };
    let rid = match last(&pairs, "rid") {
        None => None,
        Some(rid) if uuid_shape(rid, true) => Some(rid.to_ascii_lowercase().into_boxed_str()),
        Some(_) => return invalid_uuid(),
    };
    let body = (!req.body.is_empty()).then(|| {
        let keep = req.body.len().min(req.max_body_bytes);
        Body {
            bytes: Arc::from(&req.body[..keep]),
            truncated: req.body_truncated || req.body.len() > keep,
        }
    });
    let signal = Signal {
        kind,
        rid,
        source: Source::Http(req.remote_addr),
        body,
        // healthchecks' ping API sends no duration: it pairs `/start`.
        reported_duration: None,
    };
    match state.peer_signal(&name, signal, create) {
        // Only `ping_by_slug` says `Created` (a uuid URL creates silently).
        Ok(Some(existed)) => ok(!existed && slug_url, req.max_body_bytes),
        Ok(None) => {
            if !slug_url {
                Counters::add(&counters.peer_unknown, 1);
            }
            not_found()
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const U: &str = "5bf66975-d4c7-4bf5-bcc8-b8d8a82ea278";

    fn at(path: &str) -> Option<Ping> {
        parse(path)
    }

    fn uuid(action: Action) -> Option<Ping> {
        Some(Ping {
            target: Target::Uuid(U.into()),
            action,
        })
    }

    fn slug(key: &str, s: &str, action: Action) -> Option<Ping> {
        Some(Ping {
            target: Target::Slug {
                key: key.into(),
                slug: s.into(),
            },
            action,
        })
    }

    const OK: Action = Action::Signal(SignalKind::Success);

    #[test]
    fn uuid_urls() {
        assert_eq!(at(&format!("/ping/{U}")), uuid(OK));
        assert_eq!(at(&format!("/ping/{U}/")), uuid(OK));
        for (a, kind) in [
            ("start", SignalKind::Start),
            ("fail", SignalKind::Fail),
            ("log", SignalKind::Log),
            ("0", SignalKind::Exit(0)),
            ("3", SignalKind::Exit(3)),
            ("255", SignalKind::Exit(255)),
            ("007", SignalKind::Exit(7)),
        ] {
            assert_eq!(
                at(&format!("/ping/{U}/{a}")),
                uuid(Action::Signal(kind)),
                "{a}"
            );
        }
        for big in ["256", "1000", "99999999999999999999999"] {
            assert_eq!(at(&format!("/ping/{U}/{big}")), uuid(Action::ExitTooLarge));
        }
        // A uuid followed by something else is a slug URL whose key is the
        // uuid (Django tries `ping/<slug>/<slug>` next).
        assert_eq!(at(&format!("/ping/{U}/backup")), slug(U, "backup", OK));
        // Upper-case uuids, missing dashes, extra parts: no route.
        assert_eq!(at(&format!("/ping/{}", U.to_uppercase())), None);
        assert_eq!(at("/ping/5bf66975d4c74bf5bcc8b8d8a82ea278"), None);
        assert_eq!(at(&format!("/ping/{U}/start/")), None);
        assert_eq!(at(&format!("/ping/{U}/-1")), slug(U, "-1", OK));
        assert_eq!(at("/ping/"), None);
        assert_eq!(at("/ping"), None);
    }

    #[test]
    fn slug_urls() {
        assert_eq!(at("/ping/key_1/db-backup"), slug("key_1", "db-backup", OK));
        assert_eq!(
            at("/ping/key/db/start"),
            slug("key", "db", Action::Signal(SignalKind::Start))
        );
        assert_eq!(
            at("/ping/key/db/1"),
            slug("key", "db", Action::Signal(SignalKind::Exit(1)))
        );
        assert_eq!(
            at("/ping/key/db/256"),
            slug("key", "db", Action::ExitTooLarge)
        );
        assert_eq!(at("/ping/key/Db"), slug("key", "Db", OK));
        // No trailing-slash success on slug URLs; no dots; no percent.
        assert_eq!(at("/ping/key/db/"), None);
        assert_eq!(at("/ping/key/db.x"), None);
        assert_eq!(at("/ping/key/d%62"), None);
        assert_eq!(at("/ping/key/db/other"), None);
    }

    #[test]
    fn rids_and_queries() {
        assert!(uuid_shape(U, true) && uuid_shape(&U.to_uppercase(), true));
        assert!(!uuid_shape(&U.to_uppercase(), false));
        assert!(!uuid_shape("12345", true));
        assert!(!uuid_shape("684e2e73-017e-465f-8149-d70b7c5aaa490", true));
        let pairs = urlenc::parse_pairs("create=0&create=1");
        assert_eq!(last(&pairs, "create"), Some("1"));
        assert_eq!(last(&pairs, "rid"), None);
    }

    #[test]
    fn answers_are_healthchecks_own() {
        let r = ok(false, 10_000);
        assert_eq!(
            (r.status, r.body.as_slice(), r.content_type),
            (200, &b"OK"[..], CT_DJANGO)
        );
        assert!(r
            .headers
            .contains(&("Ping-Body-Limit".into(), "10000".into())));
        assert!(r
            .headers
            .contains(&("Access-Control-Allow-Origin".into(), "*".into())));
        let r = ok(true, 5);
        assert_eq!((r.status, r.body.as_slice()), (201, &b"Created"[..]));
        assert_eq!(not_found().body, b"not found");
        assert!(not_found().headers.is_empty());
        assert_eq!(invalid_url().body, b"invalid url format");
        assert_eq!(invalid_uuid().body, b"invalid uuid format");
    }
}
