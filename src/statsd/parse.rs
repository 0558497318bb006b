//! The statsd line format of Lovebeat (SPEC 3): `<service>.beat:<n>|c`,
//! `<service>.timeout:<secs>|g`, `<service>.autobeat:<n>|c`, with type `c`,
//! `g` or `ms` and an optional sample rate `|@<rate>`; and the run signals
//! of SPEC 14.4: `<service>.start:1|c`, `<service>.fail:1|c`,
//! `<service>.exit:<code>|g` (an exit code 0-255, digits only). Parsing
//! borrows from the input and allocates nothing per line.
//!
//! Numbers are `-?digits(.digits)?` (no `+`, no exponent, no spaces, a digit
//! on both sides of the dot). Beat and autobeat values are checked and then
//! ignored; their whole part must fit an i64 (like `ParseInt` in 1.x). A
//! timeout is `-1` (none), `-2` (auto), `0` (always error), or positive
//! seconds up to 10 years; fractions are kept to the millisecond and
//! truncated below it, and a positive value under 1 ms is refused rather
//! than silently becoming `0` (always error).

use crate::counters::Counters;
use crate::model::is_valid_name;
use crate::model::{Batch, Millis, Update, NAME_RULE, TIMEOUT_AUTO, TIMEOUT_NONE};
use std::fmt;

/// Longest accepted timeout: 10 years of 365.25 days, in milliseconds.
pub const MAX_TIMEOUT_MS: Millis = 315_576_000 * 1000;

/// Invalid line in the debug log: at most this many bytes are shown.
const LOG_LINE_MAX: usize = 100;

/// Why a statsd line was refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LineError {
    /// Nothing but an optional `\r`.
    Empty,
    NotUtf8,
    NoColon,
    NoType,
    UnknownType,
    BadSampleRate,
    UnknownMetric,
    BadValue,
    ValueOutOfRange,
    NegativeTimeout,
    /// An `.exit` value that is not a whole number 0-255.
    BadExitCode,
    BadName,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let msg = match self {
            LineError::Empty => "empty line",
            LineError::NotUtf8 => "line is not valid UTF-8",
            LineError::NoColon => {
                "no ':' in line; expected <service>.beat:1|c, <service>.timeout:<secs>|g, \
                 <service>.autobeat:1|c, <service>.start:1|c, <service>.fail:1|c or \
                 <service>.exit:<code>|g"
            }
            LineError::NoType => "no '|<type>' after the value; expected e.g. <service>.beat:1|c",
            LineError::UnknownType => "unknown metric type; use c, g or ms",
            LineError::BadSampleRate => {
                "after the type only an optional sample rate like |@0.5 is allowed"
            }
            LineError::UnknownMetric => {
                "unknown metric; the name must end in .beat, .timeout, .autobeat, .start, \
                 .fail or .exit"
            }
            LineError::BadValue => "value is not a number (expected e.g. 1, -1 or 1.5)",
            LineError::ValueOutOfRange => {
                "value out of range (a timeout must be -1, -2, 0, or 0.001 s to 10 years)"
            }
            LineError::NegativeTimeout => {
                "negative timeout; use -1 for no timeout, -2 for auto, 0 for always error"
            }
            LineError::BadExitCode => {
                "an exit code is a whole number from 0 to 255 (e.g. .exit:3|g)"
            }
            LineError::BadName => return write!(f, "invalid service name: {NAME_RULE}"),
        };
        f.write_str(msg)
    }
}

impl std::error::Error for LineError {}

/// Which of the three metrics a line names.
#[derive(Clone, Copy)]
enum Metric {
    Beat,
    Timeout,
    Autobeat,
    Start,
    Fail,
    Exit,
}

/// A parsed `-?digits(.digits)?`.
struct Number {
    negative: bool,
    whole: i64,
    /// The first three fraction digits, as milliseconds.
    frac_ms: i64,
    /// A non-zero fraction digit beyond the third.
    sub_ms: bool,
}

fn parse_number(s: &[u8]) -> Result<Number, LineError> {
    let (negative, s) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let (int, frac) = match s.iter().position(|&b| b == b'.') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    if int.is_empty() || !int.iter().all(u8::is_ascii_digit) {
        return Err(LineError::BadValue);
    }
    let mut whole: i64 = 0;
    for &d in int {
        whole = whole
            .checked_mul(10)
            .and_then(|w| w.checked_add(i64::from(d - b'0')))
            .ok_or(LineError::ValueOutOfRange)?;
    }
    let mut frac_ms = 0;
    let mut sub_ms = false;
    if let Some(frac) = frac {
        if frac.is_empty() || !frac.iter().all(u8::is_ascii_digit) {
            return Err(LineError::BadValue);
        }
        for i in 0..3 {
            frac_ms = frac_ms * 10 + frac.get(i).map_or(0, |&d| i64::from(d - b'0'));
        }
        sub_ms = frac.iter().skip(3).any(|&d| d != b'0');
    }
    Ok(Number {
        negative,
        whole,
        frac_ms,
        sub_ms,
    })
}

fn timeout_ms(value: &[u8]) -> Result<Millis, LineError> {
    let n = parse_number(value)?;
    let exact_ms = n.frac_ms == 0 && !n.sub_ms;
    if n.negative {
        return match (n.whole, exact_ms) {
            (1, true) => Ok(TIMEOUT_NONE),
            (2, true) => Ok(TIMEOUT_AUTO),
            _ => Err(LineError::NegativeTimeout),
        };
    }
    let ms = n
        .whole
        .checked_mul(1000)
        .and_then(|ms| ms.checked_add(n.frac_ms))
        .ok_or(LineError::ValueOutOfRange)?;
    if ms > MAX_TIMEOUT_MS || (ms == 0 && n.sub_ms) {
        return Err(LineError::ValueOutOfRange);
    }
    Ok(ms)
}

/// An exit code: 1-3 digits, 0 to 255 (no sign, no fraction).
fn exit_code(value: &[u8]) -> Result<u8, LineError> {
    if value.is_empty() || value.len() > 3 || !value.iter().all(u8::is_ascii_digit) {
        return Err(LineError::BadExitCode);
    }
    let code = value
        .iter()
        .fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    u8::try_from(code).map_err(|_| LineError::BadExitCode)
}

/// `@` followed by `[0-9.]+` with at least one digit and at most one dot.
fn valid_sample_rate(s: &[u8]) -> bool {
    match s.split_first() {
        Some((b'@', rate)) => {
            rate.iter().any(u8::is_ascii_digit)
                && rate.iter().all(|&b| b.is_ascii_digit() || b == b'.')
                && rate.iter().filter(|&&b| b == b'.').count() <= 1
        }
        _ => false,
    }
}

/// Parses one statsd line (a trailing `\n` and/or `\r` is tolerated) into
/// the service name and the update it asks for.
pub fn parse_line(line: &[u8]) -> Result<(&str, Update), LineError> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        return Err(LineError::Empty);
    }
    let line = std::str::from_utf8(line).map_err(|_| LineError::NotUtf8)?;
    let (key, rest) = line.split_once(':').ok_or(LineError::NoColon)?;
    let (value, rest) = rest.split_once('|').ok_or(LineError::NoType)?;
    let (kind, rate) = match rest.split_once('|') {
        Some((kind, rate)) => (kind, Some(rate)),
        None => (rest, None),
    };
    if !matches!(kind, "c" | "g" | "ms") {
        return Err(LineError::UnknownType);
    }
    if let Some(rate) = rate {
        if !valid_sample_rate(rate.as_bytes()) {
            return Err(LineError::BadSampleRate);
        }
    }
    let (name, metric) = if let Some(name) = key.strip_suffix(".beat") {
        (name, Metric::Beat)
    } else if let Some(name) = key.strip_suffix(".timeout") {
        (name, Metric::Timeout)
    } else if let Some(name) = key.strip_suffix(".autobeat") {
        (name, Metric::Autobeat)
    } else if let Some(name) = key.strip_suffix(".start") {
        (name, Metric::Start)
    } else if let Some(name) = key.strip_suffix(".fail") {
        (name, Metric::Fail)
    } else if let Some(name) = key.strip_suffix(".exit") {
        (name, Metric::Exit)
    } else {
        return Err(LineError::UnknownMetric);
    };
    if !is_valid_name(name) {
        return Err(LineError::BadName);
    }
    let update = match metric {
        Metric::Beat => {
            parse_number(value.as_bytes())?;
            Update::Beat
        }
        Metric::Autobeat => {
            parse_number(value.as_bytes())?;
            Update::AUTOBEAT
        }
        Metric::Timeout => Update::SetTimeout(timeout_ms(value.as_bytes())?),
        Metric::Start => {
            parse_number(value.as_bytes())?;
            Update::Start
        }
        Metric::Fail => {
            parse_number(value.as_bytes())?;
            Update::Fail
        }
        Metric::Exit => Update::Exit(exit_code(value.as_bytes())?),
    };
    Ok((name, update))
}

/// Parses one line into `batch`, logging it at debug level when invalid.
/// Empty lines are neither. Shared with the TCP reader.
pub(crate) fn parse_into(line: &[u8], batch: &mut Batch, valid: &mut usize, invalid: &mut usize) {
    match parse_line(line) {
        Ok((name, update)) => {
            batch.push(name, update);
            *valid += 1;
        }
        Err(LineError::Empty) => {}
        Err(e) => {
            *invalid += 1;
            log_invalid(line, &e);
        }
    }
}

/// Logs a dropped line at debug level, lossily cut to about 100 bytes, and
/// gives the rate-limited warning (`warn`) at the default level.
pub(crate) fn log_invalid(line: &[u8], why: &dyn fmt::Display) {
    super::warn::invalid_line(line, why);
    log::debug!(
        "statsd: dropped line {:?}{}: {}",
        String::from_utf8_lossy(&line[..line.len().min(LOG_LINE_MAX)]),
        if line.len() > LOG_LINE_MAX { "..." } else { "" },
        why
    );
}

/// Parses every `\n`-separated line of `packet` into `batch`; invalid lines
/// are logged at debug level and counted, and never stop the rest. Empty
/// lines are skipped and not counted. Adds to `counters.lines` and
/// `counters.invalid_lines`. Returns (valid, invalid).
pub fn parse_packet(packet: &[u8], batch: &mut Batch, counters: &Counters) -> (usize, usize) {
    let (mut valid, mut invalid) = (0, 0);
    for line in packet.split(|&b| b == b'\n') {
        parse_into(line, batch, &mut valid, &mut invalid);
    }
    count(counters, valid, invalid);
    (valid, invalid)
}

/// Adds a read's worth of lines to the counters (one atomic op each).
pub(crate) fn count(counters: &Counters, valid: usize, invalid: usize) {
    if valid + invalid > 0 {
        Counters::add(&counters.lines, (valid + invalid) as u64);
    }
    if invalid > 0 {
        Counters::add(&counters.invalid_lines, invalid as u64);
    }
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
