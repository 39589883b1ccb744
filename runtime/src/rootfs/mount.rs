//! One config.json `mounts` entry onto its destination inside the root (OCI
//! runtime spec config.md "Mounts"), as runc's `mountToRootfs`: the mount
//! itself, the bind remount for flags a bind ignores, propagation changes and
//! the recursive `mount_setattr` attributes. Targets are always the resolved
//! fd (`/proc/self/fd/N`), never a host path string.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::Context;
use nix::errno::Errno;
use nix::mount::MsFlags;
use nix::sys::stat::{fstat, SFlag};
use nix::sys::statvfs::{fstatvfs, FsFlags};
use oci_spec::runtime::Mount;

use super::options::{parse_mount_options, MountOptions};
use super::resolve::{Create, Root};
use super::{cgroup, SysError};
use crate::sys::mount::mount_setattr;

/// Facts about the container that change how mounts are made.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MountContext<'a> {
    pub user_ns: bool,
    pub cgroup_ns: bool,
    /// linux.mountLabel: the SELinux context of the filesystems mounted.
    pub mount_label: Option<&'a str>,
}

/// The magic-link path that makes mount(2) act on what `fd` refers to.
pub(crate) fn fd_target(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// mount(2) with plain `Option`s.
pub(crate) fn sys_mount(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<(), Errno> {
    nix::mount::mount(source, target, fstype, flags, data)
}

/// "mount "proc" on "/proc" (in root "/x/rootfs")": the context every mount
/// error carries.
pub(crate) fn describe(source: &str, dest: &Path, root: &Root) -> String {
    format!("mount {source:?} on {dest:?} (in root {:?})", root.path())
}

/// Mount one spec entry.
pub(crate) fn mount_entry(root: &Root, m: &Mount, ctx: MountContext<'_>) -> anyhow::Result<()> {
    let dest = m.destination();
    let fstype = m.typ().as_deref().unwrap_or("");
    let options = m.options().as_deref().unwrap_or(&[]);
    let mut opts = parse_mount_options(options)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("parse options of mount {dest:?}"))?;
    if fstype == "bind" {
        opts.flags.insert(MsFlags::MS_BIND);
    }
    if fstype == "cgroup" {
        return cgroup::mount_cgroup(root, dest, &opts, ctx);
    }
    if opts.is_bind() {
        let source = m
            .source()
            .as_deref()
            .with_context(|| format!("bind mount on {dest:?} has no source"))?;
        return bind_mount(root, source, dest, &opts);
    }
    let labelled = match ctx.mount_label.and_then(|l| label_option(fstype, l)) {
        Some(option) => {
            opts.data.push(option);
            true
        }
        None => false,
    };
    let source = m.source().as_deref().unwrap_or(Path::new(fstype));
    let err = match mount_fs(root, source, fstype, dest, &opts) {
        Ok(()) => return Ok(()),
        Err(e) if labelled => {
            let label = ctx.mount_label.unwrap_or_default();
            return Err(e.context(format!(
                "linux.mountLabel {label:?} (the context= option of {fstype:?} mounts)"
            )));
        }
        Err(e) => e,
    };
    // In a user namespace that does not own the network (sysfs) or IPC
    // (mqueue) namespace the kernel refuses a fresh mount; runc then binds
    // the host's instance, and so do we.
    let host = match fstype {
        "sysfs" => "/sys",
        "mqueue" => "/dev/mqueue",
        _ => return Err(err),
    };
    if !ctx.user_ns || !is_errno(&err, Errno::EPERM) {
        return Err(err);
    }
    opts.flags.insert(MsFlags::MS_BIND | MsFlags::MS_REC);
    opts.data.clear();
    bind_mount(root, Path::new(host), dest, &opts)
        .with_context(|| format!("{err:#}; fall back to binding the host's {host:?}"))
}

/// The `context="LABEL"` data option linux.mountLabel adds to a fresh
/// (non-bind) mount, as runc's mountToRootfs does through go-selinux's
/// FormatMountLabel: every filesystem but proc, sysfs and mqueue (and
/// cgroup, mounted elsewhere). runc adds it whether or not SELinux is
/// enabled, so on a host without SELinux the kernel refuses the mount and
/// the container fails to start; skiff does the same rather than drop a
/// security label silently.
fn label_option(fstype: &str, label: &str) -> Option<String> {
    if label.is_empty() || matches!(fstype, "proc" | "sysfs" | "mqueue" | "cgroup") {
        return None;
    }
    Some(format!("context=\"{label}\""))
}

/// Whether `err` was caused by the syscall error `errno`.
pub(crate) fn is_errno(err: &anyhow::Error, errno: Errno) -> bool {
    err.chain()
        .any(|c| matches!(c.downcast_ref::<SysError>(), Some(SysError(e)) if *e == errno))
}

/// Bind-mount a host `source` onto a container `dest`, then apply the flags a
/// bind ignores with a remount, as runc does.
pub(crate) fn bind_mount(
    root: &Root,
    source: &Path,
    dest: &Path,
    opts: &MountOptions,
) -> anyhow::Result<()> {
    let what = || describe(&source.to_string_lossy(), dest, root);
    let is_dir = std::fs::metadata(source)
        .map(|m| m.is_dir())
        .with_context(|| format!("{}: stat source", what()))?;
    let create = if is_dir { Create::Dir } else { Create::File };
    let fd = root
        .resolve_or_create(dest, create)
        .map_err(SysError)
        .with_context(|| format!("{}: resolve destination", what()))?;
    let flags = opts.flags & (MsFlags::MS_BIND | MsFlags::MS_REC);
    sys_mount(Some(source), &fd_target(&fd), None, flags, None)
        .map_err(SysError)
        .with_context(what)?;
    after_mount(root, dest, opts, true).with_context(what)
}

/// Mount a filesystem (proc, sysfs, tmpfs, devpts, mqueue, overlay, ...) with
/// its data options onto a container directory.
pub(crate) fn mount_fs(
    root: &Root,
    source: &Path,
    fstype: &str,
    dest: &Path,
    opts: &MountOptions,
) -> anyhow::Result<()> {
    let what = || describe(&source.to_string_lossy(), dest, root);
    let fd = root
        .resolve_or_create(dest, Create::Dir)
        .map_err(SysError)
        .with_context(|| format!("{}: resolve destination", what()))?;
    if matches!(fstype, "proc" | "sysfs") {
        // runc's checkProcMount: procfs and sysfs only on real directories, so a
        // symlinked destination cannot redirect them over e.g. /dev.
        check_real_dir(root, dest).with_context(what)?;
    }
    let mut flags = opts.flags;
    if dest == Path::new("/dev") {
        // Devices are created in /dev after this; finalize_rootfs makes it ro.
        flags.remove(MsFlags::MS_RDONLY);
    }
    let data = opts.data_string();
    sys_mount(
        Some(source),
        &fd_target(&fd),
        Some(fstype),
        flags,
        data.as_deref(),
    )
    .map_err(SysError)
    .with_context(what)?;
    after_mount(root, dest, opts, false).with_context(what)
}

fn check_real_dir(root: &Root, dest: &Path) -> anyhow::Result<()> {
    let fd = root.resolve_nofollow(dest).map_err(SysError)?;
    let kind = SFlag::from_bits_truncate(fstat(&fd).map_err(SysError)?.st_mode) & SFlag::S_IFMT;
    anyhow::ensure!(
        kind == SFlag::S_IFDIR,
        "destination is not a directory (symlinks are refused)"
    );
    Ok(())
}

/// Remount, propagation and recursive attributes, on the new mount (the fd
/// used to mount still refers to the directory underneath it, so reopen).
fn after_mount(root: &Root, dest: &Path, opts: &MountOptions, bind: bool) -> anyhow::Result<()> {
    let needs_more = (bind && !opts.remount_flags().is_empty())
        || !opts.propagation.is_empty()
        || opts.rec_attr.is_some();
    if !needs_more {
        return Ok(());
    }
    let fd = root
        .resolve(dest)
        .map_err(SysError)
        .context("reopen destination")?;
    if bind && !opts.remount_flags().is_empty() {
        remount_bind(&fd, opts.remount_flags()).context("remount bind with flags")?;
    }
    apply_propagation(&fd, &opts.propagation)?;
    if let Some(attr) = opts.rec_attr {
        mount_setattr(fd.as_fd(), attr, true)
            .map_err(SysError)
            .context("mount_setattr recursive options")?;
    }
    Ok(())
}

pub(crate) fn apply_propagation(fd: &OwnedFd, propagation: &[MsFlags]) -> anyhow::Result<()> {
    for &p in propagation {
        sys_mount(None, &fd_target(fd), None, p, None)
            .map_err(SysError)
            .with_context(|| format!("set propagation {p:?}"))?;
    }
    Ok(())
}

/// MS_REMOUNT|MS_BIND with `flags`. In a user namespace the kernel refuses to
/// drop flags locked by the parent namespace (EPERM); retry keeping them, as
/// runc does.
pub(crate) fn remount_bind(fd: &OwnedFd, flags: MsFlags) -> anyhow::Result<()> {
    remount_bind_at(&fd_target(fd), fd, flags)
}

/// `remount_bind` with an explicit target path (after pivot_root without /proc).
pub(crate) fn remount_bind_at(target: &Path, fd: &OwnedFd, flags: MsFlags) -> anyhow::Result<()> {
    let base = flags | MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
    match sys_mount(None, target, None, base, None) {
        Err(Errno::EPERM) => {
            let locked = locked_flags(fd)?;
            let atime = MsFlags::MS_NOATIME | MsFlags::MS_RELATIME | MsFlags::MS_STRICTATIME;
            let mut retry = base | (locked - atime);
            if !base.intersects(atime) {
                retry |= locked & atime;
            }
            sys_mount(None, target, None, retry, None).map_err(SysError)?;
            Ok(())
        }
        other => other.map_err(|e| SysError(e).into()),
    }
}

/// The flags the mount under `fd` has now, as mount(2) flags.
pub(crate) fn locked_flags(fd: &OwnedFd) -> anyhow::Result<MsFlags> {
    let st = fstatvfs(fd).map_err(SysError).context("statvfs")?;
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (st_flag, ms) in [
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(st_flag) {
            out |= ms;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::label_option;

    #[test]
    fn mount_label_goes_where_runc_puts_it() {
        let l = "system_u:object_r:container_file_t:s0:c1,c2";
        let want = Some(format!("context=\"{l}\""));
        for fs in ["tmpfs", "devpts", "overlay", "shm"] {
            assert_eq!(label_option(fs, l), want, "{fs}");
        }
        for fs in ["proc", "sysfs", "mqueue", "cgroup"] {
            assert_eq!(label_option(fs, l), None, "{fs}");
        }
        assert_eq!(label_option("tmpfs", ""), None);
    }
}
