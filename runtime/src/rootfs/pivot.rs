//! Root propagation and the switch into the root (OCI runtime spec
//! config-linux.md "rootfsPropagation"; config.md "Root"), as runc's
//! `prepareRoot`, `pivotRoot` and `msMoveRoot`.

use std::path::Path;

use anyhow::Context;
use nix::fcntl::{open, OFlag};
use nix::mount::{umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use nix::unistd::{chdir, chroot, fchdir, pivot_root};
use oci_spec::runtime::Spec;

use super::mount::sys_mount;
use super::mountinfo::{mount_of, read_mountinfo};
use super::options::parse_root_propagation;
use super::SysError;

/// `linux.rootfsPropagation`, `None` when unset.
pub(crate) fn root_propagation(spec: &Spec) -> anyhow::Result<Option<MsFlags>> {
    let Some(value) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref())
    else {
        return Ok(None);
    };
    parse_root_propagation(value)
        .map(Some)
        .with_context(|| format!("linux.rootfsPropagation: unknown value {value:?}"))
}

/// Make "/" recursively slave (or the spec's propagation) so that nothing
/// mounted from here on reaches the host, then bind the rootfs onto itself.
pub(crate) fn prepare_root(rootfs: &Path, propagation: Option<MsFlags>) -> anyhow::Result<()> {
    let flags = propagation.unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC);
    sys_mount(None, Path::new("/"), None, flags, None)
        .map_err(SysError)
        .with_context(|| format!("set propagation {flags:?} on \"/\""))?;
    make_parent_private(rootfs)?;
    sys_mount(
        Some(rootfs),
        rootfs,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
    .map_err(SysError)
    .with_context(|| format!("bind mount root {rootfs:?} onto itself"))
}

/// pivot_root(2) fails when the mount holding the new root is shared (as it
/// is after an `rshared` rootfsPropagation); make that one private.
fn make_parent_private(rootfs: &Path) -> anyhow::Result<()> {
    let mounts = read_mountinfo()?;
    let Some(parent) = mount_of(&mounts, rootfs) else {
        return Ok(());
    };
    if !parent.is_shared() {
        return Ok(());
    }
    sys_mount(None, &parent.mount_point, None, MsFlags::MS_PRIVATE, None)
        .map_err(SysError)
        .with_context(|| {
            format!(
                "make {:?} (the mount holding root {rootfs:?}) private",
                parent.mount_point
            )
        })
}

/// pivot_root(".", ".") inside the root: the old root ends up stacked on
/// the new one, where it is detached (made slave first, so the unmount does
/// not propagate to the host).
pub(crate) fn pivot_into(rootfs: &Path) -> anyhow::Result<()> {
    let what = || format!("pivot_root into {rootfs:?}");
    let dir = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    let old_root = open("/", dir, Mode::empty())
        .map_err(SysError)
        .with_context(|| format!("{}: open \"/\"", what()))?;
    let new_root = open(rootfs, dir, Mode::empty())
        .map_err(SysError)
        .with_context(|| format!("{}: open root", what()))?;
    fchdir(&new_root).map_err(SysError).with_context(what)?;
    pivot_root(".", ".").map_err(SysError).with_context(what)?;
    fchdir(&old_root)
        .map_err(SysError)
        .with_context(|| format!("{}: chdir to old root", what()))?;
    sys_mount(
        None,
        Path::new("."),
        None,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None,
    )
    .map_err(SysError)
    .with_context(|| format!("{}: make old root slave", what()))?;
    umount2(".", MntFlags::MNT_DETACH)
        .map_err(SysError)
        .with_context(|| format!("{}: unmount old root", what()))?;
    chdir("/")
        .map_err(SysError)
        .with_context(|| format!("{}: chdir \"/\"", what()))
}

/// --no-pivot: move the root mount over "/" and chroot into it.
pub(crate) fn move_into(rootfs: &Path) -> anyhow::Result<()> {
    let what = || format!("move root {rootfs:?} onto \"/\"");
    chdir(rootfs)
        .map_err(SysError)
        .with_context(|| format!("{}: chdir", what()))?;
    sys_mount(Some(rootfs), Path::new("/"), None, MsFlags::MS_MOVE, None)
        .map_err(SysError)
        .with_context(what)?;
    chroot(".")
        .map_err(SysError)
        .with_context(|| format!("{}: chroot", what()))?;
    chdir("/")
        .map_err(SysError)
        .with_context(|| format!("{}: chdir \"/\"", what()))
}
