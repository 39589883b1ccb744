//! A `--copy` rootfs against the image it was copied from: no upper dir records the
//! changes, so both trees are walked side by side (moby's naive diff,
//! `pkg/archive/changes.go`): names only in the rootfs are added, names only in the image
//! are whited out, and names in both are added again when [`differs`] says so.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::lower::{differs, LowerDir};
use super::upper::{list_dir, open_child_dir, reserved};
use super::{Change, ChangeError};
use crate::unpack::sys;

/// The changes of the plain rootfs directory `rootfs` over the image `layers` (bottom
/// to top), parents before children.
pub(crate) fn compare_with_layers(rootfs: &Path, layers: &[PathBuf]) -> Result<Vec<Change>> {
    let root = sys::open_dir(rootfs).with_context(|| format!("open {rootfs:?}"))?;
    let mut out = Vec::new();
    walk(
        root,
        rootfs,
        Path::new(""),
        Some(LowerDir::root(layers)),
        &mut out,
    )?;
    Ok(out)
}

fn walk(
    dir: OwnedFd,
    host: &Path,
    rel: &Path,
    lower: Option<LowerDir>,
    out: &mut Vec<Change>,
) -> Result<()> {
    let ours = list_dir(dir.as_fd(), host)?;
    let theirs = match &lower {
        Some(l) => l.children()?,
        None => Default::default(),
    };
    let names: BTreeSet<&OsString> = ours.keys().chain(theirs.keys()).collect();
    for name in names {
        let child = rel.join(name);
        let Some(md) = ours.get(name) else {
            out.push(Change::Whiteout(child));
            continue;
        };
        if reserved(name) {
            return Err(ChangeError::ReservedName(child).into());
        }
        let path = sys::fd_path(dir.as_fd()).join(name);
        let below = theirs.get(name);
        let changed = match below {
            None => true,
            Some(l) => differs(&path, md, l)?,
        };
        if changed {
            out.push(Change::Add(child.clone()));
        }
        if md.is_dir() {
            let sub_lower = match below {
                Some(l) if l.metadata.is_dir() => lower.as_ref().and_then(|d| d.child_dir(name)),
                _ => None,
            };
            let sub = open_child_dir(dir.as_fd(), name, &host.join(name))?;
            walk(sub, &host.join(name), &child, sub_lower, out)?;
        }
    }
    Ok(())
}
