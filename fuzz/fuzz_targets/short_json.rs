//! cargo fuzz target `short_json`: see `spamsift::fuzzing::short_json`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| spamsift::fuzzing::short_json(data));
