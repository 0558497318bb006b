//! The timeout text of HTTP beats (`?timeout=`, form field, JSON string):
//! integer seconds, `-1`/`none`, `-2`/`auto`, `adaptive` (SPEC 19), `0`, or a duration with a unit
//! (`90s`, `5m`, `2h`, `1d`, `1w`). Everything else is refused with a message that
//! says what is accepted; nothing is ever guessed. Beside it, `auto_model`
//! (`adaptive` with `-2`, SPEC 19) picks the automatic model.

use crate::model::{Millis, TIMEOUT_ADAPTIVE, TIMEOUT_AUTO, TIMEOUT_NONE};
use std::fmt;

/// The longest timeout accepted: 10 years, in seconds.
pub const MAX_TIMEOUT_SECS: u64 = 10 * 365 * 86_400;

/// What the accepted forms are, for every error message.
pub const TIMEOUT_RULE: &str = "a timeout is whole seconds (e.g. 3600), a duration with a unit \
     s, m, h, d or w (e.g. 90s, 5m, 2h, 1d, 1w), -1 or \"none\" (never expires), -2 or \"auto\" \
     (learned from the beats), \"adaptive\" (learned by the adaptive model) or 0 (always error); at most 10 years";

/// Why a timeout was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimeoutError {
    /// Not one of the accepted forms.
    Malformed(String),
    /// Well formed but longer than `MAX_TIMEOUT_SECS`.
    TooLong(String),
}

impl fmt::Display for TimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeoutError::Malformed(text) => {
                write!(f, "invalid timeout {text:?}: {TIMEOUT_RULE}")
            }
            TimeoutError::TooLong(text) => write!(
                f,
                "timeout {text:?} is too long: at most {MAX_TIMEOUT_SECS} seconds (10 years)"
            ),
        }
    }
}

impl std::error::Error for TimeoutError {}

/// Parses the timeout text into milliseconds (or the -1/-2/-3 sentinels;
/// -3, adaptive, only from its name: it is not a number of the API).
pub fn parse_timeout(text: &str) -> Result<Millis, TimeoutError> {
    let t = text.trim();
    let malformed = || TimeoutError::Malformed(shorten(text));
    match t.to_ascii_lowercase().as_str() {
        "-1" | "none" => return Ok(TIMEOUT_NONE),
        "-2" | "auto" => return Ok(TIMEOUT_AUTO),
        "adaptive" => return Ok(TIMEOUT_ADAPTIVE),
        _ => {}
    }
    let (digits, unit_secs) = match t.as_bytes().last() {
        Some(b) if b.is_ascii_digit() => (t, 1u64),
        Some(b) => {
            let secs = match b.to_ascii_lowercase() {
                b's' => 1,
                b'm' => 60,
                b'h' => 3_600,
                b'd' => 86_400,
                b'w' => 7 * 86_400,
                _ => return Err(malformed()),
            };
            (&t[..t.len() - 1], secs)
        }
        None => return Err(malformed()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    // All digits: the only possible failure is overflow.
    let n: u64 = digits
        .parse()
        .map_err(|_| TimeoutError::TooLong(shorten(text)))?;
    secs_to_ms(n.checked_mul(unit_secs), text)
}

/// The key that names the automatic model beside `timeout` (SPEC 19, the
/// 1.x dialect of the database and our JSON replies).
pub const AUTO_MODEL_KEY: &str = "auto_model";

/// What `auto_model` accepts, for its error messages.
const AUTO_MODEL_RULE: &str = "\"auto_model\" names the model of an automatic timeout: \
     \"adaptive\" (SPEC 19) or \"auto\" (the default), with \"timeout\": -2 \
     (or send \"timeout\": \"adaptive\" alone)";

/// Applies an `auto_model` given beside a timeout from the same query or
/// body: `-2` plus `adaptive` is the adaptive timeout (as our replies and
/// the database write it), `-2` plus `auto` stays auto. Without
/// `auto_model` the timeout is unchanged. Anything else (an unknown model,
/// a model without a timeout, with a fixed one, or contradicting it) is
/// refused with the whole message.
pub fn with_auto_model(
    timeout: Option<Millis>,
    model: Option<&str>,
) -> Result<Option<Millis>, String> {
    let Some(model) = model else {
        return Ok(timeout);
    };
    let wanted = match model.trim().to_ascii_lowercase().as_str() {
        crate::model::AUTO_MODEL_ADAPTIVE => TIMEOUT_ADAPTIVE,
        "auto" => TIMEOUT_AUTO,
        _ => {
            return Err(format!(
                "unknown auto_model {:?}: {AUTO_MODEL_RULE}",
                shorten(model)
            ))
        }
    };
    match timeout {
        Some(TIMEOUT_AUTO) => Ok(Some(wanted)),
        Some(t) if t == wanted => Ok(Some(wanted)),
        Some(TIMEOUT_ADAPTIVE) => Err(format!(
            "\"timeout\": \"adaptive\" contradicts auto_model {:?}: {AUTO_MODEL_RULE}",
            shorten(model)
        )),
        Some(_) => Err(format!(
            "auto_model {:?} applies only to an automatic timeout, not a fixed one or none: \
             {AUTO_MODEL_RULE}",
            shorten(model)
        )),
        None => Err(format!(
            "auto_model {:?} without a timeout: {AUTO_MODEL_RULE}",
            shorten(model)
        )),
    }
}

/// Converts whole seconds (already checked non-negative) to milliseconds,
/// refusing anything over `MAX_TIMEOUT_SECS`.
pub fn seconds_to_timeout(secs: u64) -> Result<Millis, TimeoutError> {
    secs_to_ms(Some(secs), &secs.to_string())
}

fn secs_to_ms(secs: Option<u64>, text: &str) -> Result<Millis, TimeoutError> {
    match secs {
        Some(s) if s <= MAX_TIMEOUT_SECS => Ok(s as Millis * 1000),
        _ => Err(TimeoutError::TooLong(shorten(text))),
    }
}

/// Keeps error messages short when someone sends a megabyte of junk.
pub(super) fn shorten(text: &str) -> String {
    const MAX: usize = 64;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_forms() {
        let cases: &[(&str, Millis)] = &[
            ("3600", 3_600_000),
            ("1", 1000),
            ("0", 0),
            ("0090", 90_000),
            ("-1", -1),
            ("none", -1),
            ("NONE", -1),
            ("-2", -2),
            ("auto", -2),
            ("Auto", -2),
            ("adaptive", TIMEOUT_ADAPTIVE),
            (" ADAPTIVE ", TIMEOUT_ADAPTIVE),
            ("90s", 90_000),
            ("5m", 300_000),
            ("5M", 300_000),
            ("2h", 7_200_000),
            ("1d", 86_400_000),
            ("1w", 604_800_000),
            ("2W", 1_209_600_000),
            ("521w", 315_100_800_000),
            ("  42 ", 42_000),
            ("\t5m\n", 300_000),
            ("0s", 0),
            ("315360000", 315_360_000_000),
            ("3650d", 315_360_000_000),
        ];
        for (text, want) in cases {
            assert_eq!(parse_timeout(text), Ok(*want), "{text:?}");
        }
    }

    #[test]
    fn rejected_forms() {
        for text in [
            "", "   ", "5x", "-5", "-0", "+5", "1.5", "1.5.3", "1e3", "5 m", "m", "s", "-1s",
            "auto5", "nonee", "adaptiv", "-3", "0x10", "５", "5mm", "1h30m", "\u{0}",
        ] {
            assert!(
                matches!(parse_timeout(text), Err(TimeoutError::Malformed(_))),
                "{text:?}"
            );
        }
        for text in [
            "99999999999999999999",
            "18446744073709551615d",
            "315360001",
            "3651d",
            "522w",
            "100000000000000000h",
        ] {
            assert!(
                matches!(parse_timeout(text), Err(TimeoutError::TooLong(_))),
                "{text:?}"
            );
        }
    }

    #[test]
    fn messages_say_what_is_accepted() {
        let e = parse_timeout("5x").unwrap_err().to_string();
        assert!(
            e.contains("5m")
                && e.contains("auto")
                && e.contains("adaptive")
                && e.contains("\"5x\""),
            "{e}"
        );
        let long = "9".repeat(10_000);
        let e = parse_timeout(&long).unwrap_err().to_string();
        assert!(e.len() < 200, "{e}");
        let e = parse_timeout(&"é".repeat(100)).unwrap_err().to_string();
        assert!(e.contains("..."));
    }

    /// SPEC 19's 1.x dialect: -2 plus `auto_model` picks the model; an
    /// unknown model, or one that does not fit the timeout, is refused.
    #[test]
    fn auto_model_beside_the_timeout() {
        let ok = |t, m| with_auto_model(t, m);
        assert_eq!(ok(Some(TIMEOUT_AUTO), None), Ok(Some(TIMEOUT_AUTO)));
        assert_eq!(ok(None, None), Ok(None));
        assert_eq!(ok(Some(60_000), None), Ok(Some(60_000)));
        for m in ["adaptive", " Adaptive "] {
            assert_eq!(ok(Some(TIMEOUT_AUTO), Some(m)), Ok(Some(TIMEOUT_ADAPTIVE)));
            assert_eq!(
                ok(Some(TIMEOUT_ADAPTIVE), Some(m)),
                Ok(Some(TIMEOUT_ADAPTIVE))
            );
        }
        assert_eq!(ok(Some(TIMEOUT_AUTO), Some("auto")), Ok(Some(TIMEOUT_AUTO)));
        let refused = [
            (Some(TIMEOUT_AUTO), "phi", "unknown auto_model \"phi\""),
            (Some(TIMEOUT_AUTO), "", "unknown auto_model \"\""),
            (None, "adaptive", "without a timeout"),
            (Some(60_000), "adaptive", "not a fixed one"),
            (Some(TIMEOUT_NONE), "adaptive", "not a fixed one or none"),
            (Some(0), "auto", "not a fixed one"),
            (Some(TIMEOUT_ADAPTIVE), "auto", "contradicts"),
        ];
        for (timeout, model, says) in refused {
            let e = ok(timeout, Some(model)).unwrap_err();
            assert!(e.contains(says) && e.contains("\"adaptive\""), "{e}");
        }
        let e = ok(Some(TIMEOUT_AUTO), Some(&"x".repeat(10_000))).unwrap_err();
        assert!(e.len() < 400, "{e}");
    }

    #[test]
    fn seconds() {
        assert_eq!(seconds_to_timeout(60), Ok(60_000));
        assert!(seconds_to_timeout(u64::MAX).is_err());
    }
}
