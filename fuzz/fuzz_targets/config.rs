#![no_main]
//! `lovebeat::fuzzing::config` under libFuzzer.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| lovebeat::fuzzing::config(data));
