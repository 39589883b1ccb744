//! The container's filesystem view (OCI runtime spec config.md "Root",
//! "Mounts"; config-linux.md "Devices", "Default Devices", "/dev symbolic
//! links", "maskedPaths", "readonlyPaths", "rootfsPropagation"), following
//! runc where the spec leaves room. Three steps for the container init, in
//! its new mount namespace: `prepare_rootfs`, `enter_rootfs`,
//! `finalize_rootfs`.

mod cgroup;
mod devices;
mod mount;
mod mountinfo;
mod options;
mod paths;
mod pivot;
mod resolve;
#[cfg(test)]
mod tests;

use std::path::Path;

use anyhow::Context;
use nix::errno::Errno;
use nix::mount::MsFlags;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use mount::MountContext;
use resolve::Root;

/// How the container's root is set up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RootfsOptions {
    /// `--no-pivot`: MS_MOVE + chroot instead of pivot_root.
    pub no_pivot: bool,
    /// The container has its own user namespace: devices are bind-mounted
    /// from the host and locked mount flags are kept on remounts.
    pub user_ns: bool,
}

/// A syscall failure, shown as the errno's text only (the context names the
/// action and object).
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.desc())]
pub(crate) struct SysError(pub Errno);

/// In the container's new mount namespace (already unshared by the caller;
/// the caller is uid 0 with full caps in its user ns). `rootfs` is the
/// canonical absolute host path of the container root (bundle joined with
/// root.path). Steps in order: make "/" recursively slave/private per
/// linux.rootfsPropagation (default rslave like runc) so nothing propagates to
/// the host; bind-mount rootfs onto itself (so pivot_root works); every entry
/// of spec.mounts in order; default devices + linux.devices (mknod, or
/// bind-mount from the host when opts.user_ns); /dev symlinks (fd, stdin,
/// stdout, stderr; /dev/ptmx -> pts/ptmx; /dev/core -> /proc/kcore if
/// /proc/kcore exists on host).
///
/// The caller must already be in the container's cgroups (a v1 `cgroup`
/// mount binds the caller's own cgroup dirs) and still see the host's /proc
/// (mounts target `/proc/self/fd/N`). Relative bind sources resolve against
/// the current directory, so chdir into the bundle first, as runc does.
pub fn prepare_rootfs(spec: &Spec, rootfs: &Path, opts: &RootfsOptions) -> anyhow::Result<()> {
    let devices = devices::devices_of(spec)?;
    let propagation = pivot::root_propagation(spec)?;
    pivot::prepare_root(rootfs, propagation)?;
    // Opened after the self-bind, so resolutions start on the new mount.
    let root = Root::open(rootfs)
        .map_err(SysError)
        .with_context(|| format!("open root {rootfs:?}"))?;
    let ctx = MountContext {
        user_ns: opts.user_ns,
        cgroup_ns: has_cgroup_ns(spec),
        mount_label: spec
            .linux()
            .as_ref()
            .and_then(|l| l.mount_label().as_deref()),
    };
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        mount::mount_entry(&root, m, ctx).with_context(|| format!("mounts[{i}]"))?;
    }
    // As runc: a /dev bind-mounted from the host is left alone.
    if !dev_is_bind(spec) {
        devices::create_devices(&root, &devices, opts.user_ns)?;
        devices::create_dev_symlinks(&root)?;
    }
    Ok(())
}

/// pivot_root into rootfs (old root unmounted with MNT_DETACH), or MS_MOVE +
/// chroot when opts.no_pivot; chdir("/") after.
pub fn enter_rootfs(rootfs: &Path, opts: &RootfsOptions) -> anyhow::Result<()> {
    if opts.no_pivot {
        pivot::move_into(rootfs)
    } else {
        pivot::pivot_into(rootfs)
    }
}

/// After enter_rootfs: readonlyPaths (bind ro remount), maskedPaths
/// (/dev/null over files, ro tmpfs over dirs), a read-only /dev tmpfs if the
/// spec asked for one, root.readonly (remount / ro), final rootfsPropagation
/// of "/" if set.
///
/// Mounts go through `/proc/self/fd/N` when the container's /proc is mounted
/// and through the path (which the kernel now resolves inside the root)
/// otherwise. `_opts` changes nothing today: locked flags are kept on every
/// remount that the kernel refuses with EPERM, user namespace or not.
pub fn finalize_rootfs(spec: &Spec, _opts: &RootfsOptions) -> anyhow::Result<()> {
    let root = paths::NewRoot::open()?;
    let linux = spec.linux().as_ref();
    for p in linux
        .and_then(|l| l.readonly_paths().as_ref())
        .into_iter()
        .flatten()
    {
        root.readonly_path(Path::new(p))?;
    }
    let mut null = None;
    for p in linux
        .and_then(|l| l.masked_paths().as_ref())
        .into_iter()
        .flatten()
    {
        root.mask_path(Path::new(p), &mut null)?;
    }
    drop(null);
    if dev_wants_readonly(spec) {
        let fd = root.root_fd(Path::new("/dev"))?;
        root.remount_readonly(&fd, Path::new("/dev"))
            .context("make \"/dev\" read-only")?;
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        let fd = root.root_fd(Path::new("/"))?;
        root.remount_readonly(&fd, Path::new("/"))
            .context("make root \"/\" read-only")?;
    }
    if let Some(flags) = pivot::root_propagation(spec)? {
        mount::sys_mount(None, Path::new("/"), None, flags, None)
            .map_err(SysError)
            .with_context(|| format!("set propagation {flags:?} on \"/\""))?;
    }
    Ok(())
}

fn has_cgroup_ns(spec: &Spec) -> bool {
    let namespaces = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref());
    namespaces
        .into_iter()
        .flatten()
        .any(|n| n.typ() == LinuxNamespaceType::Cgroup)
}

fn dev_mount(spec: &Spec) -> Option<&oci_spec::runtime::Mount> {
    spec.mounts()
        .iter()
        .flatten()
        .rfind(|m| m.destination() == Path::new("/dev"))
}

fn dev_is_bind(spec: &Spec) -> bool {
    dev_mount(spec).is_some_and(|m| {
        m.typ().as_deref() == Some("bind")
            || m.options()
                .iter()
                .flatten()
                .any(|o| o == "bind" || o == "rbind")
    })
}

/// A non-bind /dev with `ro`: mounted rw so devices can be made, ro at the end.
fn dev_wants_readonly(spec: &Spec) -> bool {
    !dev_is_bind(spec)
        && dev_mount(spec).is_some_and(|m| {
            let opts = m.options().as_deref().unwrap_or(&[]);
            options::parse_mount_options(opts).is_ok_and(|o| o.flags.contains(MsFlags::MS_RDONLY))
        })
}
