//! The rootfs overlay mount: `lowerdir` = the layer dirs top first, plus the bundle's
//! own `upper` and `work` dirs (kernel Documentation/filesystems/overlayfs.rst).
//!
//! The new mount API takes one `lowerdir+` per layer (Linux 6.8+), so the layer count
//! is not bounded by the single page of data mount(2) accepts. On older kernels the
//! fallback mounts through short relative names: `BUNDLE/l/<n>` symlinks to the layer
//! dirs, with the process's cwd in `BUNDLE/l` during the call.

use std::io;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::unpack::sys;

/// Which kernel interface mounts the overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MountApi {
    /// fsopen/fsconfig, falling back to `Legacy` when the kernel lacks `lowerdir+`.
    Auto,
    /// mount(2) with short relative lowerdir names (tests force the fallback).
    #[cfg(test)]
    Legacy,
}

/// Page size limit of mount(2)'s data, less room for the terminating NUL.
const MOUNT_DATA_MAX: usize = 4095;

pub(crate) struct Overlay<'a> {
    /// Bottom to top, as `ensure_layers` returns them.
    pub lowers: &'a [PathBuf],
    pub upper: &'a Path,
    pub work: &'a Path,
    /// Rootless overlays keep whiteouts in `user.overlay.*` xattrs.
    pub userxattr: bool,
}

pub(crate) fn mount_overlay(ov: &Overlay, target: &Path, api: MountApi) -> Result<()> {
    if ov.lowers.is_empty() {
        bail!("mount overlay on {target:?}: no layers");
    }
    if api == MountApi::Auto {
        match mount_new_api(ov, target) {
            Ok(()) => return Ok(()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EINVAL)) => {
                // Kernels before 6.8 refuse "lowerdir+"; before 5.2 lack fsopen.
            }
            Err(e) => return Err(e).with_context(|| format!("mount overlay on {target:?}")),
        }
    }
    mount_legacy(ov, target)
}

fn mount_new_api(ov: &Overlay, target: &Path) -> io::Result<()> {
    let fs = sys::FsContext::open(c"overlay")?;
    fs.set_string("source", "skiff")?;
    for dir in ov.lowers.iter().rev() {
        fs.set_string("lowerdir+", &path_str(dir)?)?;
    }
    fs.set_string("upperdir", &path_str(ov.upper)?)?;
    fs.set_string("workdir", &path_str(ov.work)?)?;
    if ov.userxattr {
        fs.set_flag("userxattr")?;
    }
    fs.mount_at(target)
}

fn path_str(p: &Path) -> io::Result<String> {
    let s = p
        .to_str()
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    // ',' and ':' separate options and layers in overlay's option syntax.
    if s.contains([',', ':']) {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    Ok(s.to_string())
}

fn mount_legacy(ov: &Overlay, target: &Path) -> Result<()> {
    let links = ov.upper.with_file_name("l");
    let _ = std::fs::remove_dir_all(&links);
    std::fs::create_dir_all(&links).with_context(|| format!("create {links:?}"))?;
    for (i, dir) in ov.lowers.iter().enumerate() {
        let l = links.join(i.to_string());
        std::os::unix::fs::symlink(dir, &l).with_context(|| format!("symlink {l:?} to {dir:?}"))?;
    }
    let names: Vec<String> = (0..ov.lowers.len()).rev().map(|i| i.to_string()).collect();
    let mut data = format!(
        "lowerdir={},upperdir={},workdir={}",
        names.join(":"),
        path_str(ov.upper).with_context(|| format!("use {:?} in overlay options", ov.upper))?,
        path_str(ov.work).with_context(|| format!("use {:?} in overlay options", ov.work))?,
    );
    if ov.userxattr {
        data.push_str(",userxattr");
    }
    if data.len() > MOUNT_DATA_MAX {
        bail!(
            "mount overlay on {target:?}: {} layers do not fit in one page of mount data",
            ov.lowers.len()
        );
    }
    let target_abs = std::path::absolute(target).with_context(|| format!("resolve {target:?}"))?;
    let old = std::env::current_dir().context("read the current directory")?;
    std::env::set_current_dir(&links).with_context(|| format!("chdir to {links:?}"))?;
    let r = sys::mount_overlay_legacy(&target_abs, &data);
    let back = std::env::set_current_dir(&old);
    r.with_context(|| format!("mount overlay on {target:?} ({data})"))?;
    back.with_context(|| format!("chdir back to {old:?}"))?;
    Ok(())
}

/// Whether `path` is a mount point (its mount id differs from its parent's).
pub(crate) fn is_mounted(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let Ok(abs) = std::fs::canonicalize(path) else {
        return false;
    };
    let want = abs.to_string_lossy().replace(' ', "\\040");
    text.lines()
        .any(|l| l.split(' ').nth(4) == Some(want.as_str()))
}

pub(crate) fn unmount(target: &Path) -> Result<()> {
    while is_mounted(target) {
        sys::umount_detach(target).with_context(|| format!("unmount {target:?}"))?;
    }
    Ok(())
}
