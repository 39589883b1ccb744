//! The image's merged tree read straight from its layer dirs with overlay's rules, no
//! mount needed: the topmost layer's entry wins, a whiteout hides the entry below, an
//! opaque directory hides the layers below it, and only directories merge. The layer
//! dirs are the store's own (extracted safely by `unpack`), so plain paths are used.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::overlay::{is_opaque, is_whiteout};

/// One directory of the image: the layer dirs in which it is visible, top first.
#[derive(Debug, Clone)]
pub(crate) struct LowerDir {
    stack: Vec<PathBuf>,
}

/// What the image has at one name.
#[derive(Debug, Clone)]
pub(crate) struct LowerEntry {
    /// The topmost layer's object (never a whiteout).
    pub path: PathBuf,
    pub metadata: std::fs::Metadata,
}

impl LowerDir {
    /// The image's root directory; `layers` bottom to top, as the store lists them.
    pub fn root(layers: &[PathBuf]) -> LowerDir {
        let mut stack = Vec::new();
        for l in layers.iter().rev() {
            stack.push(l.clone());
            if is_opaque(l) {
                break;
            }
        }
        LowerDir { stack }
    }

    /// The visible children by name.
    pub fn children(&self) -> Result<BTreeMap<OsString, LowerEntry>> {
        let mut seen: BTreeMap<OsString, Option<LowerEntry>> = BTreeMap::new();
        for dir in &self.stack {
            let entries = std::fs::read_dir(dir).with_context(|| format!("read {dir:?}"))?;
            for e in entries {
                let e = e.with_context(|| format!("read {dir:?}"))?;
                let name = e.file_name();
                if seen.contains_key(&name) {
                    continue;
                }
                let path = e.path();
                let md =
                    std::fs::symlink_metadata(&path).with_context(|| format!("stat {path:?}"))?;
                let entry = (!is_whiteout(&md)).then_some(LowerEntry { path, metadata: md });
                seen.insert(name, entry);
            }
        }
        Ok(seen
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect())
    }

    /// The child directory `name`, if the image has a directory there.
    pub fn child_dir(&self, name: &std::ffi::OsStr) -> Option<LowerDir> {
        let mut stack = Vec::new();
        for dir in &self.stack {
            let p = dir.join(name);
            let Ok(md) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if !md.is_dir() {
                // A whiteout or a non-directory ends the merge here.
                break;
            }
            let opaque = is_opaque(&p);
            stack.push(p);
            if opaque {
                break;
            }
        }
        (!stack.is_empty()).then_some(LowerDir { stack })
    }

    /// The image's object at `rel` (relative to this directory), if it has one.
    pub fn lookup(&self, rel: &Path) -> Option<LowerEntry> {
        let mut comps: Vec<&std::ffi::OsStr> = rel.iter().collect();
        let last = comps.pop()?;
        let mut dir = self.clone();
        for c in comps {
            dir = dir.child_dir(c)?;
        }
        for layer in &dir.stack {
            let path = layer.join(last);
            if let Ok(md) = std::fs::symlink_metadata(&path) {
                return (!is_whiteout(&md)).then_some(LowerEntry { path, metadata: md });
            }
        }
        None
    }
}

/// Whether `md` (from the bundle) and `lower` (from the image) differ in what a layer
/// records: type, mode, owner (as root), device, size and mtime of non-directories,
/// symlink target and xattrs. A directory's mtime is left out: it moves whenever a child
/// changes, and the child's own entry carries that change.
pub(crate) fn differs(path: &Path, md: &std::fs::Metadata, lower: &LowerEntry) -> Result<bool> {
    let lm = &lower.metadata;
    if md.file_type() != lm.file_type() || md.mode() != lm.mode() {
        return Ok(true);
    }
    // Rootless copies cannot keep the image's owners; every file would look changed.
    if crate::unpack::sys::is_root() && (md.uid() != lm.uid() || md.gid() != lm.gid()) {
        return Ok(true);
    }
    if !md.is_dir()
        && (md.len() != lm.len()
            || md.rdev() != lm.rdev()
            || md.mtime() != lm.mtime()
            || md.mtime_nsec() != lm.mtime_nsec())
    {
        return Ok(true);
    }
    if md.file_type().is_symlink() {
        let ours = std::fs::read_link(path).with_context(|| format!("read link {path:?}"))?;
        let theirs = std::fs::read_link(&lower.path)
            .with_context(|| format!("read link {:?}", lower.path))?;
        if ours != theirs {
            return Ok(true);
        }
    }
    Ok(xattrs(path)? != xattrs(&lower.path)?)
}

fn xattrs(path: &Path) -> Result<Vec<(std::ffi::CString, Vec<u8>)>> {
    let mut x: Vec<_> = crate::unpack::sys::list_xattrs(path)
        .with_context(|| format!("list xattrs of {path:?}"))?
        .into_iter()
        .filter(|(k, _)| !super::overlay::is_overlay_xattr(k))
        .collect();
    x.sort();
    Ok(x)
}
