//! View templates (SPEC 2, Views): `*` and `$word` patterns, include/exclude
//! rules, and the expansion of `$word` in a view's name.
//!
//! Matching works in two stages. A compiled pattern is first run as a small
//! NFA over the bytes of the name with stack buffers (no allocation), which
//! rejects almost every non-member. Only when that passes (or when a
//! variable is repeated, see below) does a memoized backtracking matcher
//! recover the captured `$word`s; it is polynomial, so inputs such as
//! `*a*a*a*a*a*b` against 200 `a`s finish at once. Both matchers live in
//! `pattern_match.rs`; the tests in `pattern_tests.rs`.
//!
//! Semantics chosen where SPEC is silent:
//! - Like the regular expression 1.x compiled patterns to, `*` and `$word`
//!   are greedy: when a name can be split several ways the earlier wildcard
//!   takes the longest text (`*$x` on `abc` gives `x = c`).
//! - A variable used twice in one pattern is a back-reference: the second
//!   occurrence must match exactly the text of the first.
//! - `$` not followed by a lowercase letter is a literal `$`; `$word` takes
//!   the longest run of `[a-z]`.

use matching::{nfa_match, Matcher};
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

#[path = "pattern_match.rs"]
mod matching;

#[cfg(test)]
#[path = "pattern_tests.rs"]
mod tests;
