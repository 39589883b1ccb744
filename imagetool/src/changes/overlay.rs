//! How overlayfs marks changes in a layer dir or an upper dir (kernel
//! Documentation/filesystems/overlayfs.rst "whiteouts and opaque directories"):
//! `trusted.overlay.*` xattrs as root, `user.overlay.*` with `userxattr` (rootless).

use std::ffi::CStr;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use crate::unpack::sys;

/// A whiteout: a char device 0/0.
pub(crate) fn is_whiteout(md: &std::fs::Metadata) -> bool {
    md.file_type().is_char_device() && md.rdev() == 0
}

/// Overlay's own bookkeeping xattrs, never part of an image.
pub(crate) fn is_overlay_xattr(k: &CStr) -> bool {
    let k = k.to_bytes();
    k.starts_with(b"trusted.overlay.") || k.starts_with(b"user.overlay.")
}

/// The value of overlay's xattr `what` (`opaque`, `redirect`, ...) on `path`, in either
/// namespace, without following a final symlink.
pub(crate) fn overlay_xattr(path: &Path, what: &str) -> Option<Vec<u8>> {
    let xattrs = sys::list_xattrs(path).ok()?;
    xattrs.into_iter().find_map(|(k, v)| {
        let k = k.to_bytes();
        let name = k
            .strip_prefix(b"trusted.overlay.")
            .or_else(|| k.strip_prefix(b"user.overlay."))?;
        (name == what.as_bytes()).then_some(v)
    })
}

/// A directory that hides the lower layers' contents.
pub(crate) fn is_opaque(path: &Path) -> bool {
    overlay_xattr(path, "opaque").is_some_and(|v| v == b"y")
}
