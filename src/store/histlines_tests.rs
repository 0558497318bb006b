//! `HIST` lines (SPEC 18): a history survives a write and a load, the rest
//! of the file is 1.x's as before, and a malformed line is skipped and
//! counted, never fatal.

use super::*;
use crate::history::{Change, Kind, Saved, Subject};
use crate::model::{ServiceRecord, ServiceSnapshot, State};
use std::borrow::Cow;
use std::io::{Read, Write};
use std::sync::Arc;

const T: i64 = 1_764_000_000_000;

fn subject() -> Subject {
    Subject {
        base_at: T,
        base: State::Ok,
        changes: [
            (
                T + 1000,
                State::Ok,
                State::Error,
                "no beat for 1 s \"quoted\" ✓",
            ),
            (T + 5000, State::Error, State::Ok, "beat"),
        ]
        .into_iter()
        .map(|(at, from, to, why)| Change {
            at,
            from,
            to,
            reason: Cow::Owned(why.to_owned()),
        })
        .collect(),
        dropped: 7,
    }
}

fn gzip(text: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text).expect("to memory");
    gz.finish().expect("to memory")
}

fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .expect("gzip");
    text
}

fn service(name: &str) -> ServiceRecord {
    ServiceRecord {
        name: name.into(),
        state: State::Ok,
        last_beat: T,
        last_state_change: T,
        ..ServiceRecord::default()
    }
}

#[test]
fn histories_of_services_and_views_survive_a_write_and_a_load() {
    let history = vec![
        Saved {
            kind: Kind::Service,
            name: "web.a".into(),
            subject: Arc::new(subject()),
        },
        Saved {
            kind: Kind::View,
            name: "web".into(),
            subject: Arc::new(Subject {
                changes: Default::default(),
                ..subject()
            }),
        },
    ];
    let services = [service("web.a")];
    let mut out = Vec::new();
    encode_with_history(
        &ServiceSnapshot::from(&services[..]),
        &[],
        &[],
        &history,
        &mut out,
    )
    .expect("to memory");
    let db = decode(&out[..]).expect("loads");
    assert_eq!(db.history_problems.count, 0, "{:?}", db.history_problems);
    assert_eq!(db.skipped_lines, 0);
    assert_eq!(
        db.history,
        [
            (Kind::Service, "web.a".to_string(), subject()),
            (
                Kind::View,
                "web".to_string(),
                Subject {
                    changes: Default::default(),
                    ..subject()
                }
            )
        ]
    );
    // A common reason is shared again, an uncommon one owned.
    let changes = &db.history[0].2.changes;
    assert!(matches!(changes[1].reason, Cow::Borrowed("beat")));
    assert!(matches!(changes[0].reason, Cow::Owned(_)));
    // The SERV line is 1.x's, byte for byte as without a history, and the
    // history is compact, one line per subject, after the rest.
    let text = gunzip(&out);
    let mut plain = Vec::new();
    encode(&ServiceSnapshot::from(&services[..]), &[], &[], &mut plain).expect("to memory");
    assert!(text.starts_with(&gunzip(&plain)));
    let hist: Vec<&str> = text.lines().filter(|l| l.starts_with("HIST\t")).collect();
    assert_eq!(hist.len(), 2);
    assert_eq!(
        hist[0],
        "HIST\t{\"service\":\"web.a\",\"base_at\":1764000000000,\"base\":\"ok\",\"dropped\":7,\
         \"changes\":[[1764000001000,\"ok\",\"error\",\"no beat for 1 s \\\"quoted\\\" ✓\"],\
         [1764000005000,\"error\",\"ok\",\"beat\"]]}"
    );
}

#[test]
fn malformed_hist_lines_are_skipped_and_counted_and_the_rest_loads() {
    let good = "HIST\t{\"view\":\"v\",\"base_at\":5,\"base\":\"new\",\"changes\":[[6,\"new\",\"error\",\"x\"]]}";
    let bad = [
        "HIST\t{not json",
        "HIST",
        "HIST\t{\"base_at\":5,\"base\":\"ok\",\"changes\":[]}",
        "HIST\t{\"service\":\"a\",\"view\":\"b\",\"base_at\":5,\"base\":\"ok\",\"changes\":[]}",
        "HIST\t{\"service\":\"\",\"base_at\":5,\"base\":\"ok\",\"changes\":[]}",
        "HIST\t{\"service\":\"a\",\"base_at\":5,\"base\":\"sleepy\",\"changes\":[]}",
        "HIST\t{\"service\":\"a\",\"base_at\":5,\"base\":\"ok\",\"changes\":[[9,\"ok\",\"error\",\"x\"],[8,\"error\",\"ok\",\"y\"]]}",
        "HIST\t{\"service\":\"a\",\"base_at\":5,\"base\":\"ok\",\"changes\":[[9,\"ok\",\"error\"]]}",
        "HIST\t{\"service\":\"a\",\"base_at\":\"soon\",\"base\":\"ok\",\"changes\":[]}",
    ];
    let mut text = String::from("SERV\t{\"name\":\"a\",\"last_beat\":1,\"timeout\":-1,\"state\":\"ok\",\"muted_since\":0,\"last_state_change\":1}\n");
    for line in bad {
        text.push_str(line);
        text.push('\n');
    }
    text.push_str(good);
    text.push('\n');
    let db = decode(&gzip(text.as_bytes())[..]).expect("a bad HIST line is never fatal");
    assert_eq!(db.services.len(), 1);
    assert_eq!(db.history_problems.count, bad.len());
    assert!(db.history_problems.samples[0].starts_with("line 2: HIST skipped:"));
    assert_eq!(db.history.len(), 1);
    assert_eq!(db.history[0].0, Kind::View);
    assert_eq!(db.history[0].2.changes[0].at, 6);
}
