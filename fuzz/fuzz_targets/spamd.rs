//! cargo fuzz target `spamd`: see `spamsift::fuzzing::spamd_request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| spamsift::fuzzing::spamd_request(data));
