//! The HTTP side of `lovebeat run`: one signal POST to
//! `/api/services/<name>/<signal>?rid=...`, retried while lovebeat cannot
//! be reached or answers 5xx/429, all within a fixed budget per request
//! (connect timeouts included), so a job never hangs on its monitor.

use std::io::Read;
use std::time::{Duration, Instant};

/// The most one request may take, all its tries together.
pub const REQUEST_BUDGET: Duration = Duration::from_secs(10);
/// The first pause between tries; it doubles up to `MAX_PAUSE`.
const FIRST_PAUSE: Duration = Duration::from_millis(250);
const MAX_PAUSE: Duration = Duration::from_secs(2);
/// Most of an error answer kept for the warning.
const ERROR_TEXT_LIMIT: usize = 300;

/// Where and how to send.
#[derive(Debug, Clone)]
pub struct Client {
    /// The base URL without a trailing slash, e.g. `http://127.0.0.1:8080`.
    pub base: String,
    /// Sent as `Authorization: Bearer <token>`.
    pub token: Option<String>,
    pub budget: Duration,
}

/// What a request that was answered 2xx told us.
#[derive(Debug, Default)]
pub struct Answer {
    /// `Ping-Body-Limit`: how much of a body lovebeat keeps.
    pub body_limit: Option<usize>,
}

impl Client {
    /// POSTs `body` to `/api/services/<name>/<signal>?<query>`. `Err` says
    /// why it was not accepted, for the one warning.
    pub fn signal(
        &self,
        name: &str,
        signal: &str,
        query: &str,
        body: &[u8],
    ) -> Result<Answer, String> {
        let url = format!("{}/api/services/{name}/{signal}?{query}", self.base);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        let deadline = Instant::now() + self.budget;
        let mut pause = FIRST_PAUSE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let why = match self.try_once(&agent, &url, body, left) {
                Try::Done(answer) => return Ok(answer),
                Try::Refused(why) => return Err(why),
                Try::Again(why) => why,
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if left <= pause {
                return Err(why);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }

    fn try_once(&self, agent: &ureq::Agent, url: &str, body: &[u8], left: Duration) -> Try {
        if left.is_zero() {
            return Try::Again("no time left".into());
        }
        let mut request = agent
            .post(url)
            .header("Content-Type", "text/plain; charset=utf-8");
        if let Some(token) = &self.token {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        let sent = request
            .config()
            .timeout_global(Some(left))
            .build()
            .send(body);
        let mut response = match sent {
            Ok(r) => r,
            Err(e) => return Try::Again(format!("cannot reach {}: {e}", self.base)),
        };
        let status = response.status().as_u16();
        let body_limit = response
            .headers()
            .get(crate::http::jobs::BODY_LIMIT_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        if (200..300).contains(&status) {
            return Try::Done(Answer { body_limit });
        }
        let mut text = String::new();
        let _ = response
            .body_mut()
            .as_reader()
            .take(ERROR_TEXT_LIMIT as u64)
            .read_to_string(&mut text);
        // On one line: the warning is one line.
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let why = format!("{url} answered {status}: {text}");
        if status >= 500 || status == 429 {
            Try::Again(why)
        } else {
            Try::Refused(why)
        }
    }
}

enum Try {
    Done(Answer),
    /// Worth another try (unreachable, 5xx, 429).
    Again(String),
    /// Refused for good (bad token, bad setting): no retry.
    Refused(String),
}

/// Percent-encodes a query value (all but unreserved characters).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_query_values() {
        assert_eq!(encode("0 3 * * *"), "0%203%20%2A%20%2A%20%2A");
        assert_eq!(encode("Europe/Oslo"), "Europe%2FOslo");
        assert_eq!(encode("a-b.c_d~"), "a-b.c_d~");
    }

    #[test]
    fn gives_up_within_the_budget_when_nobody_listens() {
        // A port just bound and dropped: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let client = Client {
            base: format!("http://127.0.0.1:{port}"),
            token: None,
            budget: Duration::from_millis(600),
        };
        let err = client.signal("job", "start", "rid=x", b"").unwrap_err();
        assert!(err.contains("cannot reach"), "{err}");
    }
}
