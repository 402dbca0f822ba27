//! cargo fuzz target `rules`: see `spamsift::fuzzing::rule_file`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| spamsift::fuzzing::rule_file(data));
