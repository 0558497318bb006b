#![no_main]
//! `lovebeat::fuzzing::database` under libFuzzer.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| lovebeat::fuzzing::database(data));
