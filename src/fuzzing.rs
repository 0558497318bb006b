//! The checks behind the fuzz targets in `fuzz/` (cargo fuzz), kept in the
//! library so that `tests/fuzz_regressions.rs` runs every input a fuzzer
//! ever kept (`fuzz/regressions/<target>/`) through exactly the same code
//! in the normal test suite. Each function takes arbitrary bytes, must never
//! panic, and asserts the invariants its parser promises.

use crate::config::{Config, DurationValue};
use crate::counters::Counters;
use crate::http::{beat_update, parse_timeout, BodyKind, MAX_TIMEOUT_SECS};
use crate::model::{
    is_valid_name, Batch, Millis, ServiceSnapshot, Update, TIMEOUT_ADAPTIVE, TIMEOUT_AUTO,
    TIMEOUT_NONE,
};
use crate::statsd::{parse_line, parse_packet, MAX_TIMEOUT_MS};
use crate::store::{decode, encode};
use std::io::Write;

/// A fuzz target's check.
pub type Check = fn(&[u8]);

/// The fuzz targets, by the name of their folder in `fuzz/regressions/`.
pub const TARGETS: [(&str, Check); 7] = [
    ("statsd_line", statsd_line),
    ("timeout", timeout),
    ("beat_body", beat_body),
    ("config", config),
    ("database", database),
    ("cron", cron),
    ("job_settings", job_settings),
];

/// The longest timeout the HTTP API accepts, in ms.
const HTTP_MAX_MS: Millis = MAX_TIMEOUT_SECS as Millis * 1000;

fn check_timeout(ms: Millis, max: Millis) {
    assert!(
        ms == TIMEOUT_NONE
            || ms == TIMEOUT_AUTO
            || ms == TIMEOUT_ADAPTIVE
            || (0..=max).contains(&ms),
        "timeout out of range: {ms}"
    );
}

fn check_update(update: Update, max: Millis) {
    if let Update::SetTimeout(t) | Update::SetTimeoutAndBeat(t) = update {
        check_timeout(t, max);
    }
}

/// A statsd datagram: every line it accepts names a valid service, and the
/// packet parser agrees with the line parser on how many lines are good.
pub fn statsd_line(data: &[u8]) {
    let mut good = 0;
    for line in data.split(|&b| b == b'\n') {
        if let Ok((name, update)) = parse_line(line) {
            assert!(is_valid_name(name), "accepted an invalid name {name:?}");
            check_update(update, MAX_TIMEOUT_MS);
            good += 1;
        }
    }
    let counters = Counters::default();
    let mut batch = Batch::default();
    let (accepted, _rejected) = parse_packet(data, &mut batch, &counters);
    assert_eq!(accepted, good, "the packet and line parsers disagree");
    assert_eq!(batch.len(), good);
    for (name, update) in batch.iter() {
        assert!(is_valid_name(name), "batch holds an invalid name {name:?}");
        check_update(update, MAX_TIMEOUT_MS);
    }
}

/// The timeout text of the HTTP API (`?timeout=5m`).
pub fn timeout(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(ms) = parse_timeout(text) {
            check_timeout(ms, HTTP_MAX_MS);
        }
    }
}

/// A beat request: the first byte picks the body kind, the bytes up to the
/// first NUL are the query string, the rest is the body.
pub fn beat_body(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let kind = match selector % 3 {
        0 => BodyKind::Json,
        1 => BodyKind::Form,
        _ => BodyKind::Other,
    };
    let (query, body) = match rest.iter().position(|&b| b == 0) {
        Some(nul) => (&rest[..nul], &rest[nul + 1..]),
        None => (rest, &rest[rest.len()..]),
    };
    let query = String::from_utf8_lossy(query);
    if let Ok(Some(update)) = beat_update(&query, kind, body) {
        check_update(update, HTTP_MAX_MS);
    }
}

/// A cron schedule: the first line is the expression, the second the time
/// zone, then up to 8 bytes (little-endian) pick the instant to start from
/// (within 2020-2036 for an even first byte, anything otherwise). Fire
/// times come strictly after their start, on a whole second, and a
/// schedule that parses has a positive longest gap or none.
pub fn cron(data: &[u8]) {
    use crate::cron::{validate_tz, CronError, Schedule};
    let mut lines = data.splitn(3, |&b| b == b'\n');
    let expression = String::from_utf8_lossy(lines.next().unwrap_or_default());
    let zone = String::from_utf8_lossy(lines.next().unwrap_or_default());
    let rest = lines.next().unwrap_or_default();
    let mut bytes = [0u8; 8];
    for (b, r) in bytes.iter_mut().zip(rest) {
        *b = *r;
    }
    let raw = i64::from_le_bytes(bytes);
    let mut after = if raw % 2 == 0 {
        1_577_836_800_000 + raw.rem_euclid(16 * 366 * 86_400_000)
    } else {
        raw
    };
    let schedule = match Schedule::parse(&expression, &zone) {
        Ok(schedule) => schedule,
        Err(CronError::UnknownZone(_)) => {
            assert!(validate_tz(&zone).is_err());
            return;
        }
        Err(_) => return,
    };
    assert!(validate_tz(&zone).is_ok());
    assert!(schedule.expression().len() <= crate::cron::MAX_EXPRESSION_LEN);
    for _ in 0..4 {
        match schedule.next_fire(after) {
            Some(t) => {
                assert!(t > after, "next_fire({after}) = {t}");
                // On a wall-clock minute: a whole second (before 1900
                // zones had offsets like +0:53:28).
                assert_eq!(t.rem_euclid(1000), 0, "not on a second: {t}");
                after = t;
            }
            None => break,
        }
    }
    if let Some(gap) = schedule.longest_gap(after) {
        assert!(gap > 0, "longest gap {gap}");
    }
}

/// A configuration file; a valid one also compiles its view templates.
pub fn config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(config) = Config::from_toml_str(text) {
            let _ = crate::server::view_templates(&config);
        }
    }
}

/// A database file. Odd first byte: the rest is gzip-compressed first, so
/// the fuzzer explores the line format rather than gzip headers. A file that
/// loads must survive a write and a second load unchanged.
pub fn database(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let file = if selector % 2 == 1 {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        if gz.write_all(rest).is_err() {
            return;
        }
        match gz.finish() {
            Ok(bytes) => bytes,
            Err(_) => return,
        }
    } else {
        rest.to_vec()
    };
    let Ok(db) = decode(&file[..]) else {
        return;
    };
    let mut snapshot = ServiceSnapshot::with_capacity(db.services.len());
    for service in &db.services {
        snapshot.push(service.into());
    }
    let history: Vec<crate::history::Saved> = db
        .history
        .iter()
        .map(|(kind, name, subject)| crate::history::Saved {
            kind: *kind,
            name: name.as_str().into(),
            subject: std::sync::Arc::new(subject.clone()),
        })
        .collect();
    let mut written = Vec::new();
    crate::store::encode_with_history(
        &snapshot,
        &db.views,
        &db.maintenance,
        &history,
        &mut written,
    )
    .expect("encoding to memory cannot fail");
    let again = decode(&written[..]).expect("a database we wrote loads again");
    assert_eq!(
        again.services, db.services,
        "services changed in a write/load round trip"
    );
    assert_eq!(
        again.views, db.views,
        "views changed in a write/load round trip"
    );
    assert_eq!(
        again.maintenance, db.maintenance,
        "maintenance windows changed in a write/load round trip"
    );
    assert_eq!(
        again.history, db.history,
        "histories changed in a write/load round trip"
    );
}

/// The duration settings of jobs (`grace`, `max_runtime`, `min_duration`,
/// a block's `timeout`) as text and as integer seconds (the first 8 bytes),
/// and the rid rule: a duration is never negative nor over the longest
/// timeout, `is_valid_rid` agrees with the rule as written, and a rid it
/// accepts survives the database.
pub fn job_settings(data: &[u8]) {
    let mut values = Vec::new();
    if let Ok(text) = std::str::from_utf8(data) {
        values.push(DurationValue::Text(text.to_string()));
    }
    if let Some(first) = data.get(..8) {
        let mut n = [0u8; 8];
        n.copy_from_slice(first);
        values.push(DurationValue::Seconds(i64::from_le_bytes(n)));
    }
    for value in values {
        if let Ok(Some(ms)) = value.duration() {
            assert!(
                (0..=HTTP_MAX_MS).contains(&ms),
                "duration out of range: {ms}"
            );
        }
        if let Ok(ms) = value.period() {
            check_timeout(ms, HTTP_MAX_MS);
        }
    }
    let text = String::from_utf8_lossy(data);
    let rule = (1..=crate::jobs::MAX_RID_LEN).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-');
    assert_eq!(
        crate::jobs::is_valid_rid(&text),
        rule,
        "rid rule on {text:?}"
    );
    if rule {
        rid_survives_the_database(&text);
    }
}

fn rid_survives_the_database(rid: &str) {
    use crate::jobs::{JobEvent, JobRecord, OpenRun, SignalKind, Source};
    let job = JobRecord {
        open_runs: vec![OpenRun {
            since: 1,
            rid: Some(rid.into()),
        }],
        events: vec![JobEvent {
            n: 1,
            ts: 2,
            kind: SignalKind::Start,
            rid: Some(rid.into()),
            duration: None,
            source: Source::Udp,
            body: None,
            body_dropped: false,
        }],
        ..JobRecord::default()
    };
    let record = crate::model::ServiceRecord {
        name: "fuzz".into(),
        job: Some(Box::new(job)),
        ..crate::model::ServiceRecord::default()
    };
    let mut snapshot = ServiceSnapshot::with_capacity(1);
    snapshot.push((&record).into());
    let mut written = Vec::new();
    encode(&snapshot, &[], &[], &mut written).expect("encoding to memory cannot fail");
    let db = decode(&written[..]).expect("a database we wrote loads again");
    assert_eq!(db.services.first().map(|s| &s.job), Some(&record.job));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_takes_empty_and_simple_input() {
        for (_, check) in TARGETS {
            check(b"");
            check(b"a.b:1|c\n");
            check(b"\x01SERV\t{\"name\": \"a\"}\n");
            check(b"timeout=5m\x00{\"timeout\": 10}");
        }
    }

    #[test]
    fn the_database_check_round_trips_a_real_1x_file() {
        let file = include_bytes!("../tests/fixtures/lovebeat-1.0.3/lovebeat.db");
        assert!(!decode(&file[..])
            .expect("fixture loads")
            .services
            .is_empty());
        let mut input = vec![0u8];
        input.extend_from_slice(file);
        database(&input);
    }

    #[test]
    fn the_database_seed_with_job_keys_loads_every_key() {
        let seed = include_bytes!("../fuzz/seeds/database/jobs-text");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&seed[1..]).expect("gzip to memory");
        let db = decode(&gz.finish().expect("gzip to memory")[..]).expect("seed loads");
        assert_eq!(db.job_key_problems.count, 0, "{:?}", db.job_key_problems);
        let job = db.services[0].job.as_ref().expect("the seed has job keys");
        assert_eq!((job.events.len(), job.open_runs.len()), (5, 2));
        assert!(job.own.schedule.is_some() && job.reason.is_some());
        assert_eq!(db.services[1].job, None);
        database(seed);
    }

    #[test]
    fn the_database_seed_with_policy_keys_loads_every_key() {
        let seed = include_bytes!("../fuzz/seeds/database/policy-text");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&seed[1..]).expect("gzip to memory");
        let db = decode(&gz.finish().expect("gzip to memory")[..]).expect("seed loads");
        assert_eq!(
            db.policy_key_problems.count, 0,
            "{:?}",
            db.policy_key_problems
        );
        assert_eq!(db.skipped_lines, 0);
        let muted: Vec<_> = db.services.iter().map(|s| s.muted_until).collect();
        assert_eq!(muted, [1_700_007_200_000, crate::policy::MUTED_FOREVER]);
        let marks: Vec<_> = db
            .views
            .iter()
            .map(|v| (v.alerting.muted_until, v.alerting.alerted_at))
            .collect();
        assert_eq!(
            marks,
            [
                (0, 1_700_000_000_005),
                (0, 0),
                (1_700_000_060_000, 0),
                (0, 1_795_570_660_930)
            ]
        );
        assert_eq!(db.maintenance.len(), 2);
        database(seed);
    }

    #[test]
    fn the_job_settings_check_holds_for_its_seeds() {
        for input in [
            &b"90s"[..],
            b"none",
            b"auto",
            b"-5",
            b"run-1.a_B",
            b"a b",
            b"",
        ] {
            job_settings(input);
        }
        job_settings(&3600i64.to_le_bytes());
        job_settings(&(-1i64).to_le_bytes());
    }
}
