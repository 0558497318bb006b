//! Sentry's envelope route, `POST /api/<project_id>/envelope/` (SPEC 17),
//! as Relay serves it (`relay-server/src/endpoints/envelope.rs`), for the
//! SDKs' `capture_checkin` and `@monitor`: each `check_in` item is a
//! check-in of `peer_sentry` on the slug it names; every other item
//! (events, sessions, transactions, ...) is accepted and ignored.
//!
//! The format (`relay-server/src/envelope.rs`): a header line of JSON
//! (`event_id`, `dsn`, ...), then items, each a header line of JSON
//! (`type`, optional `length`) and its payload: `length` bytes, or up to
//! the next newline without one. The body may be gzip (`Content-Encoding`),
//! decompressed to at most `MAX_ENVELOPE` bytes: a bigger one is refused,
//! so a gzip bomb costs a bounded read. The key comes from `X-Sentry-Auth`,
//! `?sentry_key=` or the header's `dsn`.
//!
//! Answers (getsentry/relay, `relay-server/src/endpoints/envelope.rs`):
//! 200 with `StoreResponse`, `{"id":"<event_id>"}` where `id` is
//! `skip_serializing_if = "Option::is_none"` (so `{}` without one) and the
//! id is `EventId`'s `Display`, the uuid's 32-digit simple form
//! (`relay-event-schema` `EventId`: `self.0.as_simple()`); `post(handle)`:
//! other methods 405 `Allow: POST`; a body over the limit (inflated
//! included) axum's 413; a body that does not inflate axum's 400
//! `Failed to buffer the request body: <error>`; the CORS headers are
//! added by `peer_sentry::answer`.

use super::peer_sentry::{self, CheckIn};
use super::request::{HttpRequest, HttpResponse, CT_JSON};
use crate::config::Sentry;
use crate::state::StateHandle;
use std::io;
use std::io::Read;

/// The largest envelope, compressed or not (Relay's `max_envelope_size`
/// is larger; a check-in is a few hundred bytes).
pub const MAX_ENVELOPE: usize = 1 << 20;

/// Whether `path` is Relay's envelope route (`/api/:project_id/envelope/`,
/// trailing slash optional).
pub fn is_envelope_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix("/api/") else {
        return false;
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    match rest.split_once('/') {
        Some((p, "envelope")) => !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()),
        _ => false,
    }
}

/// One item: its `type` and payload.
#[derive(Debug, PartialEq, Eq)]
pub struct Item<'a> {
    pub kind: String,
    pub payload: &'a [u8],
}

/// A parsed envelope: its header and items.
#[derive(Debug)]
pub struct Envelope<'a> {
    pub header: serde_json::Value,
    pub items: Vec<Item<'a>>,
}

fn line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// Parses an envelope (`envelope.rs` `Envelope::parse_bytes`): the
/// message is Relay's `EnvelopeError` text.
pub fn parse(data: &[u8]) -> Result<Envelope<'_>, String> {
    let (head, mut rest) = line(data);
    let header: serde_json::Value =
        serde_json::from_slice(head).map_err(|e| format!("invalid envelope header: {e}"))?;
    if !header.is_object() {
        return Err("invalid envelope header: not an object".into());
    }
    let mut items = Vec::new();
    while !rest.is_empty() {
        let (ih, after) = line(rest);
        if ih.iter().all(u8::is_ascii_whitespace) {
            rest = after;
            continue;
        }
        let ih: serde_json::Value =
            serde_json::from_slice(ih).map_err(|e| format!("invalid item header: {e}"))?;
        let kind = ih["type"]
            .as_str()
            .ok_or("invalid item header: missing field `type`")?
            .to_owned();
        let (payload, next) = match ih.get("length").and_then(serde_json::Value::as_u64) {
            Some(n) => {
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                if n > after.len() {
                    return Err("unexpected end of file".into());
                }
                let (p, r) = after.split_at(n);
                (p, r.strip_prefix(b"\n").unwrap_or(r))
            }
            None => line(after),
        };
        items.push(Item { kind, payload });
        rest = next;
    }
    Ok(Envelope { header, items })
}

/// Why a body cannot be read as an envelope's bytes.
#[derive(Debug)]
enum Undecodable {
    /// It inflates beyond `MAX_ENVELOPE`.
    TooLarge,
    /// It is not gzip (the error says why).
    Corrupt(io::Error),
}

/// The body, gunzipped when `Content-Encoding: gzip`, at most
/// `MAX_ENVELOPE` bytes.
fn decoded(req: &HttpRequest) -> Result<Vec<u8>, Undecodable> {
    let gzip = req
        .header("content-encoding")
        .is_some_and(|e| e.trim().eq_ignore_ascii_case("gzip"));
    if !gzip {
        return Ok(req.body.clone());
    }
    let mut out = Vec::new();
    let mut dec = flate2::read::MultiGzDecoder::new(&req.body[..]).take(MAX_ENVELOPE as u64 + 1);
    dec.read_to_end(&mut out).map_err(Undecodable::Corrupt)?;
    if out.len() > MAX_ENVELOPE {
        return Err(Undecodable::TooLarge);
    }
    Ok(out)
}

fn json(status: u16, value: serde_json::Value) -> HttpResponse {
    HttpResponse {
        status,
        content_type: CT_JSON,
        headers: Vec::new(),
        body: value.to_string().into_bytes(),
    }
}

/// The DSN's key: `http://<key>[:<secret>]@host/<project>`.
fn dsn_key(dsn: &str) -> Option<String> {
    let rest = dsn.split_once("://")?.1;
    let user = rest.split_once('@')?.0;
    Some(user.split(':').next().unwrap_or(user).to_owned())
}

/// `BadStoreRequest::InvalidEnvelope` (`endpoints/common.rs`): 400,
/// `ApiErrorResponse` with the parse error as its cause.
fn invalid_envelope(cause: &str) -> HttpResponse {
    json(
        400,
        serde_json::json!({"detail": "invalid event envelope", "causes": [cause]}),
    )
}

/// Answers `POST /api/<project>/envelope/` as Relay does (see the module
/// comment).
pub fn answer(req: &HttpRequest, state: &StateHandle, settings: &Sentry) -> HttpResponse {
    if req.method != "POST" {
        return peer_sentry::method_not_allowed("POST");
    }
    let data = match decoded(req) {
        Ok(data) => data,
        Err(Undecodable::TooLarge) => return peer_sentry::too_large(),
        Err(Undecodable::Corrupt(e)) => {
            return peer_sentry::rejection(400, &format!("Failed to buffer the request body: {e}"))
        }
    };
    let envelope = match parse(&data) {
        Ok(e) => e,
        Err(e) => return invalid_envelope(&e),
    };
    // The header's `event_id` is an `EventId` (a uuid): Relay cannot read
    // a header with another.
    let id = match envelope.header.get("event_id") {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => match v.as_str().and_then(peer_sentry::uuid_simple) {
            Some(id) => Some(id),
            None => return invalid_envelope("invalid envelope header: event_id is not a uuid"),
        },
    };
    let key =
        peer_sentry::key_of(req).or_else(|| envelope.header["dsn"].as_str().and_then(dsn_key));
    let Some(key) = key else {
        return peer_sentry::missing_auth();
    };
    if !peer_sentry::key_ok(&key, settings) {
        return peer_sentry::wrong_key();
    }
    for item in envelope.items.iter().filter(|i| i.kind == "check_in") {
        let check_in: CheckIn = match serde_json::from_slice(item.payload) {
            Ok(c) => c,
            // Relay drops an item it cannot read, not the envelope.
            Err(e) => {
                log::info!("sentry envelope: check_in item dropped: {e}");
                continue;
            }
        };
        let Some(slug) = check_in.monitor_slug.clone() else {
            log::info!("sentry envelope: check_in item without monitor_slug dropped");
            continue;
        };
        if let Err(e) = check_in.rid() {
            log::info!("sentry envelope: check_in item dropped: {e}");
            continue;
        }
        if let Err(r) = peer_sentry::apply(req, state, settings, &slug, &check_in) {
            return r;
        }
    }
    match id {
        Some(id) => json(200, serde_json::json!({ "id": id })),
        None => json(200, serde_json::json!({})),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn envelope_paths() {
        assert!(is_envelope_path("/api/7/envelope/"));
        assert!(is_envelope_path("/api/7/envelope"));
        assert!(!is_envelope_path("/api/x/envelope/"));
        assert!(!is_envelope_path("/api/7/store/"));
    }

    #[test]
    fn items_with_and_without_length() {
        let data = b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n\
            {\"type\":\"check_in\",\"length\":9}\n{\"a\":\"\n\"}\n\
            {\"type\":\"event\"}\n{\"x\":1}\n";
        let e = parse(data).unwrap();
        assert_eq!(e.header["event_id"], "9ec79c33ec9942ab8353589fcb2e04dc");
        assert_eq!(
            e.items,
            [
                Item {
                    kind: "check_in".into(),
                    payload: b"{\"a\":\"\n\"}"
                },
                Item {
                    kind: "event".into(),
                    payload: b"{\"x\":1}"
                },
            ]
        );
        assert!(parse(b"{}\n{\"type\":\"x\",\"length\":50}\nshort").is_err());
        assert!(parse(b"not json\n").is_err());
        assert!(parse(b"{}\n{\"length\":1}\nx").is_err());
        assert_eq!(parse(b"{}").unwrap().items, []);
    }

    #[test]
    fn gzip_is_bounded() {
        let gz = |data: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        };
        let mut req = HttpRequest {
            headers: vec![("Content-Encoding".into(), "gzip".into())],
            body: gz(b"{}\n"),
            ..HttpRequest::default()
        };
        assert_eq!(decoded(&req).ok().as_deref(), Some(&b"{}\n"[..]));
        // A bomb: 10 MiB of zeros in a few KiB.
        req.body = gz(&vec![0u8; 10 << 20]);
        assert!(req.body.len() < 64 << 10);
        assert!(matches!(decoded(&req), Err(Undecodable::TooLarge)));
        req.body = b"not gzip".to_vec();
        assert!(matches!(decoded(&req), Err(Undecodable::Corrupt(_))));
    }

    #[test]
    fn dsn_keys() {
        assert_eq!(dsn_key("http://abc@127.0.0.1:9/7").as_deref(), Some("abc"));
        assert_eq!(dsn_key("https://abc:secret@h/7").as_deref(), Some("abc"));
        assert_eq!(dsn_key("nonsense"), None);
    }
}
