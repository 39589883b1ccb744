//! config.json parsing, validation and seccomp compilation (see
//! skiff_runtime::fuzzing::config_target).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| skiff_runtime::fuzzing::config_target(data));
