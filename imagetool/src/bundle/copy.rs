//! `--copy`: the rootfs as a plain directory (like `umoci unpack`), made by applying
//! the store's layer dirs bottom to top with overlay's semantics: a whiteout (char
//! device 0/0) removes the object below, an opaque directory drops the lower contents,
//! anything else replaces what was there.
//!
//! The destination is only touched through dir fds opened with O_NOFOLLOW, so a symlink
//! a lower layer left in the rootfs is replaced, never followed.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::changes::overlay::{is_opaque, is_overlay_xattr, is_whiteout};
use crate::unpack::sys;

/// Hardlinks of one layer: (dev, inode) of the source → where its first copy went.
type Links = HashMap<(u64, u64), (OwnedFd, CString)>;

pub(crate) fn copy_layers(lowers: &[PathBuf], rootfs: &Path) -> Result<()> {
    let dst = sys::open_dir(rootfs).with_context(|| format!("open {rootfs:?}"))?;
    for layer in lowers {
        let mut links = Links::new();
        copy_dir(layer, dst.as_fd(), &mut links)
            .with_context(|| format!("copy layer {layer:?} into {rootfs:?}"))?;
        // The merged root shows the top layer's root metadata.
        copy_meta(layer, dst.as_fd())?;
    }
    Ok(())
}

/// Copies the directory `src` (a trusted or `/proc/self/fd` path) into `dst`, with
/// metadata: an image's content at an anonymous volume's path seeds the volume.
pub(crate) fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
    let to = sys::open_dir(dst).with_context(|| format!("open {dst:?}"))?;
    // "/." makes lstat and llistxattr see the directory, not a /proc magic link.
    let src = src.join(".");
    copy_dir(&src, to.as_fd(), &mut Links::new())?;
    copy_meta(&src, to.as_fd())
}

fn cname(name: &std::ffi::OsStr) -> Result<CString> {
    CString::new(name.as_bytes()).context("file name with a NUL byte")
}

fn copy_dir(src: &Path, dst: BorrowedFd, links: &mut Links) -> Result<()> {
    for entry in std::fs::read_dir(src).with_context(|| format!("read {src:?}"))? {
        let entry = entry.with_context(|| format!("read {src:?}"))?;
        let path = entry.path();
        let md = std::fs::symlink_metadata(&path).with_context(|| format!("stat {path:?}"))?;
        let name = cname(&entry.file_name())?;
        if is_whiteout(&md) {
            remove_at(dst, &name)?;
            continue;
        }
        copy_entry(&path, &md, dst, &name, links).with_context(|| format!("copy {path:?}"))?;
    }
    Ok(())
}

fn copy_entry(
    path: &Path,
    md: &std::fs::Metadata,
    dst: BorrowedFd,
    name: &CStr,
    links: &mut Links,
) -> Result<()> {
    let ft = md.file_type();
    if ft.is_dir() {
        let existing = sys::lstat_at(dst, name).ok();
        let was_dir = existing.is_some_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR);
        // Merge into the lower directory unless this one is opaque (or replaces a non-dir).
        let merge = was_dir && !is_opaque(path);
        if !merge {
            if existing.is_some() {
                remove_at(dst, name)?;
            }
            sys::mkdir_at(dst, name, 0o700)?;
        }
        let sub = sys::open_dir_at(dst, name)?;
        copy_dir(path, sub.as_fd(), links)?;
        copy_meta(path, sub.as_fd())?;
        return Ok(());
    }
    remove_at(dst, name)?;
    if md.nlink() > 1 {
        if let Some((dir, first)) = links.get(&(md.dev(), md.ino())) {
            sys::link_at(dir.as_fd(), first, dst, name)?;
            return Ok(());
        }
    }
    if ft.is_file() {
        let mut from = File::open(path)?;
        let mut to = sys::create_file_at(dst, name, 0o600)?;
        // std::io::copy between two files uses copy_file_range.
        std::io::copy(&mut from, &mut to)?;
    } else if ft.is_symlink() {
        let target = std::fs::read_link(path)?;
        sys::symlink_at(&cname(target.as_os_str())?, dst, name)?;
    } else {
        let kind = md.mode() & libc::S_IFMT;
        let dev = md.rdev();
        sys::mknod_at(
            dst,
            name,
            kind | (md.mode() & 0o777),
            libc::major(dev),
            libc::minor(dev),
        )?;
    }
    copy_meta_at(path, md, dst, name)?;
    if md.nlink() > 1 {
        links.insert(
            (md.dev(), md.ino()),
            (sys::open_dir_at(dst, c".")?, name.to_owned()),
        );
    }
    Ok(())
}

/// Owner, mode, xattrs (not overlay's own) and times of a non-directory.
fn copy_meta_at(path: &Path, md: &std::fs::Metadata, dst: BorrowedFd, name: &CStr) -> Result<()> {
    let chown = sys::chown_at(dst, name, md.uid(), md.gid());
    if sys::is_root() {
        chown?;
    }
    if !md.file_type().is_symlink() {
        sys::chmod_at(dst, name, md.mode() & 0o7777)?;
    }
    for (k, v) in sys::list_xattrs(path)? {
        if !is_overlay_xattr(&k) {
            sys::set_xattr_at(dst, name, &k, &v)?;
        }
    }
    sys::set_times_at(dst, name, md.mtime(), md.mtime_nsec())?;
    Ok(())
}

/// Owner, mode, xattrs and times of a directory, after its contents.
fn copy_meta(path: &Path, dir: BorrowedFd) -> Result<()> {
    let md = std::fs::symlink_metadata(path)?;
    let chown = sys::fchown(dir, md.uid(), md.gid());
    if sys::is_root() {
        chown?;
    }
    sys::fchmod(dir, md.mode() & 0o7777)?;
    for (k, v) in sys::list_xattrs(path)? {
        if !is_overlay_xattr(&k) {
            sys::set_xattr_fd(dir, &k, &v)?;
        }
    }
    sys::set_times_fd(dir, md.mtime(), md.mtime_nsec())?;
    Ok(())
}

/// Removes `name` under `dir`, recursively, without following symlinks.
pub(crate) fn remove_at(dir: BorrowedFd, name: &CStr) -> Result<()> {
    let st = match sys::lstat_at(dir, name) {
        Ok(st) => st,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        let sub = sys::open_dir_at(dir, name)?;
        let listing = sys::fd_path(sub.as_fd());
        for entry in std::fs::read_dir(&listing)? {
            remove_at(sub.as_fd(), &cname(&entry?.file_name())?)?;
        }
        sys::unlink_at(dir, name, true)?;
    } else {
        sys::unlink_at(dir, name, false)?;
    }
    Ok(())
}
