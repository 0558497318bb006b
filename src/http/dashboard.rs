//! The dashboard (SPEC 5, 18): `web/` embedded in the binary. `GET /`,
//! `/services`, `/views/<name>` and `/services/<name>` all serve
//! `index.html` (the page routes on its fragment); `/static/<file>` serves the assets. The page learns
//! its own root from how many slashes the served path had, so it works
//! under any sub-path a reverse proxy puts it on (the one script tag of the
//! page is relative to the page for the same reason). The page carries a
//! Content-Security-Policy allowing only its own origin (no inline script
//! or style, no framing). Every response carries
//! an ETag (a hash of the file) and `Cache-Control: no-cache`: browsers
//! revalidate cheaply (304) and never run a stale dashboard after an
//! upgrade.

use super::request::{HttpRequest, HttpResponse};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const INDEX: &str = include_str!("../../web/index.html");

/// The page's Content-Security-Policy: our own files only. `connect-src
/// 'self'` covers the websocket to the same host and port (CSP level 3).
pub const CSP: &str = "default-src 'self'; connect-src 'self'; img-src 'self' data:; \
     style-src 'self'; script-src 'self'; base-uri 'none'; frame-ancestors 'none'; \
     form-action 'self'; object-src 'none'";

const ASSETS: &[Asset] = &[
    Asset {
        name: "boot.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../web/boot.js"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../web/app.js"),
    },
    Asset {
        name: "api.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../web/api.js"),
    },
    Asset {
        name: "auth.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../web/auth.js"),
    },
    Asset {
        name: "format.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../web/format.js"),
    },
    Asset {
        name: "live.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../web/live.js"),
    },
    Asset {
        name: "maintenance.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../web/maintenance.js"),
    },
    Asset {
        name: "render.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../web/render.js"),
    },
    Asset {
        name: "service.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../web/service.js"),
    },
    Asset {
        name: "charts.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../web/charts.js"),
    },
    Asset {
        name: "words.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../web/words.js"),
    },
    Asset {
        name: "uptime.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../web/uptime.js"),
    },
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../web/style.css"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_str!("../../web/favicon.svg"),
    },
];

/// FNV-1a, 64 bit: a stable fingerprint of the file for its ETag.
fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Adds the caching headers, or turns the reply into a bodiless 304 when
/// the browser's copy is current.
fn cached(req: &HttpRequest, mut resp: HttpResponse) -> HttpResponse {
    let etag = format!("\"{:016x}\"", fnv(&[&resp.body]));
    let fresh = req
        .header("if-none-match")
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    if fresh {
        resp.status = 304;
        resp.body.clear();
    }
    resp.headers.push(("ETag".into(), etag));
    resp.headers
        .push(("Cache-Control".into(), "no-cache".into()));
    resp
}

/// The page, for `/`, `/services`, `/views/<name>` and `/services/<name>`.
pub fn page(req: &HttpRequest) -> HttpResponse {
    let slashes = req.path.matches('/').count().max(1);
    // From `/x/views/web` (2 slashes) back to `/x/`: "../".
    let prefix = if slashes == 1 {
        "./".to_owned()
    } else {
        "../".repeat(slashes - 1)
    };
    let html = INDEX
        .replacen("__SLASHES__", &slashes.to_string(), 1)
        .replacen("__PREFIX__", &prefix, 1);
    let mut resp = HttpResponse::html(200, &html);
    resp.headers
        .push(("Content-Security-Policy".into(), CSP.into()));
    // The page is never framed (older browsers ignore frame-ancestors).
    resp.headers.push(("X-Frame-Options".into(), "DENY".into()));
    cached(req, resp)
}

/// `/static/<name>`, or None when there is no such asset.
pub fn asset(req: &HttpRequest, name: &str) -> Option<HttpResponse> {
    let a = ASSETS.iter().find(|a| a.name == name)?;
    let resp = HttpResponse {
        status: 200,
        content_type: a.content_type,
        headers: Vec::new(),
        body: a.body.as_bytes().to_vec(),
    };
    Some(cached(req, resp))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> HttpRequest {
        HttpRequest {
            method: "GET".into(),
            path: path.into(),
            ..Default::default()
        }
    }

    #[test]
    fn page_knows_its_depth() {
        for (path, n) in [
            ("/", 1),
            ("/services", 1),
            ("/views/web", 2),
            ("/views/web/", 3),
            ("/services/db.backup", 2),
        ] {
            let body = String::from_utf8(page(&get(path)).body).unwrap_or_default();
            assert!(
                body.contains(&format!("data-slashes=\"{n}\"")),
                "{path}: {body}"
            );
        }
    }

    #[test]
    fn page_has_no_inline_script_and_finds_boot_js() {
        for (path, prefix) in [
            ("/", "./"),
            ("/services", "./"),
            ("/views/web", "../"),
            ("/views/web/", "../../"),
            ("/services/db.backup", "../"),
        ] {
            let resp = page(&get(path));
            let body = String::from_utf8(resp.body).unwrap_or_default();
            assert!(
                body.contains(&format!("<script src=\"{prefix}static/boot.js\"></script>")),
                "{path}: {body}"
            );
            assert!(!body.contains("__"), "a placeholder left in {path}");
            assert_eq!(body.matches("<script").count(), 1, "{path}");
            assert!(!body.contains(" style="), "no inline style");
            let csp = resp
                .headers
                .iter()
                .find(|(k, _)| k == "Content-Security-Policy")
                .map(|(_, v)| v.as_str());
            assert_eq!(csp, Some(CSP));
        }
        assert!(!CSP.contains("unsafe"));
    }

    #[test]
    fn every_module_the_page_imports_is_served() {
        for a in ASSETS {
            for line in a.body.lines().filter(|l| l.starts_with("import ")) {
                let file = line
                    .rsplit("'./")
                    .next()
                    .and_then(|r| r.split('\'').next())
                    .unwrap_or("");
                assert!(
                    ASSETS.iter().any(|b| b.name == file),
                    "{} imports {file}, which is not embedded",
                    a.name
                );
            }
        }
    }

    #[test]
    fn nothing_from_the_internet() {
        for body in ASSETS.iter().map(|a| a.body).chain([INDEX]) {
            for bad in ["http://", "https://", "//cdn", "@import", "fonts.g"] {
                let hits = body.matches(bad).count();
                let allowed = body.matches("http://www.w3.org/2000/svg").count();
                assert!(
                    bad != "http://" && hits == 0 || bad == "http://" && hits == allowed,
                    "{bad} in an asset"
                );
            }
        }
    }

    #[test]
    fn etag_revalidates() {
        let first = asset(&get("/static/app.js"), "app.js").expect("asset");
        assert_eq!(first.status, 200);
        let etag = first
            .headers
            .iter()
            .find(|(k, _)| k == "ETag")
            .map(|(_, v)| v.clone())
            .expect("etag");
        let mut again = get("/static/app.js");
        again.headers.push(("If-None-Match".into(), etag));
        let second = asset(&again, "app.js").expect("asset");
        assert_eq!(second.status, 304);
        assert!(second.body.is_empty());
        assert!(asset(&get("/static/nope.js"), "nope.js").is_none());
    }
}
