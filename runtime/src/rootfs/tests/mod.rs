//! Root tests of the whole rootfs setup. Each parent test builds a busybox
//! rootfs in a temp dir and re-runs this test binary for one `child_*` test,
//! which unshares its mount namespace, runs prepare/enter/finalize and checks
//! the result from inside. The namespace dies with the child, so nothing can
//! leak to the host; the parent checks the host mount table to prove it.

mod errors;
mod full;
mod namespaces;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use oci_spec::runtime::Spec;

pub(super) const DIR_ENV: &str = "SKIFF_ROOTFS_TEST_DIR";

/// A temp dir removed on drop, even when the test fails.
pub(super) struct TempDir(pub(super) PathBuf);

impl TempDir {
    pub(super) fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("skiff-rootfs-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(p.join("rootfs/bin")).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Host path that a symlinked destination points at; it must never appear.
pub(super) fn escape_target(dir: &Path) -> PathBuf {
    PathBuf::from(format!(
        "/tmp/skiff-escape-{}",
        dir.file_name().unwrap().to_string_lossy()
    ))
}

/// A busybox rootfs plus the files the checks use.
pub(super) fn build_rootfs(dir: &Path) {
    let root = dir.join("rootfs");
    fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    for applet in ["sh", "cat", "ls", "echo"] {
        symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    fs::create_dir_all(root.join("etc/masked-dir")).unwrap();
    fs::write(root.join("etc/masked-dir/f"), "x").unwrap();
    fs::write(root.join("etc/secret"), "hello").unwrap();
    fs::create_dir_all(root.join("ro-dir")).unwrap();
    // CVE-2021-30465 shapes: a relative climb and an absolute host path.
    symlink(
        format!("../../../../../../..{}", escape_target(dir).display()),
        root.join("evil"),
    )
    .unwrap();
    symlink("/", root.join("evil-root")).unwrap();
    fs::create_dir_all(dir.join("bindsrc")).unwrap();
    fs::write(dir.join("bindsrc/marker"), "bound").unwrap();
}

/// Run `child` in a fresh process and fail with its output if it failed.
pub(super) fn run_child(child: &str, dir: &Path) {
    run_child_in(&[], child, dir)
}

/// `run_child` under a wrapper command line (e.g. `unshare ...`) that execs
/// the test binary given as its trailing arguments.
pub(super) fn run_child_in(wrapper: &[&OsStr], child: &str, dir: &Path) {
    let before = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut argv: Vec<&OsStr> = wrapper.to_vec();
    argv.push(exe.as_os_str());
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..])
        .args([
            "--exact",
            child,
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DIR_ENV, dir);
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{child} failed:\n{text}");
    assert!(text.contains("1 passed"), "{child} did not run:\n{text}");
    let after = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dir = dir.to_string_lossy();
    assert!(
        !before.contains(&*dir) && !after.contains(&*dir),
        "mount leaked to the host:\n{after}"
    );
    assert!(
        !after.contains("skiff-escape"),
        "mount leaked to the host:\n{after}"
    );
}

/// The directory a child was given, `None` when run directly by the harness.
pub(super) fn child_dir() -> Option<PathBuf> {
    std::env::var_os(DIR_ENV).map(PathBuf::from)
}

pub(super) fn spec_from(json: serde_json::Value) -> Spec {
    serde_json::from_value(json).unwrap()
}
