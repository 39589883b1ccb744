//! An overlay upper dir as a changeset: every entry in it is an addition or a
//! modification, a 0/0 char device a removal, an opaque directory one that replaced the
//! image's. Redirected (renamed) directories and metacopy files hold only part of their
//! content in the upper dir; the bundle's overlay is mounted without those features, so
//! meeting one is an error rather than a silently incomplete layer.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use anyhow::{Context, Result};

use super::overlay::{is_opaque, is_whiteout, overlay_xattr};
use super::{Change, ChangeError};
use crate::unpack::sys;

/// The changes recorded in the upper dir `upper`, parents before children, names sorted.
pub(crate) fn upper_changes(upper: &Path) -> Result<Vec<Change>> {
    let root = sys::open_dir(upper).with_context(|| format!("open {upper:?}"))?;
    let mut out = Vec::new();
    walk(root, upper, Path::new(""), &mut out)?;
    Ok(out)
}

fn walk(dir: OwnedFd, host: &Path, rel: &Path, out: &mut Vec<Change>) -> Result<()> {
    for (name, md) in list_dir(dir.as_fd(), host)? {
        let child = rel.join(&name);
        if is_whiteout(&md) {
            out.push(Change::Whiteout(child));
            continue;
        }
        if reserved(&name) {
            return Err(ChangeError::ReservedName(child).into());
        }
        let path = sys::fd_path(dir.as_fd()).join(&name);
        for feature in ["redirect", "metacopy"] {
            if overlay_xattr(&path, feature).is_some() {
                return Err(ChangeError::OverlayFeature {
                    path: host.join(&name),
                    feature,
                }
                .into());
            }
        }
        out.push(Change::Add(child.clone()));
        if md.is_dir() {
            if is_opaque(&path) {
                out.push(Change::Opaque(child.clone()));
            }
            let sub = open_child_dir(dir.as_fd(), &name, &host.join(&name))?;
            walk(sub, &host.join(&name), &child, out)?;
        }
    }
    Ok(())
}

/// A name a layer tar reserves for whiteouts.
pub(super) fn reserved(name: &OsStr) -> bool {
    name.as_bytes().starts_with(b".wh.")
}

/// The entries of the open directory `dir` (shown as `host` in errors), sorted by name,
/// with their lstat metadata.
pub(super) fn list_dir(
    dir: BorrowedFd,
    host: &Path,
) -> Result<BTreeMap<OsString, std::fs::Metadata>> {
    let listing = sys::fd_path(dir);
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(&listing).with_context(|| format!("read {host:?}"))? {
        let name = e.with_context(|| format!("read {host:?}"))?.file_name();
        let md = std::fs::symlink_metadata(listing.join(&name))
            .with_context(|| format!("stat {:?}", host.join(&name)))?;
        out.insert(name, md);
    }
    Ok(out)
}

/// Opens the subdirectory `name` of `dir`, refusing a symlink put there since the listing.
pub(super) fn open_child_dir(dir: BorrowedFd, name: &OsStr, host: &Path) -> Result<OwnedFd> {
    let c = std::ffi::CString::new(name.as_bytes())
        .with_context(|| format!("open {host:?}: NUL in the name"))?;
    sys::open_dir_at(dir, &c).with_context(|| format!("open directory {host:?}"))
}
