//! Device nodes and /dev links (OCI runtime spec config-linux.md "Devices",
//! "Default Devices", "/dev symbolic links"). Nodes are made with mknodat in
//! their resolved parent directory; in a user namespace (where mknod is
//! refused) the host node is bind-mounted instead, as runc does.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use anyhow::Context;
use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fchmodat, makedev, mknodat, FchmodatFlags, Mode, SFlag};
use nix::unistd::{fchownat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use oci_spec::runtime::{LinuxDeviceType, Spec};

use super::mount::{fd_target, sys_mount};
use super::resolve::{Create, Root};
use super::SysError;
use nix::mount::MsFlags;

/// A device to create: the spec's `linux.devices` entries and the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Device {
    pub path: PathBuf,
    pub kind: SFlag,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The spec's default devices (config-linux.md "Default Devices").
fn default_devices() -> Vec<Device> {
    [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ]
    .into_iter()
    .map(|(name, major, minor)| Device {
        path: Path::new("/dev").join(name),
        kind: SFlag::S_IFCHR,
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
    })
    .collect()
}

/// The spec's devices followed by every default device the spec does not
/// list itself.
pub(crate) fn devices_of(spec: &Spec) -> anyhow::Result<Vec<Device>> {
    let mut out = Vec::new();
    let listed = spec.linux().as_ref().and_then(|l| l.devices().as_ref());
    for (i, d) in listed.into_iter().flatten().enumerate() {
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            LinuxDeviceType::A => anyhow::bail!(
                "linux.devices[{i}] {:?}: type \"a\" is not a device node type",
                d.path()
            ),
        };
        let number = |v: i64, field: &str| {
            u64::try_from(v)
                .with_context(|| format!("linux.devices[{i}] {:?}: negative {field} {v}", d.path()))
        };
        out.push(Device {
            path: d.path().clone(),
            kind,
            major: number(d.major(), "major")?,
            minor: number(d.minor(), "minor")?,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        });
    }
    for d in default_devices() {
        if !out.iter().any(|o| o.path == d.path) {
            out.push(d);
        }
    }
    Ok(out)
}

/// Create every device; a node already present is kept, as runc does.
pub(crate) fn create_devices(root: &Root, devices: &[Device], user_ns: bool) -> anyhow::Result<()> {
    for dev in devices {
        create_device(root, dev, user_ns)
            .with_context(|| format!("create device {:?} (in root {:?})", dev.path, root.path()))?;
    }
    Ok(())
}

fn create_device(root: &Root, dev: &Device, user_ns: bool) -> anyhow::Result<()> {
    let (dir, name) = root
        .resolve_parent(&dev.path)
        .map_err(SysError)
        .context("resolve parent directory")?;
    if user_ns {
        return bind_host_device(root, &dir, &name, dev);
    }
    let number = makedev(dev.major, dev.minor);
    match mknodat(
        &dir,
        name.as_os_str(),
        dev.kind,
        Mode::from_bits_truncate(dev.mode),
        number,
    ) {
        Ok(()) => {}
        Err(Errno::EEXIST) => return Ok(()),
        // mknod is refused without CAP_MKNOD in the init user namespace.
        Err(Errno::EPERM) => return bind_host_device(root, &dir, &name, dev),
        Err(e) => return Err(SysError(e)).context("mknod"),
    }
    // mknod's mode is cut by the umask; set it exactly.
    fchmodat(
        &dir,
        name.as_os_str(),
        Mode::from_bits_truncate(dev.mode),
        FchmodatFlags::FollowSymlink,
    )
    .map_err(SysError)
    .context("chmod")?;
    fchownat(
        &dir,
        name.as_os_str(),
        Some(Uid::from_raw(dev.uid)),
        Some(Gid::from_raw(dev.gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(SysError)
    .context("chown")
}

/// Bind the host's node (same path on the host) over an empty file.
fn bind_host_device(
    root: &Root,
    dir: &OwnedFd,
    name: &std::ffi::OsStr,
    dev: &Device,
) -> anyhow::Result<()> {
    let flags = OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    match openat(dir, name, flags, Mode::empty()) {
        Ok(_) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(SysError(e)).context("create bind target"),
    }
    let target = root
        .resolve_or_create(&dev.path, Create::File)
        .map_err(SysError)
        .context("resolve bind target")?;
    sys_mount(
        Some(&dev.path),
        &fd_target(&target),
        None,
        MsFlags::MS_BIND,
        None,
    )
    .map_err(SysError)
    .with_context(|| format!("bind mount host {:?}", dev.path))
}

/// /dev/fd, stdin, stdout, stderr, core (when the host has /proc/kcore) and
/// /dev/ptmx -> pts/ptmx (replacing any node there, for devpts newinstance).
pub(crate) fn create_dev_symlinks(root: &Root) -> anyhow::Result<()> {
    let what = || format!("create /dev symlinks (in root {:?})", root.path());
    let dev = root
        .resolve_or_create(Path::new("/dev"), Create::Dir)
        .map_err(SysError)
        .with_context(what)?;
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    for (target, name) in links {
        match symlinkat(target, &dev, name) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => {
                return Err(SysError(e))
                    .with_context(|| format!("symlink \"/dev/{name}\" -> {target:?}"))
                    .with_context(what)
            }
        }
    }
    match unlinkat(&dev, "ptmx", UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => {
            return Err(SysError(e))
                .context("remove \"/dev/ptmx\"")
                .with_context(what)
        }
    }
    symlinkat("pts/ptmx", &dev, "ptmx")
        .map_err(SysError)
        .context("symlink \"/dev/ptmx\" -> \"pts/ptmx\"")
        .with_context(what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_devices_then_missing_defaults() {
        let spec: Spec = serde_json::from_str(
            r#"{"ociVersion":"1.0.2","linux":{"devices":[
                {"path":"/dev/null","type":"c","major":1,"minor":3,"fileMode":384,"uid":5,"gid":6},
                {"path":"/dev/sda","type":"b","major":8,"minor":0},
                {"path":"/dev/fifo","type":"p"}]}}"#,
        )
        .unwrap();
        let devs = devices_of(&spec).unwrap();
        assert_eq!(devs.len(), 3 + 5);
        assert_eq!(devs[0].mode, 0o600);
        assert_eq!((devs[0].uid, devs[0].gid), (5, 6));
        assert_eq!(devs[1].kind, SFlag::S_IFBLK);
        assert_eq!(devs[2].kind, SFlag::S_IFIFO);
        assert_eq!(
            devs.iter()
                .filter(|d| d.path == Path::new("/dev/null"))
                .count(),
            1
        );
        let tty = devs
            .iter()
            .find(|d| d.path == Path::new("/dev/tty"))
            .unwrap();
        assert_eq!((tty.major, tty.minor, tty.mode), (5, 0, 0o666));
    }

    #[test]
    fn bad_devices_are_named() {
        let spec: Spec = serde_json::from_str(
            r#"{"ociVersion":"1.0.2","linux":{"devices":[{"path":"/dev/x","type":"c","major":-1,"minor":0}]}}"#,
        )
        .unwrap();
        let err = format!("{:#}", devices_of(&spec).unwrap_err());
        assert!(
            err.contains("linux.devices[0] \"/dev/x\": negative major -1"),
            "{err}"
        );
    }
}
