//! The generated bundle runs under runc: a busybox image built from the host's
//! busybox-static, with the default seccomp profile, capabilities, mounts, init files
//! and an anonymous volume all in effect.

use std::process::Command;

use serde_json::json;

use super::layout::{build_image, Tar};
use super::{create_bundle, BundleGuard, BundleOptions};
use crate::unpack::sys;
use crate::unpack::tests::TempDir;

fn busybox_image() -> Option<Tar> {
    let bb = std::fs::read("/bin/busybox").ok()?;
    let mut t = Tar::new();
    t.dir("bin", 0o755, 0, 0);
    t.file("bin/busybox", &bb, 0o755, 0, 0);
    for applet in ["sh", "cat", "id", "ls", "echo", "mount"] {
        t.symlink(&format!("bin/{applet}"), "busybox");
    }
    t.dir("etc", 0o755, 0, 0);
    t.file(
        "etc/passwd",
        b"root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n",
        0o644,
        0,
        0,
    );
    t.file("etc/group", b"root:x:0:\nuser:x:1000:\n", 0o644, 0, 0);
    t.file("etc/hostname", b"from-the-image\n", 0o644, 0, 0);
    for d in ["proc", "sys", "dev", "data"] {
        t.dir(d, 0o755, 0, 0);
    }
    // runc 1.1 gives a tmpfs the mode of the directory it covers.
    t.dir("tmp", 0o1777, 0, 0);
    t.file("data/seed", b"seeded\n", 0o644, 0, 0);
    Some(t)
}

#[test]
fn bundle_runs_under_runc() {
    let runc = Command::new("runc").arg("--version").output();
    let Some(image) = busybox_image() else {
        eprintln!("skipped: no /bin/busybox");
        return;
    };
    if !sys::is_root() || runc.is_err() {
        eprintln!("skipped: needs root and runc");
        return;
    }
    let tmp = TempDir::new("runc");
    let store = tmp.0.join("store");
    let cfg = json!({"Cmd": ["/bin/sh", "-c", "cat /etc/hostname; id -u; cat /data/seed; echo ok > /tmp/x && cat /tmp/x"], "User": "user", "Volumes": {"/data": {}}});
    let digest = build_image(&store, &[image], cfg, "bb");
    let bundle = tmp.0.join("bundle");
    let _g = BundleGuard(bundle.clone());
    let opts = BundleOptions {
        hostname: Some("skiffbox".into()),
        tmpfs: vec!["/tmp".into()],
        ..Default::default()
    };
    create_bundle(&store, &digest, &bundle, &opts).unwrap();
    let id = format!("skiff-unpack-{}", std::process::id());
    let out = Command::new("runc")
        .arg("--root")
        .arg(tmp.0.join("runc-state"))
        .args(["run", "--bundle"])
        .arg(&bundle)
        .arg(&id)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "runc run: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout, "skiffbox\n1000\nseeded\nok\n");
    // The init files and the tmpfs write stayed out of the overlay's upper dir.
    assert!(!bundle.join("upper/etc/hostname").exists());
    assert!(!bundle.join("upper/tmp/x").exists());
}
