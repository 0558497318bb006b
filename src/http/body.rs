//! Request bodies: how much of one a route reads (`body_limit`: a run's
//! output is cut, anything else refused beyond `MAX_BODY`), reading it
//! within a deadline (`read_body`, with the `Connection: upgrade` case of
//! proxies), and the 413 sent before reading (`reject_oversized`).

use super::peer_sentry_envelope;
use super::{router, to_tiny, BodyKind, HttpRequest, HttpResponse, MAX_BODY};
use std::io::{self, Read};
use std::time::{Duration, Instant};

/// Longest time spent reading one request body.
const BODY_DEADLINE: Duration = Duration::from_secs(10);

/// How much of a request body is read into memory, and what happens to
/// more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct BodyLimit {
    /// Bytes kept.
    pub(super) max: usize,
    /// More is cut off (the rest is drained unread when the request is
    /// dropped, see `vendor/tiny_http`) instead of refused with 413.
    pub(super) truncate: bool,
}

/// The body limit of a route: a run's output (signal routes, and a beat
/// whose body is not JSON) is read up to `max_body_bytes` and cut there,
/// never refused; a form body of a beat may still be settings, so it is
/// read up to the larger of that and `MAX_BODY`; everything else (JSON
/// settings included) as before: `MAX_BODY`, 413 beyond.
pub(super) fn body_limit(endpoint: &router::Endpoint, req: &HttpRequest) -> BodyLimit {
    let output = BodyLimit {
        max: req.max_body_bytes,
        truncate: true,
    };
    match endpoint {
        router::Endpoint::Signal(..)
        | router::Endpoint::BadSignal(_)
        | router::Endpoint::Healthchecks
        | router::Endpoint::UptimeKuma
        | router::Endpoint::Cronitor => output,
        // Sentry's envelopes may be gzip: refused beyond, never cut.
        router::Endpoint::Sentry => BodyLimit {
            max: peer_sentry_envelope::MAX_ENVELOPE,
            truncate: false,
        },
        router::Endpoint::Beat(_) => {
            match BodyKind::from_content_type(req.header("content-type")) {
                BodyKind::Json => BodyLimit {
                    max: MAX_BODY,
                    truncate: false,
                },
                BodyKind::Form => BodyLimit {
                    max: req.max_body_bytes.max(MAX_BODY),
                    truncate: true,
                },
                BodyKind::Other => output,
            }
        }
        _ => BodyLimit {
            max: MAX_BODY,
            truncate: false,
        },
    }
}

pub(super) enum BodyError {
    TooLarge,
    Io(io::Error),
}

/// Reads the body, never more than `limit.max + 1` bytes (so a chunked
/// body cannot exceed the limit either) and for at most `BODY_DEADLINE`.
/// Beyond `limit.max`: `TooLarge`, or, when `limit.truncate`, the first
/// `limit.max` bytes and `true` (the rest is not read here).
///
/// A request saying `Connection: upgrade` gets the raw connection as its
/// body from tiny_http (meant for protocol switches). nginx configured as
/// in the README's reverse-proxy section sends that header on every
/// request, so for those the body is cut at `Content-Length` (none: empty)
/// here, or a POST through the proxy would wait for the connection to end.
pub(super) fn read_body(
    rq: &mut tiny_http::Request,
    limit: BodyLimit,
) -> Result<(Vec<u8>, bool), BodyError> {
    if rq.body_length() == Some(0) {
        // `Content-Length: 0` (every beat from curl -X POST): tiny_http's
        // body is empty, with or without `Connection: upgrade`; no buffer
        // to clear and free.
        return Ok((Vec::new(), false));
    }
    let start = Instant::now();
    let mut body = Vec::new();
    let upgrade = rq.headers().iter().any(|h| {
        h.field.equiv("Connection") && h.value.as_str().to_ascii_lowercase().contains("upgrade")
    });
    let cap = if upgrade {
        let chunked = rq
            .headers()
            .iter()
            .any(|h| h.field.equiv("Transfer-Encoding"));
        if chunked {
            return Err(BodyError::Io(io::Error::other(
                "a chunked body with Connection: upgrade is not supported; send Content-Length",
            )));
        }
        rq.body_length().unwrap_or(0).min(limit.max + 1) as u64
    } else {
        limit.max as u64 + 1
    };
    let mut reader = rq.as_reader().take(cap);
    // Read straight into the body (on the heap): an 8 KiB buffer on the
    // stack would stay resident in every idle connection's thread.
    loop {
        let old = body.len();
        body.resize(old + 4096, 0);
        let read = reader.read(&mut body[old..]);
        body.truncate(old + *read.as_ref().unwrap_or(&0));
        match read {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(BodyError::Io(e)),
        }
        if body.len() > limit.max {
            if !limit.truncate {
                return Err(BodyError::TooLarge);
            }
            body.truncate(limit.max);
            if upgrade {
                // The raw connection: nothing drains the rest for us, and
                // it must not be read as the next request.
                let rest = rq.body_length().unwrap_or(0) as u64 - cap;
                discard(rq.as_reader().take(rest), start);
            }
            return Ok((body, true));
        }
        if start.elapsed() > BODY_DEADLINE {
            return Err(BodyError::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                "the body took too long to arrive",
            )));
        }
    }
    Ok((body, false))
}

/// Reads `reader` to its end into nothing, through a small heap buffer,
/// for at most what is left of `BODY_DEADLINE` since `start`.
fn discard(mut reader: impl Read, start: Instant) {
    let mut scratch = vec![0u8; 4096];
    while start.elapsed() <= BODY_DEADLINE {
        match reader.read(&mut scratch) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Answers 413 to a request whose Content-Length is over the limit, without
/// reading the body (tiny_http drains it when the request is dropped, on
/// this connection's own thread, through a fixed buffer in our patched copy)
/// and closes the connection.
pub(super) fn reject_oversized(
    rq: tiny_http::Request,
    len: usize,
    mut resp: HttpResponse,
    header: Option<(String, String)>,
) {
    log::debug!("HTTP request declaring a {len}-byte body refused");
    resp.headers.extend(header);
    let mut resp = to_tiny(resp);
    if let Ok(close) = tiny_http::Header::from_bytes(&b"Connection"[..], &b"close"[..]) {
        resp.add_header(close);
    }
    if let Err(e) = rq.respond(resp) {
        log::debug!("413 reply not sent: {e}");
    }
}
