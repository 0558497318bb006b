//! Tests of the adaptive timeout in the database file (SPEC 19): written
//! as 1.x's auto plus `auto_model`, read back as adaptive.

use super::tests::{encoded, gunzip, gzip, service};
use super::*;
use crate::model::{ServiceRecord, TIMEOUT_AUTO};

/// SPEC 19: an adaptive timeout is 1.x's auto (-2) plus `auto_model`, so
/// 1.0.3 reads an auto timeout; it comes back adaptive; without the key (or
/// with anything but "adaptive") -2 stays auto, and a bare -3 is none.
#[test]
fn store_adaptive_timeout_round_trip_and_1x_sees_auto() {
    use crate::model::{TIMEOUT_ADAPTIVE, TIMEOUT_NONE};
    let adaptive = ServiceRecord {
        timeout: TIMEOUT_ADAPTIVE,
        beat_history: vec![60_000, 61_000],
        ..service("adaptive")
    };
    let auto = ServiceRecord {
        timeout: TIMEOUT_AUTO,
        ..service("auto")
    };
    let bytes = encoded(&[adaptive.clone(), auto.clone()], &[]);
    let text = gunzip(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "SERV\t{\"name\":\"adaptive\",\"last_beat\":1700000000000,\
         \"beat_history\":[60000,61000],\"timeout\":-2,\"auto_model\":\"adaptive\",\
         \"state\":\"ok\",\"muted_since\":0,\"last_state_change\":1700000000000}"
    );
    assert!(!lines[1].contains("auto_model"), "{}", lines[1]);
    // What 1.0.3 reads (Go ignores unknown keys): an auto timeout.
    let (_, json) = lines[0].split_once('\t').unwrap();
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(v["timeout"], -2);
    let db = decode(&bytes[..]).unwrap();
    assert_eq!(db.services, vec![adaptive, auto]);

    let text = "\
SERV\t{\"name\":\"a\",\"timeout\":-2,\"auto_model\":\"phi\"}\n\
SERV\t{\"name\":\"b\",\"timeout\":-2,\"auto_model\":7}\n\
SERV\t{\"name\":\"c\",\"timeout\":-3}\n\
SERV\t{\"name\":\"d\",\"timeout\":60000,\"auto_model\":\"adaptive\"}\n";
    let db = decode(&gzip(text.as_bytes())[..]).unwrap();
    let timeouts: Vec<i64> = db.services.iter().map(|s| s.timeout).collect();
    assert_eq!(timeouts, [TIMEOUT_AUTO, TIMEOUT_AUTO, TIMEOUT_NONE, 60_000]);
    assert_eq!(db.skipped_lines, 0);
}
