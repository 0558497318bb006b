//! SPEC 18's badges and public status page, against the real binary on
//! 127.0.0.1: `/badge/<view>.svg` and `.json` for each state, who may read
//! them (`[http] public_badges`, the read token), unknown and garbage
//! names; `/status-page` shows the listed views only, never a service name
//! unless `show_services`, needs no token, offers nothing that writes, and
//! is 404 without `[status_page]`.

mod common;

use common::{wait_until, Server, TempDir};
use serde_json::json;
use std::time::Duration;

const TOKEN: &str = "badge-token-0123456789abcdef";
const WAIT: Duration = Duration::from_secs(30);
const VIEWS: &str = "[[views]]\nname = \"web\"\npattern = \"web.*\"\n\
                     [[views]]\nname = \"db\"\npattern = \"db.*\"\n\
                     [[views]]\nname = \"secret\"\npattern = \"secret.*\"\n";

/// A server whose `[http]` section also has `http_extra`, plus `extra`.
fn start(dir: &TempDir, http_extra: &str, extra: &str) -> Server {
    let http = "[http]\nlisten = \"127.0.0.1:0\"\n";
    let config = common::base_config(dir.path()).replace(http, &format!("{http}{http_extra}"));
    Server::start_with_config(dir.path(), &format!("{config}{extra}"))
}

fn auth() -> String {
    format!("Bearer {TOKEN}")
}

/// web.frontend OK, db.primary and secret.thing in ERROR (timeout 0), and
/// waits until the views say so.
fn populate(s: &Server, token: bool) {
    let auth = auth();
    let headers: &[(&str, &str)] = if token {
        &[("Authorization", &auth)]
    } else {
        &[]
    };
    for path in [
        "/api/services/web.frontend",
        "/api/services/db.primary?timeout=0",
        "/api/services/secret.thing?timeout=0",
    ] {
        let r = s.request("POST", path, headers, b"");
        assert_eq!(r.status, 200, "{path}: {}", r.text());
    }
    let settled = wait_until(WAIT, || {
        ["db", "secret"]
            .iter()
            .all(|v| view_state(s, v, headers) == "error")
            && view_state(s, "web", headers) == "ok"
    });
    assert!(settled, "views did not settle:\n{}", s.log_text());
}

fn view_state(s: &Server, view: &str, headers: &[(&str, &str)]) -> String {
    let r = s.request("GET", &format!("/api/views/{view}"), headers, b"");
    let v = r.json();
    v["view"]["state"]
        .as_str()
        .or(v["state"].as_str())
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn badges_show_each_state_in_svg_and_shields_json() {
    let dir = TempDir::new("badges-states");
    let s = start(&dir, "", VIEWS);
    populate(&s, false);

    for (view, message, hex, named) in [
        ("web", "ok", "#4c1", "brightgreen"),
        ("db", "error", "#e05d44", "red"),
    ] {
        let r = s.get(&format!("/badge/{view}.svg"));
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("content-type"), Some("image/svg+xml"));
        assert_eq!(r.header("cache-control"), Some("no-cache"));
        assert_eq!(
            r.header("content-security-policy"),
            Some("default-src 'none'")
        );
        let svg = r.text();
        assert!(
            svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            "{svg}"
        );
        assert!(
            svg.contains(&format!("<title>{view}: {message}</title>")),
            "{svg}"
        );
        assert!(svg.contains(&format!("fill=\"{hex}\"/>")), "{svg}");
        assert!(svg.contains(&format!(">{message}</text>")), "{svg}");
        assert!(svg.contains(&format!(">{view}</text>")), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"));

        let r = s.get(&format!("/badge/{view}.json"));
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("cache-control"), Some("no-cache"));
        assert_eq!(
            r.json(),
            json!({"schemaVersion": 1, "label": view, "message": message, "color": named})
        );
    }

    // A muted view: whatever the API says its state is, the badge says too.
    assert_eq!(s.post("/api/views/db/mute").status, 200);
    let muted = view_state(&s, "db", &[]);
    let look = |state: &str| match state {
        "muted" => ("#9f9f9f", "lightgrey"),
        "error" => ("#e05d44", "red"),
        "ok" => ("#4c1", "brightgreen"),
        _ => ("#007ec6", "blue"),
    };
    let (hex, named) = look(&muted);
    // (Badges read the views' states at most once a second: polled.)
    let same = wait_until(WAIT, || {
        let j = s.get("/badge/db.json").json();
        j["message"] == muted.as_str() && j["color"] == named
    });
    assert!(same, "{}", s.get("/badge/db.json").text());
    assert!(s
        .get("/badge/db.svg")
        .text()
        .contains(&format!("fill=\"{hex}\"/>")));

    // HEAD: headers only.
    let r = s.request("HEAD", "/badge/web.svg", &[], b"");
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    assert_eq!(r.header("content-type"), Some("image/svg+xml"));
    // Reads only.
    for method in ["POST", "DELETE", "PUT"] {
        let r = s.request(method, "/badge/web.svg", &[], b"");
        assert_eq!(r.status, 405, "{method}");
        assert_eq!(r.header("allow"), Some("GET, HEAD"));
    }
}

#[test]
fn unknown_and_garbage_badge_names_are_404_without_echo() {
    let dir = TempDir::new("badges-garbage");
    let s = start(&dir, "", VIEWS);
    populate(&s, false);

    let r = s.get("/badge/nope.svg");
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("image/svg+xml"));
    let svg = r.text();
    assert!(
        svg.contains("<title>lovebeat: unknown view</title>"),
        "{svg}"
    );
    assert!(!svg.contains("nope"), "{svg}");
    let r = s.get("/badge/nope.json");
    assert_eq!(r.status, 404);
    assert_eq!(r.json(), json!({"error": "unknown view"}));

    let long = "w".repeat(3000);
    for path in [
        "/badge/%3Cscript%3Ealert(1)%3C%2Fscript%3E.svg".to_owned(),
        "/badge/%22%3E%3Csvg%20onload%3Dx%3E.svg".to_owned(),
        "/badge/..%2F..%2F..%2Fetc%2Fpasswd.svg".to_owned(),
        "/badge/%2e%2e.json".to_owned(),
        "/badge/web%00.svg".to_owned(),
        "/badge/%FF%FE.svg".to_owned(),
        format!("/badge/{long}.svg"),
        format!("/badge/{long}.json"),
    ] {
        let r = s.get(&path);
        assert_eq!(r.status, 404, "{path}: {}", r.text());
        let body = r.text();
        for echoed in ["script", "onload", "passwd", "wwwwwwwwww"] {
            assert!(!body.contains(echoed), "{path}: {body}");
        }
    }
    // Paths beside the route are not badges (nor anything else).
    for path in [
        "/badge/web",
        "/badge/web.png",
        "/badge/",
        "/badge/a/web.svg",
    ] {
        assert_eq!(s.get(path).status, 404, "{path}");
    }
    // `..` as a segment is just a name: nothing outside the route is read.
    let r = s.get("/badge/../status");
    assert_ne!(r.status, 200, "{}", r.text());
    // And the server is still fine.
    assert_eq!(s.get("/badge/web.json").json()["message"], "ok");
}

#[test]
fn badges_need_the_read_token_unless_public() {
    // auth_read without public_badges: badges are reads like the API's.
    let dir = TempDir::new("badges-closed");
    let status = "[status_page]\nviews = [\"web\", \"db\"]\n";
    let s = start(
        &dir,
        &format!("auth_token = \"{TOKEN}\"\nauth_read = true\n"),
        &format!("{VIEWS}{status}"),
    );
    populate(&s, true);
    let auth = auth();
    for path in ["/badge/web.svg", "/badge/web.json"] {
        assert_eq!(s.get(path).status, 401, "{path}");
        let r = s.request("GET", path, &[("Authorization", &auth)], b"");
        assert_eq!(r.status, 200, "{path}");
        let r = s.request(
            "GET",
            path,
            &[("Authorization", "Bearer wrong-token-0000000000")],
            b"",
        );
        assert_eq!(r.status, 401, "{path}");
    }
    // The status page needs none.
    let r = s.get("/status-page");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(!r.text().contains(TOKEN));
    drop(s);

    // public_badges: open without the token; the API is still closed.
    let dir = TempDir::new("badges-open");
    let s = start(
        &dir,
        &format!("auth_token = \"{TOKEN}\"\nauth_read = true\npublic_badges = true\n"),
        VIEWS,
    );
    populate(&s, true);
    assert_eq!(s.get("/badge/web.svg").status, 200);
    assert_eq!(s.get("/badge/db.json").json()["message"], "error");
    assert_eq!(s.get("/badge/nope.json").status, 404);
    assert_eq!(s.get("/api/views/web").status, 401);
    assert_eq!(s.get("/api/views").status, 401);
    // Writes still need it.
    assert_eq!(s.post("/badge/web.svg").status, 401);
    assert_eq!(s.post("/api/views/web/mute").status, 401);
    // Not configured here: no status page.
    assert_eq!(s.get("/status-page").status, 404);
}

/// Everything `/status-page` must never contain.
fn assert_nothing_forbidden(html: &str) {
    for never in [
        "<form",
        "<script",
        "<input",
        "<button",
        "/api/",
        "href=\"http",
        "src=",
        "@import",
        "url(http",
        TOKEN,
        "secret",
    ] {
        assert!(
            !html.contains(never),
            "the page contains {never:?}:\n{html}"
        );
    }
}

#[test]
fn the_status_page_shows_the_listed_views_and_no_service() {
    let dir = TempDir::new("status-page");
    let status = "[status_page]\ntitle = \"Acme <Status>\"\nviews = [\"db\", \"web\", \"ghost\"]\n";
    let s = start(
        &dir,
        &format!("auth_token = \"{TOKEN}\"\nauth_read = true\n"),
        &format!("{VIEWS}{status}"),
    );
    populate(&s, true);

    let r = s.get("/status-page");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    let csp = r.header("content-security-policy").unwrap_or_default();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(!csp.contains("script-src"), "{csp}");
    let html = r.text();
    assert!(html.starts_with("<!doctype html>"), "{html}");
    assert!(
        html.contains("<title>Acme &lt;Status&gt;</title>"),
        "{html}"
    );
    assert!(html.contains("<meta http-equiv=\"refresh\" content=\"60\">"));
    assert!(html.contains("width=device-width"));
    assert!(html.contains("prefers-color-scheme:dark"));
    assert!(html.contains("1 open incident"), "{html}");
    // In the configured order, each with its state.
    let db = html.find(">db</h2>").expect("db shown");
    let web = html.find(">web</h2>").expect("web shown");
    let ghost = html.find(">ghost</h2>").expect("ghost shown");
    assert!(db < web && web < ghost);
    assert!(html.contains(">db</h2><span class=\"state error\">Outage</span>"));
    assert!(html.contains(">web</h2><span class=\"state ok\">Operational</span>"));
    assert!(html.contains(">ghost</h2><span class=\"state none\">No data</span>"));
    assert!(html.contains("In ERROR since "), "{html}");
    assert!(html.contains("· 1 service failing"), "{html}");
    // One 90-day strip per listed view, from the views' history: today
    // db was in ERROR and web not; before today (and for ghost) nothing
    // is known.
    assert_eq!(html.matches("<svg class=\"strip\"").count(), 3);
    assert_eq!(html.matches("<rect ").count(), 3 * 90);
    let sections: Vec<&str> = html.split("<section").skip(1).collect();
    assert_eq!(sections.len(), 3);
    let bars = |section: &str| -> Vec<String> {
        section
            .split("<rect class=\"d-")
            .skip(1)
            .map(|r| r[..r.find('"').unwrap_or(0)].to_owned())
            .collect()
    };
    let (db_bars, web_bars, ghost_bars) = (bars(sections[0]), bars(sections[1]), bars(sections[2]));
    assert_eq!(
        db_bars.last().map(String::as_str),
        Some("down"),
        "{}",
        sections[0]
    );
    assert_eq!(
        web_bars.last().map(String::as_str),
        Some("ok"),
        "{}",
        sections[1]
    );
    // (Day 88 may hold a second or two when the test straddles midnight.)
    for b in [&db_bars[..88], &web_bars[..88], &ghost_bars[..]] {
        assert!(b.iter().all(|c| c == "none"), "{b:?}");
    }
    assert!(["none", "down"].contains(&db_bars[88].as_str()));
    assert!(["none", "ok"].contains(&web_bars[88].as_str()));
    assert!(
        sections[1].contains("<span class=\"up\">100 % uptime</span>"),
        "{}",
        sections[1]
    );
    assert!(!sections[0].contains("100 % uptime"), "{}", sections[0]);
    assert!(sections[2].contains("<span class=\"up\">no data</span>"));
    // No service, no unlisted view, nothing that writes.
    for name in ["web.frontend", "db.primary", "secret.thing"] {
        assert!(!html.contains(name), "{name} shown:\n{html}");
    }
    assert_nothing_forbidden(&html);

    // Query garbage changes nothing and is not echoed.
    let r = s.get("/status-page?view=secret&x=%3Cscript%3E");
    assert_eq!(r.status, 200);
    assert_nothing_forbidden(&r.text());
    assert_eq!(s.get("/status-page/").status, 200);
    // Read-only: writes are refused (the token guards them first).
    assert_eq!(s.post("/status-page").status, 401);
    let r = s.request("POST", "/status-page", &[("Authorization", &auth())], b"");
    assert_eq!(r.status, 405);
    assert_eq!(
        s.get("/status-page/web").status,
        401,
        "not a route: a read of the API"
    );
}

#[test]
fn show_services_names_the_failing_services_of_listed_views_only() {
    let dir = TempDir::new("status-page-services");
    let status = "[status_page]\nviews = [\"web\", \"db\"]\nshow_services = true\n";
    let s = start(&dir, "", &format!("{VIEWS}{status}"));
    populate(&s, false);
    let html = s.get("/status-page").text();
    assert!(html.contains("<title>Status</title>"), "{html}");
    assert!(html.contains("<li>db.primary</li>"), "{html}");
    // Only failing services of listed views are named.
    assert!(
        !html.contains("web.frontend") && !html.contains("secret"),
        "{html}"
    );
    assert_nothing_forbidden(&html);

    // db recovers: the incident closes, and today's bar keeps the outage
    // (the page is rendered afresh every 5 s: polled).
    let r = s.post("/api/services/db.primary?timeout=-1");
    assert_eq!(r.status, 200, "{}", r.text());
    let mut page = String::new();
    let closed = wait_until(WAIT, || {
        page = s.get("/status-page").text();
        page.contains("All systems operational")
    });
    assert!(closed, "{page}");
    assert!(
        page.contains(">db</h2><span class=\"state ok\">Operational</span>"),
        "{page}"
    );
    assert!(
        !page.contains("In ERROR since") && !page.contains("db.primary"),
        "{page}"
    );
    let db = page.split("<section").nth(2).unwrap_or_default();
    // Today's bar (or yesterday's, when the test straddles midnight).
    let outage = db.rsplit("<rect class=\"d-").take(2).any(|bar| {
        (bar.starts_with("down\"") || bar.starts_with("part\""))
            && bar.contains(" in ERROR</title>")
    });
    assert!(outage, "{db}");
    assert!(!db.contains("100 % uptime"), "{db}");
}

#[test]
fn without_a_status_page_section_there_is_no_status_page() {
    let dir = TempDir::new("status-page-off");
    let s = start(&dir, "", VIEWS);
    for method in ["GET", "HEAD", "POST"] {
        let r = s.request(method, "/status-page", &[], b"");
        assert_eq!(r.status, 404, "{method}");
    }
    // Without a token at all, badges are open (as every read is).
    assert_eq!(s.post("/api/services/web.a").status, 200);
    let ok = wait_until(WAIT, || {
        let r = s.get("/badge/web.json");
        r.status == 200 && r.json()["message"] == "ok"
    });
    assert!(ok, "{}", s.get("/badge/web.json").text());
}
