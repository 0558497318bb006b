//! SPEC 16: `matrix = "<room id>"` with `[matrix] homeserver`,
//! `access_token`: one `m.room.message` event per message.
//!
//! The request, as the Matrix client-server API documents it
//! (<https://spec.matrix.org/latest/client-server-api/#put_matrixclientv3roomsroomidsendeventtypetxnid>,
//! read through <https://docs.rs/ruma-client-api/latest/src/ruma_client_api/message/send_message_event.rs.html>
//! and <https://matrix-org.github.io/matrix-js-sdk/interfaces/types.RoomMessageTextEventContent.html>):
//!
//! > `PUT /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}` —
//! > Send a message event to a room. rate_limited: false,
//! > authentication: AccessToken.
//!
//! > txnId: The transaction ID for this event. Clients should generate an
//! > ID unique across requests with the same access token; it will be
//! > used by the server to ensure idempotency of requests.
//!
//! > Content format of timeline events with type m.room.message and
//! > msgtype m.text: `{ body: string; format?: "org.matrix.custom.html";
//! > formatted_body?: string; msgtype: "m.text" }`
//!
//! So: PUT `{homeserver}/_matrix/client/v3/rooms/<room id, percent-
//! encoded>/send/m.room.message/<txn id>` with `Authorization: Bearer
//! <access_token>`, JSON `{"msgtype": "m.text", "body": <plain text>}`.
//!
//! The transaction id: the dispatcher retries a delivery by calling
//! `send` again, and a retry after a lost answer must not post the event
//! twice, so the id is derived from the message — `lovebeat-<process
//! start ms>-<hash of alert, room, view, incident, state, reminder,
//! since>` — the same for every attempt of one delivery, new for every
//! other message, and new after a restart (the process-start part).

use super::channel::{Channel, Ctx};
use super::plan::Message;
use super::{http, DeliveryError};
use std::hash::{Hash, Hasher};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

pub static CHANNEL: Channel = Channel {
    name: "matrix",
    targets: |a| super::channel::one(&a.matrix),
    send,
    shown: |t| t.to_string(),
    secrets: |ctx, _| super::channel::nonempty(&[&ctx.settings.accounts.matrix.access_token]),
    problem: |settings, _| {
        let account = &settings.accounts.matrix;
        if account.homeserver.trim().is_empty() {
            Some("[matrix] homeserver is empty".into())
        } else if account.access_token.trim().is_empty() {
            Some("[matrix] access_token is empty".into())
        } else {
            None
        }
    },
};

/// Most bytes of the body: a Matrix event is at most 65536 bytes as a
/// whole (a long service list is cut).
const MAX_BODY: usize = 60_000;

fn send(ctx: &Ctx, room: &str, message: &Message) -> Result<(), DeliveryError> {
    let account = &ctx.settings.accounts.matrix;
    let (homeserver, token) = (account.homeserver.trim(), account.access_token.trim());
    if homeserver.is_empty() || token.is_empty() {
        return Err(DeliveryError::NotConfigured(
            "matrix is set but [matrix] homeserver or access_token is empty".into(),
        ));
    }
    let url = url(homeserver, room, &txn_id(ctx.alert, room, message));
    let auth = format!("Bearer {token}");
    let body = payload(message).to_string();
    http::send(
        ctx.agent,
        "PUT",
        &url,
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
            ("User-Agent", "Lovebeat"),
        ],
        body.as_bytes(),
    )
}

/// `{homeserver}/_matrix/client/v3/rooms/<room>/send/m.room.message/<txn>`
/// with the room id and the txn id percent-encoded.
pub fn url(homeserver: &str, room: &str, txn: &str) -> String {
    format!(
        "{}/_matrix/client/v3/rooms/{}/send/m.room.message/{}",
        homeserver.trim().trim_end_matches('/'),
        encode(room),
        encode(txn)
    )
}

/// Every byte but RFC 3986's unreserved ones as `%XX` (`!room:host` ->
/// `%21room%3Ahost`).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// When this process started (ms), the part of every txn id that differs
/// after a restart.
fn process_nonce() -> u128 {
    static NONCE: OnceLock<u128> = OnceLock::new();
    *NONCE.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
    })
}

/// The transaction id of one delivery: the same for its retries, another
/// for any other message or after a restart (see the module comment).
pub fn txn_id(alert: &str, room: &str, message: &Message) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (
        alert,
        room,
        &message.view,
        message.incident,
        message.from.as_str(),
        message.to.as_str(),
        message.reminder,
        message.since,
    )
        .hash(&mut h);
    format!("lovebeat-{}-{:016x}", process_nonce(), h.finish())
}

/// `web is ERROR (incident 4)` and the text of mails.
pub fn body(message: &Message) -> String {
    let title = super::channel::title(message);
    let mut text = format!("{title}\n\n{}", message.text().trim_end());
    if text.len() > MAX_BODY {
        let mut cut = MAX_BODY;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("\n… (cut)");
    }
    text
}

/// The event content: `{"msgtype": "m.text", "body": ...}`.
pub fn payload(message: &Message) -> serde_json::Value {
    serde_json::json!({
        "msgtype": "m.text",
        "body": body(message),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::State;

    fn message(to: State) -> Message {
        Message {
            view: "web".into(),
            from: if to == State::Error {
                State::Ok
            } else {
                State::Error
            },
            to,
            incident: 4,
            failed: if to == State::Error {
                vec!["web.a".into()]
            } else {
                Vec::new()
            },
            failures: Vec::new(),
            link: None,
            reminder: 0,
            down_ms: None,
            since: 1000,
        }
    }

    #[test]
    fn the_request_is_a_put_of_an_m_text_event_to_the_encoded_room() {
        assert_eq!(
            url("https://m.example.org/", "!abc:example.org", "lovebeat-1-ff"),
            "https://m.example.org/_matrix/client/v3/rooms/%21abc%3Aexample.org/send/m.room.message/lovebeat-1-ff"
        );
        let p = payload(&message(State::Error));
        assert_eq!(p["msgtype"], "m.text");
        let body = p["body"].as_str().unwrap_or_default();
        assert!(body.starts_with("web is ERROR (incident 4)\n\n"), "{body}");
        assert!(body.contains("  - web.a"), "{body}");
        let body = body_of(State::Ok);
        assert!(body.starts_with("web is OK (incident 4)"), "{body}");
    }

    fn body_of(to: State) -> String {
        body(&message(to))
    }

    #[test]
    fn the_txn_id_is_stable_for_one_message_and_new_for_another() {
        let m = message(State::Error);
        let a = txn_id("ops", "!r:x", &m);
        assert_eq!(a, txn_id("ops", "!r:x", &m), "retries reuse it");
        assert!(a.starts_with(&format!("lovebeat-{}-", process_nonce())));
        let mut reminder = m.clone();
        reminder.reminder = 1;
        let mut recovery = m.clone();
        recovery.to = State::Ok;
        let mut next = m.clone();
        next.incident = 5;
        let ids = [
            a.clone(),
            txn_id("ops", "!r:x", &reminder),
            txn_id("ops", "!r:x", &recovery),
            txn_id("ops", "!r:x", &next),
            txn_id("dev", "!r:x", &m),
            txn_id("ops", "!s:x", &m),
        ];
        let mut unique = ids.to_vec();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "{ids:?}");
    }

    #[test]
    fn a_huge_body_is_cut_on_a_char_boundary() {
        let mut m = message(State::Error);
        m.failed = (0..20_000).map(|i| format!("sërvice.{i}")).collect();
        let b = body(&m);
        assert!(b.len() <= MAX_BODY + 20, "{}", b.len());
        assert!(b.ends_with("… (cut)"));
    }

    #[test]
    fn the_room_is_shown_the_access_token_is_the_secret_and_gaps_are_warned() {
        let mut settings = super::super::AlertSettings::default();
        let alert = crate::config::AlertConfig {
            matrix: "!r:x".into(),
            ..Default::default()
        };
        assert_eq!((CHANNEL.shown)("!r:x"), "!r:x");
        let p = (CHANNEL.problem)(&settings, &alert).unwrap_or_default();
        assert!(p.contains("homeserver is empty"), "{p}");
        settings.accounts.matrix.homeserver = "https://m.x".into();
        let p = (CHANNEL.problem)(&settings, &alert).unwrap_or_default();
        assert!(p.contains("access_token is empty"), "{p}");
        settings.accounts.matrix.access_token = "syt_SeCrEt".into();
        assert_eq!((CHANNEL.problem)(&settings, &alert), None);
        let agent = super::super::http::agent(std::time::Duration::from_secs(1));
        let ctx = Ctx {
            agent: &agent,
            settings: &settings,
            alert: "ops",
        };
        assert_eq!((CHANNEL.secrets)(&ctx, "!r:x"), vec!["syt_SeCrEt"]);
    }
}
