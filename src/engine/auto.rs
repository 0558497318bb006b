//! The automatic timeout (SPEC 2.3) and the beat analysis (SPEC 2.4): pure
//! functions of a beat history, numerically identical to Lovebeat 1.0.3.
//!
//! Also owns the `-validate-auto` line protocol ([`validate_auto`]), so the
//! algorithm can be compared with any reference implementation.
//!
//! Floating point: every step below mirrors the reference's float64 order of
//! operations (including the bias-correction factor being updated by
//! repeated multiplication, and the final `floor(x + 0.5)`), because the
//! published values are checked to the millisecond.

use std::fmt;
use std::io::{self, BufRead, Write};

use crate::model::{Analysis, Millis};

/// How many of the most recent intervals the auto timeout looks at.
const WINDOW: usize = 20;
/// Centre of mass of the exponentially weighted moving average.
const COM: f64 = 10.0;
/// Values outside `mean ± OUTLIER_SIGMAS * s` are dropped.
const OUTLIER_SIGMAS: f64 = 3.0;
/// The timeout is `mean + STD_FACTOR * std + SLACK_MS`.
const STD_FACTOR: f64 = 3.0;
const SLACK_MS: f64 = 1000.0;
/// The auto timeout of an empty history.
const EMPTY_TIMEOUT: Millis = 1000;

/// The auto timeout for a beat history (intervals in ms, oldest first).
///
/// Never panics and never returns a negative value: a NaN result gives 0 (as
/// in the reference), results beyond `i64` saturate.
pub fn auto_timeout(history: &[Millis]) -> Millis {
    let start = history.len().saturating_sub(WINDOW);
    let last: Vec<f64> = history[start..].iter().map(|&v| v as f64).collect();
    let kept = remove_outliers(&last, OUTLIER_SIGMAS);
    if kept.is_empty() {
        return EMPTY_TIMEOUT;
    }

    let mean = ewma_last(&kept, COM);
    let std = ewm_std_last(&kept, COM, mean);
    let ret = mean + STD_FACTOR * std + SLACK_MS;
    if ret.is_nan() {
        return 0;
    }
    // Round half up exactly as the reference does (`int64(x + 0.5)`, which
    // for the non-negative range equals `floor(x + 0.5)`); `as` saturates.
    let rounded = (ret + 0.5).floor();
    if rounded <= 0.0 {
        0
    } else {
        rounded as Millis
    }
}

/// The beat analysis, `None` with fewer than 10 intervals.
///
/// The input is never reordered (the reference sorted its caller's slice in
/// place; we sort a copy).
pub fn analysis(history: &[Millis]) -> Option<Analysis> {
    let n = history.len();
    if n < 10 {
        return None;
    }
    let mut sorted = history.to_vec();
    sorted.sort_unstable();
    // floor(0.1 * n) and floor(0.9 * n): the float64 products in the
    // reference never fall below the exact value (0.1 and 0.9 round up as
    // doubles, and the exact products are a multiple of 0.1 away from the
    // next integer), so integer arithmetic gives the same indices.
    let lower = round_seconds(sorted[n / 10]);
    let upper = round_seconds(sorted[n * 9 / 10]);
    Some(Analysis {
        lower,
        upper,
        percentage: 90,
        unstable: upper >= lower.saturating_mul(5),
    })
}

/// Reads one integer per line from `input` and, after each, writes the auto
/// timeout of all values so far to `out`, one per line. Stops at EOF, or at
/// the first line that (trimmed) is not an integer with
/// [`AutoInputError::NotAnInteger`] naming it (the CLI exits 2).
pub fn validate_auto<R: BufRead, W: Write>(input: R, mut out: W) -> Result<(), AutoInputError> {
    // Only the last WINDOW values matter, so memory stays bounded however
    // long the input is.
    let mut history: Vec<Millis> = Vec::with_capacity(WINDOW * 2);
    for (index, line) in input.lines().enumerate() {
        let value = parse_value(index, &line?)?;
        if history.len() == WINDOW * 2 {
            history.drain(..WINDOW);
        }
        history.push(value);
        writeln!(out, "{}", auto_timeout(&history))?;
    }
    Ok(out.flush()?)
}

/// Like [`validate_auto`], but explains each step as a JSON line:
/// `{"timeout": 61000, "outliers": [4]}`, where `outliers` are the 0-based
/// input positions, among the last `WINDOW` values, that the outlier rule
/// dropped at this step. For `contrib/auto-timeout.ipynb` (`-explain-auto`).
pub fn explain_auto<R: BufRead, W: Write>(input: R, mut out: W) -> Result<(), AutoInputError> {
    let mut window: std::collections::VecDeque<Millis> = std::collections::VecDeque::new();
    let mut position: usize = 0;
    for (index, line) in input.lines().enumerate() {
        let value = parse_value(index, &line?)?;
        if window.len() == WINDOW {
            window.pop_front();
        }
        window.push_back(value);
        position += 1;
        let history: Vec<Millis> = window.iter().copied().collect();
        let values: Vec<f64> = history.iter().map(|&v| v as f64).collect();
        let first = position - history.len();
        let outliers: Vec<String> = kept_mask(&values, OUTLIER_SIGMAS)
            .iter()
            .enumerate()
            .filter(|(_, &keep)| !keep)
            .map(|(i, _)| (first + i).to_string())
            .collect();
        writeln!(
            out,
            "{{\"timeout\": {}, \"outliers\": [{}]}}",
            auto_timeout(&history),
            outliers.join(", ")
        )?;
    }
    Ok(out.flush()?)
}

/// Why `-validate-auto` / `-explain-auto` stopped early.
#[derive(Debug)]
pub enum AutoInputError {
    /// Reading stdin or writing stdout failed.
    Io(io::Error),
    /// A line that is not an integer (1-based line number, the text).
    NotAnInteger { line: usize, text: String },
}

impl From<io::Error> for AutoInputError {
    fn from(error: io::Error) -> Self {
        AutoInputError::Io(error)
    }
}

impl fmt::Display for AutoInputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AutoInputError::Io(error) => write!(f, "{error}"),
            AutoInputError::NotAnInteger { line, text } => write!(
                f,
                "line {line} is not an integer interval in milliseconds: {text:?} \
                 (one integer per line; the values before it were answered)"
            ),
        }
    }
}

/// One input line of `-validate-auto` (0-based `index`) as a value.
fn parse_value(index: usize, line: &str) -> Result<Millis, AutoInputError> {
    line.trim()
        .parse()
        .map_err(|_| AutoInputError::NotAnInteger {
            line: index + 1,
            text: line.chars().take(60).collect(),
        })
}

/// Seconds, rounded half up (1499 ms → 1, 1500 ms → 2); saturating.
fn round_seconds(ms: Millis) -> i64 {
    ms.saturating_add(500).div_euclid(1000)
}

/// NaN or ±infinity (the reference's `unDef`).
fn undefined(f: f64) -> bool {
    !f.is_finite()
}

/// Keeps the values strictly inside `(u - m*s, u + m*s)` with `u` the mean
/// and `s` the sample standard deviation; all of them if none would remain.
/// With one value `s` is NaN, no comparison holds, so all are kept.
fn remove_outliers(series: &[f64], m: f64) -> Vec<f64> {
    let kept = kept_mask(series, m);
    series
        .iter()
        .zip(&kept)
        .filter(|(_, &keep)| keep)
        .map(|(&v, _)| v)
        .collect()
}

/// For each value of `series`, whether the outlier rule keeps it: strictly
/// inside `(u - m*s, u + m*s)`, or every value when none would remain.
fn kept_mask(series: &[f64], m: f64) -> Vec<bool> {
    let u = series.iter().sum::<f64>() / series.len() as f64;
    let total: f64 = series.iter().map(|&x| (x - u) * (x - u)).sum();
    let s = (total / (series.len() as f64 - 1.0)).sqrt();
    let mask: Vec<bool> = series
        .iter()
        .map(|&e| u - m * s < e && e < u + m * s)
        .collect();
    if mask.iter().any(|&keep| keep) {
        mask
    } else {
        vec![true; series.len()]
    }
}

/// The bias-corrected EWMA of `series`, last element only (the reference
/// computes the whole series; every element depends only on earlier ones and
/// the running correction factor, so the last one is computed identically).
/// `series` must not be empty.
fn ewma_last(series: &[f64], com: f64) -> f64 {
    let oldw = com / (1.0 + com);
    let mut adj = oldw;
    // Raw (uncorrected) EWMA, with the reference's handling of undefined
    // values.
    let mut prev = series[0] / (1.0 + com);
    // Corrected value of the previous element, for the NaN fallback.
    let mut corrected = correct(prev, &mut adj, oldw, f64::NAN, true);
    for &cur in &series[1..] {
        let raw = if undefined(cur) {
            prev
        } else if undefined(prev) {
            cur / (1.0 + com)
        } else {
            (com * prev + cur) / (1.0 + com)
        };
        prev = raw;
        corrected = correct(raw, &mut adj, oldw, corrected, false);
    }
    corrected
}

/// One step of the bias correction: `raw / (1 - adj)` and advance `adj`; a
/// NaN keeps the previous corrected value (or stays NaN for the first).
fn correct(raw: f64, adj: &mut f64, oldw: f64, previous: f64, first: bool) -> f64 {
    if raw.is_nan() {
        if first {
            raw
        } else {
            previous
        }
    } else {
        let r = raw / (1.0 - *adj);
        *adj *= oldw;
        r
    }
}

/// The bias-corrected exponentially weighted standard deviation, last
/// element; `mean` is `ewma_last(series, com)`.
fn ewm_std_last(series: &[f64], com: f64, mean: f64) -> f64 {
    let squares: Vec<f64> = series.iter().map(|&v| v * v).collect();
    let second = ewma_last(&squares, com);
    let mut t = second - mean * mean;
    t *= (1.0 + 2.0 * com) / (2.0 * com);
    // `t < 0` is false for NaN, so NaN propagates as in the reference.
    if t < 0.0 {
        0.0
    } else {
        t.sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWELVE: [Millis; 12] = [
        60000, 61000, 59000, 60500, 300000, 60000, 60200, 59800, 60100, 60000, 60000, 60000,
    ];
    const TWELVE_AUTO: [Millis; 12] = [
        61000, 63059, 63533, 63410, 433507, 395803, 364543, 338230, 315699, 296150, 62326, 62227,
    ];

    #[test]
    fn explain_auto_matches_validate_auto_and_names_the_outlier() {
        let mut input = String::new();
        for _ in 0..19 {
            input.push_str("60000\n");
        }
        input.push_str("600000\n");
        let mut plain = Vec::new();
        validate_auto(input.as_bytes(), &mut plain).unwrap();
        let mut explained = Vec::new();
        explain_auto(input.as_bytes(), &mut explained).unwrap();
        let plain = String::from_utf8(plain).unwrap();
        let explained = String::from_utf8(explained).unwrap();
        assert_eq!(plain.lines().count(), 20);
        for (p, e) in plain.lines().zip(explained.lines()) {
            assert!(e.starts_with(&format!("{{\"timeout\": {p}, ")), "{e}");
        }
        assert_eq!(
            explained.lines().last(),
            Some(
                format!(
                    "{{\"timeout\": {}, \"outliers\": [19]}}",
                    plain.lines().last().unwrap()
                )
                .as_str()
            )
        );
        assert!(explained.lines().next().unwrap().ends_with("[]}"));
    }

    #[test]
    fn known_values() {
        assert_eq!(auto_timeout(&[]), 1000);
        assert_eq!(auto_timeout(&[60000]), 61000);
        assert_eq!(auto_timeout(&[60000, 60000]), 61000);
        assert_eq!(auto_timeout(&[60000; 6]), 61000);
        assert_eq!(auto_timeout(&[1000, 2000, 3000, 4000, 5000]), 8512);
    }

    #[test]
    fn twelve_prefixes() {
        for i in 1..=TWELVE.len() {
            assert_eq!(
                auto_timeout(&TWELVE[..i]),
                TWELVE_AUTO[i - 1],
                "prefix of {i}"
            );
        }
    }

    #[test]
    fn only_last_twenty_count() {
        let mut long = vec![5_000_000; 30];
        long.extend_from_slice(&[60000; 20]);
        assert_eq!(auto_timeout(&long), 61000);
        let mut twelve_after_junk = vec![1; 8];
        twelve_after_junk.extend_from_slice(&TWELVE);
        // 8 + 12 = 20: junk is in the window and changes the result ...
        assert_ne!(auto_timeout(&twelve_after_junk), 62227);
        // ... but not once it has been pushed out of the window.
        let mut pushed_out = vec![1; 8];
        pushed_out.extend_from_slice(&[60000; 8]);
        pushed_out.extend_from_slice(&TWELVE);
        let window: Vec<Millis> = pushed_out[pushed_out.len() - 20..].to_vec();
        assert_eq!(auto_timeout(&pushed_out), auto_timeout(&window));
    }

    #[test]
    fn extreme_values_do_not_panic_or_go_negative() {
        let huge = auto_timeout(&[i64::MAX, i64::MAX - 1, i64::MAX]);
        assert_eq!(huge, i64::MAX);
        assert_eq!(auto_timeout(&[i64::MAX]), i64::MAX);
        assert!(auto_timeout(&[i64::MIN]) >= 0);
        assert!(auto_timeout(&[i64::MIN, i64::MAX, 0, i64::MIN]) >= 0);
        assert!(auto_timeout(&[-5000, -5000, -5000]) >= 0);
        assert!(auto_timeout(&[0, 0, 0]) >= 0);
        let mixed: Vec<Millis> = (0..40)
            .map(|i| if i % 2 == 0 { i64::MAX } else { 1 })
            .collect();
        assert!(auto_timeout(&mixed) >= 0);
    }

    #[test]
    fn analysis_fixture_stable() {
        let h = [
            1111, 1112, 1112, 1112, 1112, 1112, 1112, 1112, 1114, 1114, 1115,
        ];
        let a = analysis(&h).expect("11 intervals");
        assert_eq!(
            a,
            Analysis {
                lower: 1,
                upper: 1,
                percentage: 90,
                unstable: false
            }
        );
    }

    #[test]
    fn analysis_unstable() {
        let h = [1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 5000];
        let a = analysis(&h).expect("10 intervals");
        assert_eq!((a.lower, a.upper, a.unstable), (1, 5, true));
        let h = [1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 4499];
        let a = analysis(&h).expect("10 intervals");
        assert_eq!((a.lower, a.upper, a.unstable), (1, 4, false));
    }

    #[test]
    fn analysis_thresholds_and_indices() {
        assert_eq!(analysis(&[1000; 9]), None);
        assert_eq!(analysis(&[]), None);
        // n = 10: lower index 1, upper index 9.
        let h: Vec<Millis> = (1..=10).map(|s| s * 1000).collect();
        let a = analysis(&h).expect("10 intervals");
        assert_eq!((a.lower, a.upper, a.percentage), (2, 10, 90));
        // n = 19: lower index 1, upper index 17.
        let h: Vec<Millis> = (1..=19).map(|s| s * 1000).collect();
        let a = analysis(&h).expect("19 intervals");
        assert_eq!((a.lower, a.upper), (2, 18));
    }

    #[test]
    fn analysis_rounds_half_up() {
        assert_eq!(round_seconds(1111), 1);
        assert_eq!(round_seconds(1499), 1);
        assert_eq!(round_seconds(1500), 2);
        assert_eq!(round_seconds(499), 0);
        assert_eq!(round_seconds(i64::MAX), i64::MAX / 1000);
    }

    #[test]
    fn analysis_does_not_reorder_input() {
        let h = [9000, 1000, 5000, 3000, 7000, 2000, 8000, 4000, 6000, 10000];
        let before = h;
        let a = analysis(&h).expect("10 intervals");
        assert_eq!(h, before);
        assert_eq!((a.lower, a.upper), (2, 10));
    }

    #[test]
    fn analysis_extremes_do_not_panic() {
        let a = analysis(&[i64::MAX; 10]).expect("10 intervals");
        assert!(!a.unstable || a.upper >= a.lower);
        let a = analysis(&[i64::MIN; 10]).expect("10 intervals");
        assert!(a.unstable);
    }

    /// What `-validate-auto` prints for `input`, up to a non-integer line.
    fn run_validate(input: &str) -> String {
        let mut out = Vec::new();
        match validate_auto(input.as_bytes(), &mut out) {
            Ok(()) | Err(AutoInputError::NotAnInteger { .. }) => {}
            Err(AutoInputError::Io(error)) => panic!("in-memory io: {error}"),
        }
        String::from_utf8(out).expect("ascii output")
    }

    #[test]
    fn validate_stops_at_a_non_integer_line_and_names_it() {
        let mut out = Vec::new();
        let error = validate_auto("60000\n61000\n1.5\n99\n".as_bytes(), &mut out)
            .expect_err("1.5 is not an integer");
        assert_eq!(String::from_utf8(out).expect("ascii"), "61000\n63059\n");
        assert!(
            matches!(&error, AutoInputError::NotAnInteger { line: 3, text } if text == "1.5"),
            "{error:?}"
        );
        assert!(error.to_string().contains("line 3"), "{error}");
        let mut out = Vec::new();
        let error = explain_auto("x\n".as_bytes(), &mut out).expect_err("x");
        assert!(matches!(
            error,
            AutoInputError::NotAnInteger { line: 1, .. }
        ));
        assert!(out.is_empty());
    }

    #[test]
    fn validate_twelve() {
        let input: String = TWELVE.iter().map(|v| format!("{v}\n")).collect();
        let expected: String = TWELVE_AUTO.iter().map(|v| format!("{v}\n")).collect();
        assert_eq!(run_validate(&input), expected);
    }

    #[test]
    fn validate_trims_and_stops_at_non_integer() {
        assert_eq!(
            run_validate("  60000 \r\n60000\nabc\n60000\n"),
            "61000\n61000\n"
        );
        assert_eq!(run_validate("\n60000\n"), "");
        assert_eq!(run_validate("60000"), "61000\n");
        assert_eq!(run_validate(""), "");
    }

    #[test]
    fn validate_long_input_matches_full_history() {
        let values: Vec<Millis> = (0..100).map(|i| 60000 + (i * 37 % 11) * 100).collect();
        let input: String = values.iter().map(|v| format!("{v}\n")).collect();
        let expected: String = (1..=values.len())
            .map(|i| format!("{}\n", auto_timeout(&values[..i])))
            .collect();
        assert_eq!(run_validate(&input), expected);
    }
}
