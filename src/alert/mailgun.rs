//! Mail through Mailgun's HTTP messages API (SPEC 6): a form POST to
//! `<api_base>/<domain>/messages` with basic auth `api:<api_key>`.

use super::http;
use super::plan::Message;
use super::DeliveryError;
use crate::config::{Mail, Mailgun};

/// `<api_base>/<domain>/messages`.
pub fn url(mailgun: &Mailgun) -> String {
    format!(
        "{}/{}/messages",
        mailgun.api_base.trim_end_matches('/'),
        mailgun.domain
    )
}

/// The sender: `[mailgun] from`, else `[mail] from`.
pub fn sender<'a>(mailgun: &'a Mailgun, mail: &'a Mail) -> &'a str {
    if mailgun.from.is_empty() {
        &mail.from
    } else {
        &mailgun.from
    }
}

/// The urlencoded form: from, to (comma-separated), subject, text.
pub fn form(from: &str, to: &[String], message: &Message) -> String {
    let fields = [
        ("from", from.to_string()),
        ("to", to.join(",")),
        ("subject", message.subject()),
        ("text", message.text()),
    ];
    let mut out = String::new();
    for (name, value) in fields {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(&form_encode(&value));
    }
    out
}

pub fn send(
    agent: &ureq::Agent,
    mailgun: &Mailgun,
    mail: &Mail,
    to: &[String],
    message: &Message,
) -> Result<(), DeliveryError> {
    if mailgun.api_key.is_empty() {
        return Err(DeliveryError::NotConfigured(
            "[mailgun] domain is set but api_key is empty".into(),
        ));
    }
    let auth = format!(
        "Basic {}",
        crate::base64::standard(format!("api:{}", mailgun.api_key).as_bytes())
    );
    let body = form(sender(mailgun, mail), to, message);
    http::post(
        agent,
        &url(mailgun),
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("User-Agent", "Lovebeat"),
        ],
        body.as_bytes(),
    )
}

/// `application/x-www-form-urlencoded` value encoding.
pub(super) fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3 / 2);
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
