//! The answers of Sentry's routes (SPEC 17) as Relay and the axum and
//! tower-http layers it is built on give them, each citing its source in
//! getsentry/relay (`relay-server/src/...`) or its framework; the routes
//! themselves are `peer_sentry` and `peer_sentry_envelope`.

use super::request::{HttpResponse, CT_JSON, CT_TEXT};

/// Relay's `ApiErrorResponse` (`relay-server/src/utils/api.rs`): JSON
/// `{"detail": <the error's message>}` (its `causes` are left out when
/// the error has none, as for every error answered here).
pub fn detail(status: u16, message: &str) -> HttpResponse {
    // axum's `Json`: compact, no newline.
    let body = serde_json::json!({ "detail": message })
        .to_string()
        .into_bytes();
    HttpResponse {
        status,
        content_type: CT_JSON,
        headers: Vec::new(),
        body,
    }
}

/// A path Relay has no route for: axum's empty 404.
pub fn not_found() -> HttpResponse {
    HttpResponse {
        status: 404,
        content_type: CT_TEXT,
        headers: Vec::new(),
        body: Vec::new(),
    }
}

/// An answer with no body and no content type (axum's `StatusCode` as a
/// response).
pub fn empty(status: u16) -> HttpResponse {
    HttpResponse {
        status,
        content_type: "",
        headers: Vec::new(),
        body: Vec::new(),
    }
}

/// `monitor.rs` `handle`: `Ok(StatusCode::ACCEPTED)`, an empty body.
pub fn accepted() -> HttpResponse {
    empty(202)
}

/// `Vary`, as tower-http's `CorsLayer` sets it by default
/// (`preflight_request_headers()`), one header per value.
const CORS_VARY: [&str; 3] = [
    "origin",
    "access-control-request-method",
    "access-control-request-headers",
];

/// The headers Relay's CORS layer (`middlewares/cors.rs`) adds to every
/// answer of an ingestion route that is not a preflight: any origin
/// (tower-http's `Any` is `*`, with or without an `Origin`), `Vary`, and
/// the exposed headers, comma-joined.
pub fn with_cors(mut r: HttpResponse) -> HttpResponse {
    let h = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    r.headers.push(h("Access-Control-Allow-Origin", "*"));
    r.headers.extend(CORS_VARY.iter().map(|v| h("Vary", v)));
    r.headers.push(h(
        "Access-Control-Expose-Headers",
        "x-sentry-error,x-sentry-rate-limits,retry-after",
    ));
    r
}

/// The CORS layer's answer to any `OPTIONS` (a preflight): 200, no body,
/// `POST` and Relay's list of request headers allowed for an hour.
pub fn preflight() -> HttpResponse {
    let h = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    let mut r = empty(200);
    r.headers.push(h("Access-Control-Allow-Origin", "*"));
    r.headers.extend(CORS_VARY.iter().map(|v| h("Vary", v)));
    r.headers.push(h("Access-Control-Allow-Methods", "POST"));
    r.headers.push(h(
        "Access-Control-Allow-Headers",
        "x-sentry-auth,x-requested-with,x-forwarded-for,origin,referer,accept,\
         content-type,authentication,authorization,content-encoding,transfer-encoding",
    ));
    r.headers.push(h("Access-Control-Max-Age", "3600"));
    r
}

/// axum's 405 from a method router: no body, `Allow` listing its methods
/// (`GET` brings `HEAD`), comma-joined without spaces
/// (`axum/src/routing/method_routing.rs` `append_allow_header`; its
/// `call!(req, method, HEAD, get)` is why HEAD runs the GET handler).
pub fn method_not_allowed(allow: &str) -> HttpResponse {
    let mut r = empty(405);
    r.headers.push(("Allow".to_owned(), allow.to_owned()));
    r
}

/// A body over the route's limit: axum's `DefaultBodyLimit` rejection
/// (`LengthLimitError`, 413), the same for a gzip body that inflates past
/// it (Relay decompresses before the limit counts).
pub fn too_large() -> HttpResponse {
    rejection(
        413,
        "Failed to buffer the request body: length limit exceeded",
    )
}

/// An axum extractor rejection: text/plain, its message.
pub fn rejection(status: u16, text: &str) -> HttpResponse {
    HttpResponse {
        status,
        content_type: CT_TEXT,
        headers: Vec::new(),
        body: text.as_bytes().to_vec(),
    }
}

/// `BadEventMeta::MissingAuth` (`relay-server/src/extractors/request_meta.rs`):
/// 401, "missing authorization information".
pub fn missing_auth() -> HttpResponse {
    detail(401, "missing authorization information")
}

/// A key the project does not have: Relay rejects the envelope,
/// `BadStoreRequest::EventRejected(DiscardReason::ProjectId)`, whose
/// `error_response` is 403 with "event submission rejected with_reason:
/// {reason:?}" (`relay-server/src/endpoints/common.rs`).
pub fn wrong_key() -> HttpResponse {
    detail(403, "event submission rejected with_reason: ProjectId")
}

/// A query that is not a check-in: axum's `Query` rejection
/// (`FailedToDeserializeQueryString`), 400 with serde's message.
pub fn bad_query(why: &str) -> HttpResponse {
    rejection(400, &format!("Failed to deserialize query string: {why}"))
}

/// A JSON body that is not a check-in: axum's `Json` rejection, 400
/// `JsonSyntaxError` for text that is no JSON, 422 `JsonDataError` for
/// JSON that is not a check-in.
pub fn bad_json(e: &serde_json::Error) -> HttpResponse {
    if e.is_data() {
        rejection(
            422,
            &format!("Failed to deserialize the JSON body into the target type: {e}"),
        )
    } else {
        rejection(
            400,
            &format!("Failed to parse the request body as JSON: {e}"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::peer_sentry::CheckIn;

    #[test]
    fn answers_are_relays_own() {
        let a = with_cors(accepted());
        assert_eq!((a.status, a.body.len(), a.content_type), (202, 0, ""));
        let header = |r: &HttpResponse, k: &str| -> Vec<String> {
            r.headers
                .iter()
                .filter(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .collect()
        };
        assert_eq!(header(&a, "Access-Control-Allow-Origin"), ["*"]);
        assert_eq!(header(&a, "Vary").len(), 3);
        let p = preflight();
        assert_eq!((p.status, p.body.len()), (200, 0));
        assert_eq!(header(&p, "Access-Control-Allow-Methods"), ["POST"]);
        assert_eq!(header(&p, "Access-Control-Max-Age"), ["3600"]);
        assert!(header(&p, "Access-Control-Allow-Headers")[0].starts_with("x-sentry-auth,"));
        let t = too_large();
        assert_eq!(
            (t.status, t.body.as_slice(), t.content_type),
            (
                413,
                &b"Failed to buffer the request body: length limit exceeded"[..],
                CT_TEXT
            )
        );
        let m = method_not_allowed("GET,HEAD,POST");
        assert_eq!(
            (m.status, header(&m, "Allow")),
            (405, vec!["GET,HEAD,POST".to_owned()])
        );
        let syntax = serde_json::from_str::<CheckIn>("{").err();
        let data = serde_json::from_str::<CheckIn>(r#"{"status":"done"}"#).err();
        assert_eq!(syntax.map(|e| bad_json(&e).status), Some(400));
        assert_eq!(data.map(|e| bad_json(&e).status), Some(422));
        let m = missing_auth();
        assert_eq!(m.status, 401);
        assert_eq!(m.body, br#"{"detail":"missing authorization information"}"#);
        assert_eq!(wrong_key().status, 403);
    }
}
