//! A bundle's changes → one gzip layer blob in a temp file, the diff ID (over the tar)
//! and the blob digest (over the gzip stream) computed in the same streaming pass.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};

use crate::bundle::BundleInfo;
use crate::changes::{
    compare_with_layers, runtime_mount_points, upper_changes, write_changes, Change, LayerTar,
};
use crate::digest::{Digest, HashingWriter};

/// The layer `write_layer` made.
#[derive(Debug, Clone)]
pub(crate) struct LayerBlob {
    pub diff_id: Digest,
    pub digest: Digest,
    pub size: u64,
    /// Tar entries; 0 when the bundle changed nothing.
    pub entries: u64,
}

/// The changes of `bundle`: its upper dir, or for a `--copy` bundle its rootfs against
/// the image's layer dirs; the runtime's mount points left out.
pub(crate) fn bundle_changes(bundle: &BundleInfo) -> Result<(std::path::PathBuf, Vec<Change>)> {
    let rootfs = bundle.rootfs();
    let (tree, mut changes) = match bundle.upper() {
        Some(upper) => {
            let c = upper_changes(&upper)?;
            (upper, c)
        }
        None => {
            for l in &bundle.layers {
                if !l.is_dir() {
                    anyhow::bail!("compare with the image: layer {l:?} is gone from the store");
                }
            }
            let c = compare_with_layers(&rootfs, &bundle.layers)?;
            (rootfs.clone(), c)
        }
    };
    let merged = bundle.is_mounted().then_some(rootfs.as_path());
    let skip = runtime_mount_points(&tree, merged, &bundle.layers, &bundle.mount_destinations)?;
    changes.retain(|c| !matches!(c, Change::Add(p) if skip.contains(p)));
    Ok((tree, changes))
}

/// Writes the changes of `bundle` as a gzip layer to `out`.
pub(crate) fn write_layer(bundle: &BundleInfo, out: &Path) -> Result<LayerBlob> {
    let (tree, changes) = bundle_changes(bundle)?;
    let file = File::create(out).with_context(|| format!("create {out:?}"))?;
    let blob = HashingWriter::new(BufWriter::with_capacity(256 * 1024, file));
    let gz = flate2::write::GzEncoder::new(blob, flate2::Compression::fast());
    let mut tar = LayerTar::new(HashingWriter::new(gz));
    write_changes(&tree, &changes, &mut tar)?;
    let entries = tar.entries;
    let (gz, diff_id, _) = tar.finish()?.finish();
    let blob = gz.finish().with_context(|| format!("write {out:?}"))?;
    let (mut file, digest, size) = blob.finish();
    file.flush().with_context(|| format!("write {out:?}"))?;
    Ok(LayerBlob {
        diff_id,
        digest,
        size,
        entries,
    })
}
