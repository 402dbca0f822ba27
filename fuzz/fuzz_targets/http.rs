//! cargo fuzz target `http`: see `spamsift::fuzzing::http_body`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| spamsift::fuzzing::http_body(data));
