//! The two matchers of a compiled `Pattern`: the byte NFA prefilter
//! (`nfa_match`, stack buffers, no allocation) and the memoized
//! backtracking `Matcher` that recovers the captured `$word`s.

use super::{Pattern, Span, Token, Unit};
use std::collections::HashSet;

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
pub(super) fn nfa_match<'a>(
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
pub(super) struct Matcher<'a> {
    p: &'a Pattern,
    s: &'a str,
    pub(super) caps: Vec<Option<Span>>,
    memo: Memo<'a>,
}

enum Memo<'a> {
    /// `failed[ti * (len + 1) + pos]`.
    Bits(Vec<bool>),
    Keyed(HashSet<(usize, usize, Vec<&'a str>)>),
}

impl<'a> Matcher<'a> {
    pub(super) fn new(p: &'a Pattern, s: &'a str) -> Matcher<'a> {
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

    pub(super) fn run(&mut self, ti: usize, pos: usize) -> bool {
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
