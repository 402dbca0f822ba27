//! cargo fuzz target `rspamd`: see `spamsift::fuzzing::rspamd_request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| spamsift::fuzzing::rspamd_request(data));
