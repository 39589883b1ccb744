//! The whole setup with a runc-like spec: every mount kind, devices,
//! masked and read-only paths, cgroups, and symlinked destinations that point
//! out of the root (CVE-2021-30465).

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use nix::sched::{unshare, CloneFlags};
use nix::sys::stat::makedev;
use nix::sys::statfs::{statfs, PROC_SUPER_MAGIC, TMPFS_MAGIC};
use nix::sys::statvfs::{statvfs, FsFlags};
use oci_spec::runtime::Spec;

use super::*;
use crate::rootfs::{enter_rootfs, finalize_rootfs, prepare_rootfs, RootfsOptions};

fn full_spec(dir: &Path) -> Spec {
    let bindsrc = dir.join("bindsrc");
    spec_from(serde_json::json!({
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs", "readonly": true},
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=1m"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
            {"destination": "/mnt/bind", "type": "bind", "source": bindsrc,
             "options": ["rbind", "ro", "nosuid"]},
            {"destination": "/mnt/rro", "type": "none", "source": bindsrc,
             "options": ["rbind", "rro", "rnoexec"]},
            {"destination": "/mnt/file", "type": "bind", "source": bindsrc.join("marker"),
             "options": ["bind"]},
            {"destination": "/mnt/shared", "type": "bind", "source": bindsrc,
             "options": ["rbind", "rshared"]},
            {"destination": "/mnt/nosym", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosymfollow", "rnodev", "rnoatime"]},
            {"destination": "/evil/x", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]},
            {"destination": "/evil-root/escaped", "type": "tmpfs", "source": "tmpfs", "options": ["size=2m"]}
        ],
        "linux": {
            "namespaces": [{"type": "mount"}],
            "devices": [
                {"path": "/dev/custom", "type": "c", "major": 1, "minor": 7, "fileMode": 0o600, "uid": 1000, "gid": 1001},
                {"path": "/dev/sub/fifo", "type": "p"}
            ],
            "maskedPaths": ["/etc/secret", "/etc/masked-dir", "/does/not/exist"],
            "readonlyPaths": ["/ro-dir", "/missing"]
        }
    }))
}

#[test]
fn full_rootfs_setup() {
    let dir = TempDir::new("full");
    build_rootfs(&dir.0);
    run_child("rootfs::tests::full::child_full", &dir.0);
    // The symlinked destinations were created inside the root, not on the host.
    assert!(
        !escape_target(&dir.0).exists(),
        "host path created through a symlink"
    );
    let inside = dir
        .0
        .join("rootfs")
        .join(escape_target(&dir.0).strip_prefix("/").unwrap());
    assert!(inside.join("x").is_dir(), "{inside:?}/x missing");
    assert!(dir.0.join("rootfs/escaped").is_dir());
}

#[test]
#[ignore = "run by full_rootfs_setup in its own mount namespace"]
fn child_full() {
    let Some(dir) = child_dir() else { return };
    unshare(CloneFlags::CLONE_NEWNS).unwrap();
    let spec = full_spec(&dir);
    let rootfs = dir.join("rootfs");
    let opts = RootfsOptions::default();
    prepare_rootfs(&spec, &rootfs, &opts).unwrap_or_else(|e| panic!("{e:#}"));
    enter_rootfs(&rootfs, &opts).unwrap_or_else(|e| panic!("{e:#}"));
    finalize_rootfs(&spec, &opts).unwrap_or_else(|e| panic!("{e:#}"));

    assert_eq!(statfs("/proc").unwrap().filesystem_type(), PROC_SUPER_MAGIC);
    assert!(Path::new("/proc/self/status").exists());
    assert_eq!(statfs("/dev").unwrap().filesystem_type(), TMPFS_MAGIC);
    let shm = statvfs("/dev/shm").unwrap();
    assert_eq!(
        shm.blocks() * shm.fragment_size(),
        1 << 20,
        "tmpfs size=1m not honoured"
    );
    let dev = statvfs("/dev").unwrap();
    assert_eq!(dev.blocks() * dev.fragment_size(), 65536 << 10);

    check_devices();
    check_binds();
    check_masked_and_readonly();
    check_cgroups();

    // Symlinked destinations resolved inside the root.
    let escaped = escape_target(&dir).join("x");
    assert_eq!(statfs(&escaped).unwrap().filesystem_type(), TMPFS_MAGIC);
    let e = statvfs("/escaped").unwrap();
    assert_eq!(e.blocks() * e.fragment_size(), 2 << 20);

    // The busybox userland runs inside and sees the masked file empty.
    let out = Command::new("/bin/busybox")
        .args(["cat", "/etc/secret"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty());
    let out = Command::new("/bin/sh")
        .args(["-c", "ls /mnt/bind"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "marker");
}

fn check_devices() {
    for (name, minor) in [
        ("null", 3),
        ("zero", 5),
        ("full", 7),
        ("random", 8),
        ("urandom", 9),
    ] {
        let m = fs::metadata(format!("/dev/{name}")).unwrap();
        assert!(m.file_type().is_char_device(), "{name}");
        assert_eq!(m.rdev(), makedev(1, minor), "{name}");
        assert_eq!(m.permissions().mode() & 0o7777, 0o666, "{name}");
    }
    assert_eq!(fs::metadata("/dev/tty").unwrap().rdev(), makedev(5, 0));
    let custom = fs::metadata("/dev/custom").unwrap();
    assert_eq!(custom.rdev(), makedev(1, 7));
    assert_eq!(custom.permissions().mode() & 0o7777, 0o600);
    assert_eq!((custom.uid(), custom.gid()), (1000, 1001));
    assert!(fs::metadata("/dev/sub/fifo").unwrap().file_type().is_fifo());
    assert_eq!(
        fs::read_link("/dev/fd").unwrap(),
        Path::new("/proc/self/fd")
    );
    assert_eq!(
        fs::read_link("/dev/stderr").unwrap(),
        Path::new("/proc/self/fd/2")
    );
    assert_eq!(fs::read_link("/dev/ptmx").unwrap(), Path::new("pts/ptmx"));
    assert!(Path::new("/dev/pts/ptmx").exists());
}

fn check_binds() {
    assert_eq!(fs::read_to_string("/mnt/bind/marker").unwrap(), "bound");
    let flags = statvfs("/mnt/bind").unwrap().flags();
    assert!(
        flags.contains(FsFlags::ST_RDONLY | FsFlags::ST_NOSUID),
        "{flags:?}"
    );
    assert_eq!(
        fs::write("/mnt/bind/new", "x").unwrap_err().raw_os_error(),
        Some(libc::EROFS)
    );
    let flags = statvfs("/mnt/rro").unwrap().flags();
    assert!(
        flags.contains(FsFlags::ST_RDONLY | FsFlags::ST_NOEXEC),
        "{flags:?}"
    );
    assert_eq!(fs::read_to_string("/mnt/file").unwrap(), "bound");
    // nosymfollow: symlinks on the mount exist but are not followed.
    symlink("/etc", "/mnt/nosym/link").unwrap();
    let err = fs::metadata("/mnt/nosym/link/secret").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ELOOP), "{err}");
    let nosym = statvfs("/mnt/nosym").unwrap().flags();
    assert!(
        nosym.contains(FsFlags::ST_NODEV | FsFlags::ST_NOATIME),
        "{nosym:?}"
    );
    let mounts = crate::rootfs::mountinfo::read_mountinfo().unwrap();
    let shared = crate::rootfs::mountinfo::mount_of(&mounts, Path::new("/mnt/shared")).unwrap();
    assert!(shared.is_shared(), "{shared:?}");
    // root.readonly
    assert_eq!(
        fs::write("/new-file", "x").unwrap_err().raw_os_error(),
        Some(libc::EROFS)
    );
}

fn check_masked_and_readonly() {
    assert_eq!(fs::read_to_string("/etc/secret").unwrap(), "");
    assert_eq!(fs::read_dir("/etc/masked-dir").unwrap().count(), 0);
    assert!(statvfs("/etc/masked-dir")
        .unwrap()
        .flags()
        .contains(FsFlags::ST_RDONLY));
    assert!(statvfs("/ro-dir")
        .unwrap()
        .flags()
        .contains(FsFlags::ST_RDONLY));
    assert!(
        !Path::new("/does/not/exist").exists(),
        "missing masked path was created"
    );
}

fn check_cgroups() {
    assert_eq!(
        statfs("/sys/fs/cgroup").unwrap().filesystem_type(),
        TMPFS_MAGIC
    );
    assert!(statvfs("/sys/fs/cgroup")
        .unwrap()
        .flags()
        .contains(FsFlags::ST_RDONLY));
    let own = crate::rootfs::mountinfo::read_self_cgroup().unwrap();
    let host = crate::rootfs::mountinfo::read_mountinfo().unwrap();
    let pid = std::process::id().to_string();
    if host.iter().any(|m| m.fstype == "cgroup") {
        // Each hierarchy shows the container's own cgroup: we are in it.
        let procs = fs::read_to_string("/sys/fs/cgroup/memory/cgroup.procs").unwrap();
        assert!(procs.lines().any(|l| l == pid), "pid {pid} not in {procs}");
        assert!(statvfs("/sys/fs/cgroup/memory")
            .unwrap()
            .flags()
            .contains(FsFlags::ST_RDONLY));
    }
    assert!(!own.is_empty());
}

/// oci-spec's default spec (what `runc spec` writes): its mounts, masked
/// /proc entries (files and dirs) and read-only /proc dirs all apply.
#[test]
fn default_spec_setup() {
    let dir = TempDir::new("default");
    build_rootfs(&dir.0);
    run_child("rootfs::tests::full::child_default_spec", &dir.0);
}

#[test]
#[ignore = "run by default_spec_setup in its own mount namespace"]
fn child_default_spec() {
    let Some(dir) = child_dir() else { return };
    unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWCGROUP).unwrap();
    let spec = Spec::default();
    let rootfs = dir.join("rootfs");
    let opts = RootfsOptions::default();
    prepare_rootfs(&spec, &rootfs, &opts).unwrap_or_else(|e| panic!("{e:#}"));
    enter_rootfs(&rootfs, &opts).unwrap_or_else(|e| panic!("{e:#}"));
    finalize_rootfs(&spec, &opts).unwrap_or_else(|e| panic!("{e:#}"));

    assert!(statvfs("/proc/sys")
        .unwrap()
        .flags()
        .contains(FsFlags::ST_RDONLY));
    assert!(!statvfs("/proc/self")
        .unwrap()
        .flags()
        .contains(FsFlags::ST_RDONLY));
    assert_eq!(fs::read_to_string("/proc/timer_list").unwrap(), "");
    if Path::new("/proc/acpi").exists() {
        assert_eq!(fs::read_dir("/proc/acpi").unwrap().count(), 0);
    }
    assert_eq!(fs::read_dir("/sys/firmware").unwrap().count(), 0);
    // MQUEUE_MAGIC
    assert_eq!(
        statfs("/dev/mqueue").unwrap().filesystem_type().0,
        0x1980_0202
    );
    assert_eq!(
        fs::write("/new-file", "x").unwrap_err().raw_os_error(),
        Some(libc::EROFS)
    );
    let out = Command::new("/bin/sh")
        .args(["-c", "echo $$"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}
