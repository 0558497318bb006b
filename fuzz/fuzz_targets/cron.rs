#![no_main]
//! `lovebeat::fuzzing::cron` under libFuzzer.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| lovebeat::fuzzing::cron(data));
