//! The public status page (SPEC 18): `GET /status-page` with
//! `[status_page]` configured (404 without). Read-only and open (no token,
//! see `auth`): server-rendered HTML with inline CSS and inline SVG, no
//! script, nothing loaded from anywhere (its CSP says so), refreshed by a
//! `<meta http-equiv="refresh">` every 60 s. It shows only the views the
//! section lists, in its order: state, the 90-day uptime strip
//! (`uptime_strip`, from `StateHandle::view_history`) with its uptime, and
//! an open incident (in ERROR since when, how many services fail). Service
//! names appear only with `show_services = true`. It has no form, no link
//! and nothing that writes; its only request is itself.
//!
//! `answer` gathers (one `views()` and one history per listed view, `now`
//! read here); `render` is pure. `Published` serves one rendering for
//! `CACHE_FOR` (5 s), so an open page cannot keep the state thread busy.

use super::badge::escape;
use super::fresh::Fresh;
use super::request::HttpResponse;
use super::uptime_strip::{self, Day, Timeline};
use crate::config::StatusPage;
use crate::model::{Millis, State};
use crate::state::StateHandle;
use std::convert::Infallible;
use std::time::{Duration, Instant};

/// Seconds between the page's own reloads.
pub const REFRESH_SECS: u32 = 60;

/// What the page needs to load: nothing. Inline style only (no script
/// anywhere), the `data:` icon that keeps browsers from asking for
/// `/favicon.ico`. It may be framed (it has nothing to click).
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
     base-uri 'none'; form-action 'none'";

/// One listed view, as the page shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Shown {
    pub name: String,
    /// `None`: no view of that name (yet); shown as "no data".
    pub state: Option<State>,
    /// When it entered its state.
    pub since: Millis,
    /// Member services in ERROR (names used only with `show_services`).
    pub failing: Vec<String>,
    /// The strip, oldest day first; all unknown when there is no history.
    pub days: Vec<Day>,
}

/// How long one rendering is served again: the page is open to anyone,
/// so however often it is asked for, the state thread renders it at most
/// once in this time (one `views()` and a history per listed view).
pub const CACHE_FOR: Duration = Duration::from_secs(5);

/// `[status_page]` as served: the section and its last rendering.
#[derive(Debug)]
pub struct Published {
    pub config: StatusPage,
    last: Fresh<HttpResponse>,
}

impl Published {
    pub fn new(config: StatusPage) -> Published {
        Published {
            config,
            last: Fresh::new(CACHE_FOR),
        }
    }

    /// The page, rendered at most once per `CACHE_FOR` (an unavailable
    /// page too). Readers arriving during a rendering wait for that one
    /// rendering instead of each asking the state thread.
    pub fn answer(&self, state: &StateHandle) -> HttpResponse {
        self.last
            .get(Instant::now(), || {
                Ok::<_, Infallible>(answer(state, &self.config))
            })
            .unwrap_or_else(|never| match never {})
    }
}

/// Renders `GET /status-page` afresh.
pub fn answer(state: &StateHandle, page: &StatusPage) -> HttpResponse {
    let now = crate::clock::now_ms();
    let views = match state.views() {
        Ok(v) => v,
        Err(e) => {
            log::debug!("status page: views not available: {e}");
            return reply(503, &unavailable(page));
        }
    };
    let since = uptime_strip::window_start(now, uptime_strip::DAYS);
    let shown: Vec<Shown> = page
        .views
        .iter()
        .map(|name| {
            let view = views.iter().find(|v| &v.name == name);
            let timeline = view.and_then(|_| history(state, name, since, now));
            let days = timeline
                .map(|t| uptime_strip::days(&t, now, uptime_strip::DAYS))
                .unwrap_or_else(|| no_data(now));
            Shown {
                name: name.clone(),
                state: view.map(|v| v.state),
                since: view.map_or(0, |v| v.last_state_change),
                failing: view.map(|v| v.failed_services.clone()).unwrap_or_default(),
                days,
            }
        })
        .collect();
    reply(200, &render(page, &shown, now))
}

/// Most history answers read for one view: an answer holds the newest
/// `MAX_CHANGES` of its window, so a view that changed more often than
/// that in 90 days is read back in pages, newest first; what is older than
/// the last page read counts as unknown.
const MAX_PAGES: usize = 8;

/// The view's changes from `since` to `now`; `None` when the state thread
/// has none to give (the strip is then all "no data").
fn history(state: &StateHandle, name: &str, since: Millis, now: Millis) -> Option<Timeline> {
    let mut pages = Vec::new();
    let mut until = now;
    // Where the changes read start from: the state at `since` and the
    // oldest known moment, or, while pages are missing, the first change
    // read (what is older is unknown).
    let mut base = None;
    for _ in 0..MAX_PAGES {
        let reply = match state.view_history(name, Some(since), Some(until)) {
            Ok(r) => r,
            Err(e) => {
                log::debug!("status page: no history of view {name}: {e}");
                return None;
            }
        };
        let first = reply.changes.first().map(|c| (c.at, c.from));
        let complete = reply.omitted == 0;
        let known_since = reply.known_since;
        let state_at_since = reply.state_at_since;
        pages.push(reply.changes);
        match first {
            Some((at, from)) if !complete => {
                base = Some((from, Some(known_since.map_or(at, |k| k.max(at)))));
                if at <= since {
                    break;
                }
                until = at - 1;
            }
            _ => {
                base = Some((state_at_since, known_since));
                break;
            }
        }
    }
    let (state_at_since, known_since) = base?;
    let changes = pages
        .into_iter()
        .rev()
        .flatten()
        .map(|c| (c.at, c.to))
        .collect();
    Some(Timeline {
        state_at_since,
        changes,
        known_since,
    })
}

fn no_data(now: Millis) -> Vec<Day> {
    let empty = Timeline {
        state_at_since: State::New,
        changes: Vec::new(),
        known_since: None,
    };
    uptime_strip::days(&empty, now, uptime_strip::DAYS)
}

fn reply(status: u16, html: &str) -> HttpResponse {
    let mut resp = HttpResponse::html(status, html);
    resp.headers
        .push(("Content-Security-Policy".into(), CSP.into()));
    resp.headers
        .push(("Cache-Control".into(), "no-cache".into()));
    resp
}

/// How a state is shown: (class, words).
fn state_look(state: Option<State>) -> (&'static str, &'static str) {
    match state {
        Some(State::Ok) => ("ok", "Operational"),
        Some(State::Error) => ("error", "Outage"),
        Some(State::Muted) => ("muted", "Maintenance"),
        Some(State::New) => ("new", "Waiting for data"),
        None => ("none", "No data"),
    }
}

/// `2026-11-29 18:02 UTC`.
fn clock(ms: Millis) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t.strftime("%Y-%m-%d %H:%M UTC").to_string(),
        Err(_) => ms.to_string(),
    }
}

const STYLE: &str = r#"
:root{color-scheme:light dark;--bg:#f6f7f9;--card:#fff;--fg:#1b1f24;--dim:#5b6470;--line:#dde1e6;
--ok:#2e9e4f;--error:#d93a2b;--muted:#6b7280;--new:#2f6fb3;--nodata:#d3d7dd}
@media (prefers-color-scheme:dark){:root{--bg:#111418;--card:#1b2027;--fg:#e8eaed;--dim:#a3abb5;
--line:#2d343d;--ok:#3fbf66;--error:#f0604f;--muted:#9ca3af;--new:#6ea8e6;--nodata:#3a424c}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:52rem;margin:0 auto;padding:1rem}
h1{font-size:1.6rem;margin:.5rem 0 1rem;overflow-wrap:anywhere}
.summary{padding:.8rem 1rem;border-radius:.5rem;color:#fff;font-weight:600;margin:0 0 1rem}
.summary.ok{background:#23813f}.summary.error{background:#c62f22}.summary.none{background:#5b6470}
.view{background:var(--card);border:1px solid var(--line);border-radius:.5rem;padding:.9rem 1rem;margin:0 0 .9rem}
.head{display:flex;flex-wrap:wrap;gap:.3rem .8rem;align-items:baseline;justify-content:space-between}
h2{font-size:1.1rem;margin:0;overflow-wrap:anywhere;min-width:0}
.state{font-weight:600}.state.ok{color:var(--ok)}.state.error{color:var(--error)}
.state.muted,.state.none{color:var(--muted)}.state.new{color:var(--new)}
.incident{margin:.5rem 0 0;padding:.5rem .7rem;border-left:4px solid var(--error);background:rgba(217,58,43,.08)}
.incident ul{margin:.3rem 0 0;padding-left:1.2rem}.incident li{overflow-wrap:anywhere}
.strip{display:block;width:100%;height:2.2rem;margin:.8rem 0 .3rem}
.strip .d-none{fill:var(--nodata)}
.legend{display:flex;justify-content:space-between;gap:.5rem;color:var(--dim);font-size:.8rem}
.legend .up{color:var(--fg);font-weight:600}
footer{color:var(--dim);font-size:.8rem;margin:1.2rem 0 .5rem}
"#;

fn head(title: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_SECS}\">\
         <meta name=\"color-scheme\" content=\"light dark\">\
         <meta name=\"robots\" content=\"noindex\">\
         <link rel=\"icon\" href=\"data:,\">\
         <title>{}</title><style>{STYLE}</style></head>\n<body><main>\n<h1>{}</h1>\n",
        escape(title),
        escape(title)
    )
}

/// The page when the state thread does not answer.
fn unavailable(page: &StatusPage) -> String {
    let mut html = head(&page.title);
    html.push_str(
        "<p class=\"summary none\">The status is not available right now; \
         this page tries again in a minute.</p>\n</main></body></html>\n",
    );
    html
}

/// The page. Pure: everything it shows is in its arguments.
pub fn render(page: &StatusPage, views: &[Shown], now: Millis) -> String {
    let mut html = head(&page.title);
    let incidents = views
        .iter()
        .filter(|v| v.state == Some(State::Error))
        .count();
    let (class, words) = match incidents {
        0 if views.iter().all(|v| v.state.is_some()) => ("ok", "All systems operational".into()),
        0 => ("none", "No outage known".into()),
        1 => ("error", "1 open incident".into()),
        n => ("error", format!("{n} open incidents")),
    };
    html.push_str(&format!("<p class=\"summary {class}\">{words}</p>\n"));
    for (i, v) in views.iter().enumerate() {
        html.push_str(&view_section(page, v, i, now));
    }
    html.push_str(&format!(
        "<footer>Updated {} · this page refreshes every {REFRESH_SECS} s</footer>\n</main></body></html>\n",
        clock(now)
    ));
    html
}

fn view_section(page: &StatusPage, v: &Shown, i: usize, now: Millis) -> String {
    let name = escape(&v.name);
    let (class, words) = state_look(v.state);
    let mut s = format!(
        "<section class=\"view\" aria-labelledby=\"v{i}\">\n<div class=\"head\"><h2 id=\"v{i}\">{name}</h2>\
         <span class=\"state {class}\">{words}</span></div>\n"
    );
    if v.state == Some(State::Error) {
        let n = v.failing.len();
        let count = match n {
            0 => String::new(),
            1 => " · 1 service failing".into(),
            n => format!(" · {n} services failing"),
        };
        s.push_str(&format!(
            "<div class=\"incident\">In ERROR since {} ({}){count}",
            clock(v.since),
            uptime_strip::duration(now - v.since)
        ));
        if page.show_services && n > 0 {
            s.push_str("<ul>");
            for f in &v.failing {
                s.push_str(&format!("<li>{}</li>", escape(f)));
            }
            s.push_str("</ul>");
        }
        s.push_str("</div>\n");
    }
    let up = uptime_strip::uptime(&v.days);
    let up_words = up.map_or_else(
        || "no data".to_owned(),
        |u| format!("{} uptime", uptime_strip::percent(u)),
    );
    let label = format!(
        "{}: {} over the last {} days",
        v.name,
        up_words,
        v.days.len()
    );
    s.push_str(&uptime_strip::svg(&v.days, &label));
    s.push_str(&format!(
        "\n<div class=\"legend\"><span>{} days ago</span><span class=\"up\">{up_words}</span><span>today</span></div>\n</section>\n",
        v.days.len()
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_795_953_600_000;

    fn page(show_services: bool) -> StatusPage {
        StatusPage {
            title: "Acme <status> & \"co\"".into(),
            views: vec!["web".into(), "db".into()],
            show_services,
        }
    }

    fn shown(name: &str, state: Option<State>, failing: &[&str]) -> Shown {
        Shown {
            name: name.into(),
            state,
            since: NOW - 90 * 60_000,
            failing: failing.iter().map(|s| s.to_string()).collect(),
            days: no_data(NOW),
        }
    }

    #[test]
    fn the_page_shows_states_incidents_and_no_service_unless_asked() {
        let views = [
            shown("web", Some(State::Error), &["web.api", "web.<x>"]),
            shown("db", Some(State::Ok), &[]),
        ];
        let html = render(&page(false), &views, NOW);
        assert!(
            html.contains("<title>Acme &lt;status&gt; &amp; &quot;co&quot;</title>"),
            "{html}"
        );
        assert!(html.contains("1 open incident"));
        assert!(html.contains(">web</h2><span class=\"state error\">Outage</span>"));
        assert!(html.contains(">db</h2><span class=\"state ok\">Operational</span>"));
        assert!(
            html.contains("In ERROR since 2026-11-29 10:30 UTC (1 h 30 min) · 2 services failing"),
            "{html}"
        );
        assert!(!html.contains("web.api") && !html.contains("web.&lt;x&gt;"));
        assert!(html.contains("<meta http-equiv=\"refresh\" content=\"60\">"));
        for never in ["<form", "<script", "/api/", "href=\"http", "src="] {
            assert!(!html.contains(never), "{never}");
        }
        let html = render(&page(true), &views, NOW);
        assert!(
            html.contains("<li>web.api</li><li>web.&lt;x&gt;</li>"),
            "{html}"
        );
    }

    /// A state thread that answers history requests only, from `changes`
    /// (ascending), `page` at a time (the newest of the window).
    fn fake_state(changes: Vec<(Millis, State)>, page: usize) -> StateHandle {
        use crate::history::{Change, HistoryReply, Uptime};
        use crate::state::Command;
        let (tx, rx) = crossbeam_channel::bounded(8);
        std::thread::spawn(move || {
            for command in rx {
                let Command::History {
                    since,
                    until,
                    reply,
                    ..
                } = command
                else {
                    continue;
                };
                let (since, until) = (since.unwrap_or(0), until.unwrap_or(NOW));
                let window: Vec<_> = changes
                    .iter()
                    .filter(|(at, _)| (since..=until).contains(at))
                    .collect();
                let omitted = window.len().saturating_sub(page);
                let to_change = |(at, to): &(Millis, State)| Change {
                    at: *at,
                    from: if *to == State::Ok {
                        State::Error
                    } else {
                        State::Ok
                    },
                    to: *to,
                    reason: "test".into(),
                };
                let _ = reply.send(Ok(HistoryReply {
                    name: "v".into(),
                    since,
                    until,
                    now: NOW,
                    state_at_since: State::Ok,
                    changes: window[omitted..].iter().map(|c| to_change(c)).collect(),
                    known_since: Some(0),
                    dropped: 0,
                    omitted: omitted as u64,
                    uptime: Uptime {
                        day: None,
                        week: None,
                        month: None,
                    },
                }));
            }
        });
        StateHandle::new(tx)
    }

    #[test]
    fn a_long_history_is_read_in_pages_newest_first() {
        let since = NOW - 10 * uptime_strip::DAY_MS;
        let all: Vec<(Millis, State)> = (0..25)
            .map(|i| {
                let to = if i % 2 == 0 { State::Error } else { State::Ok };
                (since + 1000 + i * 60_000, to)
            })
            .collect();
        let t = history(&fake_state(all.clone(), 10), "v", since, NOW);
        assert_eq!(
            t,
            Some(Timeline {
                state_at_since: State::Ok,
                changes: all.clone(),
                known_since: Some(0),
            })
        );
        // More than MAX_PAGES pages: the newest are kept, what is older is
        // unknown (it starts at the first change read, from its `from`).
        let t = history(&fake_state(all.clone(), 2), "v", since, NOW);
        let kept = &all[all.len() - 2 * MAX_PAGES..];
        assert_eq!(kept[0].1, State::Ok);
        assert_eq!(
            t,
            Some(Timeline {
                // kept[0] is a recovery: from ERROR.
                state_at_since: State::Error,
                changes: kept.to_vec(),
                known_since: Some(kept[0].0),
            })
        );
    }

    #[test]
    fn one_rendering_serves_every_reader_for_a_while() {
        use std::sync::atomic::Ordering;
        let (state, asked) = super::super::tests::listing_views(Vec::new());
        let published = Published::new(page(false));
        let first = published.answer(&state);
        assert_eq!(first.status, 200);
        for _ in 0..5 {
            assert_eq!(published.answer(&state), first);
        }
        assert_eq!(asked.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_view_that_does_not_exist_is_no_data() {
        let html = render(&page(false), &[shown("gone", None, &[])], NOW);
        assert!(html.contains("No outage known"));
        assert!(html.contains("<span class=\"state none\">No data</span>"));
        assert!(html.contains("<span class=\"up\">no data</span>"));
        let html = render(&page(false), &[shown("ok", Some(State::Ok), &[])], NOW);
        assert!(html.contains("All systems operational"));
    }
}
