//! The real `skiff` runtime for tests that run bundles, under a private state root.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The runtime binary: $SKIFF_RUNTIME (make test sets it), else the workspace's build.
pub fn skiff_runtime() -> PathBuf {
    if let Some(p) = std::env::var_os("SKIFF_RUNTIME") {
        return PathBuf::from(p);
    }
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    ["release", "debug"]
        .iter()
        .map(|p| target.join(p).join("skiff"))
        .find(|p| p.exists())
        .expect("build the runtime first (cargo build -p skiff-runtime) or set SKIFF_RUNTIME")
}

/// `skiff run` of a bundle under a private state root; returns (exit code, stdout, stderr).
pub fn run_bundle(state: &Path, bundle: &Path, id: &str) -> (i32, String, String) {
    let out = Command::new(skiff_runtime())
        .arg("--root")
        .arg(state)
        .args(["run", "--bundle"])
        .arg(bundle)
        .arg(id)
        .output()
        .expect("run skiff");
    let _ = Command::new(skiff_runtime())
        .arg("--root")
        .arg(state)
        .args(["delete", "-f", id])
        .output();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn mounts_under(dir: &Path) -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let needle = dir.to_string_lossy().into_owned();
    info.lines()
        .filter(|l| l.contains(&needle))
        .map(str::to_string)
        .collect()
}

/// Runs `rm-bundle` on the bundle when dropped, so a failing test leaves no mount.
pub struct BundleGuard(pub PathBuf);

impl Drop for BundleGuard {
    fn drop(&mut self) {
        if self.0.join("skiff-bundle.json").exists() {
            let _ = Command::new(super::bin())
                .arg("rm-bundle")
                .arg(&self.0)
                .output();
        }
    }
}
