#![no_main]
//! `lovebeat::fuzzing::statsd_line` under libFuzzer.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| lovebeat::fuzzing::statsd_line(data));
