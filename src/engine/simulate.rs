//! `lovebeat -simulate auto|adaptive` (SPEC 19): beat times in, the deadline
//! each model sets out, one line per beat. Driven by the engine's own
//! `Service` (its rate limit and history) and the models' own code, so what
//! the notebook measures is what a server does.

use std::fmt;
use std::io::{self, BufRead, Write};
use std::str::FromStr;

use super::adaptive::Adaptive;
use super::names::Names;
use super::service::Service;
use crate::model::{Millis, NEVER, TIMEOUT_AUTO};

/// Which model `-simulate` drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    /// SPEC 2.3, as the engine runs `timeout = auto`.
    Auto,
    /// SPEC 19's adaptive model.
    Adaptive,
}

impl FromStr for Model {
    type Err = SimulateError;
    fn from_str(s: &str) -> Result<Model, SimulateError> {
        match s {
            "auto" => Ok(Model::Auto),
            "adaptive" => Ok(Model::Adaptive),
            other => Err(SimulateError::UnknownModel(other.to_string())),
        }
    }
}

/// Why `-simulate` stopped.
#[derive(Debug)]
pub enum SimulateError {
    /// The model named is neither `auto` nor `adaptive`.
    UnknownModel(String),
    /// Reading stdin or writing stdout failed.
    Io(io::Error),
    /// A line that is not an integer (1-based line number, the text).
    NotAnInteger { line: usize, text: String },
}

impl From<io::Error> for SimulateError {
    fn from(error: io::Error) -> Self {
        SimulateError::Io(error)
    }
}

impl fmt::Display for SimulateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimulateError::UnknownModel(m) => {
                write!(f, "unknown model {m:?} for -simulate: use auto or adaptive")
            }
            SimulateError::Io(error) => write!(f, "{error}"),
            SimulateError::NotAnInteger { line, text } => write!(
                f,
                "line {line} is not an integer beat time in ms since the epoch: {text:?} \
                 (one integer per line; the beats before it were answered)"
            ),
        }
    }
}

/// Reads beat times (ms since the epoch, one per line) from `input` and,
/// after each, writes the deadline `model` sets (ms since the epoch), or
/// `-1` while there is none (no interval measured yet: the service does not
/// expire). A beat within the rate limit of the previous accepted one is
/// dropped, as the engine drops it, and the deadline is repeated.
pub fn simulate<R: BufRead, W: Write>(
    model: Model,
    input: R,
    mut out: W,
) -> Result<(), SimulateError> {
    let mut names = Names::default();
    let name = names
        .push("simulate")
        .ok_or_else(|| io::Error::other("name arena"))?;
    let mut service = Service::new(name, 0, Box::new([]));
    service.set_timeout(TIMEOUT_AUTO);
    let mut adaptive = Adaptive::new();
    for (index, line) in input.lines().enumerate() {
        let line = line?;
        let now: Millis = line
            .trim()
            .parse()
            .map_err(|_| SimulateError::NotAnInteger {
                line: index + 1,
                text: line.chars().take(60).collect(),
            })?;
        let accepted = service.beat(now);
        // Only the last 20 intervals matter to auto; keep the history short
        // so a long input costs no more per line.
        if service.history().len() > 40 {
            let keep = service.history()[20..].to_vec();
            service.set_history(keep);
        }
        let deadline = match model {
            Model::Auto => service
                .effective_timeout()
                .map(|t| service.last_beat.saturating_add(t)),
            Model::Adaptive => {
                if accepted {
                    adaptive.observe(now);
                }
                adaptive.deadline()
            }
        };
        writeln!(out, "{}", deadline.unwrap_or(NEVER))?;
    }
    Ok(out.flush()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(model: Model, input: &str) -> (String, Option<SimulateError>) {
        let mut out = Vec::new();
        let error = simulate(model, input.as_bytes(), &mut out).err();
        (String::from_utf8(out).expect("ascii"), error)
    }

    #[test]
    fn auto_is_last_beat_plus_the_auto_timeout_of_the_history() {
        let (out, error) = run(Model::Auto, "1000000\n1060000\n1121000\n");
        assert!(error.is_none());
        let want = [
            -1,
            1_060_000 + super::super::auto::auto_timeout(&[60000]),
            1_121_000 + super::super::auto::auto_timeout(&[60000, 61000]),
        ];
        let got: Vec<Millis> = out.lines().map(|l| l.parse().unwrap()).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn auto_matches_the_twelve_known_values() {
        let intervals = [
            60000, 61000, 59000, 60500, 300000, 60000, 60200, 59800, 60100, 60000, 60000, 60000,
        ];
        let known = [
            61000, 63059, 63533, 63410, 433507, 395803, 364543, 338230, 315699, 296150, 62326,
            62227,
        ];
        let mut t = 1_700_000_000_000;
        let mut input = format!("{t}\n");
        let mut beats = vec![t];
        for i in intervals {
            t += i;
            beats.push(t);
            input.push_str(&format!("{t}\n"));
        }
        let (out, _) = run(Model::Auto, &input);
        let got: Vec<Millis> = out.lines().map(|l| l.parse().unwrap()).collect();
        for k in 0..known.len() {
            assert_eq!(got[k + 1] - beats[k + 1], known[k], "after interval {k}");
        }
    }

    #[test]
    fn rate_limited_beats_repeat_the_deadline_in_both_models() {
        for model in [Model::Auto, Model::Adaptive] {
            let (out, _) = run(model, "0\n60000\n60500\n120000\n");
            let got: Vec<Millis> = out.lines().map(|l| l.parse().unwrap()).collect();
            assert_eq!(got.len(), 4, "{model:?}");
            assert_eq!(got[0], -1, "{model:?}");
            assert_eq!(got[1], got[2], "{model:?}: 60500 is within the rate limit");
            assert!(got[3] > 120000, "{model:?}");
        }
    }

    #[test]
    fn a_bad_line_stops_with_its_number_after_answering_the_others() {
        let (out, error) = run(Model::Adaptive, "0\n60000\n6e4\n");
        assert_eq!(out.lines().count(), 2);
        let error = error.expect("6e4 is not an integer");
        assert!(
            matches!(&error, SimulateError::NotAnInteger { line: 3, text } if text == "6e4"),
            "{error:?}"
        );
        assert!(error.to_string().contains("line 3"), "{error}");
        assert!("weird".parse::<Model>().is_err());
    }

    #[test]
    fn auto_deadlines_are_the_engines_next_deadlines() {
        use crate::engine::{Engine, EngineConfig};
        use crate::model::Update;
        let mut engine = Engine::new(EngineConfig {
            templates: vec![],
            max_services: 10,
            started_at: 0,
            jobs: Default::default(),
        });
        // Irregular beats, some within the rate limit, one clock step back,
        // and more than 20 intervals so the window slides.
        let mut t: Millis = 1_795_392_000_000;
        let mut beats = Vec::new();
        for i in 0..60_i64 {
            t += match i % 7 {
                3 => 400,
                5 => -2_000,
                _ => 30_000 + (i * 7919 % 23) * 1_000,
            };
            beats.push(t);
        }
        let mut wanted = Vec::new();
        let mut out = Vec::new();
        for (k, &beat) in beats.iter().enumerate() {
            let update = if k == 0 {
                Update::AUTOBEAT
            } else {
                Update::Beat
            };
            engine.apply("svc", update, beat, &mut out).expect("valid");
            let record = engine.service("svc", false).expect("exists");
            wanted.push(record.next_deadline.unwrap_or(NEVER));
        }
        let input: String = beats.iter().map(|b| format!("{b}\n")).collect();
        let (got, error) = run(Model::Auto, &input);
        assert!(error.is_none());
        let got: Vec<Millis> = got.lines().map(|l| l.parse().unwrap()).collect();
        assert_eq!(got, wanted);
    }

    #[test]
    fn extreme_beat_times_answer_every_line() {
        let input = format!(
            "{}\n0\n-1\n{}\n{}\n{}\n",
            Millis::MIN,
            Millis::MAX - 5000,
            Millis::MIN,
            Millis::MAX
        );
        for model in [Model::Auto, Model::Adaptive] {
            let (out, error) = run(model, &input);
            assert!(error.is_none(), "{model:?}");
            assert_eq!(out.lines().count(), 6, "{model:?}");
        }
    }

    #[test]
    fn long_input_keeps_auto_exact() {
        let mut t = 0;
        let mut input = String::new();
        let mut intervals = Vec::new();
        for i in 0..200 {
            let d = 60000 + (i * 7919 % 13) * 1000;
            t += d;
            intervals.push(d);
            input.push_str(&format!("{t}\n"));
        }
        let (out, _) = run(Model::Auto, &input);
        let last: Millis = out.lines().last().unwrap().parse().unwrap();
        // The first beat gives no interval.
        assert_eq!(last - t, super::super::auto::auto_timeout(&intervals[1..]));
    }
}
