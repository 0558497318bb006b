#![no_main]
//! `lovebeat::fuzzing::beat_body` under libFuzzer.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| lovebeat::fuzzing::beat_body(data));
