//! Errors name the mount, its destination and the root.

use std::os::unix::fs::symlink;

use nix::sched::{unshare, CloneFlags};

use super::*;
use crate::rootfs::{prepare_rootfs, RootfsOptions};

#[test]
fn errors_name_the_mount() {
    let dir = TempDir::new("errors");
    build_rootfs(&dir.0);
    run_child("rootfs::tests::errors::child_errors", &dir.0);
}

#[test]
#[ignore = "run by errors_name_the_mount in its own mount namespace"]
fn child_errors() {
    let Some(dir) = child_dir() else { return };
    unshare(CloneFlags::CLONE_NEWNS).unwrap();
    let rootfs = dir.join("rootfs");
    let spec = spec_from(serde_json::json!({
        "ociVersion": "1.0.2",
        "mounts": [{"destination": "/x", "type": "nosuchfs", "source": "none"}]
    }));
    let err = prepare_rootfs(&spec, &rootfs, &RootfsOptions::default()).unwrap_err();
    let want = format!("mounts[0]: mount \"none\" on \"/x\" (in root {rootfs:?}): No such device");
    assert_eq!(format!("{err:#}"), want);

    let spec = spec_from(serde_json::json!({
        "ociVersion": "1.0.2",
        "mounts": [{"destination": "/y", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"]}]
    }));
    let err = format!(
        "{:#}",
        prepare_rootfs(&spec, &rootfs, &RootfsOptions::default()).unwrap_err()
    );
    assert!(err.contains("parse options of mount \"/y\""), "{err}");

    // /proc over a symlink is refused even though it resolves inside the root.
    symlink("/dev", rootfs.join("proc-link")).unwrap();
    let spec = spec_from(serde_json::json!({
        "ociVersion": "1.0.2",
        "mounts": [{"destination": "/proc-link", "type": "proc", "source": "proc"}]
    }));
    let err = format!(
        "{:#}",
        prepare_rootfs(&spec, &rootfs, &RootfsOptions::default()).unwrap_err()
    );
    assert!(err.contains("not a directory"), "{err}");
}
