//! Layer changesets (OCI image spec, layer.md "Change Types" and "Whiteouts"): what a
//! bundle's rootfs changed relative to its image, and the tar writer that turns such a
//! changeset, or a whole tree, into a layer stream.
//!
//! Changes come from one of two places. An overlay upper dir already holds them: the
//! kernel spells a removal as a 0/0 char device and a replaced directory as
//! `overlay.opaque=y`, which go back to `.wh.NAME` and `.wh..wh..opq` here. A `--copy`
//! rootfs is compared entry by entry against the image's layer dirs, by metadata and
//! size as moby's naive diff does (not by content).
//!
//! Every tree is walked through directory fds opened with `O_NOFOLLOW`, so a symlink the
//! container left is written as a symlink and never followed out of the rootfs.

#![forbid(unsafe_code)]

mod compare;
mod lower;
mod mountpoints;
pub(crate) mod overlay;
#[cfg(test)]
mod tests;
mod tree;
mod upper;
mod write;

use std::path::PathBuf;

pub(crate) use compare::compare_with_layers;
pub(crate) use mountpoints::runtime_mount_points;
pub(crate) use tree::write_tree;
pub(crate) use upper::upper_changes;
pub(crate) use write::{write_changes, LayerTar};

/// One entry of a changeset; paths are relative to the rootfs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    /// The object at this path (added or modified) goes into the layer as it is now.
    Add(PathBuf),
    /// The image's object at this path is removed (`.wh.NAME`).
    Whiteout(PathBuf),
    /// The directory at this path hides all of the image's children (`.wh..wh..opq`);
    /// follows the directory's own `Add`.
    Opaque(PathBuf),
}

/// Why a changeset could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error(
        "read {0:?}: names starting with \".wh.\" are whiteouts in a layer and cannot be committed"
    )]
    ReservedName(PathBuf),
    #[error("read {path:?}: the overlay has {feature} entries, which commit cannot turn into a layer (mount without {feature})")]
    OverlayFeature {
        path: PathBuf,
        feature: &'static str,
    },
    #[error("read {0:?}: the file shrank while it was being read")]
    Shrank(PathBuf),
    #[error("read {path:?}: xattr name {key:?} is not UTF-8")]
    XattrName { path: PathBuf, key: String },
}
