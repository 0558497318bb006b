//! The websocket's Origin check (against cross-site websocket hijacking: a
//! page on another site opening our `/ws` from a visitor's browser). A
//! browser always sends `Origin`; it must name the host[:port] the request
//! was sent to, which is the `Host` header, or, behind a proxy that
//! rewrites `Host`, the `X-Forwarded-Host` it adds. A browser cannot set
//! either header on a websocket itself. No `Origin` at all (a non-browser
//! client) is allowed.

/// `Ok` when `origin` (the header, if any) matches `host` or
/// `forwarded_host`; otherwise the reason, for a 403.
pub fn check(
    origin: Option<&str>,
    host: Option<&str>,
    forwarded_host: Option<&str>,
) -> Result<(), String> {
    let Some(origin) = origin.map(str::trim) else {
        return Ok(());
    };
    let Some((scheme, authority)) = origin.split_once("://") else {
        return Err(format!(
            "cross-origin websocket refused: Origin {origin:?} is not scheme://host[:port]"
        ));
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => 80,
        "https" => 443,
        _ => {
            return Err(format!(
                "cross-origin websocket refused: Origin {origin:?} is not an http(s) page"
            ))
        }
    };
    let Some(wanted) = host_port(authority, default_port) else {
        return Err(format!(
            "cross-origin websocket refused: Origin {origin:?} is not scheme://host[:port]"
        ));
    };
    // X-Forwarded-Host may list several proxies; the first is the client's.
    let forwarded = forwarded_host.and_then(|v| v.split(',').next());
    let matches = [host, forwarded]
        .into_iter()
        .flatten()
        .any(|h| host_port(h.trim(), default_port).as_ref() == Some(&wanted));
    if matches {
        return Ok(());
    }
    Err(format!(
        "cross-origin websocket refused: the page at {origin} is not this server (Host: {}); \
         behind a reverse proxy, pass the browser's Host on \
         (nginx: proxy_set_header Host $http_host;)",
        host.unwrap_or("none")
    ))
}

/// `host[:port]` → (lower-case host, port), with `default_port` when none
/// is written. IPv6 in brackets. None for anything else (a path, junk).
fn host_port(authority: &str, default_port: u16) -> Option<(String, u16)> {
    if authority.is_empty() || authority.contains(['/', '@', ' ', '?', '#']) {
        return None;
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (ip, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (format!("[{ip}]"), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (authority.to_owned(), None),
        }
    };
    if host.is_empty() || host.contains(':') && !host.starts_with('[') {
        return None;
    }
    let port = match port {
        None | Some("") => default_port,
        Some(p) => p.parse().ok()?,
    };
    Some((host.to_ascii_lowercase(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_origin_is_a_non_browser_client() {
        assert_eq!(check(None, Some("x:1"), None), Ok(()));
        assert_eq!(check(None, None, None), Ok(()));
    }

    #[test]
    fn same_host_and_port() {
        let ok = [
            ("http://127.0.0.1:8080", "127.0.0.1:8080"),
            ("http://Example.COM", "example.com"),
            ("http://example.com", "example.com:80"),
            ("https://example.com", "example.com"),
            ("https://example.com:443", "example.com"),
            ("http://[::1]:8080", "[::1]:8080"),
            ("HTTP://a.b:1", "A.B:1"),
        ];
        for (origin, host) in ok {
            assert_eq!(
                check(Some(origin), Some(host), None),
                Ok(()),
                "{origin} {host}"
            );
        }
    }

    #[test]
    fn other_origins_are_refused() {
        let bad = [
            ("http://evil.example", "lovebeat:8080"),
            ("http://127.0.0.1:9999", "127.0.0.1:8080"),
            ("https://example.com", "example.com:80"),
            ("http://example.com", "example.com:443"),
            ("null", "example.com"),
            ("file://", "example.com"),
            ("chrome-extension://abc", "abc"),
            ("http://example.com/path", "example.com"),
            ("http://user@example.com", "example.com"),
            ("http://example.com:99999", "example.com:99999"),
            ("http://", ""),
            ("http://[::1]x", "[::1]"),
            ("http://::1:80", "::1:80"),
        ];
        for (origin, host) in bad {
            assert!(
                check(Some(origin), Some(host), None).is_err(),
                "{origin} {host}"
            );
        }
        assert!(check(Some("http://a:1"), None, None).is_err(), "no Host");
    }

    #[test]
    fn forwarded_host_of_a_proxy() {
        let origin = Some("https://mon.example.com");
        // nginx's default: Host is the upstream's.
        assert!(check(origin, Some("localhost:8080"), None).is_err());
        assert_eq!(
            check(origin, Some("localhost:8080"), Some("mon.example.com")),
            Ok(())
        );
        assert_eq!(
            check(
                origin,
                Some("localhost:8080"),
                Some("mon.example.com, proxy2")
            ),
            Ok(())
        );
        assert!(check(origin, Some("localhost:8080"), Some("evil.example")).is_err());
    }

    #[test]
    fn refusal_says_what_to_do() {
        let e = check(Some("http://a:1"), Some("b:2"), None).unwrap_err();
        assert!(e.contains("proxy_set_header Host $http_host"), "{e}");
    }
}
