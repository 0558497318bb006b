//! SPEC 16: `http = { url, method, headers, body }` in `[alerts.NAME]`:
//! a request the user shapes, for receivers no other channel speaks.
//!
//! There is no provider document; the contract is SPEC 16's: "a templated
//! request: `body` with `{{view}}`, `{{state}}`, `{{previous_state}}`,
//! `{{incident}}`, `{{failed_services}}`, `{{reasons}}`, `{{url}}`, each
//! JSON-escaped". So each value is put in JSON-escaped *without* the
//! surrounding quotes (the user writes them: `"view": "{{view}}"`):
//!
//! - `view`; `state`, `previous_state` upper-case (`ERROR`, `OK`, as in
//!   every alert); `incident` the number;
//! - `failed_services`: the failed services joined by `, ` (one string);
//! - `reasons`: `service: reason`, one per line (`\n` once escaped);
//! - `url`: the link to the view (`""` without `public_url`).
//!
//! An unknown `{{x}}` is sent as written and reported at start-up (a
//! typo should be seen, not silently dropped). `method` is POST (the
//! default), PUT or PATCH; anything else is refused at start-up and on
//! delivery. `headers` are sent as given; without a `Content-Type` one,
//! `application/json` is added. The URL may hold a token (shown as its
//! origin) and header values are secrets (an `Authorization`), except
//! `Content-Type`, `Accept` and `User-Agent`.

use super::channel::{Channel, Ctx};
use super::plan::Message;
use super::{http, DeliveryError};
use crate::config::HttpTemplate;

pub static CHANNEL: Channel = Channel {
    name: "template",
    targets: |a| {
        a.http
            .as_ref()
            .map(|h| vec![h.url.trim().to_string()])
            .unwrap_or_default()
    },
    send,
    shown: super::channel::url_origin,
    secrets: |ctx, target| match ctx.alert_config().and_then(|a| a.http.as_ref()) {
        Some(t) => secrets(target, t),
        None => super::channel::nonempty(&[target]),
    },
    problem: |_, alert| alert.http.as_ref().and_then(problem),
};

/// The placeholders a body may use.
pub const PLACEHOLDERS: [&str; 7] = [
    "view",
    "state",
    "previous_state",
    "incident",
    "failed_services",
    "reasons",
    "url",
];

/// Headers whose values are not secrets (kept readable in errors).
const PLAIN_HEADERS: [&str; 3] = ["content-type", "accept", "user-agent"];

fn send(ctx: &Ctx, url: &str, message: &Message) -> Result<(), DeliveryError> {
    let Some(template) = ctx.alert_config().and_then(|a| a.http.as_ref()) else {
        return Err(DeliveryError::NotConfigured(format!(
            "alert {} has no http table",
            ctx.alert
        )));
    };
    let method = method(template).map_err(DeliveryError::NotConfigured)?;
    let body = render(&template.body, message);
    let mut headers: Vec<(&str, &str)> = template
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("Content-Type", "application/json"));
    }
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("user-agent"))
    {
        headers.push(("User-Agent", "Lovebeat"));
    }
    http::send(ctx.agent, method, url, &headers, body.as_bytes())
}

/// The method to use, upper-case, or why it cannot be.
pub fn method(template: &HttpTemplate) -> Result<&'static str, String> {
    match template.method.trim().to_ascii_uppercase().as_str() {
        "" | "POST" => Ok("POST"),
        "PUT" => Ok("PUT"),
        "PATCH" => Ok("PATCH"),
        other => Err(format!(
            "http method {other:?} is not supported: use POST, PUT or PATCH"
        )),
    }
}

/// The secrets of one templated request: its URL and its header values.
pub fn secrets(url: &str, template: &HttpTemplate) -> Vec<String> {
    let mut all: Vec<&str> = vec![url, template.url.as_str()];
    all.extend(
        template
            .headers
            .iter()
            .filter(|(k, _)| !PLAIN_HEADERS.contains(&k.to_ascii_lowercase().as_str()))
            .map(|(_, v)| v.as_str()),
    );
    let mut out = super::channel::nonempty(&all);
    // The token inside `Bearer <token>` alone, and the URL's parts.
    out.extend(
        all.iter()
            .filter_map(|v| v.split_once(' ').map(|(_, token)| token.trim()))
            .filter(|t| t.len() >= 8)
            .map(str::to_string),
    );
    out.extend(super::channel::url_secrets(&template.url));
    out
}

/// What is wrong with a template, for the start-up warnings.
pub fn problem(template: &HttpTemplate) -> Option<String> {
    let url = template.url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Some("http url must start with http:// or https://".into());
    }
    if let Err(e) = method(template) {
        return Some(e);
    }
    let unknown = unknown_placeholders(&template.body);
    if !unknown.is_empty() {
        let names: Vec<String> = unknown.iter().map(|n| format!("{{{{{n}}}}}")).collect();
        return Some(format!(
            "http body uses unknown placeholder(s) {} (sent as written); known: {}",
            names.join(", "),
            PLACEHOLDERS.join(", ")
        ));
    }
    None
}

/// The names inside `{{...}}` in `body` that are not placeholders.
pub fn unknown_placeholders(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = after[..end].trim();
        if !PLACEHOLDERS.contains(&name) && !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
        rest = &after[end + 2..];
    }
    out
}

/// The value of one placeholder, before escaping.
fn value(name: &str, message: &Message) -> Option<String> {
    Some(match name {
        "view" => message.view.clone(),
        "state" => message.to.upper().to_string(),
        "previous_state" => message.from.upper().to_string(),
        "incident" => message.incident.to_string(),
        "failed_services" => message.failed.join(", "),
        "reasons" => message.reasons(),
        "url" => message.link.clone().unwrap_or_default(),
        _ => return None,
    })
}

/// `s` as the inside of a JSON string (escaped, no quotes).
pub fn json_escape(s: &str) -> String {
    let quoted = serde_json::Value::String(s.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

/// `body` with every known `{{name}}` (spaces inside allowed) replaced by
/// its JSON-escaped value; unknown ones stay as written. One pass: a
/// value containing `{{view}}` is not expanded again.
pub fn render(body: &str, message: &Message) -> String {
    let mut out = String::with_capacity(body.len() + 64);
    let mut rest = body;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        match value(after[..end].trim(), message) {
            Some(v) => out.push_str(&json_escape(&v)),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::{Failure, Reason};
    use crate::model::State;
    use std::collections::BTreeMap;

    fn message() -> Message {
        Message {
            view: "we\"b".into(),
            from: State::Ok,
            to: State::Error,
            incident: 7,
            failed: vec!["a".into(), "b\\c".into()],
            failures: vec![Failure {
                service: "a".into(),
                reason: Reason::Missed,
                since: 0,
                exit_code: None,
                ran: None,
                limit: None,
                output: None,
            }],
            link: Some("http://lb.test/views/web".into()),
            reminder: 0,
            down_ms: None,
            since: 0,
        }
    }

    fn template(method: &str, body: &str) -> HttpTemplate {
        HttpTemplate {
            url: "https://hooks.example.com/x?token=s3cr3t".into(),
            method: method.into(),
            headers: BTreeMap::from([
                ("Authorization".to_string(), "Bearer abcdef123".to_string()),
                ("Content-Type".to_string(), "text/plain".to_string()),
            ]),
            body: body.into(),
        }
    }

    #[test]
    fn every_placeholder_is_replaced_json_escaped_and_the_result_parses() {
        let body = r#"{"v": "{{view}}", "s": "{{ state }}", "p": "{{previous_state}}", "i": {{incident}}, "f": "{{failed_services}}", "r": "{{reasons}}", "u": "{{url}}"}"#;
        let out = render(body, &message());
        let v: serde_json::Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        assert_eq!(v["v"], "we\"b");
        assert_eq!(v["s"], "ERROR");
        assert_eq!(v["p"], "OK");
        assert_eq!(v["i"], 7);
        assert_eq!(v["f"], "a, b\\c");
        let r = v["r"].as_str().unwrap_or_default();
        assert!(r.starts_with("a: ") && r.ends_with("\nb\\c"), "{r}");
        assert_eq!(v["u"], "http://lb.test/views/web");
    }

    #[test]
    fn unknown_placeholders_stay_and_are_reported() {
        let out = render("{{view}} {{nope}} {{ unclosed", &message());
        assert_eq!(out, "we\\\"b {{nope}} {{ unclosed");
        assert_eq!(
            unknown_placeholders("{{nope}} {{view}} {{nope}}"),
            vec!["nope"]
        );
        let p = problem(&template("POST", "{{nope}}")).unwrap_or_default();
        assert!(p.contains("{{nope}}"), "{p}");
        assert_eq!(problem(&template("post", "{{view}}")), None);
    }

    #[test]
    fn only_post_put_and_patch_and_http_urls_are_accepted() {
        assert_eq!(method(&template("put", "")), Ok("PUT"));
        assert_eq!(method(&template("PATCH", "")), Ok("PATCH"));
        assert_eq!(method(&template("", "")), Ok("POST"));
        assert!(problem(&template("GET", ""))
            .unwrap_or_default()
            .contains("GET"));
        let mut t = template("POST", "");
        t.url = "ftp://x".into();
        assert!(problem(&t).is_some());
    }

    #[test]
    fn the_url_and_secret_header_values_are_secrets() {
        let t = template("POST", "");
        let s = secrets(&t.url, &t);
        assert!(s.contains(&t.url));
        assert!(s.contains(&"Bearer abcdef123".to_string()));
        assert!(!s.contains(&"text/plain".to_string()));
    }
}
