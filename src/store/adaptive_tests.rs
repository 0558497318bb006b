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

/// SPEC 19: the model's state is stored after `auto_model`, only for an
/// adaptive timeout, and read back; a value that is malformed, stale (not
/// ending at `last_beat`) or on a non-adaptive line is skipped and counted,
/// and the line loads without it (its model is rebuilt from the history).
#[test]
fn store_adaptive_model_state_round_trip_and_bad_values_skipped() {
    use crate::engine::adaptive::Adaptive;
    use crate::model::TIMEOUT_ADAPTIVE;
    let last = 1_700_000_000_000;
    let mut model = Adaptive::new();
    for at in [last - 121_000, last - 60_000, last] {
        model.observe(at);
    }
    let adaptive = ServiceRecord {
        timeout: TIMEOUT_ADAPTIVE,
        beat_history: vec![61_000, 60_000],
        model: Some(Box::new(model.clone())),
        ..service("adaptive")
    };
    // A model on a record that is no longer adaptive is not written.
    let auto = ServiceRecord {
        timeout: TIMEOUT_AUTO,
        model: Some(Box::new(model.clone())),
        ..service("auto")
    };
    let bytes = encoded(&[adaptive.clone(), auto.clone()], &[]);
    let text = gunzip(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let state = crate::base64::standard(&model.to_bytes());
    assert_eq!(state.len(), 300);
    assert!(
        lines[0].contains(&format!(
            "\"timeout\":-2,\"auto_model\":\"adaptive\",\"auto_model_state\":\"{state}\",\"state\":\"ok\""
        )),
        "{}",
        lines[0]
    );
    assert!(!lines[1].contains("auto_model"), "{}", lines[1]);
    let db = decode(&bytes[..]).unwrap();
    assert_eq!(db.model_key_problems.count, 0);
    assert_eq!(
        db.services,
        vec![
            adaptive,
            ServiceRecord {
                model: None,
                ..auto
            }
        ]
    );

    let mut stale = Adaptive::new();
    stale.observe(last - 5);
    let stale = crate::base64::standard(&stale.to_bytes());
    let line = |name: &str, model: &str, value: &str| {
        format!(
            "SERV\t{{\"name\":\"{name}\",\"last_beat\":{last},\"timeout\":-2,{model}\
             \"auto_model_state\":{value}}}\n"
        )
    };
    let adaptive_key = "\"auto_model\":\"adaptive\",";
    let text = [
        line("bad-base64", adaptive_key, "\"%%%\""),
        line("number", adaptive_key, "7"),
        line("short", adaptive_key, "\"AQA=\""),
        line("stale", adaptive_key, &format!("\"{stale}\"")),
        line("auto", "", &format!("\"{state}\"")),
        line("null", adaptive_key, "null"),
        line("good", adaptive_key, &format!("\"{state}\"")),
    ]
    .concat();
    let db = decode(&gzip(text.as_bytes())[..]).unwrap();
    assert_eq!(db.services.len(), 7, "every line loads");
    assert_eq!(
        db.model_key_problems.count, 5,
        "{:?}",
        db.model_key_problems
    );
    let with_model: Vec<&str> = db
        .services
        .iter()
        .filter(|s| s.model.is_some())
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(with_model, ["good"]);
    let timeouts: Vec<i64> = db.services.iter().map(|s| s.timeout).collect();
    assert_eq!(timeouts[..4], [TIMEOUT_ADAPTIVE; 4]);
    assert_eq!(timeouts[4], TIMEOUT_AUTO);
}
