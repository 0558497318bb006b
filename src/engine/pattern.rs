//! View templates (SPEC 2, Views): `*` and `$word` patterns, include/exclude
//! rules, and the expansion of `$word` in a view's name.
//!
//! Matching works in two stages. A compiled pattern is first run as a small
//! NFA over the bytes of the name with stack buffers (no allocation), which
//! rejects almost every non-member. Only when that passes (or when a
//! variable is repeated, see below) does a memoized backtracking matcher
//! recover the captured `$word`s; it is polynomial, so inputs such as
//! `*a*a*a*a*a*b` against 200 `a`s finish at once.
//!
//! Semantics chosen where SPEC is silent:
//! - Like the regular expression 1.x compiled patterns to, `*` and `$word`
//!   are greedy: when a name can be split several ways the earlier wildcard
//!   takes the longest text (`*$x` on `abc` gives `x = c`).
//! - A variable used twice in one pattern is a back-reference: the second
//!   occurrence must match exactly the text of the first.
//! - `$` not followed by a lowercase letter is a literal `$`; `$word` takes
//!   the longest run of `[a-z]`.

use std::collections::HashSet;
use std::fmt;

/// A compiled `[[views]]` entry.
#[derive(Clone, Debug)]
pub struct ViewTemplate {
    /// The configured name, possibly with `$word`s.
    pub name: String,
    /// Alert names (`[alerts.NAME]`) to fire for views of this template.
    pub alerts: Vec<String>,
    /// Includes, each with how it resolves the `$word`s of the name.
    includes: Vec<Include>,
    excludes: Vec<Pattern>,
    /// The name split into literal text and `$word`s.
    name_parts: Vec<NamePart>,
}

/// A pattern or template that cannot be compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatternError(pub String);

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PatternError {}

impl ViewTemplate {
    /// Compiles a template. `includes` already holds `pattern` when set.
    pub fn new(
        name: &str,
        includes: &[String],
        excludes: &[String],
        alerts: Vec<String>,
    ) -> Result<ViewTemplate, PatternError> {
        if name.is_empty() {
            return Err(PatternError("view name must not be empty".into()));
        }
        if includes.is_empty() {
            return Err(PatternError(format!(
                "view {name:?} needs a pattern or at least one include"
            )));
        }
        let name_parts = parse_name(name);
        let includes = includes
            .iter()
            .map(|src| {
                let pattern = Pattern::compile(src)
                    .map_err(|e| PatternError(format!("view {name:?}: include {e}")))?;
                let words = name_parts
                    .iter()
                    .filter_map(|part| match part {
                        NamePart::Word(w) => Some(pattern.resolve(w)),
                        NamePart::Lit(_) => None,
                    })
                    .collect();
                Ok(Include { pattern, words })
            })
            .collect::<Result<Vec<_>, PatternError>>()?;
        let excludes = excludes
            .iter()
            .map(|src| {
                Pattern::compile(src)
                    .map_err(|e| PatternError(format!("view {name:?}: exclude {e}")))
            })
            .collect::<Result<Vec<_>, PatternError>>()?;
        Ok(ViewTemplate {
            name: name.to_string(),
            alerts,
            includes,
            excludes,
            name_parts,
        })
    }

    /// The view's name when it has no `$word`: such a view exists from
    /// start-up, before any member (so `/api/status?view=` answers for it).
    pub fn fixed_name(&self) -> Option<&str> {
        self.name_parts
            .iter()
            .all(|part| matches!(part, NamePart::Lit(_)))
            .then_some(self.name.as_str())
    }

    /// Whether `service` belongs to this template (any include matches, no
    /// exclude does). Never allocates for names without a back-reference.
    pub fn matches(&self, service: &str) -> bool {
        self.includes.iter().any(|i| i.pattern.is_match(service))
            && !self.excludes.iter().any(|e| e.is_match(service))
    }

    /// The (expanded) name of the view `service` belongs to under this
    /// template, or `None` when it does not belong.
    pub fn view_for(&self, service: &str) -> Option<String> {
        if !self.matches(service) {
            return None;
        }
        // The first include that matches defines the variables.
        self.includes.iter().find_map(|inc| {
            let caps = inc.pattern.captures(service)?;
            Some(self.expand(inc, &caps, service))
        })
    }

    fn expand(&self, inc: &Include, caps: &[Option<Span>], service: &str) -> String {
        let mut out = String::with_capacity(self.name.len() + service.len());
        let mut words = inc.words.iter();
        for part in &self.name_parts {
            match part {
                NamePart::Lit(text) => out.push_str(text),
                NamePart::Word(word) => match words.next() {
                    Some(Resolved::Var { var, rest }) => {
                        if let Some(Some((a, b))) = caps.get(*var) {
                            out.push_str(service.get(*a..*b).unwrap_or_default());
                        }
                        out.push_str(rest);
                    }
                    Some(Resolved::Bare) | None => out.push_str(word),
                },
            }
        }
        out
    }
}

#[derive(Clone, Debug)]
struct Include {
    pattern: Pattern,
    /// One entry per `NamePart::Word` of the template name, in order.
    words: Vec<Resolved>,
}

/// How a `$word` of the view name is filled in from one include.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Resolved {
    /// The capture of variable `var`, then the literal `rest` of the word
    /// (`$namefoo` with only `$name` defined: value of `name`, then `foo`).
    Var { var: usize, rest: String },
    /// The pattern defines no prefix of the word: the bare word.
    Bare,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum NamePart {
    Lit(String),
    /// A `$word`, without the `$`.
    Word(String),
}

/// Byte range of a capture in the service name.
type Span = (usize, usize);

/// Pattern element, for the capturing matcher.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Lit(String),
    Star,
    /// Index into `Pattern::vars`.
    Var(usize),
}

/// NFA element, one byte or loop each, for the non-capturing prefilter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    Byte(u8),
    /// `*`: any byte, any number of times (a loop: may be skipped).
    AnyLoop,
    /// The first byte of a `$word`: one byte that is not a dot.
    NonDot,
    /// The rest of a `$word`: non-dot bytes, any number (a loop).
    NonDotLoop,
}

impl Unit {
    fn is_loop(self) -> bool {
        matches!(self, Unit::AnyLoop | Unit::NonDotLoop)
    }
}

/// A compiled service pattern on its own (a `[[services]]` block's
/// `pattern`, SPEC 14.4): the same syntax as a view's include.
#[derive(Clone, Debug)]
pub struct ServicePattern {
    source: String,
    pattern: Pattern,
}

impl ServicePattern {
    pub fn compile(src: &str) -> Result<ServicePattern, PatternError> {
        Ok(ServicePattern {
            source: src.to_owned(),
            pattern: Pattern::compile(src)?,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `service` matches. Never allocates for patterns without a
    /// back-reference.
    pub fn is_match(&self, service: &str) -> bool {
        self.pattern.is_match(service)
    }
}

/// NFA state buffers up to this size live on the stack.
const STACK_STATES: usize = 256;

#[derive(Clone, Debug)]
struct Pattern {
    tokens: Vec<Token>,
    units: Vec<Unit>,
    /// Distinct variable names, in order of first appearance.
    vars: Vec<String>,
    /// Variables that appear more than once (back-references).
    repeated: Vec<usize>,
    /// `min_len[ti]`: fewest bytes `tokens[ti..]` can match.
    min_len: Vec<usize>,
}

impl Pattern {
    fn compile(src: &str) -> Result<Pattern, PatternError> {
        if src.is_empty() {
            return Err(PatternError("pattern must not be empty".into()));
        }
        let mut tokens: Vec<Token> = Vec::new();
        let mut vars: Vec<String> = Vec::new();
        let mut repeated: Vec<usize> = Vec::new();
        let mut lit = String::new();
        let mut chars = src.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '*' => {
                    flush(&mut lit, &mut tokens);
                    if tokens.last() != Some(&Token::Star) {
                        tokens.push(Token::Star);
                    }
                }
                '$' => {
                    let word = word_at(&src[i + 1..]);
                    if word.is_empty() {
                        lit.push('$');
                        continue;
                    }
                    flush(&mut lit, &mut tokens);
                    for _ in 0..word.len() {
                        chars.next();
                    }
                    let idx = match vars.iter().position(|v| v == word) {
                        Some(idx) => {
                            if !repeated.contains(&idx) {
                                repeated.push(idx);
                            }
                            idx
                        }
                        None => {
                            vars.push(word.to_string());
                            vars.len() - 1
                        }
                    };
                    tokens.push(Token::Var(idx));
                }
                _ => lit.push(c),
            }
        }
        flush(&mut lit, &mut tokens);

        let mut units = Vec::new();
        for t in &tokens {
            match t {
                Token::Lit(s) => units.extend(s.bytes().map(Unit::Byte)),
                Token::Star => units.push(Unit::AnyLoop),
                Token::Var(_) => units.extend([Unit::NonDot, Unit::NonDotLoop]),
            }
        }
        let mut min_len = vec![0; tokens.len() + 1];
        for (ti, t) in tokens.iter().enumerate().rev() {
            let own = match t {
                Token::Lit(s) => s.len(),
                Token::Star => 0,
                Token::Var(_) => 1,
            };
            min_len[ti] = min_len[ti + 1] + own;
        }
        Ok(Pattern {
            tokens,
            units,
            vars,
            repeated,
            min_len,
        })
    }

    /// The longest variable of this pattern that is a prefix of `word`.
    fn resolve(&self, word: &str) -> Resolved {
        self.vars
            .iter()
            .enumerate()
            .filter(|(_, v)| word.starts_with(v.as_str()))
            .max_by_key(|(_, v)| v.len())
            .map_or(Resolved::Bare, |(var, v)| Resolved::Var {
                var,
                rest: word[v.len()..].to_string(),
            })
    }

    /// Whether the whole of `s` matches. Allocation-free unless the pattern
    /// has a back-reference or `s` is not ASCII and passes the prefilter.
    fn is_match(&self, s: &str) -> bool {
        if !self.prefilter(s.as_bytes()) {
            return false;
        }
        // The byte NFA is exact for ASCII names without back-references;
        // otherwise confirm with the exact (char-boundary aware) matcher.
        if self.repeated.is_empty() && s.is_ascii() {
            return true;
        }
        self.exact(s).is_some()
    }

    /// The captures (indexed like `vars`) when the whole of `s` matches.
    fn captures(&self, s: &str) -> Option<Vec<Option<Span>>> {
        if !self.prefilter(s.as_bytes()) {
            return None;
        }
        self.exact(s)
    }

    /// Byte-level NFA without back-references: never rejects a real match.
    fn prefilter(&self, s: &[u8]) -> bool {
        let n = self.units.len() + 1;
        if n <= STACK_STATES {
            let mut a = [false; STACK_STATES];
            let mut b = [false; STACK_STATES];
            nfa_match(&self.units, s, &mut a[..n], &mut b[..n])
        } else {
            let mut a = vec![false; n];
            let mut b = vec![false; n];
            nfa_match(&self.units, s, &mut a, &mut b)
        }
    }

    fn exact(&self, s: &str) -> Option<Vec<Option<Span>>> {
        let mut m = Matcher::new(self, s);
        if m.run(0, 0) {
            Some(m.caps)
        } else {
            None
        }
    }
}

fn flush(lit: &mut String, tokens: &mut Vec<Token>) {
    if !lit.is_empty() {
        tokens.push(Token::Lit(std::mem::take(lit)));
    }
}

/// The leading `[a-z]+` run of `s` (possibly empty).
fn word_at(s: &str) -> &str {
    let end = s
        .bytes()
        .position(|b| !b.is_ascii_lowercase())
        .unwrap_or(s.len());
    &s[..end]
}

fn parse_name(name: &str) -> Vec<NamePart> {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut rest = name;
    while let Some(i) = rest.find('$') {
        lit.push_str(&rest[..i]);
        let word = word_at(&rest[i + 1..]);
        if word.is_empty() {
            lit.push('$');
        } else {
            if !lit.is_empty() {
                parts.push(NamePart::Lit(std::mem::take(&mut lit)));
            }
            parts.push(NamePart::Word(word.to_string()));
        }
        rest = &rest[i + 1 + word.len()..];
    }
    lit.push_str(rest);
    if !lit.is_empty() {
        parts.push(NamePart::Lit(lit));
    }
    parts
}

/// Marks the states reachable by skipping loops (they may match nothing).
/// One forward pass suffices since skips only move forward.
fn close(units: &[Unit], set: &mut [bool]) {
    for (j, u) in units.iter().enumerate() {
        if set[j] && u.is_loop() {
            set[j + 1] = true;
        }
    }
}

/// Simulates the NFA of `units` over `s`; `cur` and `next` have
/// `units.len() + 1` entries. O(len(s) * len(units)).
fn nfa_match<'a>(
    units: &[Unit],
    s: &[u8],
    mut cur: &'a mut [bool],
    mut next: &'a mut [bool],
) -> bool {
    cur.fill(false);
    cur[0] = true;
    close(units, cur);
    for &b in s {
        next.fill(false);
        let mut alive = false;
        for (j, &u) in units.iter().enumerate() {
            if !cur[j] {
                continue;
            }
            let target = match u {
                Unit::Byte(c) if c == b => Some(j + 1),
                Unit::NonDot if b != b'.' => Some(j + 1),
                Unit::AnyLoop => Some(j),
                Unit::NonDotLoop if b != b'.' => Some(j),
                _ => None,
            };
            if let Some(t) = target {
                next[t] = true;
                alive = true;
            }
        }
        if !alive {
            return false;
        }
        close(units, next);
        std::mem::swap(&mut cur, &mut next);
    }
    cur[units.len()]
}

/// Backtracking over tokens with memoized failures. Without
/// back-references a failure at (token, position) is final, so a bitmap
/// bounds the work by O(tokens * len^2). With back-references the outcome
/// also depends on the text bound to the repeated variables, which is part
/// of the key (still polynomial for a fixed number of repeated variables).
struct Matcher<'a> {
    p: &'a Pattern,
    s: &'a str,
    caps: Vec<Option<Span>>,
    memo: Memo<'a>,
}

enum Memo<'a> {
    /// `failed[ti * (len + 1) + pos]`.
    Bits(Vec<bool>),
    Keyed(HashSet<(usize, usize, Vec<&'a str>)>),
}

impl<'a> Matcher<'a> {
    fn new(p: &'a Pattern, s: &'a str) -> Matcher<'a> {
        let memo = if p.repeated.is_empty() {
            Memo::Bits(vec![false; p.tokens.len() * (s.len() + 1)])
        } else {
            Memo::Keyed(HashSet::new())
        };
        Matcher {
            p,
            s,
            caps: vec![None; p.vars.len()],
            memo,
        }
    }

    fn bound_text(&self) -> Vec<&'a str> {
        let s: &'a str = self.s;
        self.p
            .repeated
            .iter()
            .map(|&v| match self.caps[v] {
                Some((a, b)) => s.get(a..b).unwrap_or_default(),
                None => "",
            })
            .collect()
    }

    fn has_failed(&self, ti: usize, pos: usize) -> bool {
        match &self.memo {
            Memo::Bits(bits) => bits[ti * (self.s.len() + 1) + pos],
            Memo::Keyed(set) => set.contains(&(ti, pos, self.bound_text())),
        }
    }

    fn mark_failed(&mut self, ti: usize, pos: usize) {
        let width = self.s.len() + 1;
        if let Memo::Bits(bits) = &mut self.memo {
            bits[ti * width + pos] = true;
            return;
        }
        let text = self.bound_text();
        if let Memo::Keyed(set) = &mut self.memo {
            set.insert((ti, pos, text));
        }
    }

    fn run(&mut self, ti: usize, pos: usize) -> bool {
        let Some(token) = self.p.tokens.get(ti) else {
            return pos == self.s.len();
        };
        // Too little text left for the rest of the pattern.
        if self.s.len() - pos < self.p.min_len[ti] || self.has_failed(ti, pos) {
            return false;
        }
        let bytes = self.s.as_bytes();
        let ok = match token {
            Token::Lit(lit) => {
                bytes[pos..].starts_with(lit.as_bytes()) && self.run(ti + 1, pos + lit.len())
            }
            // Greedy: longest first.
            Token::Star => (pos..=bytes.len())
                .rev()
                .filter(|&e| self.s.is_char_boundary(e))
                .any(|e| self.run(ti + 1, e)),
            Token::Var(v) => {
                let v = *v;
                if let Some((a, b)) = self.caps[v] {
                    // Back-reference: exactly the earlier text.
                    let prev = &bytes[a..b];
                    bytes[pos..].starts_with(prev) && self.run(ti + 1, pos + prev.len())
                } else {
                    let seg_end = bytes[pos..]
                        .iter()
                        .position(|&c| c == b'.')
                        .map_or(bytes.len(), |i| pos + i);
                    let mut found = false;
                    for e in (pos + 1..=seg_end).rev() {
                        if !self.s.is_char_boundary(e) {
                            continue;
                        }
                        self.caps[v] = Some((pos, e));
                        if self.run(ti + 1, e) {
                            found = true;
                            break;
                        }
                    }
                    if !found {
                        self.caps[v] = None;
                    }
                    found
                }
            }
        };
        if !ok {
            self.mark_failed(ti, pos);
        }
        ok
    }
}

#[cfg(test)]
mod tests {
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
        let t = ViewTemplate::new("v", &strings(&["*"]), none, strings(&["mail"]))
            .expect("valid template");
        assert_eq!(t.alerts, strings(&["mail"]));
        assert_eq!(t.name, "v");
    }
}
