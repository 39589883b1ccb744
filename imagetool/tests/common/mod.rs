//! Shared test fixtures: a real `docker-registry` on a free loopback port (stopped by PID
//! on drop), the built `skiff-image` binary, and image builders from the host's busybox.
#![allow(dead_code)]

mod forward_proxy;
mod images;
mod proxy;
mod registry;
mod runtime;

// Each test binary uses a different part of the fixtures.
#[allow(unused_imports)]
pub use forward_proxy::*;
#[allow(unused_imports)]
pub use images::*;
#[allow(unused_imports)]
pub use proxy::*;
#[allow(unused_imports)]
pub use registry::*;
#[allow(unused_imports)]
pub use runtime::*;

use skiff_image::digest::Digest;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

/// A private temp directory removed on drop.
pub struct Tmp(pub PathBuf);

impl Tmp {
    pub fn new(tag: &str) -> Tmp {
        let p = std::env::temp_dir().join(format!(
            "skiff-image-test-{tag}-{}-{}",
            std::process::id(),
            &Digest::of(format!("{:?}", Instant::now()).as_bytes()).hex()[..8]
        ));
        std::fs::create_dir_all(&p).unwrap();
        Tmp(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A loopback port for a server a test starts later, taken from below the kernel's
/// ephemeral range: a port from `bind(0)` can be handed out again to a proxy or a client
/// socket of a parallel test before the server binds it, and the server then dies on
/// "address in use". Ports below the range are only ever taken by explicit binds.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32768);
    let (low, span) = (10000u32, ephemeral_low.saturating_sub(10000).max(1000));
    // Each test process starts at its own offset, so two binaries rarely probe the same ports.
    let base = std::process::id().wrapping_mul(7919);
    for _ in 0..span {
        let port = low + (base.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed))) % span;
        if TcpListener::bind(("127.0.0.1", port as u16)).is_ok() {
            return port as u16;
        }
    }
    panic!("no free loopback port in {low}..{}", low + span)
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_skiff-image")
}

/// Run skiff-image with `--root root`.
pub fn skiff(root: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("SKIFF_ROOT")
        .output()
        .expect("run skiff-image")
}

/// Run with extra environment variables; require success; returns stdout.
pub fn ok_env(root: &Path, env: &[(&str, String)], args: &[&str]) -> String {
    let out = Command::new(bin())
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("SKIFF_ROOT")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run skiff-image");
    assert!(
        out.status.success(),
        "skiff-image {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Run and require success; returns stdout.
pub fn ok(root: &Path, args: &[&str]) -> String {
    let out = skiff(root, args);
    assert!(
        out.status.success(),
        "skiff-image {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Run and require failure; returns stderr, which must be one line.
pub fn fails(root: &Path, args: &[&str]) -> String {
    let out = skiff(root, args);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(1),
        "skiff-image {args:?} should fail: {err}"
    );
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "error should be one line: {err}"
    );
    assert!(err.starts_with("skiff-image: "), "{err}");
    err
}

pub fn skopeo(args: &[&str]) -> String {
    skopeo_env(&[], args)
}

/// Run skopeo with extra environment variables; require success; returns stdout.
pub fn skopeo_env(env: &[(&str, String)], args: &[&str]) -> String {
    let out = Command::new("skopeo")
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// `"Digest"` of `skopeo inspect` / `skiff-image inspect` JSON.
pub fn json_digest(out: &str) -> String {
    let v: serde_json::Value =
        serde_json::from_str(out).unwrap_or_else(|e| panic!("parse {out:?}: {e}"));
    v["Digest"].as_str().unwrap().to_string()
}

/// Files under `dir` (recursive, not following symlinks), for "nothing changed" assertions.
pub fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(d: &Path, base: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(base).unwrap().display().to_string());
            // Never through a symlink: a layer may hold one to `/`.
            if std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
                walk(&p, base, out);
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Run with extra environment variables; require failure (one line); returns stderr.
pub fn fails_env(root: &Path, env: &[(&str, String)], args: &[&str]) -> String {
    let out = Command::new(bin())
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("SKIFF_ROOT")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run skiff-image");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(1),
        "skiff-image {args:?} should fail: {err}"
    );
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "error should be one line: {err}"
    );
    err
}

/// What "untouched" is checked against: every path under `<root>/oci` and the bytes of
/// its index.json.
pub fn store_snapshot(root: &Path) -> (Vec<String>, Vec<u8>) {
    (
        tree(&root.join("oci")),
        std::fs::read(root.join("oci/index.json")).unwrap_or_default(),
    )
}
