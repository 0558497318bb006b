//! `[status_page]` (SPEC 18): the public status page at `/status-page`.
//! Absent, the page is off (404). `views` names the views it shows, in
//! that order (at least one; names as views have them); `title` heads the
//! page; `show_services` lets it name the services of an open incident
//! (default false: the page never names a service).

use serde::de::{self, Deserializer};
use serde::Deserialize;

/// Longest `title`, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Most views one page lists.
pub const MAX_STATUS_VIEWS: usize = 100;

/// `[status_page]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusPage {
    /// The page's heading and `<title>`.
    #[serde(default = "default_title", deserialize_with = "de_title")]
    pub title: String,
    /// The views shown, in this order.
    #[serde(deserialize_with = "de_views")]
    pub views: Vec<String>,
    /// Name the failing services of an open incident.
    #[serde(default)]
    pub show_services: bool,
}

fn default_title() -> String {
    "Status".into()
}

/// A title is one line of printable text.
pub fn check_title(title: &str) -> Result<(), String> {
    let n = title.chars().count();
    if n == 0 || n > MAX_TITLE_CHARS {
        return Err(format!(
            "the title has {n} characters; give 1 to {MAX_TITLE_CHARS} (e.g. \"Example Inc. status\")"
        ));
    }
    if let Some(c) = title.chars().find(|c| c.is_control()) {
        return Err(format!(
            "the title contains the control character {c:?}; use one line of text"
        ));
    }
    Ok(())
}

/// At least one view, each a valid view name, none twice.
pub fn check_views(views: &[String]) -> Result<(), String> {
    if views.is_empty() {
        return Err(
            "`views` is empty; list the views the page shows, e.g. views = [\"web\", \"backup\"]"
                .into(),
        );
    }
    if views.len() > MAX_STATUS_VIEWS {
        return Err(format!(
            "`views` lists {} views; a page shows at most {MAX_STATUS_VIEWS}",
            views.len()
        ));
    }
    for (i, v) in views.iter().enumerate() {
        if !crate::model::is_valid_name(v) {
            return Err(format!(
                "{v:?} is not a view name: names are 1-200 characters of a-z, 0-9, '.', '_' and '-'"
            ));
        }
        if views[..i].contains(v) {
            return Err(format!("view {v:?} is listed twice"));
        }
    }
    Ok(())
}

fn de_title<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    check_title(&s).map_err(de::Error::custom)?;
    Ok(s)
}

fn de_views<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Vec::<String>::deserialize(d)?;
    check_views(&v).map_err(de::Error::custom)?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Result<Option<StatusPage>, toml::de::Error> {
        toml::from_str::<crate::config::Config>(t).map(|c| c.status_page)
    }

    #[test]
    fn absent_is_off_and_defaults_apply() {
        assert_eq!(parse("").ok(), Some(None));
        let p = parse("[status_page]\nviews = [\"web\", \"db.main\"]\n");
        assert_eq!(
            p.ok(),
            Some(Some(StatusPage {
                title: "Status".into(),
                views: vec!["web".into(), "db.main".into()],
                show_services: false,
            }))
        );
        let p = parse(
            "[status_page]\ntitle = \"Acme <status>\"\nviews = [\"w\"]\nshow_services = true\n",
        );
        let p = p.ok().flatten();
        assert_eq!(
            p.map(|p| (p.title, p.show_services)),
            Some(("Acme <status>".into(), true))
        );
    }

    #[test]
    fn bad_sections_are_refused_with_the_reason() {
        for (bad, why) in [
            ("[status_page]\n", "views"),
            ("[status_page]\nviews = []\n", "empty"),
            ("[status_page]\nviews = [\"Web\"]\n", "not a view name"),
            ("[status_page]\nviews = [\"../x\"]\n", "not a view name"),
            ("[status_page]\nviews = [\"a\", \"a\"]\n", "twice"),
            ("[status_page]\nviews = [\"a\"]\ntitle = \"\"\n", "title"),
            (
                "[status_page]\nviews = [\"a\"]\ntitle = \"a\\nb\"\n",
                "control",
            ),
            (
                "[status_page]\nviews = [\"a\"]\nservices = true\n",
                "unknown field",
            ),
        ] {
            let e = parse(bad).expect_err(bad).to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
        let many: Vec<String> = (0..=MAX_STATUS_VIEWS).map(|i| format!("v{i}")).collect();
        assert!(check_views(&many).is_err());
        assert!(check_title(&"t".repeat(MAX_TITLE_CHARS + 1)).is_err());
    }
}
