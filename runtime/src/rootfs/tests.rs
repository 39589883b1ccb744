//! Root tests of the whole rootfs setup. Each parent test builds a busybox
//! rootfs in a temp dir and re-runs this test binary for one `child_*` test,
//! which unshares its mount namespace, runs prepare/enter/finalize and checks
//! the result from inside. The namespace dies with the child, so nothing can
//! leak to the host; the parent checks the host mount table to prove it.

use std::fs;
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::sched::{unshare, CloneFlags};
use nix::sys::stat::makedev;
use nix::sys::statfs::{statfs, PROC_SUPER_MAGIC, SYSFS_MAGIC, TMPFS_MAGIC};
use nix::sys::statvfs::{statvfs, FsFlags};
use oci_spec::runtime::Spec;

use super::{enter_rootfs, finalize_rootfs, prepare_rootfs, RootfsOptions};

const DIR_ENV: &str = "SKIFF_ROOTFS_TEST_DIR";

/// A temp dir removed on drop, even when the test fails.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
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
fn escape_target(dir: &Path) -> PathBuf {
    PathBuf::from(format!(
        "/tmp/skiff-escape-{}",
        dir.file_name().unwrap().to_string_lossy()
    ))
}

/// A busybox rootfs plus the files the checks use.
fn build_rootfs(dir: &Path) {
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
fn run_child(child: &str, dir: &Path) {
    let before = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            child,
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DIR_ENV, dir)
        .output()
        .unwrap();
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
fn child_dir() -> Option<PathBuf> {
    std::env::var_os(DIR_ENV).map(PathBuf::from)
}

fn spec_from(json: serde_json::Value) -> Spec {
    serde_json::from_value(json).unwrap()
}

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
    run_child("rootfs::tests::child_full", &dir.0);
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
    let own = super::mountinfo::read_self_cgroup().unwrap();
    let host = super::mountinfo::read_mountinfo().unwrap();
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

#[test]
fn no_pivot_with_cgroup_namespace() {
    let dir = TempDir::new("nopivot");
    build_rootfs(&dir.0);
    run_child("rootfs::tests::child_no_pivot", &dir.0);
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

#[test]
fn errors_name_the_mount() {
    let dir = TempDir::new("errors");
    build_rootfs(&dir.0);
    run_child("rootfs::tests::child_errors", &dir.0);
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
    let want = format!("mount \"none\" on \"/x\" (in root {rootfs:?}): No such device");
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
    let exe = std::env::current_exe().unwrap();
    let child = "rootfs::tests::child_user_ns";
    let out = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(&dir.0)
        .arg(&exe)
        .args([
            "--exact",
            child,
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DIR_ENV, &dir.0)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{child} failed:\n{text}");
    assert!(text.contains("1 passed"), "{child} did not run:\n{text}");
    let after = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !after.contains(&*dir.0.to_string_lossy()),
        "mount leaked to the host:\n{after}"
    );
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
    run_child("rootfs::tests::child_shared", &dir.0);
}

#[test]
#[ignore = "run by shared_root_propagation in its own mount namespace"]
fn child_shared() {
    let Some(dir) = child_dir() else { return };
    unshare(CloneFlags::CLONE_NEWNS).unwrap();
    let spec = spec_from(serde_json::json!({
        "ociVersion": "1.0.2",
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
        "linux": {"rootfsPropagation": "rshared"}
    }));
    let rootfs = dir.join("rootfs");
    let opts = RootfsOptions::default();
    prepare_rootfs(&spec, &rootfs, &opts).unwrap_or_else(|e| panic!("{e:#}"));
    enter_rootfs(&rootfs, &opts).unwrap_or_else(|e| panic!("{e:#}"));
    finalize_rootfs(&spec, &opts).unwrap_or_else(|e| panic!("{e:#}"));
    let mounts = super::mountinfo::read_mountinfo().unwrap();
    let root = super::mountinfo::mount_of(&mounts, Path::new("/")).unwrap();
    assert!(root.is_shared(), "{root:?}");
}
