//! Tests of the statsd line parser: beats, autobeats, run signals,
//! timeouts, every kind of invalid line, random bytes, whole packets.

use super::*;
use std::time::Instant;

fn ok(line: &str) -> (&str, Update) {
    match parse_line(line.as_bytes()) {
        Ok(v) => v,
        Err(e) => panic!("{line:?} refused: {e}"),
    }
}

fn err(line: &[u8]) -> LineError {
    match parse_line(line) {
        Ok(v) => panic!("{:?} accepted as {v:?}", String::from_utf8_lossy(line)),
        Err(e) => e,
    }
}

#[test]
fn max_timeout_is_ten_years() {
    assert_eq!(MAX_TIMEOUT_MS, 315_576_000_000);
}

#[test]
fn beats_and_autobeats() {
    for t in ["c", "g", "ms"] {
        assert_eq!(ok(&format!("a.beat:1|{t}")), ("a", Update::Beat));
        assert_eq!(
            ok(&format!("a.b.autobeat:7|{t}")),
            ("a.b", Update::AUTOBEAT)
        );
        assert_eq!(
            ok(&format!("x.timeout:5|{t}")),
            ("x", Update::SetTimeout(5000))
        );
    }
    assert_eq!(ok("app.db-1_x.beat:0|c"), ("app.db-1_x", Update::Beat));
    assert_eq!(ok("a.beat:-3|c"), ("a", Update::Beat));
    assert_eq!(ok("a.beat:1.5|c"), ("a", Update::Beat));
    assert_eq!(ok("a.beat:1|c|@0.5"), ("a", Update::Beat));
    assert_eq!(ok("a.beat:1|ms|@1"), ("a", Update::Beat));
    assert_eq!(ok("a.beat:1|c\r"), ("a", Update::Beat));
    assert_eq!(ok("a.beat:1|c\r\n"), ("a", Update::Beat));
    // Only the last suffix counts.
    assert_eq!(ok("a.beat.beat:1|c"), ("a.beat", Update::Beat));
    assert_eq!(
        ok("a.timeout.autobeat:1|c"),
        ("a.timeout", Update::AUTOBEAT)
    );
    assert_eq!(ok("1.-_.beat:1|c"), ("1.-_", Update::Beat));
    let long = "a".repeat(200);
    assert_eq!(
        ok(&format!("{long}.beat:1|c")),
        (long.as_str(), Update::Beat)
    );
}

#[test]
fn run_signals() {
    for t in ["c", "g", "ms"] {
        assert_eq!(
            ok(&format!("backup.start:1|{t}")),
            ("backup", Update::Start)
        );
        assert_eq!(ok(&format!("a.b.fail:1|{t}")), ("a.b", Update::Fail));
    }
    assert_eq!(ok("nightly.exit:3|g"), ("nightly", Update::Exit(3)));
    assert_eq!(ok("nightly.exit:0|g"), ("nightly", Update::Exit(0)));
    assert_eq!(ok("nightly.exit:255|g"), ("nightly", Update::Exit(255)));
    assert_eq!(ok("nightly.exit:007|g|@1"), ("nightly", Update::Exit(7)));
    assert_eq!(ok("x.start:1|c\r\n"), ("x", Update::Start));
    // `.beat` stays a success, and names may contain the signal words.
    assert_eq!(ok("a.start.beat:1|c"), ("a.start", Update::Beat));
    assert_eq!(ok("exit.fail:1|c"), ("exit", Update::Fail));
    for bad in [
        "n.exit:256|g",
        "n.exit:-1|g",
        "n.exit:1000|g",
        "n.exit:0255|g",
        "n.exit:3.0|g",
        "n.exit:abc|g",
        "n.exit:|g",
        "n.exit:+3|g",
        "n.exit: 3|g",
        "n.exit:99999999999999999999|g",
    ] {
        assert_eq!(err(bad.as_bytes()), LineError::BadExitCode, "{bad}");
    }
    assert_eq!(err(b"n.start:x|c"), LineError::BadValue);
    assert_eq!(err(b"n.fail:|c"), LineError::BadValue);
    assert_eq!(err(b".start:1|c"), LineError::BadName);
    assert_eq!(err(b"n.exit:3|x"), LineError::UnknownType);
    assert_eq!(err(b"n.stop:1|c"), LineError::UnknownMetric);
}

#[test]
fn timeouts() {
    let t = |v: &str| ok(&format!("s.timeout:{v}|g")).1;
    assert_eq!(t("-1"), Update::SetTimeout(TIMEOUT_NONE));
    assert_eq!(t("-2"), Update::SetTimeout(TIMEOUT_AUTO));
    assert_eq!(t("-1.0"), Update::SetTimeout(TIMEOUT_NONE));
    assert_eq!(t("0"), Update::SetTimeout(0));
    assert_eq!(t("0.000"), Update::SetTimeout(0));
    assert_eq!(t("1"), Update::SetTimeout(1000));
    assert_eq!(t("3600"), Update::SetTimeout(3_600_000));
    assert_eq!(t("1.5"), Update::SetTimeout(1500));
    assert_eq!(t("0.25"), Update::SetTimeout(250));
    assert_eq!(t("0.001"), Update::SetTimeout(1));
    assert_eq!(t("2.0009"), Update::SetTimeout(2000));
    assert_eq!(t("007"), Update::SetTimeout(7000));
    assert_eq!(t("315576000"), Update::SetTimeout(MAX_TIMEOUT_MS));
    assert_eq!(ok("s.timeout:60|c|@0.1").1, Update::SetTimeout(60_000));
}

#[test]
fn invalid_lines() {
    use LineError::*;
    let cases: &[(&[u8], LineError)] = &[
        (b"", Empty),
        (b"\r", Empty),
        (b"a.beat", NoColon),
        (b"a.beat1|c", NoColon),
        (b"a.beat:1", NoType),
        (b"a.beat:1c", NoType),
        (b"a.beat:1|x", UnknownType),
        (b"a.beat:1|", UnknownType),
        (b"a.beat:1|C", UnknownType),
        (b"a.beat:1|c ", UnknownType),
        (b"a.beat:1|c|", BadSampleRate),
        (b"a.beat:1|c|@", BadSampleRate),
        (b"a.beat:1|c|0.5", BadSampleRate),
        (b"a.beat:1|c|@0.5.1", BadSampleRate),
        (b"a.beat:1|c|@0.5|x", BadSampleRate),
        (b"a.beat:1|c|#tag:x", BadSampleRate),
        (b"a.foo:1|c", UnknownMetric),
        (b"a:1|c", UnknownMetric),
        (b"beat:1|c", UnknownMetric),
        (b"a.BEAT:1|c", UnknownMetric),
        (b"a.beat:x|c", BadValue),
        (b"a.beat:|c", BadValue),
        (b"a.beat:+1|c", BadValue),
        (b"a.beat:1.|c", BadValue),
        (b"a.beat:.5|c", BadValue),
        (b"a.beat:1e3|c", BadValue),
        (b"a.beat:--1|c", BadValue),
        (b"a.beat: 1|c", BadValue),
        (b"a.timeout:abc|g", BadValue),
        (b"a.timeout:1.5s|g", BadValue),
        (b"a.beat:99999999999999999999|c", ValueOutOfRange),
        (b"a.timeout:99999999999999999999|g", ValueOutOfRange),
        (b"a.timeout:9223372036854775807|g", ValueOutOfRange),
        (b"a.timeout:315576000.001|g", ValueOutOfRange),
        (b"a.timeout:0.0001|g", ValueOutOfRange),
        (b"a.timeout:-5|g", NegativeTimeout),
        (b"a.timeout:-3|g", NegativeTimeout),
        (b"a.timeout:-0|g", NegativeTimeout),
        (b"a.timeout:-1.5|g", NegativeTimeout),
        (b"a.timeout:-99999999999999999999|g", ValueOutOfRange),
        (b"Upper.beat:1|c", BadName),
        (b"a b.beat:1|c", BadName),
        (b"a/b.beat:1|c", BadName),
        (b".beat:1|c", BadName),
        (b"\xc3\xa9.beat:1|c", BadName),
        (b"a\xff.beat:1|c", NotUtf8),
        (b"\xc3(.beat:1|c", NotUtf8),
        (b"\x00\x01\x02\xfe\xfd", NotUtf8),
        (b"\x00\x01\x02", NoColon),
    ];
    for (line, want) in cases {
        assert_eq!(err(line), *want, "{:?}", String::from_utf8_lossy(line));
    }
    let long = format!("{}.beat:1|c", "a".repeat(201));
    assert_eq!(err(long.as_bytes()), BadName);
    // Every error has a message.
    for (_, e) in cases {
        assert!(!e.to_string().is_empty());
    }
    assert!(BadName.to_string().contains("a-z"));
}

/// Tiny xorshift PRNG, enough for fuzzing without crates.
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    // Biased alphabet so that many inputs get deep into the parser.
    let alphabet = b"ab.:|@-0123456789cgms\r\n\xff\xc3 beattimeoutauto";
    let counters = Counters::default();
    let mut batch = Batch::default();
    for i in 0..5000 {
        let len = (rng.next() % 64) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                let r = rng.next();
                if i % 2 == 0 {
                    r as u8
                } else {
                    alphabet[(r % alphabet.len() as u64) as usize]
                }
            })
            .collect();
        let _ = parse_line(&bytes);
        parse_packet(&bytes, &mut batch, &counters);
    }
    // Structured near-misses built from valid pieces.
    let pieces: [&str; 14] = [
        "a",
        ".beat",
        ".timeout",
        ".autobeat",
        ":",
        "|",
        "c",
        "ms",
        "@",
        "-",
        "1",
        ".",
        "9",
        "\r",
    ];
    for _ in 0..5000 {
        let n = (rng.next() % 10) as usize;
        let s: String = (0..n)
            .map(|_| pieces[(rng.next() % pieces.len() as u64) as usize])
            .collect();
        let _ = parse_line(s.as_bytes());
    }
}

#[test]
fn packet_parses_all_lines_and_counts() {
    let counters = Counters::default();
    let mut batch = Batch::default();
    let packet = b"a.beat:1|c\nbad line\r\nb.timeout:60|g\r\n\nc.autobeat:1|c\n";
    assert_eq!(parse_packet(packet, &mut batch, &counters), (3, 1));
    let got: Vec<_> = batch.iter().collect();
    assert_eq!(
        got,
        vec![
            ("a", Update::Beat),
            ("b", Update::SetTimeout(60_000)),
            ("c", Update::AUTOBEAT)
        ]
    );
    assert_eq!(Counters::get(&counters.lines), 4);
    assert_eq!(Counters::get(&counters.invalid_lines), 1);

    // No trailing newline; garbage around.
    assert_eq!(
        parse_packet(b"\xff\xfe\nd.beat:1|c", &mut batch, &counters),
        (1, 1)
    );
    assert_eq!(batch.len(), 4);
    assert_eq!(Counters::get(&counters.lines), 6);
    assert_eq!(Counters::get(&counters.invalid_lines), 2);
    // Only newlines: nothing counted.
    assert_eq!(parse_packet(b"\n\r\n\n", &mut batch, &counters), (0, 0));
    assert_eq!(Counters::get(&counters.lines), 6);
}

/// Manual measurement:
/// `cargo test --release --lib statsd -- --ignored --nocapture`
#[test]
#[ignore]
fn bench_parse_packet() {
    let mut packet = String::new();
    for i in 0..20 {
        match i % 3 {
            0 => packet.push_str(&format!("app.worker-{i}.beat:1|c\n")),
            1 => packet.push_str(&format!("backup.db_{i}.timeout:3600|g\n")),
            _ => packet.push_str(&format!("cron.job.{i}.autobeat:1|c|@0.5\n")),
        }
    }
    let counters = Counters::default();
    let rounds = 200_000;
    let start = Instant::now();
    for _ in 0..rounds {
        let mut batch = Batch::with_capacity(20);
        let r = parse_packet(
            std::hint::black_box(packet.as_bytes()),
            &mut batch,
            &counters,
        );
        assert_eq!(r, (20, 0));
        std::hint::black_box(batch);
    }
    let ns = start.elapsed().as_nanos() as f64 / (rounds * 20) as f64;
    println!("parse_packet: {ns:.1} ns/line (20-line packet, incl. Batch alloc)");
}
