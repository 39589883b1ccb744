//! Setups that depend on namespaces and options: --no-pivot with a cgroup
//! namespace, a user namespace with locked mount flags, rshared propagation.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use nix::sched::{unshare, CloneFlags};
use nix::sys::stat::makedev;
use nix::sys::statfs::{statfs, PROC_SUPER_MAGIC, SYSFS_MAGIC};
use nix::sys::statvfs::{statvfs, FsFlags};

use super::*;
use crate::rootfs::{enter_rootfs, finalize_rootfs, prepare_rootfs, RootfsOptions};

#[test]
fn no_pivot_with_cgroup_namespace() {
    let dir = TempDir::new("nopivot");
    build_rootfs(&dir.0);
    run_child("rootfs::tests::namespaces::child_no_pivot", &dir.0);
}

#[test]
#[ignore = "run by no_pivot_with_cgroup_namespace in its own mount namespace"]
fn child_no_pivot() {
    let Some(dir) = child_dir() else { return };
    unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWCGROUP).unwrap();
    let spec = spec_from(serde_json::json!({
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs"},
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["size=4m", "mode=700", "noexec"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "nodev"]}
        ],
        "linux": {
            "namespaces": [{"type": "mount"}, {"type": "cgroup"}],
            "rootfsPropagation": "rprivate",
            "devices": [{"path": "/dev/full", "type": "c", "major": 1, "minor": 7}]
        }
    }));
    let rootfs = dir.join("rootfs");
    // user_ns: devices are bind-mounted from the host even though mknod would work.
    let opts = RootfsOptions {
        no_pivot: true,
        user_ns: true,
    };
    prepare_rootfs(&spec, &rootfs, &opts).unwrap_or_else(|e| panic!("{e:#}"));
    enter_rootfs(&rootfs, &opts).unwrap_or_else(|e| panic!("{e:#}"));
    finalize_rootfs(&spec, &opts).unwrap_or_else(|e| panic!("{e:#}"));

    assert!(Path::new("/bin/busybox").exists());
    let tmp = fs::metadata("/tmp").unwrap();
    assert_eq!(tmp.permissions().mode() & 0o7777, 0o700);
    let st = statvfs("/tmp").unwrap();
    assert_eq!(st.blocks() * st.fragment_size(), 4 << 20);
    assert!(st.flags().contains(FsFlags::ST_NOEXEC));
    // /dev is no tmpfs here: the devices still exist, as the host's nodes.
    for (name, minor) in [("null", 3), ("full", 7), ("urandom", 9)] {
        let path = format!("/dev/{name}");
        assert_eq!(
            fs::metadata(&path).unwrap().rdev(),
            makedev(1, minor),
            "{path}"
        );
        // A bind mount of the host node: another filesystem than /dev here.
        let dev_fs = fs::metadata("/dev").unwrap().dev();
        assert_ne!(fs::metadata(&path).unwrap().dev(), dev_fs, "{path}");
    }
    assert_eq!(fs::read_link("/dev/ptmx").unwrap(), Path::new("pts/ptmx"));
    // Root stays writable without root.readonly.
    fs::write("/written", "x").unwrap();
    // With a cgroup namespace, fresh cgroup mounts are rooted at our cgroup.
    let pid = std::process::id().to_string();
    let unified = fs::read_to_string("/sys/fs/cgroup/unified/cgroup.procs")
        .or_else(|_| fs::read_to_string("/sys/fs/cgroup/cgroup.procs"))
        .unwrap();
    assert!(
        unified.lines().any(|l| l == pid),
        "pid {pid} not in {unified}"
    );
}

/// Inside a user namespace (uid 0 mapped to the caller) whose mounts were
/// made by the parent namespace, so their flags are locked.
#[test]
fn user_namespace_setup() {
    let dir = TempDir::new("userns");
    build_rootfs(&dir.0);
    fs::create_dir_all(dir.0.join("locked")).unwrap();
    // A private mount namespace (dies with `unshare`) holds a nosuid,nodev,
    // noexec tmpfs; the user namespace inherits it with those flags locked.
    let script = r#"mount -t tmpfs -o nosuid,nodev,noexec,size=1m skiff-locked "$1/locked" &&
        echo locked > "$1/locked/file" && shift &&
        exec unshare --user --map-root-user --mount --pid --fork "$@""#;
    let wrapper = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
        "sh",
    ];
    let mut argv: Vec<&OsStr> = wrapper.iter().map(OsStr::new).collect();
    argv.push(dir.0.as_os_str());
    run_child_in(&argv, "rootfs::tests::namespaces::child_user_ns", &dir.0);
}

#[test]
#[ignore = "run by user_namespace_setup in its own user and mount namespaces"]
fn child_user_ns() {
    let Some(dir) = child_dir() else { return };
    unshare(CloneFlags::CLONE_NEWNS).unwrap();
    let locked = dir.join("locked");
    let spec = spec_from(serde_json::json!({
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs", "readonly": true},
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755", "size=1m"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["newinstance", "ptmxmode=0666"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "ro"]},
            // Asks only for ro: nosuid,nodev,noexec are locked and must be kept.
            {"destination": "/mnt/locked", "type": "bind", "source": locked, "options": ["bind", "ro"]}
        ],
        "linux": {
            "namespaces": [{"type": "user"}, {"type": "mount"}, {"type": "pid"}],
            "maskedPaths": ["/etc/secret", "/etc/masked-dir"],
            "readonlyPaths": ["/ro-dir"]
        }
    }));
    let rootfs = dir.join("rootfs");
    let opts = RootfsOptions {
        no_pivot: false,
        user_ns: true,
    };
    prepare_rootfs(&spec, &rootfs, &opts).unwrap_or_else(|e| panic!("{e:#}"));
    enter_rootfs(&rootfs, &opts).unwrap_or_else(|e| panic!("{e:#}"));
    finalize_rootfs(&spec, &opts).unwrap_or_else(|e| panic!("{e:#}"));

    assert_eq!(statfs("/proc").unwrap().filesystem_type(), PROC_SUPER_MAGIC);
    // No network namespace of our own: sysfs is the host's, bound read-only.
    assert_eq!(statfs("/sys").unwrap().filesystem_type(), SYSFS_MAGIC);
    assert!(statvfs("/sys")
        .unwrap()
        .flags()
        .contains(FsFlags::ST_RDONLY | FsFlags::ST_NOEXEC));
    assert_eq!(fs::read_to_string("/mnt/locked/file").unwrap(), "locked\n");
    let flags = statvfs("/mnt/locked").unwrap().flags();
    let want = FsFlags::ST_RDONLY | FsFlags::ST_NOSUID | FsFlags::ST_NODEV | FsFlags::ST_NOEXEC;
    assert!(flags.contains(want), "{flags:?}");
    for (name, minor) in [("null", 3), ("zero", 5), ("urandom", 9)] {
        assert_eq!(
            fs::metadata(format!("/dev/{name}")).unwrap().rdev(),
            makedev(1, minor),
            "{name}"
        );
    }
    assert_eq!(fs::read_to_string("/etc/secret").unwrap(), "");
    assert_eq!(fs::read_dir("/etc/masked-dir").unwrap().count(), 0);
    assert!(statvfs("/ro-dir")
        .unwrap()
        .flags()
        .contains(FsFlags::ST_RDONLY));
    assert_eq!(
        fs::write("/new-file", "x").unwrap_err().raw_os_error(),
        Some(libc::EROFS)
    );
    assert!(statvfs("/sys/fs/cgroup")
        .unwrap()
        .flags()
        .contains(FsFlags::ST_RDONLY));
    let out = Command::new("/bin/sh")
        .args(["-c", "echo $$"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// linux.rootfsPropagation "rshared": pivot_root still works and "/" ends up
/// shared inside the container.
#[test]
fn shared_root_propagation() {
    let dir = TempDir::new("shared");
    build_rootfs(&dir.0);
    run_child("rootfs::tests::namespaces::child_shared", &dir.0);
}

#[test]
#[ignore = "run by shared_root_propagation in its own mount namespace"]
fn child_shared() {
    let Some(dir) = child_dir() else { return };
    unshare(CloneFlags::CLONE_NEWNS).unwrap();
    let spec = spec_from(serde_json::json!({
        "ociVersion": "1.0.2",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["ro", "nosuid", "size=64k"]}
        ],
        "linux": {"rootfsPropagation": "rshared"}
    }));
    let rootfs = dir.join("rootfs");
    let opts = RootfsOptions::default();
    prepare_rootfs(&spec, &rootfs, &opts).unwrap_or_else(|e| panic!("{e:#}"));
    enter_rootfs(&rootfs, &opts).unwrap_or_else(|e| panic!("{e:#}"));
    finalize_rootfs(&spec, &opts).unwrap_or_else(|e| panic!("{e:#}"));
    let mounts = crate::rootfs::mountinfo::read_mountinfo().unwrap();
    let root = crate::rootfs::mountinfo::mount_of(&mounts, Path::new("/")).unwrap();
    assert!(root.is_shared(), "{root:?}");
    // A read-only /dev still gets its devices (made before the ro remount).
    assert_eq!(fs::metadata("/dev/null").unwrap().rdev(), makedev(1, 3));
    let dev = statvfs("/dev").unwrap().flags();
    assert!(
        dev.contains(FsFlags::ST_RDONLY | FsFlags::ST_NOSUID),
        "{dev:?}"
    );
}
