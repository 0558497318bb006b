//! The adaptive model's learnt state on a `SERV` line (SPEC 19): the key
//! `auto_model_state`, written after `auto_model` for an adaptive timeout,
//! as standard base64 of `Adaptive::to_bytes` (300 characters). Lovebeat
//! 1.0.3 ignores the key. Read on its own: a malformed value, or one that
//! does not end at the line's `last_beat` or comes without an adaptive
//! timeout, is skipped and counted in [`KeyProblems`]; the service loads
//! and its model is rebuilt from the beat history, as before the key.

use super::KeyProblems;
use crate::base64;
use crate::engine::adaptive::Adaptive;
use crate::model::{Millis, NEVER, TIMEOUT_ADAPTIVE};
use serde_json::value::RawValue;

/// The key's name.
pub(super) const KEY: &str = "auto_model_state";

/// Appends `,"auto_model_state":"…"`.
pub(super) fn write(out: &mut Vec<u8>, model: &Adaptive) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(KEY.as_bytes());
    out.extend_from_slice(b"\":\"");
    out.extend_from_slice(base64::standard(&model.to_bytes()).as_bytes());
    out.push(b'"');
}

/// The model as read, or `None` when absent, `null` or not usable
/// (counted).
pub(super) fn read(
    raw: Option<&RawValue>,
    name: &str,
    timeout: Millis,
    last_beat: Millis,
    problems: &mut KeyProblems,
) -> Option<Box<Adaptive>> {
    let raw = raw.filter(|r| r.get() != "null")?;
    match parse(raw, timeout, last_beat) {
        Ok(model) => Some(Box::new(model)),
        Err(why) => {
            problems.note(|| format!("service {name:?}: key {KEY}: {why}"));
            None
        }
    }
}

fn parse(raw: &RawValue, timeout: Millis, last_beat: Millis) -> Result<Adaptive, String> {
    if timeout != TIMEOUT_ADAPTIVE {
        return Err("the timeout is not adaptive".into());
    }
    let text: String = serde_json::from_str(raw.get()).map_err(|_| "not a string".to_string())?;
    let bytes = base64::decode_standard(&text).ok_or("not standard base64")?;
    let model = Adaptive::from_bytes(&bytes).map_err(|e| format!("not a model state: {e}"))?;
    let last = last_beat.max(NEVER);
    if model.last_beat() != (last != NEVER).then_some(last) {
        return Err("it does not end at last_beat".into());
    }
    Ok(model)
}
