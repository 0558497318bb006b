#![no_main]
//! `lovebeat::fuzzing::timeout` under libFuzzer.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| lovebeat::fuzzing::timeout(data));
