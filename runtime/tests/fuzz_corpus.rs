//! Replays the fuzz corpus (runtime/fuzz/corpus/<target>/, seeds plus every
//! input the fuzzers found interesting, minimised with `cargo fuzz cmin`) and
//! the inputs of fixed crashes (runtime/fuzz/regressions/<target>/, kept
//! apart so cmin never drops them) through the fuzz targets' bodies on
//! stable Rust, so a regression on any saved input fails `make test`.

use std::path::Path;

fn replay(set: &str, target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(set)
        .join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("read {dir:?}: {e}")) {
        let path = entry.expect("corpus entry").path();
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("read {path:?}: {e}"));
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(outcome.is_ok(), "{target}: input {path:?} panics");
        count += 1;
    }
    assert!(count > 0, "{target}: empty corpus in {dir:?}");
}

#[test]
fn config_corpus() {
    replay("corpus", "config", skiff_runtime::fuzzing::config_target);
}

#[test]
fn seccomp_corpus() {
    replay("corpus", "seccomp", skiff_runtime::fuzzing::seccomp_target);
}

#[test]
fn config_regressions() {
    replay(
        "regressions",
        "config",
        skiff_runtime::fuzzing::config_target,
    );
}

#[test]
fn seccomp_regressions() {
    replay(
        "regressions",
        "seccomp",
        skiff_runtime::fuzzing::seccomp_target,
    );
}
