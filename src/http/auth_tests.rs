//! Tests of the access-token decision and its helpers.

use super::*;
use crate::base64::url_unpadded as base64url;

const TOKEN: &str = "s3cret-token-0123456789";

fn req(method: &str, path: &str, headers: &[(&str, &str)]) -> HttpRequest {
    HttpRequest {
        method: method.into(),
        path: path.into(),
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..Default::default()
    }
}

fn bearer_header() -> String {
    format!("Bearer {TOKEN}")
}

#[test]
fn ct_eq_is_equality() {
    assert!(ct_eq(b"", b""));
    assert!(ct_eq(b"abc", b"abc"));
    assert!(!ct_eq(b"abc", b"abd"));
    assert!(!ct_eq(b"abc", b"xbc"));
    assert!(!ct_eq(b"abc", b"ab"), "a prefix is not equal");
    assert!(!ct_eq(b"ab", b"abc"));
    assert!(!ct_eq(b"", b"a"));
    assert!(
        !ct_eq(b"a\0", b"a"),
        "a zero byte past the end still differs"
    );
    assert!(!ct_eq(b"a", b"a\0"));
    // Lengths whose XOR is 0 in the low bits of a byte are still different.
    assert!(!ct_eq(&[0u8; 256], &[0u8; 0]));
    let long = vec![7u8; 4096];
    let mut other = long.clone();
    assert!(ct_eq(&long, &other));
    other[4095] = 8;
    assert!(!ct_eq(&long, &other));
}

#[test]
fn base64url_matches_rfc_4648_vectors() {
    // RFC 4648 section 10, padding removed, then the url-safe characters.
    for (input, out) in [
        ("", ""),
        ("f", "Zg"),
        ("fo", "Zm8"),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg"),
        ("fooba", "Zm9vYmE"),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(base64url(input.as_bytes()), out, "{input}");
    }
    // 0xfb 0xff → "+/8" in base64, "-_8" in base64url.
    assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
}

#[test]
fn bearer_parsing() {
    assert_eq!(bearer("Bearer abc"), Some("abc"));
    assert_eq!(bearer("bearer   abc "), Some("abc"));
    assert_eq!(bearer("BEARER abc"), Some("abc"));
    for bad in [
        "",
        "Bearer",
        "Bearer ",
        "Basic abc",
        "abc",
        "Bearer a b",
        "Token abc",
    ] {
        assert_eq!(bearer(bad), None, "{bad:?}");
    }
}

#[test]
fn what_each_request_needs() {
    for path in [
        "/",
        "/services",
        "/views/web",
        "/views/web/",
        "/services/db.backup",
        "/static/app.js",
    ] {
        assert_eq!(need("GET", path), Need::Nothing, "{path}");
        assert_eq!(need("HEAD", path), Need::Nothing, "{path}");
        assert_eq!(need("POST", path), Need::Write, "{path}");
    }
    for path in [
        "/api/services",
        "/api/services/a",
        "/api/services/a/history",
        "/api/views/v",
        "/api/alarms",
        "/status",
        "/api/status",
        "/version",
        "/metrics",
        "/ws",
        "/nonexistent",
        "/static",
        "/static/a/b",
        "/views",
    ] {
        assert_eq!(need("GET", path), Need::Read, "{path}");
    }
    for method in ["POST", "DELETE", "PUT", "PATCH", "OPTIONS", "get", ""] {
        assert_eq!(need(method, "/api/services/a"), Need::Write, "{method}");
    }
}

#[test]
fn without_a_token_everything_is_open() {
    let auth = Auth::new("", true);
    assert!(!auth.enabled());
    for (m, p) in [
        ("POST", "/api/services/a"),
        ("DELETE", "/api/services/a"),
        ("GET", "/ws"),
    ] {
        assert_eq!(auth.check(&req(m, p, &[])), Ok(()));
        let garbage = req(m, p, &[("Authorization", "garbage")]);
        assert_eq!(auth.check(&garbage), Ok(()), "nothing is checked");
    }
}

#[test]
fn token_guards_writes_only() {
    let auth = Auth::new(TOKEN, false);
    let good = bearer_header();
    for (m, p) in [
        ("POST", "/api/services/a"),
        ("DELETE", "/api/services/a"),
        ("POST", "/api/services/a/mute"),
        ("DELETE", "/api/views/v"),
    ] {
        assert_eq!(auth.check(&req(m, p, &[])), Err(Denied::Missing), "{m} {p}");
        let wrong = req(m, p, &[("Authorization", "Bearer s3cret-token-012345678X")]);
        assert_eq!(auth.check(&wrong), Err(Denied::Wrong));
        let short = req(m, p, &[("Authorization", "Bearer s3cret")]);
        assert_eq!(auth.check(&short), Err(Denied::Wrong));
        for bad in ["Basic abc", "Bearer", "", "Bearer a b"] {
            let malformed = req(m, p, &[("Authorization", bad)]);
            assert_eq!(auth.check(&malformed), Err(Denied::Malformed), "{bad:?}");
        }
        assert_eq!(auth.check(&req(m, p, &[("authorization", &good)])), Ok(()));
    }
    for p in [
        "/api/services",
        "/metrics",
        "/ws",
        "/status",
        "/version",
        "/",
    ] {
        assert_eq!(auth.check(&req("GET", p, &[])), Ok(()), "{p} is a read");
    }
}

#[test]
fn auth_read_guards_reads_but_not_the_page() {
    let auth = Auth::new(TOKEN, true);
    let good = bearer_header();
    for p in [
        "/api/services",
        "/api/services/a",
        "/metrics",
        "/ws",
        "/status",
        "/version",
    ] {
        assert_eq!(auth.check(&req("GET", p, &[])), Err(Denied::Missing), "{p}");
        assert_eq!(
            auth.check(&req("HEAD", p, &[])),
            Err(Denied::Missing),
            "{p}"
        );
        assert_eq!(
            auth.check(&req("GET", p, &[("Authorization", &good)])),
            Ok(())
        );
    }
    for p in ["/", "/services", "/views/x", "/static/app.js"] {
        assert_eq!(auth.check(&req("GET", p, &[])), Ok(()), "{p}");
    }
    assert_eq!(
        auth.check(&req("POST", "/api/services/a", &[])),
        Err(Denied::Missing)
    );
}

#[test]
fn websocket_takes_the_token_as_a_subprotocol() {
    let auth = Auth::new(TOKEN, true);
    let offer = format!("lovebeat, bearer.{}", base64url(TOKEN.as_bytes()));
    let ws = |v: &str| req("GET", "/ws", &[("Sec-WebSocket-Protocol", v)]);
    assert_eq!(auth.check(&ws(&offer)), Ok(()));
    assert_eq!(
        auth.check(&ws(&format!(
            "bearer.{}",
            base64url(b"s3cret-token-012345678X")
        ))),
        Err(Denied::Wrong)
    );
    assert_eq!(auth.check(&ws("bearer.")), Err(Denied::Wrong));
    assert_eq!(
        auth.check(&ws(&format!("bearer.{TOKEN}"))),
        Err(Denied::Wrong),
        "not encoded"
    );
    assert_eq!(auth.check(&ws("lovebeat")), Err(Denied::Missing));
    // A wrong offer next to the right one still lets the right one in.
    let both = format!("bearer.x, {offer}");
    assert_eq!(auth.check(&ws(&both)), Ok(()));
    // Only on /ws.
    let elsewhere = req(
        "GET",
        "/api/services",
        &[("Sec-WebSocket-Protocol", &offer)],
    );
    assert_eq!(auth.check(&elsewhere), Err(Denied::Missing));
    // An Authorization header (non-browser clients) works on /ws too.
    let header = req("GET", "/ws", &[("Authorization", &bearer_header())]);
    assert_eq!(auth.check(&header), Ok(()));
}

#[test]
fn debug_output_hides_the_token() {
    let text = format!("{:?}", Auth::new(TOKEN, true));
    assert!(!text.contains(TOKEN) && !text.contains("czNj"), "{text}");
    assert!(text.contains("read: true"), "{text}");
}

#[test]
fn denial_messages_and_challenges() {
    assert!(Denied::Missing
        .message(Need::Write)
        .contains("Authorization: Bearer"));
    assert!(Denied::Malformed.message(Need::Read).contains("malformed"));
    assert!(!Denied::Wrong.message(Need::Read).contains(TOKEN));
    assert_eq!(Denied::Missing.challenge(), "Bearer realm=\"lovebeat\"");
    assert!(Denied::Wrong.challenge().contains("invalid_token"));
}

#[test]
fn grants_is_the_token_sent_or_no_token_set() {
    let open = Auth::new("", false);
    assert!(open.grants(&req("GET", "/ping/x", &[])));
    let auth = Auth::new(TOKEN, false);
    let bearer = bearer_header();
    assert!(auth.grants(&req("GET", "/ping/x", &[("Authorization", &bearer)])));
    // A GET passes `check` without the token (no auth_read), but is not
    // granted what only the token allows.
    assert!(auth.check(&req("GET", "/ping/x", &[])).is_ok());
    assert!(!auth.grants(&req("GET", "/ping/x", &[])));
    assert!(!auth.grants(&req("GET", "/ping/x", &[("Authorization", "Bearer nope")])));
    assert!(!auth.grants(&req("GET", "/ping/x", &[("Authorization", TOKEN)])));
}

#[test]
fn badges_need_the_read_token_unless_public_and_the_status_page_never() {
    let good = bearer_header();
    let closed = Auth::new(TOKEN, true);
    let open = Auth::new(TOKEN, true).with_public_badges(true);
    for p in ["/badge/web.svg", "/badge/web.json"] {
        assert_eq!(closed.check(&req("GET", p, &[])), Err(Denied::Missing));
        let with = [("Authorization", good.as_str())];
        assert_eq!(closed.check(&req("GET", p, &with)), Ok(()));
        assert_eq!(open.check(&req("GET", p, &[])), Ok(()), "{p}");
        assert_eq!(open.check(&req("HEAD", p, &[])), Ok(()), "{p}");
        // A write is never opened by it.
        assert_eq!(open.check(&req("POST", p, &[])), Err(Denied::Missing));
    }
    // Only the badge route: not the API, not a deeper path.
    for p in ["/badge/a/b.svg", "/badges/a.svg", "/api/views/web"] {
        assert_eq!(open.check(&req("GET", p, &[])), Err(Denied::Missing), "{p}");
    }
    for auth in [&closed, &open] {
        assert_eq!(auth.check(&req("GET", "/status-page", &[])), Ok(()));
        assert_eq!(auth.check(&req("GET", "/status-page/", &[])), Ok(()));
        assert_eq!(
            auth.check(&req("POST", "/status-page", &[])),
            Err(Denied::Missing)
        );
    }
    assert!(format!("{open:?}").contains("public_badges: true"));
}
