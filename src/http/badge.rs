//! Badges (SPEC 18): `GET /badge/<view>.svg`, a flat badge in shields.io's
//! look (label: the view's name, message: its state, coloured by state)
//! drawn by our own code, and `GET /badge/<view>.json`, the same in
//! shields.io's endpoint schema (`schemaVersion`, `label`, `message`,
//! `color`; nothing else, their validator refuses unknown keys), for
//! `https://img.shields.io/endpoint?url=...`.
//!
//! Who may read them is `auth`'s business (`[http] public_badges`). An
//! unknown view is a 404: a grey "unknown view" badge for `.svg` (an `<img>`
//! still shows something), a JSON `error` for `.json`; neither repeats the
//! name asked for. Replies say `Cache-Control: no-cache` (GitHub's image
//! proxy and browsers ask again each time; a badge is a few hundred bytes),
//! and the SVG carries `Content-Security-Policy: default-src 'none'`, so
//! opened on its own it can run nothing. The views' states are read at
//! most once a second for all badges (`ViewStates`), so open badges cannot
//! keep the state thread busy.

use super::fresh::Fresh;
use super::request::HttpResponse;
use crate::model::State;
use crate::state::{StateError, StateHandle};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const CT_SVG: &str = "image/svg+xml";
/// The badge's own CSP: it loads and runs nothing.
const SVG_CSP: &str = "default-src 'none'";

/// Which of the two forms was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Svg,
    Json,
}

/// `web.svg` → ("web", Svg). `None` for any other ending.
pub fn parse_file(file: &str) -> Option<(&str, Format)> {
    if let Some(name) = file.strip_suffix(".svg") {
        Some((name, Format::Svg))
    } else {
        file.strip_suffix(".json").map(|n| (n, Format::Json))
    }
}

/// A state's message, its colour on the badge and its shields.io name.
pub fn look(state: State) -> (&'static str, &'static str, &'static str) {
    match state {
        State::Ok => ("ok", "#4c1", "brightgreen"),
        State::Error => ("error", "#e05d44", "red"),
        State::Muted => ("muted", "#9f9f9f", "lightgrey"),
        State::New => ("new", "#007ec6", "blue"),
    }
}

/// How long one read of the views' states serves every badge: badges may
/// be open to anyone (`public_badges`), so however often they are asked
/// for, the state thread lists its views at most once in this time.
pub const FRESH_FOR: Duration = Duration::from_secs(1);

/// Every view's name and state.
pub type States = Arc<Vec<(String, State)>>;

/// The views' names and states, as last read for a badge.
#[derive(Debug)]
pub struct ViewStates(Fresh<States>);

impl Default for ViewStates {
    fn default() -> ViewStates {
        ViewStates(Fresh::new(FRESH_FOR))
    }
}

impl ViewStates {
    /// The states, read afresh when older than `FRESH_FOR`; readers
    /// arriving during a read share it.
    pub fn get(&self, state: &StateHandle) -> Result<States, StateError> {
        self.0.get(Instant::now(), || {
            Ok(Arc::new(
                state
                    .views()?
                    .into_iter()
                    .map(|v| (v.name, v.state))
                    .collect(),
            ))
        })
    }
}

/// Answers `/badge/<file>`.
pub fn answer(state: &StateHandle, views: &ViewStates, file: &str) -> HttpResponse {
    let Some((name, format)) = parse_file(file) else {
        return error(
            Format::Json,
            404,
            "unknown badge: ask for /badge/<view>.svg or /badge/<view>.json",
        );
    };
    // An invalid name can never be a view: no need to ask.
    let found = if crate::model::is_valid_name(name) {
        views
            .get(state)
            .map(|all| all.iter().find(|(n, _)| n == name).map(|(_, s)| *s))
    } else {
        Ok(None)
    };
    match found {
        Ok(Some(view_state)) => {
            let (message, hex, named) = look(view_state);
            let resp = match format {
                Format::Svg => svg_reply(200, &svg(name, message, hex)),
                Format::Json => HttpResponse::json(
                    200,
                    &serde_json::json!({
                        "schemaVersion": 1,
                        "label": name,
                        "message": message,
                        "color": named,
                    }),
                ),
            };
            no_cache(resp)
        }
        Ok(None) => error(format, 404, "unknown view"),
        Err(StateError::Engine(e)) => error(format, 500, &e.to_string()),
        Err(StateError::Unavailable) => error(format, 503, "unavailable"),
    }
}

/// An error in the form asked for: a grey badge, or JSON `error`.
fn error(format: Format, status: u16, message: &str) -> HttpResponse {
    let resp = match format {
        Format::Svg => svg_reply(status, &svg("lovebeat", message, "#9f9f9f")),
        Format::Json => HttpResponse::json(status, &serde_json::json!({ "error": message })),
    };
    no_cache(resp)
}

fn svg_reply(status: u16, svg: &str) -> HttpResponse {
    let mut resp = HttpResponse::html(status, svg).with_content_type(CT_SVG);
    resp.headers
        .push(("Content-Security-Policy".into(), SVG_CSP.into()));
    resp
}

fn no_cache(mut resp: HttpResponse) -> HttpResponse {
    resp.headers
        .push(("Cache-Control".into(), "no-cache".into()));
    resp
}

/// Advance widths of Verdana at 11 px (shields.io's font), in hundredths
/// of a pixel, for ' ' to '~'. Close enough to size the boxes: each text
/// also gets `textLength`, so whatever font draws it fits its box.
const VERDANA_11: [u16; 95] = [
    387, 433, 505, 900, 699, 1184, 799, 295, 499, 499, 699, 900, 400, 499, 400, 499, // ' '../
    699, 699, 699, 699, 699, 699, 699, 699, 699, 699, // 0-9
    499, 499, 900, 900, 900, 600, 1100, // :;<=>?@
    752, 754, 768, 848, 696, 632, 853, 827, 461, 500, 762, 612, 927, 823, 866, // A-O
    663, 866, 765, 752, 678, 805, 752, 1088, 754, 677, 754, // P-Z
    499, 499, 499, 900, 699, 699, // [\]^_`
    661, 685, 573, 685, 655, 387, 685, 696, 302, 379, 651, 302, 1070, 696, 668, // a-o
    685, 685, 469, 573, 433, 696, 651, 898, 651, 651, 578, // p-z
    698, 499, 698, 900, // {|}~
];

/// The width of `text` in Verdana 11 px, in hundredths of a pixel.
pub fn text_width(text: &str) -> u32 {
    text.chars()
        .map(|c| match c {
            ' '..='~' => u32::from(VERDANA_11[c as usize - 0x20]),
            // East Asian wide characters take about a full em.
            '\u{1100}'..='\u{115f}' | '\u{2e80}'..='\u{a4cf}' | '\u{ac00}'..='\u{d7a3}' => 1100,
            '\u{f900}'..='\u{faff}' | '\u{ff00}'..='\u{ff60}' | '\u{1f300}'..='\u{1faff}' => 1100,
            _ if c.is_control() => 0,
            _ => 700,
        })
        .sum()
}

/// Escapes text for XML/HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Not allowed in XML 1.0 at all.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A flat badge: `label` on grey, `message` on `color` (`#rgb`/`#rrggbb`,
/// ours, never input), each with 5 px either side, 20 px high.
pub fn svg(label: &str, message: &str, color: &str) -> String {
    // Whole pixels, as shields.io rounds them.
    let lw = text_width(label).div_ceil(100) + 10;
    let mw = text_width(message).div_ceil(100) + 10;
    let width = lw + mw;
    let (l, m) = (escape(label), escape(message));
    // Text is drawn at 10x and scaled down (crisper in some renderers).
    let (lx, mx) = (lw * 5, lw * 10 + mw * 5);
    let (ltl, mtl) = ((lw - 10) * 10, (mw - 10) * 10);
    format!(
        concat!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" aria-label="{l}: {m}">"##,
            r##"<title>{l}: {m}</title>"##,
            r##"<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>"##,
            r##"<clipPath id="r"><rect width="{width}" height="20" rx="3" fill="#fff"/></clipPath>"##,
            r##"<g clip-path="url(#r)"><rect width="{lw}" height="20" fill="#555"/><rect x="{lw}" width="{mw}" height="20" fill="{color}"/><rect width="{width}" height="20" fill="url(#s)"/></g>"##,
            r##"<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" text-rendering="geometricPrecision" font-size="110">"##,
            r##"<text aria-hidden="true" x="{lx}" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)" textLength="{ltl}">{l}</text>"##,
            r##"<text x="{lx}" y="140" transform="scale(.1)" fill="#fff" textLength="{ltl}">{l}</text>"##,
            r##"<text aria-hidden="true" x="{mx}" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)" textLength="{mtl}">{m}</text>"##,
            r##"<text x="{mx}" y="140" transform="scale(.1)" fill="#fff" textLength="{mtl}">{m}</text>"##,
            "</g></svg>\n"
        ),
        width = width,
        lw = lw,
        mw = mw,
        color = color,
        l = l,
        m = m,
        lx = lx,
        mx = mx,
        ltl = ltl,
        mtl = mtl,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_name_a_view_and_a_form() {
        assert_eq!(parse_file("web.svg"), Some(("web", Format::Svg)));
        assert_eq!(parse_file("a.svg.json"), Some(("a.svg", Format::Json)));
        assert_eq!(parse_file(".svg"), Some(("", Format::Svg)));
        assert_eq!(parse_file("web.png"), None);
        assert_eq!(parse_file("web"), None);
    }

    #[test]
    fn widths_grow_with_the_text() {
        assert_eq!(text_width(""), 0);
        assert_eq!(text_width("ok"), 668 + 651);
        assert!(text_width("error") > text_width("ok"));
        assert!(text_width("WWW") > text_width("iii"));
        assert_eq!(text_width("漢"), 1100);
        assert_eq!(text_width("\u{7}"), 0);
    }

    #[test]
    fn the_badge_is_sized_to_its_texts() {
        let b = svg("web", "ok", "#4c1");
        // "web": 898 + 655 + 685 = 2238 → 23 px + 10; "ok": 1319 → 14 + 10.
        assert!(
            b.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg" width="57" height="20""#),
            "{b}"
        );
        assert!(
            b.contains(r##"<rect width="33" height="20" fill="#555"/>"##),
            "{b}"
        );
        assert!(
            b.contains(r##"<rect x="33" width="24" height="20" fill="#4c1"/>"##),
            "{b}"
        );
        assert!(
            b.contains(
                r##"x="165" y="140" transform="scale(.1)" fill="#fff" textLength="230">web</text>"##
            ),
            "{b}"
        );
        assert!(
            b.contains(
                r##"x="450" y="140" transform="scale(.1)" fill="#fff" textLength="140">ok</text>"##
            ),
            "{b}"
        );
        assert!(b.contains("<title>web: ok</title>"));
        let long = svg(&"w".repeat(200), "error", "#e05d44");
        assert!(long.contains(r#"width="1844""#), "{}", &long[..120]);
    }

    #[test]
    fn text_is_escaped() {
        let b = svg("<a href=\"x\">&'", "</svg><script>", "#9f9f9f");
        assert!(!b.contains("<script>") && !b.contains("<a href"), "{b}");
        assert!(b.contains("&lt;a href=&quot;x&quot;&gt;&amp;&#39;: &lt;/svg&gt;&lt;script&gt;"));
        assert_eq!(escape("a\u{0}b\nc"), "a\u{fffd}b\nc");
    }

    #[test]
    fn one_read_of_the_views_serves_every_badge_for_a_while() {
        use std::sync::atomic::Ordering;
        let view = crate::model::ViewRecord {
            name: "web".into(),
            state: State::Error,
            incident_number: 1,
            failed_services: Vec::new(),
            failures: Vec::new(),
            last_state_change: 1,
            alerts: Vec::new(),
            alerting: Default::default(),
        };
        let (state, asked) = super::super::tests::listing_views(vec![view]);
        let views = ViewStates::default();
        let json = answer(&state, &views, "web.json");
        assert_eq!(json.status, 200);
        let body = json.body_json().unwrap_or_default();
        assert_eq!(
            body,
            serde_json::json!({"schemaVersion": 1, "label": "web", "message": "error", "color": "red"})
        );
        let svg = answer(&state, &views, "web.svg");
        assert_eq!(svg.content_type, CT_SVG);
        assert!(String::from_utf8_lossy(&svg.body).contains("<title>web: error</title>"));
        assert_eq!(answer(&state, &views, "nope.svg").status, 404);
        // An invalid name is not even looked up.
        assert_eq!(answer(&state, &views, "../x.svg").status, 404);
        assert_eq!(answer(&state, &views, "web.png").status, 404);
        assert_eq!(asked.load(Ordering::SeqCst), 1);
        // No state thread: 503 in the form asked for.
        let (tx, rx) = crossbeam_channel::bounded(1);
        drop(rx);
        let gone = StateHandle::new(tx);
        let r = answer(&gone, &ViewStates::default(), "web.svg");
        assert_eq!((r.status, r.content_type), (503, CT_SVG));
        let r = answer(&gone, &ViewStates::default(), "web.json");
        assert_eq!(r.status, 503);
    }

    #[test]
    fn every_state_has_its_own_look() {
        let all = [State::Ok, State::Error, State::Muted, State::New];
        let looks: Vec<_> = all.iter().map(|s| look(*s)).collect();
        for (i, a) in looks.iter().enumerate() {
            assert_eq!(a.0, all[i].as_str());
            for b in &looks[i + 1..] {
                assert_ne!(a.1, b.1);
                assert_ne!(a.2, b.2);
            }
        }
    }
}
