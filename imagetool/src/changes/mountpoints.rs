//! Mount points the runtime made: for each config.json mount whose destination the image
//! lacks, the runtime creates an empty file or directory (and any missing parents) in
//! the rootfs to mount on. They belong to the container, not to its changes: the init
//! layer's `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf`, volumes, tmpfs, and
//! `/proc`, `/sys`, `/dev` in images without them. Docker keeps them out of the
//! container's layer with a separate init layer; here they are recognised and skipped.
//!
//! A mount point is an empty file or directory at a mount destination that the image
//! does not have; its parents are skipped too when the image lacks them (or has them
//! with the same mode and owner) and they hold nothing else.

use std::collections::BTreeSet;
use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};

use super::lower::LowerDir;
use crate::unpack::sys;

/// Paths (relative to the rootfs) to leave out of `tree`: an upper dir or a rootfs.
/// `merged` is the mounted rootfs, when there is one, to resolve destinations through
/// the image's symlinks as the runtime did; without it they are taken literally.
pub(crate) fn runtime_mount_points(
    tree: &Path,
    merged: Option<&Path>,
    layers: &[PathBuf],
    destinations: &[String],
) -> Result<BTreeSet<PathBuf>> {
    let image = LowerDir::root(layers);
    let root = sys::open_dir(tree).with_context(|| format!("open {tree:?}"))?;
    let mut skip = BTreeSet::new();
    let mut parents = BTreeSet::new();
    for dest in destinations {
        let Some(rel) = resolve(merged, dest) else {
            continue;
        };
        let Some(md) = lstat_beneath(&root, &rel) else {
            continue;
        };
        let empty = if md.is_dir() {
            dir_entries(&root, &rel).is_some_and(|e| e.is_empty())
        } else {
            md.is_file() && md.len() == 0
        };
        if empty && image.lookup(&rel).is_none() {
            let above = rel
                .ancestors()
                .skip(1)
                .filter(|a| !a.as_os_str().is_empty());
            parents.extend(above.map(Path::to_path_buf));
            skip.insert(rel);
        }
    }
    // Deepest first, so a parent is judged after its own subdirectories.
    let mut parents: Vec<PathBuf> = parents.into_iter().collect();
    parents.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for dir in parents {
        let Some(md) = lstat_beneath(&root, &dir).filter(|m| m.is_dir()) else {
            continue;
        };
        let only_mount_points = dir_entries(&root, &dir)
            .is_some_and(|names| names.iter().all(|n| skip.contains(&dir.join(n))));
        let unchanged = match image.lookup(&dir) {
            None => true,
            Some(l) => {
                l.metadata.is_dir()
                    && l.metadata.mode() == md.mode()
                    && l.metadata.uid() == md.uid()
                    && l.metadata.gid() == md.gid()
            }
        };
        // An opaque directory also removed the image's contents: that is a change.
        let opaque = open_beneath(&root, &dir)
            .is_some_and(|fd| super::overlay::is_opaque(&sys::fd_path(fd.as_fd()).join(".")));
        if only_mount_points && unchanged && !opaque {
            skip.insert(dir);
        }
    }
    Ok(skip)
}

/// A destination as a clean relative path: through the mounted rootfs when given
/// (symlinks followed inside it, as the runtime does), else component by component.
fn resolve(merged: Option<&Path>, dest: &str) -> Option<PathBuf> {
    if let Some(m) = merged {
        let root = sys::open_dir(m).ok()?;
        let fd = sys::resolve_in_root(root.as_fd(), Path::new(dest)).ok()?;
        let at = std::fs::read_link(sys::fd_path(fd.as_fd())).ok()?;
        let base = std::fs::read_link(sys::fd_path(root.as_fd())).ok()?;
        return at.strip_prefix(&base).ok().map(Path::to_path_buf);
    }
    let mut out = PathBuf::new();
    for c in Path::new(dest).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// Opens the directory `rel` under `root` without following symlinks.
fn open_beneath(root: &OwnedFd, rel: &Path) -> Option<OwnedFd> {
    let mut fd = root.try_clone().ok()?;
    for c in rel.iter() {
        let name = CString::new(c.as_bytes()).ok()?;
        fd = sys::open_dir_at(fd.as_fd(), &name).ok()?;
    }
    Some(fd)
}

fn lstat_beneath(root: &OwnedFd, rel: &Path) -> Option<std::fs::Metadata> {
    let parent = open_beneath(root, rel.parent()?)?;
    std::fs::symlink_metadata(sys::fd_path(parent.as_fd()).join(rel.file_name()?)).ok()
}

fn dir_entries(root: &OwnedFd, rel: &Path) -> Option<Vec<std::ffi::OsString>> {
    let dir = open_beneath(root, rel)?;
    let rd = std::fs::read_dir(sys::fd_path(dir.as_fd())).ok()?;
    rd.map(|e| e.ok().map(|e| e.file_name())).collect()
}
