//! Layer tar → directory, safely (OCI image spec, layer.md), and the layer store's
//! extracted-layer cache (`<root>/layers/<chainid>/`).
//!
//! Decompression runs on the calling thread and extraction on a second one, joined by a
//! bounded channel of chunks, so inflating and creating files overlap.

mod extract;
pub(crate) mod image;
mod meta;
mod pipeline;
mod store;
pub(crate) mod sys;
#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
mod tests_rootless;

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Result;

pub(crate) use pipeline::hex;
pub(crate) use store::chain_ids;
pub use store::ensure_layers;

/// How a layer is extracted.
#[derive(Debug, Clone, Default)]
pub struct ExtractOptions {
    /// Running without CAP_MKNOD / CAP_CHOWN over the ids: device nodes and fifos are
    /// refused, ownership and `trusted.*` xattrs are best effort, whiteouts use the
    /// `user.overlay.*` xattrs.
    pub rootless: bool,
    /// Refuse a layer whose file data exceeds this many bytes (tar bombs).
    pub max_bytes: Option<u64>,
}

/// What an extraction did.
#[derive(Debug, Clone)]
pub struct ExtractStats {
    /// Tar entries applied.
    pub entries: u64,
    /// Bytes of file data written.
    pub bytes: u64,
    /// `sha256:<hex>` of the uncompressed tar stream (the layer's DiffID).
    pub diff_id: String,
    /// Directories the tar only implied (created with default metadata), relative to
    /// the target; `ensure_layers` gives them the metadata of the lower layers.
    pub implied_dirs: Vec<PathBuf>,
}

/// Stream a layer (gzip, zstd or plain tar, detected by magic bytes) into `target` safely.
pub fn extract_layer(
    reader: impl Read,
    target: &Path,
    opts: &ExtractOptions,
) -> Result<ExtractStats> {
    pipeline::extract_stream(reader, target, opts)
}
