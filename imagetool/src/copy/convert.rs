//! What `--dest-compress-format` changes besides the blobs: which layers to recompress
//! (with the diff IDs they must keep, from the config), the new manifest naming them, and
//! a new index over changed manifests (containers/image `copy/manifest.go` converts the
//! same way: Docker v2s2 cannot name zstd layers, so such manifests become OCI).

use super::ManifestFormat;
use crate::digest::Digest;
use crate::manifest::{self, Descriptor, Index, Manifest};
use crate::recompress::{self, Compression};
use crate::transport::ImageSource;
use anyhow::{bail, Context, Result};
use std::collections::HashMap;

/// A layer to recompress: its current compression, the target and the config's diff ID.
#[derive(Clone)]
pub(super) struct Plan {
    pub from: Option<Compression>,
    pub to: Compression,
    pub diff_id: Digest,
    pub media_type: &'static str,
}

/// Which layers need recompressing to `to`, with the diff IDs they must keep.
pub(super) fn recompress_plan(
    src: &dyn ImageSource,
    m: &Manifest,
    to: Compression,
) -> Result<HashMap<Digest, Plan>> {
    let config = crate::inspect::read_config(src, &m.config)?;
    let config: serde_json::Value = serde_json::from_slice(&config)
        .with_context(|| format!("parse config {}", m.config.digest))?;
    let diff_ids: Vec<Digest> = serde_json::from_value(
        config
            .pointer("/rootfs/diff_ids")
            .cloned()
            .unwrap_or_default(),
    )
    .with_context(|| format!("parse rootfs.diff_ids of config {}", m.config.digest))?;
    if diff_ids.len() != m.layers.len() {
        bail!(
            "recompress image: config {} has {} diff IDs for {} layers",
            m.config.digest,
            diff_ids.len(),
            m.layers.len()
        );
    }
    let mt = m.media_type.as_deref().unwrap_or(manifest::OCI_MANIFEST);
    let mut plan = HashMap::new();
    for (layer, diff_id) in m.layers.iter().zip(diff_ids) {
        let Some(from) = recompress::layer_compression(&layer.media_type) else {
            if recompress::needs_oci(mt, to) {
                bail!(
                    "recompress layer {}: media type {:?} has no OCI equivalent",
                    layer.digest,
                    layer.media_type
                );
            }
            continue;
        };
        if from != Some(to) {
            let media_type = recompress::layer_media_type(mt, to);
            plan.insert(
                layer.digest.clone(),
                Plan {
                    from,
                    to,
                    diff_id,
                    media_type,
                },
            );
        }
    }
    Ok(plan)
}

/// The manifest naming the recompressed layers (`replaced`, by old digest); the original
/// bytes when nothing changed. A Docker v2s2 manifest becomes OCI for zstd layers.
pub(super) fn rewrite_manifest(
    bytes: Vec<u8>,
    media_type: String,
    m: Manifest,
    replaced: &HashMap<Digest, Descriptor>,
    to: Compression,
) -> Result<(Vec<u8>, String)> {
    if replaced.is_empty() && !recompress::needs_oci(&media_type, to) {
        return Ok((bytes, media_type));
    }
    let mut new = m;
    let oci = recompress::needs_oci(&media_type, to);
    let new_type = if oci {
        new.config.media_type = recompress::oci_media_type(&new.config.media_type)?.into();
        manifest::OCI_MANIFEST.to_string()
    } else {
        media_type
    };
    for layer in new.layers.iter_mut() {
        if let Some(r) = replaced.get(&layer.digest) {
            *layer = r.clone();
        } else if oci {
            layer.media_type = recompress::oci_media_type(&layer.media_type)?.into();
        }
    }
    new.media_type = Some(new_type.clone());
    let b = serde_json::to_vec(&new).context("serialise image manifest")?;
    Ok((b, new_type))
}

/// The index bytes to write: the original unless a child manifest changed or `format`
/// asks for another index type.
pub(super) fn rewrite_index(
    bytes: Vec<u8>,
    media_type: String,
    old: &Index,
    mut new: Index,
    format: Option<ManifestFormat>,
) -> Result<(Vec<u8>, String)> {
    let unchanged = old
        .manifests
        .iter()
        .zip(&new.manifests)
        .all(|(a, b)| a.digest == b.digest);
    if unchanged && format.is_none_or(|f| f.index_type() == media_type) {
        return Ok((bytes, media_type));
    }
    if let Some(f) = format {
        super::format::convert_index(&mut new, f);
        let b = serde_json::to_vec(&new).context("serialise image index")?;
        return Ok((b, f.index_type().to_string()));
    }
    // A Docker manifest list may not name OCI manifests: it becomes an OCI index.
    let oci = new
        .manifests
        .iter()
        .any(|d| d.media_type == manifest::OCI_MANIFEST);
    let mt = if oci {
        manifest::OCI_INDEX.to_string()
    } else {
        media_type
    };
    new.media_type = Some(mt.clone());
    let b = serde_json::to_vec(&new).context("serialise image index")?;
    Ok((b, mt))
}
