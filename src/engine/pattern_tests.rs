//! Tests of view templates and service patterns: variables, stars,
//! includes and excludes, back-references, and inputs that would make a
//! naive backtracking matcher slow.

use super::*;

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn tpl(name: &str, includes: &[&str], excludes: &[&str]) -> ViewTemplate {
    ViewTemplate::new(name, &strings(includes), &strings(excludes), Vec::new())
        .expect("valid template")
}

fn view(t: &ViewTemplate, s: &str) -> Option<String> {
    t.view_for(s)
}

#[test]
fn var_and_star() {
    let t = tpl("view-$name", &["test.$name.*"], &[]);
    assert_eq!(view(&t, "test.foo.bar"), Some("view-foo".into()));
    assert_eq!(view(&t, "test.foo.bar.baz"), Some("view-foo".into()));
    assert_eq!(view(&t, "test.foo."), Some("view-foo".into()));
    assert_eq!(view(&t, "test.foo"), None);
    assert_eq!(view(&t, "test..bar"), None);
    assert_eq!(view(&t, "xtest.foo.bar"), None);
    assert_eq!(view(&t, "test"), None);
    assert_eq!(view(&t, ""), None);
}

#[test]
fn shared_prefix_variables() {
    let t = tpl("v-$namefoo-$name", &["$name.$namefoo"], &[]);
    assert_eq!(view(&t, "a.b"), Some("v-b-a".into()));
    assert_eq!(view(&t, "a.b.c"), None);
}

#[test]
fn longer_word_with_only_prefix_defined() {
    let t = tpl("x-$namefoo", &["app.$name"], &[]);
    assert_eq!(view(&t, "app.web"), Some("x-webfoo".into()));
    let t = tpl("x-$namefoo", &["app.$namefoo"], &[]);
    assert_eq!(view(&t, "app.web"), Some("x-web".into()));
}

#[test]
fn unknown_word_is_bare() {
    let t = tpl("grp-$host-$name", &["app.$name"], &[]);
    assert_eq!(view(&t, "app.web"), Some("grp-host-web".into()));
}

#[test]
fn dollar_without_word_is_literal() {
    let t = tpl("cost$-$1-$", &["a$b.$", "x$.$"], &[]);
    // `a$b` is literal `a` then variable `b`; `$` at the end is literal.
    assert_eq!(view(&t, "aq.$"), Some("cost$-$1-$".into()));
    assert_eq!(view(&t, "x$.$"), Some("cost$-$1-$".into()));
    assert_eq!(view(&t, "x.y"), None);
    let t = tpl("n-$b", &["a$b.$"], &[]);
    assert_eq!(view(&t, "aq.$"), Some("n-q".into()));
}

#[test]
fn includes_and_excludes() {
    let t = tpl("web", &["web.*"], &["web.canary.*"]);
    assert_eq!(view(&t, "web.frontend"), Some("web".into()));
    assert_eq!(view(&t, "web.canary.ping"), None);
    assert_eq!(view(&t, "web.canary"), Some("web".into()));
    assert_eq!(view(&t, "db.main"), None);
    assert!(t.matches("web.frontend"));
    assert!(!t.matches("web.canary.ping"));
}

#[test]
fn first_matching_include_defines_variables() {
    let t = tpl("h-$host", &["db.$host", "$host.db", "*"], &[]);
    assert_eq!(view(&t, "db.one"), Some("h-one".into()));
    assert_eq!(view(&t, "two.db"), Some("h-two".into()));
    // `*` defines no `$host`: the bare word.
    assert_eq!(view(&t, "x.y.z"), Some("h-host".into()));
}

#[test]
fn backup_example() {
    let t = tpl("backup-$host", &["backup.$host.*"], &[]);
    assert_eq!(view(&t, "backup.db1.nightly"), Some("backup-db1".into()));
    assert_eq!(view(&t, "backup.db1"), None);
}

#[test]
fn server_example_one_view_per_host() {
    let t = tpl("server-$host", &["app.$host.*"], &[]);
    assert_eq!(view(&t, "app.h1.cpu"), Some("server-h1".into()));
    assert_eq!(view(&t, "app.h2.disk.sda"), Some("server-h2".into()));
}

#[test]
fn star_alone_matches_everything() {
    let t = tpl("all", &["*"], &[]);
    for s in ["", "a", "a.b.c", "...", "x-y_z"] {
        assert_eq!(view(&t, s), Some("all".into()), "{s:?}");
    }
    let t = tpl("all", &["**"], &[]);
    assert_eq!(view(&t, "a.b"), Some("all".into()));
}

#[test]
fn literal_characters() {
    let t = tpl("l", &["job-1_x.$v"], &[]);
    assert_eq!(view(&t, "job-1_x.a"), Some("l".into()));
    assert_eq!(view(&t, "job-1-x.a"), None);
    assert_eq!(view(&t, "job-1_xx.a"), None);
    let t = tpl("l", &["exact.name"], &[]);
    assert_eq!(view(&t, "exact.name"), Some("l".into()));
    assert_eq!(view(&t, "exact.names"), None);
    assert_eq!(view(&t, "exact.nam"), None);
}

#[test]
fn two_stars() {
    let t = tpl("s", &["*.err.*"], &[]);
    assert_eq!(view(&t, "a.err.b"), Some("s".into()));
    assert_eq!(view(&t, "a.b.err.c.d"), Some("s".into()));
    assert_eq!(view(&t, ".err."), Some("s".into()));
    assert_eq!(view(&t, "a.err"), None);
    assert_eq!(view(&t, "a.error.b"), None);
}

#[test]
fn star_and_var_are_greedy() {
    let t = tpl("v-$x", &["*$x"], &[]);
    assert_eq!(view(&t, "abc"), Some("v-c".into()));
    let t = tpl("v-$x", &["*.$x"], &[]);
    assert_eq!(view(&t, "a.b.c"), Some("v-c".into()));
    let t = tpl("v-$x-$y", &["$x$y"], &[]);
    assert_eq!(view(&t, "abc"), Some("v-ab-c".into()));
}

#[test]
fn repeated_variable_is_back_reference() {
    let t = tpl("same-$x", &["$x.$x"], &[]);
    assert_eq!(view(&t, "a.a"), Some("same-a".into()));
    assert_eq!(view(&t, "a.b"), None);
    assert_eq!(view(&t, "ab.a"), None);
    let t = tpl("r-$x", &["*$x-$x"], &[]);
    assert_eq!(view(&t, "q.ab-ab"), Some("r-ab".into()));
    assert_eq!(view(&t, "zab-b"), Some("r-b".into()));
    assert_eq!(view(&t, "ab-cd"), None);
    let ex = tpl("e", &["*"], &["$x.$x"]);
    assert_eq!(view(&ex, "a.a"), None);
    assert_eq!(view(&ex, "a.b"), Some("e".into()));
}

#[test]
fn non_ascii_names_do_not_split_characters() {
    let t = tpl("v-$x-$y", &["$x$y"], &[]);
    assert_eq!(view(&t, "é"), None);
    assert_eq!(view(&t, "éa"), Some("v-é-a".into()));
    let t = tpl("v", &["é.*"], &[]);
    assert_eq!(view(&t, "é.x"), Some("v".into()));
}

/// Inputs that take a backtracking matcher exponential time: an
/// exponential matcher hangs this test (the suite's time limit), ours
/// answers at once. Its speed is not asserted here (machines are noisy).
#[test]
fn pathological_backtracking_inputs_match_correctly() {
    let a200 = "a".repeat(200);
    let t = tpl("p", &["*a*a*a*a*a*b"], &[]);
    assert_eq!(view(&t, &a200), None);
    assert_eq!(view(&t, &format!("{a200}b")), Some("p".into()));
    // The exact matcher alone (without the NFA prefilter), too.
    let p = Pattern::compile("*a*a*a*a*a*b").expect("valid");
    assert_eq!(p.exact(&a200), None);
    let p = Pattern::compile("*$x*$x*$x*b").expect("valid");
    assert_eq!(p.exact(&a200), None);
    let segs = vec!["a"; 100].join(".");
    let p = Pattern::compile("*.$x.*.$x.*.$y.*b").expect("valid");
    assert_eq!(p.exact(&segs), None);
}

#[test]
fn long_patterns_use_heap_buffers() {
    let long = "a".repeat(STACK_STATES * 2);
    let t = tpl("long", &[&format!("{long}*")], &[]);
    assert_eq!(view(&t, &format!("{long}.x")), Some("long".into()));
    assert_eq!(view(&t, "a"), None);
}

#[test]
fn name_without_variables_is_constant() {
    let t = tpl("everything", &["$a.$b"], &[]);
    assert_eq!(view(&t, "x.y"), Some("everything".into()));
    assert_eq!(view(&t, "z.w"), Some("everything".into()));
}

#[test]
fn construction_errors() {
    let none: &[String] = &[];
    assert!(ViewTemplate::new("v", none, none, vec![]).is_err());
    assert!(ViewTemplate::new("", &strings(&["*"]), none, vec![]).is_err());
    assert!(ViewTemplate::new("v", &strings(&[""]), none, vec![]).is_err());
    assert!(ViewTemplate::new("v", &strings(&["*"]), &strings(&[""]), vec![]).is_err());
    let t =
        ViewTemplate::new("v", &strings(&["*"]), none, strings(&["mail"])).expect("valid template");
    assert_eq!(t.alerts, strings(&["mail"]));
    assert_eq!(t.name, "v");
}
