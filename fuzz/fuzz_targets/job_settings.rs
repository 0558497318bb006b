#![no_main]
//! `lovebeat::fuzzing::job_settings` under libFuzzer.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| lovebeat::fuzzing::job_settings(data));
