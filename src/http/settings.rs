//! The job settings of SPEC 14 on HTTP: `schedule`, `tz`, `grace`,
//! `max_runtime`, `min_duration` beside today's `timeout` (with its
//! `auto_model`, SPEC 19; and `beat` in a JSON body), from the query, a form body or a JSON object, into one
//! `SettingsChange`. A value `none` (or an empty one) clears a setting;
//! durations are in the timeout text form (section 3) without `auto`.
//! Only the form is checked here; whether an expression or a zone exists
//! is the engine's to say (all or nothing). Nothing here touches the state.

use super::beat::{json_fields, BeatError};
use super::timeout::{
    parse_timeout, seconds_to_timeout, shorten, with_auto_model, TimeoutError, AUTO_MODEL_KEY,
};
use super::urlenc;
use crate::jobs::SettingsChange;
use crate::model::Millis;

/// Every key read as a setting; a form body with none of them is a run's
/// output (`curl --data-raw "$output"` sends a form content type).
pub const SETTING_KEYS: [&str; 6] = [
    "timeout",
    "schedule",
    "tz",
    "grace",
    "max_runtime",
    "min_duration",
];

/// Longest cron expression and zone name accepted (a 5-field expression
/// with long lists fits in well under this).
const MAX_SCHEDULE_LEN: usize = 256;
const MAX_TZ_LEN: usize = 64;

/// What a duration setting accepts, for its error message.
const DURATION_RULE: &str = "a duration is whole seconds (e.g. 3600) or a number with a unit \
     s, m, h, d or w (e.g. 90s, 5m, 2h, 1d, 1w), at most 10 years; \"none\" clears it";

/// True when the job settings proper (not `timeout`) are touched: such a
/// change needs `StateHandle::job`.
pub fn has_job_settings(c: &SettingsChange) -> bool {
    c.schedule.is_some()
        || c.tz.is_some()
        || c.grace.is_some()
        || c.max_runtime.is_some()
        || c.min_duration.is_some()
}

/// The settings named in decoded key/value pairs (query or form) into
/// `change`; a key given twice: the first wins (as `urlenc::get`).
pub fn from_pairs(
    pairs: &[(String, String)],
    change: &mut SettingsChange,
) -> Result<(), BeatError> {
    let get = |key| urlenc::get(pairs, key);
    let timeout = get("timeout").map(parse_timeout).transpose()?;
    let timeout = with_auto_model(timeout, get(AUTO_MODEL_KEY)).map_err(BeatError::Setting)?;
    if timeout.is_some() {
        change.timeout = timeout;
    }
    if let Some(s) = get("schedule") {
        change.schedule = Some(text_setting("schedule", s, MAX_SCHEDULE_LEN)?);
    }
    if let Some(s) = get("tz") {
        change.tz = Some(text_setting("tz", s, MAX_TZ_LEN)?);
    }
    for (key, slot) in duration_slots(change) {
        if let Some(text) = get(key) {
            *slot = Some(parse_duration(key, text)?);
        }
    }
    Ok(())
}

/// The settings of a query string.
pub fn from_query(query: &str) -> Result<SettingsChange, BeatError> {
    let mut change = SettingsChange::default();
    from_pairs(&urlenc::parse_pairs(query), &mut change)?;
    Ok(change)
}

/// True when form pairs name any setting.
pub fn form_has_settings(pairs: &[(String, String)]) -> bool {
    pairs
        .iter()
        .any(|(k, _)| SETTING_KEYS.contains(&k.as_str()) || k == AUTO_MODEL_KEY)
}

/// A JSON settings body over `change` (its keys win over the query's):
/// returns whether to beat (`"beat"`, default true). An empty body is a
/// plain beat; unknown keys are ignored; `null` is "not given".
pub fn from_json(body: &[u8], change: &mut SettingsChange) -> Result<bool, BeatError> {
    let Some((obj, timeout, beat)) = json_fields(body)? else {
        return Ok(true);
    };
    if timeout.is_some() {
        change.timeout = timeout;
    }
    for (key, max) in [("schedule", MAX_SCHEDULE_LEN), ("tz", MAX_TZ_LEN)] {
        let value = match obj.get(key) {
            None | Some(serde_json::Value::Null) => continue,
            Some(serde_json::Value::String(s)) => text_setting(key, s, max)?,
            Some(_) => {
                return Err(BeatError::WrongType(format!(
                    "\"{key}\" must be a string (or \"none\" to clear it)"
                )))
            }
        };
        if key == "schedule" {
            change.schedule = Some(value);
        } else {
            change.tz = Some(value);
        }
    }
    for (key, slot) in duration_slots(change) {
        match obj.get(key) {
            None | Some(serde_json::Value::Null) => {}
            Some(v) => *slot = Some(json_duration(key, v)?),
        }
    }
    Ok(beat)
}

fn duration_slots(c: &mut SettingsChange) -> [(&'static str, &mut Option<Option<Millis>>); 3] {
    [
        ("grace", &mut c.grace),
        ("max_runtime", &mut c.max_runtime),
        ("min_duration", &mut c.min_duration),
    ]
}

/// `schedule` or `tz` text: `none` or empty clears it.
fn text_setting(key: &str, text: &str, max: usize) -> Result<Option<String>, BeatError> {
    let t = text.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    if t.len() > max {
        return Err(BeatError::Setting(format!(
            "{key} {:?} is too long: at most {max} characters",
            shorten(t)
        )));
    }
    if t.chars().any(char::is_control) {
        return Err(BeatError::Setting(format!(
            "{key} {:?} contains control characters",
            shorten(t)
        )));
    }
    Ok(Some(t.to_owned()))
}

/// A duration setting's text: `None` clears it (`none`, `-1` or empty);
/// `auto` (-2) is a timeout's, not a duration's.
pub fn parse_duration(key: &str, text: &str) -> Result<Option<Millis>, BeatError> {
    let t = text.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("none") || t == "-1" {
        return Ok(None);
    }
    let bad = |why: &str| BeatError::Setting(format!("invalid {key} {:?}: {why}", shorten(text)));
    if t.eq_ignore_ascii_case("auto") || t == "-2" {
        return Err(bad(DURATION_RULE));
    }
    match parse_timeout(t) {
        Ok(ms) if ms >= 0 => Ok(Some(ms)),
        Ok(_) | Err(TimeoutError::Malformed(_)) => Err(bad(DURATION_RULE)),
        Err(TimeoutError::TooLong(_)) => Err(bad("too long: at most 10 years")),
    }
}

/// A JSON duration: a string in the text form, or whole seconds
/// (-1 clears it).
fn json_duration(key: &str, v: &serde_json::Value) -> Result<Option<Millis>, BeatError> {
    let bad = || {
        BeatError::Setting(format!(
            "invalid {key} {}: {DURATION_RULE}",
            shorten(&v.to_string())
        ))
    };
    match v {
        serde_json::Value::String(s) => parse_duration(key, s),
        serde_json::Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(secs), _, _) => seconds_to_timeout(secs).map(Some).map_err(|_| {
                BeatError::Setting(format!("invalid {key} {secs}: too long: at most 10 years"))
            }),
            (None, Some(-1), _) => Ok(None),
            (None, None, Some(f)) if f.fract() == 0.0 && f >= 0.0 && f <= u64::MAX as f64 => {
                seconds_to_timeout(f as u64).map(Some).map_err(|_| {
                    BeatError::Setting(format!("invalid {key}: too long: at most 10 years"))
                })
            }
            _ => Err(bad()),
        },
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(q: &str) -> Result<SettingsChange, BeatError> {
        from_query(q)
    }

    fn json(body: &str) -> Result<(SettingsChange, bool), BeatError> {
        let mut c = SettingsChange::default();
        let beat = from_json(body.as_bytes(), &mut c)?;
        Ok((c, beat))
    }

    #[test]
    fn durations() {
        let ok = |t: &str| parse_duration("grace", t).unwrap();
        assert_eq!(ok("90s"), Some(90_000));
        assert_eq!(ok("3600"), Some(3_600_000));
        assert_eq!(ok("5m"), Some(300_000));
        assert_eq!(ok(" 2h "), Some(7_200_000));
        assert_eq!(ok("1d"), Some(86_400_000));
        assert_eq!(ok("1w"), Some(604_800_000));
        assert_eq!(ok("0"), Some(0));
        assert_eq!(ok("none"), None);
        assert_eq!(ok("NONE"), None);
        assert_eq!(ok("-1"), None);
        assert_eq!(ok(""), None);
        for bad in [
            "auto", "-2", "5x", "-5", "1.5", "1h30m", "+3", "\u{0}", "3651d",
        ] {
            let e = parse_duration("grace", bad).unwrap_err().to_string();
            assert!(e.contains("invalid grace"), "{bad}: {e}");
        }
        let e = parse_duration("max_runtime", "5x").unwrap_err().to_string();
        assert!(e.contains("5m") && e.contains("none"), "{e}");
        let e = parse_duration("grace", &"9".repeat(10_000))
            .unwrap_err()
            .to_string();
        assert!(e.len() < 200 && e.contains("too long"), "{e}");
    }

    #[test]
    fn query_settings() {
        let c = query(
            "schedule=0+2+*+*+*&tz=Europe%2FBerlin&grace=30m&max_runtime=2h&min_duration=10s",
        )
        .unwrap();
        assert_eq!(c.schedule, Some(Some("0 2 * * *".into())));
        assert_eq!(c.tz, Some(Some("Europe/Berlin".into())));
        assert_eq!(c.grace, Some(Some(1_800_000)));
        assert_eq!(c.max_runtime, Some(Some(7_200_000)));
        assert_eq!(c.min_duration, Some(Some(10_000)));
        assert_eq!(c.timeout, None);
        assert!(has_job_settings(&c));

        let c = query("schedule=none&tz=&grace=none&timeout=5m").unwrap();
        assert_eq!(c.schedule, Some(None));
        assert_eq!(c.tz, Some(None));
        assert_eq!(c.grace, Some(None));
        assert_eq!(c.max_runtime, None);
        assert_eq!(c.timeout, Some(300_000));

        let c = query("timeout=auto&rid=x&other=1").unwrap();
        assert_eq!(c.timeout, Some(-2));
        assert!(!has_job_settings(&c));
        assert!(query("").unwrap().is_empty());

        // The form is all that is checked here: the engine knows crons and zones.
        let c = query("schedule=61+*+*+*+*&tz=Mars%2FOlympus").unwrap();
        assert_eq!(c.schedule, Some(Some("61 * * * *".into())));
        for bad in [
            "grace=5x",
            "max_runtime=auto",
            "min_duration=-3",
            "timeout=bad",
            "tz=a%00b",
        ] {
            assert!(query(bad).is_err(), "{bad}");
        }
        let long = format!("schedule={}", "1,".repeat(200));
        assert!(query(&long).unwrap_err().to_string().contains("too long"));
    }

    #[test]
    fn form_keys() {
        let pairs = urlenc::parse_pairs("grace=1h&x=2");
        assert!(form_has_settings(&pairs));
        assert!(!form_has_settings(&urlenc::parse_pairs(
            "backup done: 3 files"
        )));
        assert!(!form_has_settings(&urlenc::parse_pairs("beat=false")));
    }

    #[test]
    fn json_settings() {
        let (c, beat) = json(
            r#"{"schedule": "@daily", "tz": "Asia/Kathmandu", "grace": 600, "max_runtime": "2h", "min_duration": null, "beat": false}"#,
        )
        .unwrap();
        assert!(!beat);
        assert_eq!(c.schedule, Some(Some("@daily".into())));
        assert_eq!(c.tz, Some(Some("Asia/Kathmandu".into())));
        assert_eq!(c.grace, Some(Some(600_000)));
        assert_eq!(c.max_runtime, Some(Some(7_200_000)));
        assert_eq!(c.min_duration, None);

        let (c, beat) =
            json(r#"{"schedule": "none", "grace": -1, "max_runtime": "none", "timeout": 60}"#)
                .unwrap();
        assert!(beat);
        assert_eq!(c.schedule, Some(None));
        assert_eq!(c.grace, Some(None));
        assert_eq!(c.max_runtime, Some(None));
        assert_eq!(c.timeout, Some(60_000));
        assert_eq!(
            json(r#"{"grace": 60.0}"#).unwrap().0.grace,
            Some(Some(60_000))
        );
        assert_eq!(json("").unwrap(), (SettingsChange::default(), true));

        for bad in [
            r#"{"schedule": 5}"#,
            r#"{"tz": ["UTC"]}"#,
            r#"{"grace": -5}"#,
            r#"{"grace": 1.5}"#,
            r#"{"grace": true}"#,
            r#"{"grace": "auto"}"#,
            r#"{"max_runtime": 99999999999999}"#,
            r#"{"min_duration": 1e300}"#,
            r#"{"timeout": "5x"}"#,
            r#"[1]"#,
            r#"{"#,
        ] {
            assert!(json(bad).is_err(), "{bad}");
        }
        // Query first, the body's keys win.
        let mut c = query("grace=1h&tz=UTC").unwrap();
        from_json(br#"{"grace": "2h"}"#, &mut c).unwrap();
        assert_eq!(c.grace, Some(Some(7_200_000)));
        assert_eq!(c.tz, Some(Some("UTC".into())));
    }

    /// SPEC 19: `auto_model` beside `timeout` in a job's settings (JSON,
    /// form, query); a form with only `auto_model` is settings, not output.
    #[test]
    fn auto_model_beside_the_timeout() {
        use crate::model::TIMEOUT_ADAPTIVE;
        let (change, beat) = json(r#"{"timeout": -2, "auto_model": "adaptive", "grace": 60}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (change.timeout, change.grace, beat),
            (Some(TIMEOUT_ADAPTIVE), Some(Some(60_000)), true)
        );
        assert_eq!(
            query("timeout=-2&auto_model=adaptive").map(|c| c.timeout),
            Ok(Some(TIMEOUT_ADAPTIVE))
        );
        let e = json(r#"{"timeout": -2, "auto_model": "phi"}"#).unwrap_err();
        assert!(e.to_string().contains("unknown auto_model"), "{e}");
        assert!(query("auto_model=adaptive").is_err());
        assert!(form_has_settings(&urlenc::parse_pairs(
            "auto_model=adaptive"
        )));
    }
}
