//! cargo fuzz target `email`: see `spamsift::fuzzing::email`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| spamsift::fuzzing::email(data));
