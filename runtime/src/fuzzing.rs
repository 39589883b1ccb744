//! The bodies of the fuzz targets (`runtime/fuzz/`), kept in the library so
//! that `make test` replays the saved corpus on stable Rust
//! (`runtime/tests/fuzz_corpus.rs`) through exactly the code the fuzzer ran.
//!
//! Beyond "no panic", each target checks the promise users rely on: a
//! refused input gets an error of one line that says what is wrong.

use std::path::Path;

use crate::seccomp::{compile_filter, parse_profile};
use crate::spec::{parse_spec, rootfs_path, validate_spec};

/// config.json bytes → parse → root path → validation → seccomp compile:
/// everything `create` does with a config before it touches the system.
pub fn config_target(data: &[u8]) {
    let name = Path::new("/fuzz/config.json");
    let spec = match parse_spec(data, name) {
        Ok(spec) => spec,
        Err(err) => return one_line(&err.to_string()),
    };
    if let Err(err) = rootfs_path(&spec, Path::new("/fuzz")) {
        return one_line(&err.to_string());
    }
    // "/" is a directory on every machine, so validation goes past the root
    // check into the fields.
    if let Err(err) = validate_spec(&spec, Path::new("/")) {
        return one_line(&err.to_string());
    }
    if let Some(profile) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        if let Err(err) = compile_filter(profile) {
            one_line(&format!("{err:#}"));
        }
    }
}

/// A `linux.seccomp` object → the BPF program, which must fit the kernel's
/// limit or be refused.
pub fn seccomp_target(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let profile = match parse_profile(text) {
        Ok(profile) => profile,
        Err(err) => return one_line(&format!("{err:#}")),
    };
    match compile_filter(&profile) {
        Ok(filter) => assert!(
            !filter.program().is_empty() && filter.program().len() <= 4096,
            "a BPF program of {} instructions was accepted",
            filter.program().len()
        ),
        Err(err) => one_line(&format!("{err:#}")),
    }
}

fn one_line(message: &str) {
    assert!(!message.is_empty(), "an empty error message");
    assert!(
        !message.contains('\n'),
        "an error message of more than one line: {message:?}"
    );
}
