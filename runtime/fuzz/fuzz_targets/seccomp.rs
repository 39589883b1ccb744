//! OCI seccomp profile → BPF (see skiff_runtime::fuzzing::seccomp_target).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| skiff_runtime::fuzzing::seccomp_target(data));
