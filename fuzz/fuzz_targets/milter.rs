//! cargo fuzz target `milter`: see `spamsift::fuzzing::milter_packets`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| spamsift::fuzzing::milter_packets(data));
