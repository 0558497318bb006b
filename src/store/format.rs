//! The bytes of the database file: Lovebeat 1.x's gzip-compressed text, one
//! `SERV\t{json}` line per service and one `ALARM\t{json}` line per view,
//! read and written with 1.x's key names. No files or threads here. The
//! job keys of SPEC 14 follow 1.x's keys on a `SERV` line (`jobkeys`). An
//! adaptive timeout (SPEC 19) is written as 1.x's auto, `"timeout": -2`,
//! plus `"auto_model": "adaptive"` and the model's state (`modelkey`); a -2
//! without it is auto. The alert
//! policy's keys and `MAINT` lines (SPEC 15) are `policykeys`'.
//! This file writes; reading is `format_read.rs`'s (`read`).

use super::histlines;
use super::jobkeys::write_job_keys;
use super::modelkey;
use super::policykeys;
use crate::engine::adaptive::Adaptive;
use crate::jobs::JobRecord;
use crate::model::{
    Millis, ServiceSnapshot, State, ViewRecord, AUTO_MODEL_ADAPTIVE, TIMEOUT_ADAPTIVE, TIMEOUT_AUTO,
};
use crate::policy::window::Window;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde::Serialize;
use std::io::{self, Write};

/// Buffer between the JSON serializer and the compressor.
const WRITE_BUFFER: usize = 256 * 1024;

/// A service line as 1.x writes it (the order of the fields is 1.x's).
/// Written by `write_service` (byte for byte what serde_json makes of this
/// struct, which the tests check): a save of 100k services spends most of
/// its time here, and the generic serializer compiled without optimisation
/// (the debug build the tests run) made a save take about a second on a
/// loaded host, long enough to break the 1 s promise of SPEC 8.
#[cfg_attr(test, derive(Serialize))]
pub(super) struct ServiceOut<'a> {
    name: &'a str,
    last_beat: Millis,
    #[cfg_attr(test, serde(skip_serializing_if = "<[Millis]>::is_empty"))]
    beat_history: &'a [Millis],
    timeout: Millis,
    /// `Some("adaptive")` for an adaptive timeout (written as -2).
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    auto_model: Option<&'static str>,
    /// The adaptive model's state (`modelkey`), after `auto_model`.
    #[cfg_attr(
        test,
        serde(
            rename = "auto_model_state",
            serialize_with = "ser_model",
            skip_serializing_if = "Option::is_none"
        )
    )]
    model: Option<&'a Adaptive>,
    state: &'static str,
    muted_since: Millis,
    last_state_change: Millis,
    #[cfg_attr(test, serde(skip_serializing_if = "<[String]>::is_empty"))]
    in_alarms: &'a [String],
    /// A timed mute's end (SPEC 15), after 1.x's keys; 0 is not written.
    #[cfg_attr(test, serde(skip_serializing_if = "is_zero"))]
    muted_until: Millis,
    /// The job keys (SPEC 14.4), after 1.x's; `None` writes exactly 1.x's
    /// line.
    #[cfg_attr(
        test,
        serde(
            flatten,
            serialize_with = "ser_job",
            skip_serializing_if = "Option::is_none"
        )
    )]
    job: Option<&'a JobRecord>,
}

#[cfg(test)]
fn is_zero(n: &Millis) -> bool {
    *n == 0
}

#[cfg(test)]
fn ser_model<S: serde::Serializer>(m: &Option<&Adaptive>, s: S) -> Result<S::Ok, S::Error> {
    match m {
        Some(m) => s.serialize_str(&crate::base64::standard(&m.to_bytes())),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
fn ser_job<S: serde::Serializer>(job: &Option<&JobRecord>, s: S) -> Result<S::Ok, S::Error> {
    match job {
        Some(job) => super::jobkeys::JobOut::from(*job).serialize(s),
        None => s.serialize_none(),
    }
}

/// A view ("alarm") line as 1.x writes it, except that `failed_services` is
/// always an array (1.x writes `null`; both load in 1.x), then the alert
/// policy's keys (`policykeys`).
#[derive(Serialize)]
struct ViewOut<'a> {
    name: &'a str,
    state: &'static str,
    incident_nbr: u64,
    failed_services: &'a [String],
    last_state_change: Millis,
    #[serde(skip_serializing_if = "Option::is_none")]
    muted_until: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alerted_at: Option<Millis>,
}

/// Writes `services`, `views`, then the `maintenance` windows made through
/// the API as Lovebeat 1.x's gzip text to `out` (fast compression: a save
/// of a million services must stay quick). The gzip stream is finished and
/// `out` flushed before returning.
pub fn encode<W: Write>(
    services: &ServiceSnapshot,
    views: &[ViewRecord],
    maintenance: &[Window],
    out: W,
) -> io::Result<()> {
    encode_with_history(services, views, maintenance, &[], out)
}

/// `encode`, then a `HIST` line per subject of `history` (SPEC 18).
pub fn encode_with_history<W: Write>(
    services: &ServiceSnapshot,
    views: &[ViewRecord],
    maintenance: &[Window],
    history: &[crate::history::Saved],
    out: W,
) -> io::Result<()> {
    let gz = GzEncoder::new(out, Compression::fast());
    let mut w = io::BufWriter::with_capacity(WRITE_BUFFER, gz);
    let mut line_buf = Vec::with_capacity(512);
    for s in services.iter() {
        let adaptive = s.timeout == TIMEOUT_ADAPTIVE;
        let line = ServiceOut {
            name: s.name,
            last_beat: s.last_beat,
            beat_history: s.beat_history,
            timeout: if adaptive { TIMEOUT_AUTO } else { s.timeout },
            auto_model: adaptive.then_some(AUTO_MODEL_ADAPTIVE),
            model: s.model.filter(|_| adaptive),
            state: s.state.as_str(),
            muted_since: s.muted_since,
            last_state_change: s.last_state_change,
            in_alarms: s.views,
            muted_until: s.muted_until,
            job: s.job,
        };
        line_buf.clear();
        line_buf.extend_from_slice(b"SERV\t");
        write_service(&mut line_buf, &line);
        line_buf.push(b'\n');
        w.write_all(&line_buf)?;
    }
    for v in views {
        w.write_all(b"ALARM\t")?;
        let line = ViewOut {
            name: &v.name,
            state: v.state.as_str(),
            incident_nbr: v.incident_number,
            failed_services: &v.failed_services,
            last_state_change: v.last_state_change,
            muted_until: (v.alerting.muted_until != 0).then_some(v.alerting.muted_until),
            alerted_at: (v.state == State::Error).then_some(v.alerting.alerted_at),
        };
        serde_json::to_writer(&mut w, &line)?;
        w.write_all(b"\n")?;
    }
    policykeys::write_windows(&mut w, maintenance)?;
    histlines::write_history(&mut w, history)?;
    let gz = w.into_inner().map_err(|e| e.into_error())?;
    let mut out = gz.finish()?;
    out.flush()
}

/// Appends `s` as JSON, exactly as serde_json writes it.
pub(super) fn write_service(out: &mut Vec<u8>, s: &ServiceOut<'_>) {
    out.extend_from_slice(b"{\"name\":");
    write_str(out, s.name);
    out.extend_from_slice(b",\"last_beat\":");
    write_int(out, s.last_beat);
    if !s.beat_history.is_empty() {
        out.extend_from_slice(b",\"beat_history\":[");
        for (i, &beat) in s.beat_history.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_int(out, beat);
        }
        out.push(b']');
    }
    out.extend_from_slice(b",\"timeout\":");
    write_int(out, s.timeout);
    if let Some(model) = s.auto_model {
        out.extend_from_slice(b",\"auto_model\":");
        write_str(out, model);
    }
    if let Some(model) = s.model {
        modelkey::write(out, model);
    }
    out.extend_from_slice(b",\"state\":");
    write_str(out, s.state);
    out.extend_from_slice(b",\"muted_since\":");
    write_int(out, s.muted_since);
    out.extend_from_slice(b",\"last_state_change\":");
    write_int(out, s.last_state_change);
    if !s.in_alarms.is_empty() {
        out.extend_from_slice(b",\"in_alarms\":[");
        for (i, view) in s.in_alarms.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, view);
        }
        out.push(b']');
    }
    if s.muted_until != 0 {
        out.extend_from_slice(b",\"muted_until\":");
        write_int(out, s.muted_until);
    }
    if let Some(job) = s.job {
        write_job_keys(out, job);
    }
    out.push(b'}');
}

/// A JSON string: as is when nothing needs escaping (service names never
/// do), else by serde_json.
fn write_str(out: &mut Vec<u8>, text: &str) {
    if text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    } else {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
}

fn write_int(out: &mut Vec<u8>, n: i64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[at..]);
}

#[path = "format_read.rs"]
mod read;
pub use read::decode;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_service_lines_are_byte_for_byte_serde_json() {
        let views = ["web".to_string(), "a \"quoted\"\\ view\n\u{1}é".to_string()];
        let history = [i64::MIN, -1, 0, 7, 1_000, i64::MAX];
        let job = JobRecord {
            own: crate::jobs::JobSettings {
                schedule: Some("*/5 * * * *".into()),
                tz: Some("a \"zone\"\n".into()),
                grace: Some(0),
                ..Default::default()
            },
            last_exit_code: Some(7),
            ..JobRecord::default()
        };
        let mut model = Adaptive::new();
        for at in [0, 60_000, 125_000] {
            model.observe(at);
        }
        for job in [None, Some(&job)] {
            for name in ["svc.a", "ünïcode \"name\" with \\ and \t", ""] {
                for (beat_history, in_alarms) in [
                    (&history[..], &views[..]),
                    (&[][..], &[][..]),
                    (&history[2..3], &views[..1]),
                ] {
                    for n in [i64::MIN, -42, -1, 0, 9, 10, 1_700_000_000_123, i64::MAX] {
                        let line = ServiceOut {
                            name,
                            last_beat: n,
                            beat_history,
                            timeout: n.wrapping_add(1),
                            auto_model: (n % 2 == 0).then_some(AUTO_MODEL_ADAPTIVE),
                            model: (n % 2 == 0).then_some(&model),
                            state: "muted",
                            muted_since: n.wrapping_abs().wrapping_neg(),
                            last_state_change: n / 3,
                            in_alarms,
                            muted_until: [0, n, crate::policy::MUTED_FOREVER][n as usize % 3],
                            job,
                        };
                        let mut ours = Vec::new();
                        write_service(&mut ours, &line);
                        let theirs = serde_json::to_vec(&line).unwrap_or_default();
                        assert_eq!(
                            String::from_utf8_lossy(&ours),
                            String::from_utf8_lossy(&theirs)
                        );
                    }
                }
            }
        }
    }
}
