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

use super::peer_sentry::{self, CheckIn};
use super::request::{HttpRequest, HttpResponse, CT_JSON};
use crate::config::Sentry;
use crate::state::StateHandle;
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

/// The body, gunzipped when `Content-Encoding: gzip`; `None` when it does
/// not inflate or inflates beyond `MAX_ENVELOPE`.
fn decoded(req: &HttpRequest) -> Option<Vec<u8>> {
    let gzip = req
        .header("content-encoding")
        .is_some_and(|e| e.trim().eq_ignore_ascii_case("gzip"));
    if !gzip {
        return Some(req.body.clone());
    }
    let mut out = Vec::new();
    let mut dec = flate2::read::MultiGzDecoder::new(&req.body[..]).take(MAX_ENVELOPE as u64 + 1);
    dec.read_to_end(&mut out).ok()?;
    (out.len() <= MAX_ENVELOPE).then_some(out)
}

fn json(status: u16, value: serde_json::Value) -> HttpResponse {
    HttpResponse {
        status,
        content_type: CT_JSON,
        headers: vec![("Access-Control-Allow-Origin".to_owned(), "*".to_owned())],
        body: value.to_string().into_bytes(),
    }
}

/// The DSN's key: `http://<key>[:<secret>]@host/<project>`.
fn dsn_key(dsn: &str) -> Option<String> {
    let rest = dsn.split_once("://")?.1;
    let user = rest.split_once('@')?.0;
    Some(user.split(':').next().unwrap_or(user).to_owned())
}

/// Answers `POST /api/<project>/envelope/` as Relay does: 200
/// `{"id":"<event_id>"}` (or `{}` without one), `envelope.rs`
/// `StoreResponse`; a body that is no envelope is 400 with Relay's
/// `{"detail": ...}`.
pub fn answer(req: &HttpRequest, state: &StateHandle, settings: &Sentry) -> HttpResponse {
    if req.method != "POST" {
        let mut r = peer_sentry::not_found();
        r.status = 405;
        r.headers.push(("Allow".to_owned(), "POST".to_owned()));
        return r;
    }
    let Some(data) = decoded(req) else {
        // `BadStoreRequest::PayloadError(Overflow)` (`endpoints/common.rs`): 413.
        return peer_sentry::detail(413, "failed to read request body");
    };
    let envelope = match parse(&data) {
        Ok(e) => e,
        // `BadStoreRequest::InvalidEnvelope` (`endpoints/common.rs`): 400,
        // the parse error as its cause.
        Err(e) => {
            let body = serde_json::json!({"detail": "invalid event envelope", "causes": [e]});
            let mut r = json(400, body);
            r.headers.clear();
            return r;
        }
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
        if let Err(r) = peer_sentry::apply(req, state, settings, &slug, &check_in) {
            return r;
        }
    }
    let id = envelope.header["event_id"]
        .as_str()
        .map(|s| s.replace('-', "").to_ascii_lowercase());
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
        assert_eq!(decoded(&req).as_deref(), Some(&b"{}\n"[..]));
        // A bomb: 10 MiB of zeros in a few KiB.
        req.body = gz(&vec![0u8; 10 << 20]);
        assert!(req.body.len() < 64 << 10);
        assert_eq!(decoded(&req), None);
        req.body = b"not gzip".to_vec();
        assert_eq!(decoded(&req), None);
    }

    #[test]
    fn dsn_keys() {
        assert_eq!(dsn_key("http://abc@127.0.0.1:9/7").as_deref(), Some("abc"));
        assert_eq!(dsn_key("https://abc:secret@h/7").as_deref(), Some("abc"));
        assert_eq!(dsn_key("nonsense"), None);
    }
}
