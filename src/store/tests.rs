//! Tests of the database file: the real Lovebeat 1.0.3 file, round trips,
//! the 1.x keys we write, corrupt inputs, atomic writes and the saver thread.

use super::*;
use crate::counters::Counters;
use crate::model::{State, TIMEOUT_AUTO};
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::{BufReader, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A fresh directory under the system temp dir, removed on drop.
pub(super) struct TempDir(PathBuf);

impl TempDir {
    pub(super) fn new(test: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("lovebeat-store-{}-{n}-{test}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    pub(super) fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub(super) fn gzip(text: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(text).unwrap();
    e.finish().unwrap()
}

pub(super) fn gunzip(bytes: &[u8]) -> String {
    let mut s = String::new();
    GzDecoder::new(bytes).read_to_string(&mut s).unwrap();
    s
}

pub(super) fn encoded(services: &[ServiceRecord], views: &[ViewRecord]) -> Vec<u8> {
    let mut out = Vec::new();
    encode(&ServiceSnapshot::from(services), views, &[], &mut out).unwrap();
    out
}

pub(super) fn service(name: &str) -> ServiceRecord {
    ServiceRecord {
        name: name.to_string(),
        state: State::Ok,
        last_beat: 1_700_000_000_000,
        timeout: 60_000,
        muted_since: 0,
        muted_until: 0,
        last_state_change: 1_700_000_000_000,
        beat_history: vec![],
        views: vec![],
        analysis: None,
        timeout_in_force: -1,
        next_deadline: None,
        job: None,
    }
}

fn sample() -> (Vec<ServiceRecord>, Vec<ViewRecord>) {
    let services = vec![
        ServiceRecord {
            beat_history: vec![5000, 1000, 3000, 1000, 99_999_999],
            views: vec!["backup".into(), "web-x".into()],
            timeout: TIMEOUT_AUTO,
            state: State::Error,
            ..service("a.with-history_1")
        },
        ServiceRecord {
            timeout: -1,
            last_beat: -1,
            state: State::New,
            last_state_change: 0,
            ..service("never.beat")
        },
        ServiceRecord {
            timeout: 0,
            state: State::Muted,
            muted_since: 1_700_000_000_500,
            ..service("zero")
        },
        service("plain"),
    ];
    let views = vec![
        ViewRecord {
            failures: Vec::new(),
            name: "backup".into(),
            state: State::Error,
            incident_number: 7,
            failed_services: vec!["a.with-history_1".into()],
            last_state_change: 1_700_000_000_123,
            alerts: vec![],
            alerting: Default::default(),
        },
        ViewRecord {
            failures: Vec::new(),
            name: "empty".into(),
            state: State::Ok,
            incident_number: 0,
            failed_services: vec![],
            last_state_change: 0,
            alerts: vec![],
            alerting: Default::default(),
        },
    ];
    (services, views)
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lovebeat-1.0.3/lovebeat.db")
}

#[test]
fn store_loads_lovebeat_103_file_exactly() {
    let db = match load_or_quarantine(&fixture(), 1).expect("load") {
        LoadOutcome::Loaded(db) => db,
        other => panic!("fixture did not load: {other:?}"),
    };
    assert_eq!(db.skipped_lines, 0);
    let names: Vec<&str> = db.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "plain.no.timeout",
            "web.frontend",
            "web.api.worker",
            "never.happens",
            "backup.db1.nightly",
            "backup.db2.nightly",
            "web.canary.ping"
        ]
    );
    let get = |n: &str| db.services.iter().find(|s| s.name == n).unwrap().clone();

    let s = get("web.api.worker");
    assert_eq!(s.timeout, 600_000);
    assert_eq!(s.last_beat, 1795570671207);
    assert_eq!(s.state, State::Muted);
    assert_eq!(s.muted_since, 1795570672321);
    assert_eq!(s.last_state_change, 1795570672321);
    assert_eq!(
        s.beat_history,
        [1111, 1112, 1112, 1112, 1112, 1112, 1113, 1113, 1115, 1115, 1115]
    );
    assert!(s.views.is_empty());
    assert_eq!(s.analysis, None);

    let s = get("web.frontend");
    assert_eq!(s.timeout, -2);
    assert_eq!(s.last_beat, 1795570671197);
    assert_eq!(s.state, State::Error);
    assert_eq!(s.muted_since, 0);
    assert_eq!(s.last_state_change, 1795570673930);
    assert_eq!(
        s.beat_history,
        [1111, 1112, 1112, 1112, 1112, 1112, 1112, 1112, 1114, 1114, 1115]
    );

    let s = get("never.happens");
    assert_eq!(
        (s.timeout, s.last_beat, s.state, s.last_state_change),
        (0, 1795570672332, State::Error, 1795570672332)
    );
    assert!(s.beat_history.is_empty());

    let s = get("backup.db1.nightly");
    assert_eq!(
        (s.timeout, s.last_beat, s.state, s.last_state_change),
        (86_400_000, 1795570658934, State::Ok, 1795570658934)
    );

    let s = get("backup.db2.nightly");
    assert_eq!(
        (s.timeout, s.last_beat, s.state, s.last_state_change),
        (1000, 1795570658942, State::Error, 1795570660930)
    );

    let s = get("plain.no.timeout");
    assert_eq!(
        (s.timeout, s.last_beat, s.state, s.muted_since),
        (-1, 1795570658956, State::Ok, 0)
    );
    assert_eq!(get("web.canary.ping").timeout, -1);

    let views: Vec<(&str, State, u64, i64)> = db
        .views
        .iter()
        .map(|v| {
            assert!(v.failed_services.is_empty(), "null failed_services");
            (
                v.name.as_str(),
                v.state,
                v.incident_number,
                v.last_state_change,
            )
        })
        .collect();
    assert_eq!(
        views,
        [
            ("backup-db2", State::Error, 2, 1795570660930),
            ("web", State::Error, 2, 1795570673930),
            ("backup-db1", State::Ok, 1, 1795570658934),
        ]
    );
}

#[test]
fn store_round_trip() {
    let (services, views) = sample();
    let db = decode(&encoded(&services, &views)[..]).unwrap();
    assert_eq!(db.services, services);
    assert_eq!(db.views, views);
    assert_eq!(db.skipped_lines, 0);

    let empty = decode(&encoded(&[], &[])[..]).unwrap();
    assert_eq!(empty, Database::default());
}

#[test]
fn store_fixture_survives_our_round_trip() {
    let db = decode(File::open(fixture()).unwrap()).unwrap();
    let again = decode(&encoded(&db.services, &db.views)[..]).unwrap();
    assert_eq!(again, db);
}

#[test]
fn store_writes_1x_line_kinds_and_keys() {
    let (services, views) = sample();
    let text = gunzip(&encoded(&services, &views));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), services.len() + views.len());
    assert!(text.ends_with('\n'));
    for (i, line) in lines.iter().enumerate() {
        let (kind, json) = line.split_once('\t').unwrap();
        // All SERV lines first, then all ALARM lines.
        assert_eq!(kind, if i < services.len() { "SERV" } else { "ALARM" });
        let obj: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json).unwrap();
        let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        let mut keys = keys;
        keys.sort();
        if kind == "ALARM" {
            // An ERROR view adds the alert policy's `alerted_at` (SPEC 15)
            // after 1.x's keys.
            let error = obj["state"] == "error";
            assert_eq!(keys.contains(&"alerted_at"), error, "{line}");
            keys.retain(|k| *k != "alerted_at");
            assert_eq!(
                keys,
                [
                    "failed_services",
                    "incident_nbr",
                    "last_state_change",
                    "name",
                    "state"
                ]
            );
            assert!(obj["failed_services"].is_array(), "array, never null");
        }
    }
    // The service with a history and views writes every 1.x key, in 1.x's
    // order; the one without drops beat_history and in_alarms like 1.x.
    assert_eq!(
        lines[0],
        "SERV\t{\"name\":\"a.with-history_1\",\"last_beat\":1700000000000,\
         \"beat_history\":[5000,1000,3000,1000,99999999],\"timeout\":-2,\"state\":\"error\",\
         \"muted_since\":0,\"last_state_change\":1700000000000,\"in_alarms\":[\"backup\",\"web-x\"]}"
    );
    assert_eq!(
        lines[1],
        "SERV\t{\"name\":\"never.beat\",\"last_beat\":-1,\"timeout\":-1,\"state\":\"new\",\
         \"muted_since\":0,\"last_state_change\":0}"
    );
    assert_eq!(
        lines[4],
        "ALARM\t{\"name\":\"backup\",\"state\":\"error\",\"incident_nbr\":7,\
         \"failed_services\":[\"a.with-history_1\"],\"last_state_change\":1700000000123,\
         \"alerted_at\":0}"
    );
}

#[test]
fn store_reads_other_kinds_views_nulls_and_unknown_keys() {
    let text = "\
# a comment line\n\
\n\
SERV\t{\"name\":\"x\",\"extra\":{\"deep\":[1,2]},\"beat_history\":null,\"in_alarms\":null}\r\n\
FOO\tbar\n\
VIEW\t{\"name\":\"v\",\"state\":\"ok\",\"incident_number\":3,\"failed_services\":[\"x\"]}\n\
ALARM\t{\"name\":\"a\",\"state\":\"error\",\"incident_nbr\":5,\"failed_services\":null,\"whatever\":true}\n\
ALARM\t{\"name\":\"m\"}\n\
SERV\t{\"name\":\"old\",\"state\":\"paused\",\"in_views\":[\"v\"],\"timeout\":-2}\n\
   \n";
    let db = decode(&gzip(text.as_bytes())[..]).unwrap();
    assert_eq!(db.skipped_lines, 2);
    assert_eq!(
        db.services,
        [
            ServiceRecord {
                name: "x".into(),
                last_beat: -1,
                timeout: -1,
                ..Default::default()
            },
            ServiceRecord {
                name: "old".into(),
                last_beat: -1,
                timeout: -2,
                views: vec!["v".into()],
                ..Default::default()
            },
        ]
    );
    assert_eq!(
        db.views,
        [
            ViewRecord {
                failures: Vec::new(),
                name: "v".into(),
                state: State::Ok,
                incident_number: 3,
                failed_services: vec!["x".into()],
                last_state_change: 0,
                alerts: vec![],
                alerting: Default::default(),
            },
            ViewRecord {
                failures: Vec::new(),
                name: "a".into(),
                state: State::Error,
                incident_number: 5,
                failed_services: vec![],
                last_state_change: 0,
                alerts: vec![],
                // In ERROR, stored before SPEC 15: its alert went.
                alerting: crate::policy::ViewAlerting {
                    alerted_at: 1,
                    ..Default::default()
                },
            },
            ViewRecord {
                name: "m".into(),
                ..Default::default()
            },
        ]
    );
}

#[test]
fn store_bad_records_are_corrupt_with_line_number() {
    for (text, line) in [
        ("SERV\t{\"name\":\"ok\"}\nSERV\t{not json}\n", 2),
        ("SERV\t{\"timeout\":5}\n", 1), // no name
        ("\n\nALARM\t{\"name\":\"a\",\"incident_nbr\":\"x\"}\n", 3), // wrong type
        ("SERV\n", 1),                  // no JSON
        ("VIEW\t[1,2]\n", 1),
        ("SERV\t{\"name\":\"a\",\"beat_history\":[1,2.5]}\n", 1),
    ] {
        match decode(&gzip(text.as_bytes())[..]) {
            Err(StoreError::Corrupt { line: l, reason }) => {
                assert_eq!(l, line, "{text:?}: {reason}")
            }
            other => panic!("{text:?}: {other:?}"),
        }
    }
}

fn assert_quarantined(test: &str, bytes: &[u8]) {
    let dir = TempDir::new(test);
    let path = dir.path("lovebeat.db");
    fs::write(&path, bytes).unwrap();
    match load_or_quarantine(&path, 1_234_567).expect("load") {
        LoadOutcome::Quarantined { moved_to, reason } => {
            assert_eq!(moved_to, dir.path("lovebeat.db.corrupt-1234567"));
            assert_eq!(fs::read(&moved_to).unwrap(), bytes, "{test}: bytes intact");
            assert!(!path.exists(), "{test}");
            assert!(!reason.is_empty());
        }
        other => panic!("{test}: {other:?}"),
    }
    assert_eq!(dir.names(), ["lovebeat.db.corrupt-1234567"]);
}

#[test]
fn store_corrupt_files_are_quarantined() {
    let (services, views) = sample();
    let good = encoded(&services, &views);
    assert_quarantined("plain", b"SERV\t{\"name\":\"x\"}\n");
    assert_quarantined("truncated", &good[..good.len() / 2]);
    assert_quarantined("no-trailer", &good[..good.len() - 4]);
    assert_quarantined("garbage-json", &gzip(b"SERV\t{{{{\n"));
    assert_quarantined("empty", b"");
    assert_quarantined("one-byte", b"\x1f");
    let mut bad_crc = good.clone();
    let n = bad_crc.len();
    bad_crc[n - 6] ^= 0xff;
    assert_quarantined("bad-crc", &bad_crc);
    // Pseudo-random bytes, with and without a gzip header.
    let mut x: u32 = 0x9e37_79b9;
    let mut random: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    assert_quarantined("random", &random);
    random[0] = 0x1f;
    random[1] = 0x8b;
    assert_quarantined("random-gzip-header", &random);
    let mut gz_garbage = gzip(&random);
    assert_quarantined("gzip-of-binary", &gz_garbage);
    gz_garbage.extend_from_slice(b"trailing junk");
    assert_quarantined("trailing-junk", &gz_garbage);
}

#[test]
fn store_quarantine_never_overwrites_an_earlier_one() {
    let dir = TempDir::new("quarantine-twice");
    let path = dir.path("db");
    fs::write(&path, b"first").unwrap();
    assert!(matches!(
        load_or_quarantine(&path, 5).expect("load"),
        LoadOutcome::Quarantined { .. }
    ));
    fs::write(&path, b"second").unwrap();
    match load_or_quarantine(&path, 5).expect("load") {
        LoadOutcome::Quarantined { moved_to, .. } => {
            assert_eq!(moved_to, dir.path("db.corrupt-5.1"))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fs::read(dir.path("db.corrupt-5")).unwrap(), b"first");
    assert_eq!(fs::read(dir.path("db.corrupt-5.1")).unwrap(), b"second");
}

#[test]
fn store_missing_file_is_empty() {
    let dir = TempDir::new("missing");
    let outcome = load_or_quarantine(&dir.path("nope.db"), 1).expect("load");
    assert!(matches!(outcome, LoadOutcome::Missing));
    assert_eq!(outcome.into_database(), Database::default());
    assert!(dir.names().is_empty());
}

#[test]
fn store_write_atomic_replaces_and_leaves_no_temp() {
    let dir = TempDir::new("atomic");
    let path = dir.path("lovebeat.db");
    fs::write(&path, b"old contents").unwrap();
    let (services, views) = sample();
    let bytes = write_atomic(&path, &ServiceSnapshot::from(&services[..]), &views, &[]).unwrap();
    assert_eq!(bytes, fs::metadata(&path).unwrap().len());
    assert_eq!(dir.names(), ["lovebeat.db"]);
    let db = load_or_quarantine(&path, 1).expect("load").into_database();
    assert_eq!((db.services, db.views), (services, views));

    // Again, smaller: replaced, not appended.
    write_atomic(&path, &ServiceSnapshot::default(), &[], &[]).unwrap();
    assert_eq!(dir.names(), ["lovebeat.db"]);
    assert_eq!(
        decode(File::open(&path).unwrap()).unwrap(),
        Database::default()
    );
}

#[test]
fn store_write_atomic_errors_name_the_path() {
    let dir = TempDir::new("atomic-err");
    let path = dir.path("no-such-dir").join("lovebeat.db");
    let err = write_atomic(&path, &ServiceSnapshot::default(), &[], &[]).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Io { .. }), "{msg}");
    assert!(msg.contains("no-such-dir"), "{msg}");
    assert!(msg.contains("directory"), "{msg}");
    assert!(dir.names().is_empty());
}

#[test]
fn store_saver_thread_writes_newest_and_answers_all() {
    let dir = TempDir::new("saver");
    let path = dir.path("lovebeat.db");
    let counters = Arc::new(Counters::default());
    let hook_calls = Arc::new(Mutex::new(Vec::new()));
    let calls = Arc::clone(&hook_calls);
    let (tx, rx) = crossbeam_channel::unbounded();
    let (done1_tx, done1) = crossbeam_channel::bounded(1);
    let (done2_tx, done2) = crossbeam_channel::bounded(1);
    tx.send(SaveJob {
        history: Vec::new(),
        services: ServiceSnapshot::from(&[service("first")][..]),
        views: vec![],
        maintenance: vec![],
        done: Some(done1_tx),
    })
    .unwrap();
    let (services, views) = sample();
    tx.send(SaveJob {
        history: Vec::new(),
        services: ServiceSnapshot::from(&services[..]),
        views: views.clone(),
        maintenance: vec![],
        done: Some(done2_tx),
    })
    .unwrap();
    let handle = spawn_saver(
        path.clone(),
        Arc::clone(&counters),
        rx,
        Box::new(move |p: &Path, r: &SaveReport| {
            calls.lock().unwrap().push((p.to_path_buf(), *r));
            panic!("a broken hook must not kill the saver");
        }),
    )
    .unwrap();
    let r1 = done1.recv_timeout(Duration::from_secs(30)).unwrap();
    let r2 = done2
        .recv_timeout(Duration::from_secs(30))
        .unwrap()
        .unwrap();
    assert_eq!((r2.services, r2.views), (services.len(), views.len()));
    assert_eq!(r2.bytes, fs::metadata(&path).unwrap().len());
    // The first job was either written on its own or superseded by the second.
    assert!(r1.is_ok());
    // A third job after the panicking hook still gets saved.
    let (done3_tx, done3) = crossbeam_channel::bounded(1);
    tx.send(SaveJob {
        history: Vec::new(),
        services: ServiceSnapshot::from(&services[..]),
        views: views.clone(),
        maintenance: vec![],
        done: Some(done3_tx),
    })
    .unwrap();
    done3
        .recv_timeout(Duration::from_secs(30))
        .unwrap()
        .unwrap();
    drop(tx);
    handle.join().unwrap();

    let saves = Counters::get(&counters.saves);
    assert!((2..=3).contains(&saves), "{saves}");
    assert_eq!(Counters::get(&counters.save_failures), 0);
    let calls = hook_calls.lock().unwrap();
    assert_eq!(calls.len() as u64, saves);
    assert!(calls.iter().all(|(p, _)| *p == path));
    let db = decode(File::open(&path).unwrap()).unwrap();
    assert_eq!((db.services, db.views), (services, views));
    assert_eq!(dir.names(), ["lovebeat.db"]);
}

#[test]
fn store_saver_reports_failures() {
    let dir = TempDir::new("saver-fail");
    let path = dir.path("missing-dir").join("lovebeat.db");
    let counters = Arc::new(Counters::default());
    let (tx, rx) = crossbeam_channel::unbounded();
    let handle = spawn_saver(path, Arc::clone(&counters), rx, Box::new(|_, _| {})).unwrap();
    let (done_tx, done) = crossbeam_channel::bounded(1);
    tx.send(SaveJob {
        history: Vec::new(),
        services: ServiceSnapshot::from(&[service("a")][..]),
        views: vec![],
        maintenance: vec![],
        done: Some(done_tx),
    })
    .unwrap();
    tx.send(SaveJob {
        history: Vec::new(),
        services: ServiceSnapshot::default(),
        views: vec![],
        maintenance: vec![],
        done: None,
    })
    .unwrap();
    let err = done
        .recv_timeout(Duration::from_secs(30))
        .unwrap()
        .unwrap_err();
    assert!(err.contains("missing-dir"), "{err}");
    drop(tx);
    handle.join().unwrap();
    assert!(Counters::get(&counters.save_failures) >= 1);
    assert_eq!(Counters::get(&counters.saves), 0);
}

/// Manual measurement: `cargo test --release --lib store -- --ignored --nocapture`
#[test]
#[ignore]
fn store_measure_one_million_services() {
    use std::time::Instant;
    let dir = TempDir::new("million");
    let path = dir.path("lovebeat.db");
    let t = Instant::now();
    let services: Vec<ServiceRecord> = (0..1_000_000)
        .map(|i| service(&format!("svc.{i:06}")))
        .collect();
    let build = t.elapsed();
    let t = Instant::now();
    let bytes = write_atomic(&path, &ServiceSnapshot::from(&services[..]), &[], &[]).unwrap();
    let write = t.elapsed();
    let t = Instant::now();
    let mut text = 0u64;
    let mut gz = flate2::read::MultiGzDecoder::new(BufReader::new(File::open(&path).unwrap()));
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match gz.read(&mut chunk).unwrap() {
            0 => break,
            n => text += n as u64,
        }
    }
    let inflate = t.elapsed();
    let t = Instant::now();
    let db = decode(BufReader::new(File::open(&path).unwrap())).unwrap();
    let read = t.elapsed();
    assert_eq!(db.services.len(), services.len());
    assert_eq!(db.services[123_456], services[123_456]);
    println!(
        "1M services: build {build:?}, encode+write+fsync {write:?}, decode {read:?} (of which inflating {text} bytes of text alone takes {inflate:?}), file {bytes} bytes ({:.1} MiB)",
        bytes as f64 / (1024.0 * 1024.0)
    );
}

#[test]
fn view_alerts_are_never_written_to_the_database() {
    let view = ViewRecord {
        name: "web".into(),
        state: State::Error,
        incident_number: 2,
        alerts: vec!["pager-zz9".into()],
        ..Default::default()
    };
    let bytes = encoded(&[], std::slice::from_ref(&view));
    let text = gunzip(&bytes);
    assert!(text.contains("\"web\""), "{text}");
    assert!(
        !text.contains("pager-zz9"),
        "alerts leaked into the file: {text}"
    );
    let db = decode(&bytes[..]).unwrap();
    assert_eq!(db.views.len(), 1);
    assert!(db.views[0].alerts.is_empty());
    assert_eq!(db.views[0].incident_number, 2);
}
