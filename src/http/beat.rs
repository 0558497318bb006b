//! Turns an HTTP beat (`POST /api/services/<name>`) into an `Update`: the
//! timeout may come from the query, a form body or a JSON body, and the JSON
//! body may say `"beat": false`. Beside `timeout`, `auto_model` picks the
//! automatic model (`-2` + `adaptive`, SPEC 19). Nothing here touches the
//! state.

use super::timeout::{
    parse_timeout, seconds_to_timeout, with_auto_model, TimeoutError, AUTO_MODEL_KEY, TIMEOUT_RULE,
};
use super::urlenc;
use crate::model::{Millis, Update, TIMEOUT_AUTO, TIMEOUT_NONE};
use std::fmt;

/// Why a beat request was refused (all 400).
#[derive(Debug, PartialEq)]
pub enum BeatError {
    Timeout(TimeoutError),
    /// The body is not UTF-8.
    NotUtf8,
    /// The body is not valid JSON.
    BadJson(String),
    /// Valid JSON of the wrong shape.
    WrongType(String),
    /// A job setting (SPEC 14) in the wrong form: the whole message.
    Setting(String),
}

impl fmt::Display for BeatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BeatError::Timeout(e) => e.fmt(f),
            BeatError::NotUtf8 => write!(f, "the request body is not valid UTF-8"),
            BeatError::BadJson(e) => write!(
                f,
                "the request body is not valid JSON ({e}); send e.g. {{\"timeout\": 3600, \"beat\": true}}"
            ),
            BeatError::WrongType(e) | BeatError::Setting(e) => write!(f, "{e}"),
        }
    }
}

impl From<TimeoutError> for BeatError {
    fn from(e: TimeoutError) -> Self {
        BeatError::Timeout(e)
    }
}

/// What kind of body was sent, from its `Content-Type`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BodyKind {
    Json,
    Form,
    /// Anything else: the body is ignored (1.x clients send all sorts).
    Other,
}

impl BodyKind {
    pub fn from_content_type(ct: Option<&str>) -> Self {
        let Some(ct) = ct else {
            return BodyKind::Other;
        };
        let mime = ct.split(';').next().unwrap_or("").trim();
        if mime.eq_ignore_ascii_case("application/json") {
            BodyKind::Json
        } else if mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            BodyKind::Form
        } else {
            BodyKind::Other
        }
    }
}

/// The update a beat request asks for. `Ok(None)` means "nothing to do"
/// (`{"beat": false}` without a timeout). A timeout in the body wins over one
/// in the query.
pub fn beat_update(query: &str, kind: BodyKind, body: &[u8]) -> Result<Option<Update>, BeatError> {
    let pairs = urlenc::parse_pairs(query);
    let mut timeout = urlenc::get(&pairs, "timeout")
        .map(parse_timeout)
        .transpose()?;
    timeout = with_auto_model(timeout, urlenc::get(&pairs, AUTO_MODEL_KEY))
        .map_err(BeatError::Setting)?;
    let mut beat = true;
    match kind {
        BodyKind::Json => {
            let (t, b) = parse_json_body(body)?;
            if t.is_some() {
                timeout = t;
            }
            beat = b;
        }
        BodyKind::Form => {
            let text = std::str::from_utf8(body).map_err(|_| BeatError::NotUtf8)?;
            let form = urlenc::parse_pairs(text);
            let t = urlenc::get(&form, "timeout")
                .map(parse_timeout)
                .transpose()?;
            let t = with_auto_model(t, urlenc::get(&form, AUTO_MODEL_KEY))
                .map_err(BeatError::Setting)?;
            if t.is_some() {
                timeout = t;
            }
        }
        BodyKind::Other => {}
    }
    Ok(match (timeout, beat) {
        (None, true) => Some(Update::Beat),
        (None, false) => None,
        (Some(t), true) => Some(Update::SetTimeoutAndBeat(t)),
        (Some(t), false) => Some(Update::SetTimeout(t)),
    })
}

/// Parses `{"timeout": ..., "beat": ...}`: returns the timeout (if any) and
/// whether to beat. An empty (or all-whitespace) body is a plain beat;
/// unknown keys are ignored, as 1.x did; `null` means "not given".
pub fn parse_json_body(body: &[u8]) -> Result<(Option<Millis>, bool), BeatError> {
    Ok(json_fields(body)?.map_or((None, true), |(_, timeout, beat)| (timeout, beat)))
}

/// A JSON settings body as an object, with its `timeout` and `beat` read;
/// `None` for an empty body.
pub(super) fn json_fields(body: &[u8]) -> Result<Option<JsonFields>, BeatError> {
    let text = std::str::from_utf8(body).map_err(|_| BeatError::NotUtf8)?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| BeatError::BadJson(e.to_string()))?;
    let serde_json::Value::Object(obj) = value else {
        return Err(BeatError::WrongType(
            "the JSON body must be an object, e.g. {\"timeout\": 3600, \"beat\": false}".into(),
        ));
    };
    let timeout = match obj.get("timeout") {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => Some(json_timeout(v)?),
    };
    let timeout = match obj.get(AUTO_MODEL_KEY) {
        None | Some(serde_json::Value::Null) => timeout,
        Some(serde_json::Value::String(model)) => {
            with_auto_model(timeout, Some(model)).map_err(BeatError::Setting)?
        }
        Some(other) => {
            return Err(BeatError::WrongType(format!(
                "\"auto_model\" must be a string such as \"adaptive\", not {}",
                short_json(other)
            )))
        }
    };
    let beat = match obj.get("beat") {
        None | Some(serde_json::Value::Null) => true,
        Some(serde_json::Value::Bool(b)) => *b,
        Some(other) => {
            return Err(BeatError::WrongType(format!(
                "\"beat\" must be true or false, not {}",
                short_json(other)
            )))
        }
    };
    Ok(Some((obj, timeout, beat)))
}

/// A JSON body's object, its `timeout` and its `beat`.
pub(super) type JsonFields = (
    serde_json::Map<String, serde_json::Value>,
    Option<Millis>,
    bool,
);

/// A JSON `timeout`: an integer (seconds, or -1/-2/0), a float only when it
/// is integral (`3600.0`), or a string in the timeout text syntax.
fn json_timeout(v: &serde_json::Value) -> Result<Millis, BeatError> {
    let bad = || TimeoutError::Malformed(short_json(v));
    match v {
        serde_json::Value::String(s) => Ok(parse_timeout(s)?),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                return match i {
                    -1 => Ok(TIMEOUT_NONE),
                    -2 => Ok(TIMEOUT_AUTO),
                    i if i >= 0 => Ok(seconds_to_timeout(i as u64)?),
                    _ => Err(bad().into()),
                };
            }
            if let Some(u) = n.as_u64() {
                return Ok(seconds_to_timeout(u)?);
            }
            match n.as_f64() {
                Some(f) if f.fract() == 0.0 && (-2.0..=u64::MAX as f64).contains(&f) => {
                    match f as i64 {
                        -1 => Ok(TIMEOUT_NONE),
                        -2 => Ok(TIMEOUT_AUTO),
                        i if i >= 0 => Ok(seconds_to_timeout(f as u64)?),
                        _ => Err(bad().into()),
                    }
                }
                Some(f) if f.fract() == 0.0 && f > 0.0 => {
                    Err(TimeoutError::TooLong(short_json(v)).into())
                }
                _ => Err(bad().into()),
            }
        }
        _ => Err(BeatError::WrongType(format!(
            "\"timeout\" must be a number of seconds or a string; {TIMEOUT_RULE}"
        ))),
    }
}

fn short_json(v: &serde_json::Value) -> String {
    let s = v.to_string();
    if s.len() > 64 {
        let mut end = 64;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(body: &str) -> Result<Option<Update>, BeatError> {
        beat_update("", BodyKind::Json, body.as_bytes())
    }

    #[test]
    fn content_types() {
        assert_eq!(
            BodyKind::from_content_type(Some("application/json; charset=utf-8")),
            BodyKind::Json
        );
        assert_eq!(
            BodyKind::from_content_type(Some("Application/X-WWW-Form-Urlencoded")),
            BodyKind::Form
        );
        assert_eq!(
            BodyKind::from_content_type(Some("text/plain")),
            BodyKind::Other
        );
        assert_eq!(BodyKind::from_content_type(None), BodyKind::Other);
    }

    #[test]
    fn query_and_form() {
        let up = |q: &str, k, b: &str| beat_update(q, k, b.as_bytes());
        assert_eq!(up("", BodyKind::Other, ""), Ok(Some(Update::Beat)));
        assert_eq!(
            up("timeout=5m", BodyKind::Other, "junk"),
            Ok(Some(Update::SetTimeoutAndBeat(300_000)))
        );
        assert_eq!(
            up("timeout=auto", BodyKind::Other, ""),
            Ok(Some(Update::SetTimeoutAndBeat(-2)))
        );
        assert_eq!(
            up("", BodyKind::Form, "timeout=60&other=1"),
            Ok(Some(Update::SetTimeoutAndBeat(60_000)))
        );
        assert_eq!(
            up("", BodyKind::Form, "timeout=+90s+"),
            Ok(Some(Update::SetTimeoutAndBeat(90_000)))
        );
        assert_eq!(
            up("timeout=1", BodyKind::Form, "timeout=2"),
            Ok(Some(Update::SetTimeoutAndBeat(2000)))
        );
        assert_eq!(up("", BodyKind::Form, ""), Ok(Some(Update::Beat)));
        assert!(matches!(
            up("timeout=5x", BodyKind::Other, ""),
            Err(BeatError::Timeout(_))
        ));
        assert!(matches!(
            up("", BodyKind::Form, "timeout=-5"),
            Err(BeatError::Timeout(_))
        ));
        assert_eq!(
            up("", BodyKind::Form, "timeout=\u{0}\u{1}")
                .map_err(|e| matches!(e, BeatError::Timeout(_))),
            Err(true)
        );
        assert_eq!(
            beat_update("", BodyKind::Form, b"timeout=\xff"),
            Err(BeatError::NotUtf8)
        );
        // a bad query timeout is refused even when the body has a good one
        assert!(up("timeout=bad", BodyKind::Form, "timeout=5").is_err());
    }

    #[test]
    fn json_bodies() {
        assert_eq!(json(""), Ok(Some(Update::Beat)));
        assert_eq!(json("  \n"), Ok(Some(Update::Beat)));
        assert_eq!(json("{}"), Ok(Some(Update::Beat)));
        assert_eq!(
            json(r#"{"timeout": 3600}"#),
            Ok(Some(Update::SetTimeoutAndBeat(3_600_000)))
        );
        assert_eq!(
            json(r#"{"timeout": 3600, "beat": false}"#),
            Ok(Some(Update::SetTimeout(3_600_000)))
        );
        assert_eq!(json(r#"{"beat": false}"#), Ok(None));
        assert_eq!(json(r#"{"beat": true}"#), Ok(Some(Update::Beat)));
        assert_eq!(
            json(r#"{"timeout": -1}"#),
            Ok(Some(Update::SetTimeoutAndBeat(-1)))
        );
        assert_eq!(
            json(r#"{"timeout": -2}"#),
            Ok(Some(Update::SetTimeoutAndBeat(-2)))
        );
        assert_eq!(
            json(r#"{"timeout": 0}"#),
            Ok(Some(Update::SetTimeoutAndBeat(0)))
        );
        assert_eq!(
            json(r#"{"timeout": "5m"}"#),
            Ok(Some(Update::SetTimeoutAndBeat(300_000)))
        );
        assert_eq!(
            json(r#"{"timeout": "auto", "beat": false}"#),
            Ok(Some(Update::SetTimeout(-2)))
        );
        assert_eq!(
            json(r#"{"timeout": 60.0}"#),
            Ok(Some(Update::SetTimeoutAndBeat(60_000)))
        );
        assert_eq!(
            json(r#"{"timeout": -2.0}"#),
            Ok(Some(Update::SetTimeoutAndBeat(-2)))
        );
        assert_eq!(
            json(r#"{"timeout": null, "extra": [1]}"#),
            Ok(Some(Update::Beat))
        );
        assert_eq!(
            beat_update("timeout=5", BodyKind::Json, br#"{"beat": false}"#),
            Ok(Some(Update::SetTimeout(5000)))
        );
    }

    #[test]
    fn bad_json_bodies() {
        for body in ["{", "nope", "{\"timeout\": }", "[1,2", "{'a': 1}"] {
            assert!(matches!(json(body), Err(BeatError::BadJson(_))), "{body}");
        }
        for body in ["[]", "3600", "\"5m\"", "null", "true"] {
            assert!(matches!(json(body), Err(BeatError::WrongType(_))), "{body}");
        }
        for body in [
            r#"{"timeout": true}"#,
            r#"{"timeout": [1]}"#,
            r#"{"timeout": {}}"#,
            r#"{"beat": "yes"}"#,
            r#"{"beat": 1}"#,
        ] {
            assert!(matches!(json(body), Err(BeatError::WrongType(_))), "{body}");
        }
        for body in [
            r#"{"timeout": -5}"#,
            r#"{"timeout": -3}"#,
            r#"{"timeout": 1.5}"#,
            r#"{"timeout": -1.5}"#,
            r#"{"timeout": -1e300}"#,
            r#"{"timeout": "5x"}"#,
            r#"{"timeout": ""}"#,
        ] {
            assert!(
                matches!(
                    json(body),
                    Err(BeatError::Timeout(TimeoutError::Malformed(_)))
                ),
                "{body}"
            );
        }
        for body in [
            r#"{"timeout": 99999999999999999999}"#,
            r#"{"timeout": 18446744073709551615}"#,
            r#"{"timeout": 1e300}"#,
            r#"{"timeout": 315360001}"#,
            r#"{"timeout": "99999999999999999999"}"#,
        ] {
            assert!(
                matches!(
                    json(body),
                    Err(BeatError::Timeout(TimeoutError::TooLong(_)))
                ),
                "{body}"
            );
        }
        assert_eq!(
            beat_update("", BodyKind::Json, b"{\"timeout\": \"\xff\"}"),
            Err(BeatError::NotUtf8)
        );
        // deep nesting is refused by serde_json's recursion limit, not a crash
        let deep = "[".repeat(100_000);
        assert!(json(&deep).is_err());
    }

    #[test]
    fn messages_are_useful() {
        let e = json("{").unwrap_err().to_string();
        assert!(e.contains("not valid JSON"), "{e}");
        let e = json(r#"{"timeout": 1.5}"#).unwrap_err().to_string();
        assert!(e.contains("whole seconds"), "{e}");
    }

    /// SPEC 19: `"timeout": -2` plus `"auto_model": "adaptive"` (what our
    /// replies say of an adaptive service) sets the adaptive timeout, in a
    /// JSON body, a form body or the query alike; a bad `auto_model` is a
    /// 400 that names it.
    #[test]
    fn auto_model_in_bodies_and_the_query() {
        use crate::model::TIMEOUT_ADAPTIVE;
        let adaptive = Ok(Some(Update::SetTimeoutAndBeat(TIMEOUT_ADAPTIVE)));
        assert_eq!(
            json(r#"{"timeout": -2, "auto_model": "adaptive"}"#),
            adaptive
        );
        assert_eq!(
            json(r#"{"timeout": "auto", "auto_model": "adaptive"}"#),
            adaptive
        );
        assert_eq!(
            json(r#"{"timeout": -2.0, "auto_model": "adaptive"}"#),
            adaptive
        );
        assert_eq!(
            json(r#"{"timeout": -2, "auto_model": "adaptive", "beat": false}"#),
            Ok(Some(Update::SetTimeout(TIMEOUT_ADAPTIVE)))
        );
        assert_eq!(
            json(r#"{"timeout": -2, "auto_model": null}"#),
            Ok(Some(Update::SetTimeoutAndBeat(-2)))
        );
        assert_eq!(
            beat_update("", BodyKind::Form, b"timeout=-2&auto_model=adaptive"),
            adaptive
        );
        assert_eq!(
            beat_update("timeout=-2&auto_model=adaptive", BodyKind::Other, b""),
            adaptive
        );
        for (body, says) in [
            (
                r#"{"timeout": -2, "auto_model": "phi"}"#,
                "unknown auto_model \"phi\"",
            ),
            (r#"{"auto_model": "adaptive"}"#, "without a timeout"),
            (r#"{"timeout": 60, "auto_model": "adaptive"}"#, "fixed"),
            (r#"{"timeout": -2, "auto_model": 3}"#, "must be a string"),
        ] {
            let e = json(body).unwrap_err().to_string();
            assert!(e.contains(says), "{body}: {e}");
        }
        assert!(beat_update("", BodyKind::Form, b"timeout=-2&auto_model=phi").is_err());
    }
}
