//! Differential test of `lovebeat::cron` against healthchecks.io's cronsim
//! (the reference SPEC 14.1 names): a few thousand random expressions ×
//! zones (DST, half-hour and 45-minute offsets, southern hemisphere, UTC) ×
//! start instants around the transitions of 2020-2035, with a fixed seed.
//! tests/support/cronsim_next.py prints cronsim's first fire times for
//! each; every disagreement is listed (expression, zone, instant).

mod common;

use common::tools::{self, Tool};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use lovebeat::cron::Schedule;
use std::process::{Command, Stdio};

const ZONES: [&str; 17] = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "America/Santiago",
    "Australia/Sydney",
    "Asia/Kolkata",
    "America/St_Johns",
    "Pacific/Chatham",
    "Europe/London",
    "UTC",
    "Pacific/Auckland",
    "Europe/Dublin",
    "America/Havana",
    "Africa/Cairo",
    "Asia/Tehran",
    "America/Sao_Paulo",
];
/// LOVEBEAT_CRONSIM_CASES and LOVEBEAT_CRONSIM_SEED run a longer or
/// different comparison by hand.
const CASES: usize = 4000;
/// Forms worth checking every time (cronsim's quirks), besides the random
/// ones.
const TRICKY: [&str; 28] = [
    "5-5/20 * * * *",
    "0 0 L/3 * *",
    "0 0 LW/2 * *",
    "0 0 * * */7",
    "0 0 * * 7L",
    "0 0 * * SUN#5",
    "0 0 * * 1-7/2",
    "0 0 * * MON/2",
    "0 0 * JAN/5 *",
    "0 0 30 2 MON",
    "0 0 30 2 *",
    "0 0 */30 2 *",
    "0 0 31 4,6 *",
    "0 0 L,30 2 *",
    "0 0 * * L",
    "0 0 * * FRIL",
    "0 0 * * 5#0",
    "0 0 * * *#2",
    "0-59 0-23 * * *",
    "59 23 31 12 *",
    "0 0 29 2 *",
    "* * * * *",
    "*/1 */1 */1 */1 */1",
    "0 2 * * 0,7",
    "30 1-3 * * *",
    "0 */2 * * *",
    "0,30 * 1-7 * mon",
    "00 02 01 01 00",
];
const TIMES: usize = 3;

/// xorshift64*: a fixed, dependency-free sequence.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// One field: mostly valid forms, sometimes the errors cronsim refuses.
fn field(rng: &mut Rng, lo: u64, hi: u64, favourite: &[u64], names: &[&str]) -> String {
    let value = |rng: &mut Rng| -> String {
        if !names.is_empty() && rng.below(4) == 0 {
            return rng.pick(names).to_string();
        }
        if rng.below(2) == 0 {
            return favourite[rng.below(favourite.len() as u64) as usize].to_string();
        }
        (lo + rng.below(hi - lo + 1)).to_string()
    };
    match rng.below(20) {
        0..=5 => "*".to_string(),
        6..=9 => value(rng),
        10 => format!("*/{}", 1 + rng.below(hi.min(30))),
        11 => {
            let a = lo + rng.below(hi - lo + 1);
            let b = a + rng.below(hi - a + 1);
            format!("{a}-{b}")
        }
        12 => {
            let a = lo + rng.below(hi - lo + 1);
            let b = a + rng.below(hi - a + 1);
            format!("{a}-{b}/{}", 1 + rng.below(10))
        }
        13 => format!("{}/{}", value(rng), 1 + rng.below(20)),
        14..=16 => {
            let n = 2 + rng.below(3);
            (0..n).map(|_| value(rng)).collect::<Vec<_>>().join(",")
        }
        17 => format!("*/{}", 1 + rng.below(4)),
        18 => match rng.below(4) {
            0 => (hi + 1 + rng.below(3)).to_string(),
            1 => "*/0".to_string(),
            2 => format!("{}-{}", hi, lo),
            _ => "1,,2".to_string(),
        },
        _ => value(rng),
    }
}

fn expression(rng: &mut Rng) -> String {
    if rng.below(40) == 0 {
        return rng
            .pick(&[
                "@hourly",
                "@daily",
                "@midnight",
                "@weekly",
                "@monthly",
                "@yearly",
                "@annually",
            ])
            .to_string();
    }
    let minute = field(rng, 0, 59, &[0, 15, 30, 45, 59], &[]);
    let hour = field(rng, 0, 23, &[0, 1, 2, 3, 23], &[]);
    let dom = match rng.below(12) {
        0 => "L".to_string(),
        1 => "LW".to_string(),
        _ => field(rng, 1, 31, &[1, 15, 29, 30, 31], &[]),
    };
    let month = field(
        rng,
        1,
        12,
        &[3, 4, 9, 10, 11],
        &["JAN", "mar", "Apr", "sep", "oct", "NOV"],
    );
    let dow = match rng.below(14) {
        0 => format!("{}L", rng.below(8)),
        1 => format!(
            "{}#{}",
            rng.pick(&["1", "5", "7", "SUN", "fri"]),
            1 + rng.below(5)
        ),
        _ => field(rng, 0, 7, &[0, 1, 6, 7], &["SUN", "mon", "Sat"]),
    };
    format!("{minute} {hour} {dom} {month} {dow}")
}

/// The transitions of `zone` in 2020-2035 (seconds).
fn transitions(zone: &str) -> Vec<i64> {
    let tz = TimeZone::get(zone).expect("zone");
    let from = Timestamp::from_second(1_577_836_800).expect("2020");
    tz.following(from)
        .map(|t| t.timestamp().as_second())
        .take_while(|&t| t < 2_082_758_400)
        .collect()
}

#[test]
fn next_fire_agrees_with_cronsim() {
    if !tools::available(
        "the cronsim comparison",
        &[Tool::Program("python3"), Tool::PythonModule("cronsim")],
    ) {
        return;
    }
    let number = |var: &str| std::env::var(var).ok().and_then(|v| v.parse::<u64>().ok());
    let n_cases = number("LOVEBEAT_CRONSIM_CASES").unwrap_or(CASES as u64) as usize;
    let mut rng = Rng(number("LOVEBEAT_CRONSIM_SEED").unwrap_or(0x9E37_79B9_7F4A_7C15) | 1);
    let all: Vec<(&str, Vec<i64>)> = ZONES.iter().map(|z| (*z, transitions(z))).collect();

    // The host's tz database (cronsim's) may be older or newer than the
    // one inside lovebeat: compare the offsets around every transition and
    // twice a month, and leave out a zone whose rules differ (that is a
    // data difference, not a rule one), saying so.
    let mut probes = Vec::new();
    for (zone, trans) in &all {
        let mut t = 1_577_836_800;
        while t < 2_082_758_400 {
            probes.push((*zone, t));
            t += 15 * 86_400;
        }
        for t in trans {
            probes.push((*zone, t - 1));
            probes.push((*zone, *t));
        }
    }
    let probe_input: String = probes
        .iter()
        .map(|(zone, t)| format!("OFFSET\t{zone}\t{t}\n"))
        .collect();
    let offsets = run_reference(&probe_input);
    let mut skewed: Vec<&str> = Vec::new();
    for ((zone, t), line) in probes.iter().zip(&offsets) {
        let ours = TimeZone::get(zone)
            .expect("zone")
            .to_offset(Timestamp::from_second(*t).expect("instant"))
            .seconds();
        if line.parse::<i32>().ok() != Some(ours) && !skewed.contains(zone) {
            eprintln!("{zone}: the host's tz database differs from lovebeat's at {t}; left out");
            skewed.push(zone);
        }
    }
    assert!(skewed.len() <= 3, "too many zones differ: {skewed:?}");
    let all: Vec<(&str, Vec<i64>)> = all
        .into_iter()
        .filter(|(zone, _)| !skewed.contains(zone))
        .collect();

    let mut cases = Vec::with_capacity(n_cases);
    for _ in 0..n_cases {
        let (zone, trans) = &all[rng.below(all.len() as u64) as usize];
        let start = if trans.is_empty() || rng.below(8) == 0 {
            1_577_836_800 + rng.below(16 * 365 * 86_400) as i64
        } else {
            let t = trans[rng.below(trans.len() as u64) as usize];
            // Within three days of the transition, often on a round minute.
            let delta = rng.below(6 * 86_400) as i64 - 3 * 86_400;
            match rng.below(3) {
                0 => t + delta,
                1 => t + delta / 60 * 60,
                _ => t + (delta / 3600) * 60 - 60 * rng.below(3) as i64,
            }
        };
        let expr = if rng.below(10) == 0 {
            rng.pick(&TRICKY).to_string()
        } else {
            expression(&mut rng)
        };
        cases.push((expr, *zone, start));
    }

    let mut input = String::new();
    for (expr, zone, start) in &cases {
        input.push_str(&format!("{expr}\t{zone}\t{start}\t{TIMES}\n"));
    }
    let lines = run_reference(&input);
    assert_eq!(lines.len(), cases.len(), "one line per case");

    let mut disagreements = Vec::new();
    let (mut compared, mut refused, mut backwards) = (0, 0, 0);
    for ((expr, zone, start), line) in cases.iter().zip(&lines) {
        let ours = Schedule::parse(expr, zone);
        if let Some(message) = line.strip_prefix("ERR ") {
            refused += 1;
            if ours.is_ok() {
                disagreements.push(format!(
                    "{expr:?} {zone}: cronsim refuses ({message}), we accept"
                ));
            }
            continue;
        }
        let schedule = match ours {
            Ok(s) => s,
            Err(e) => {
                disagreements.push(format!("{expr:?} {zone}: cronsim accepts, we refuse ({e})"));
                continue;
            }
        };
        let mut after = *start;
        for want in line.split(' ') {
            let got = schedule.next_fire(after * 1000).map(|ms| ms / 1000);
            if want == "STOP" {
                if got.is_some() {
                    disagreements.push(format!(
                        "{expr:?} {zone} after {after}: cronsim gives up, we give {got:?}"
                    ));
                }
                break;
            }
            let want: i64 = want.parse().expect("seconds");
            if want <= after {
                // cronsim returns a first-pass time when asked from inside a
                // repeated hour (fixed-time expressions); we go on (see
                // src/cron/mod.rs). Nothing later is comparable.
                backwards += 1;
                break;
            }
            compared += 1;
            if got != Some(want) {
                disagreements.push(format!(
                    "{expr:?} {zone} after {after} ({}): cronsim {want} ({}), we {got:?}",
                    Timestamp::from_second(after)
                        .map(|t| t.to_string())
                        .unwrap_or_default(),
                    Timestamp::from_second(want)
                        .map(|t| t.to_string())
                        .unwrap_or_default(),
                ));
                break;
            }
            after = want;
        }
    }
    eprintln!(
        "cronsim: {} cases, {compared} fire times compared, {refused} refused by both, \
         {backwards} cronsim answers before the start (skipped), {} disagreements",
        cases.len(),
        disagreements.len()
    );
    assert!(
        disagreements.is_empty(),
        "{} disagreements with cronsim:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}

/// Runs tests/support/cronsim_next.py on `input` (written to a temp file
/// first, kept there when the script fails) and returns its lines.
fn run_reference(input: &str) -> Vec<String> {
    let dir = std::env::temp_dir().join(format!("lovebeat-cronsim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let input_path = dir.join("cases.tsv");
    std::fs::write(&input_path, input).expect("write cases");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/cronsim_next.py");
    let output = Command::new("python3")
        .arg(script)
        .stdin(std::fs::File::open(&input_path).expect("cases"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "cronsim_next.py failed on {}",
        input_path.display()
    );
    let _ = std::fs::remove_dir_all(&dir);
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .lines()
        .map(str::to_string)
        .collect()
}
