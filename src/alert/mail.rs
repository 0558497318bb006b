//! Mail over SMTP (SPEC 6) with lettre's blocking transport: one mail to all
//! recipients, STARTTLS when the server offers it (rustls), login when
//! `[mail] username` is set, every SMTP step bounded by the attempt timeout.

use super::plan::Message;
use super::DeliveryError;
use crate::config::Mail;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{SmtpTransport, Transport};
use std::time::Duration;

/// `host:port` (port 25 when missing; `[v6]:port` accepted).
pub fn server_addr(server: &str) -> Result<(String, u16), DeliveryError> {
    let bad = || {
        DeliveryError::NotConfigured(format!("[mail] server `{server}` is not HOST or HOST:PORT"))
    };
    let server = server.trim();
    if server.is_empty() {
        return Err(bad());
    }
    let (host, port) = match server.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') => {
            (host, port.parse::<u16>().map_err(|_| bad())?)
        }
        _ => (server, 25),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

/// The mail as lettre sends it.
pub fn build(
    from: &str,
    to: &[String],
    message: &Message,
) -> Result<lettre::Message, DeliveryError> {
    let bad =
        |what: &str, e: &dyn std::fmt::Display| DeliveryError::BadMessage(format!("{what}: {e}"));
    let from = from
        .parse()
        .map_err(|e| bad(&format!("[mail] from `{from}`"), &e))?;
    let mut builder = lettre::Message::builder()
        .from(from)
        .subject(message.subject())
        .header(ContentType::TEXT_PLAIN);
    for address in to {
        let mailbox = address
            .parse()
            .map_err(|e| bad(&format!("recipient `{address}`"), &e))?;
        builder = builder.to(mailbox);
    }
    builder.body(message.text()).map_err(|e| bad("message", &e))
}

pub fn send(
    mail: &Mail,
    to: &[String],
    message: &Message,
    timeout: Duration,
) -> Result<(), DeliveryError> {
    let email = build(&mail.from, to, message)?;
    let (host, port) = server_addr(&mail.server)?;
    let tls = TlsParameters::new(host.clone()).map_err(|e| DeliveryError::Smtp {
        message: format!("TLS set-up for {host}: {e}"),
        permanent: true,
    })?;
    let mut builder = SmtpTransport::builder_dangerous(host)
        .port(port)
        .tls(Tls::Opportunistic(tls))
        .timeout(Some(timeout));
    if !mail.username.is_empty() {
        builder = builder.credentials(Credentials::new(
            mail.username.clone(),
            mail.password.clone(),
        ));
    }
    builder
        .build()
        .send(&email)
        .map(|_| ())
        .map_err(|e| DeliveryError::Smtp {
            message: e.to_string(),
            permanent: e.is_permanent(),
        })
}
