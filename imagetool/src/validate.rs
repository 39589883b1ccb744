//! Conformance check for an image from any transport (after go-containerregistry's
//! `validate.Image`): manifests parse and match their digests, every blob streams through
//! the verifying reader, the config names os/architecture and one diff ID per layer, and
//! each layer's uncompressed content (plain, gzip or zstd) hashes to its diff ID.

use crate::digest::{Algorithm, Digest, Hasher};
use crate::manifest::{self, Descriptor, Parsed};
use crate::recompress::{layer_compression, Compression};
use crate::transport::{open_blob, read_manifest, ImageSource};
use anyhow::{bail, Context, Result};
use std::io::{self, Read};

#[derive(Debug, Default, PartialEq)]
pub struct Validation {
    /// Image manifests checked (one, or one per index entry).
    pub images: usize,
    /// Layers whose diff ID was recomputed.
    pub layers: usize,
}

/// Validate the image (every platform of an index) `src` serves.
pub fn validate_image(src: &dyn ImageSource) -> Result<Validation> {
    let mut v = Validation::default();
    let (bytes, media_type) = read_manifest(src, None)?;
    match manifest::parse(&bytes, &media_type)? {
        Parsed::Image(m) => validate_manifest(src, &m, &mut v)?,
        Parsed::Index(index) => {
            for child in &index.manifests {
                let (cb, ct) = read_manifest(src, Some(&child.digest))?;
                if cb.len() as u64 != child.size {
                    bail!(
                        "validate manifest {}: size {} differs from index entry {}",
                        child.digest,
                        cb.len(),
                        child.size
                    );
                }
                match manifest::parse(&cb, &ct)? {
                    Parsed::Image(m) => validate_manifest(src, &m, &mut v)
                        .with_context(|| format!("validate manifest {}", child.digest))?,
                    Parsed::Index(_) => bail!("validate manifest {}: nested index", child.digest),
                }
            }
        }
    }
    Ok(v)
}

fn validate_manifest(
    src: &dyn ImageSource,
    m: &manifest::Manifest,
    v: &mut Validation,
) -> Result<()> {
    let config_bytes = crate::inspect::read_config(src, &m.config)?;
    let config: serde_json::Value = serde_json::from_slice(&config_bytes)
        .with_context(|| format!("parse config {}", m.config.digest))?;
    for field in ["os", "architecture"] {
        if !config.get(field).is_some_and(|f| f.is_string()) {
            bail!("validate config {}: missing {field:?}", m.config.digest);
        }
    }
    let diff_ids: Vec<Digest> = serde_json::from_value(
        config
            .pointer("/rootfs/diff_ids")
            .cloned()
            .unwrap_or_default(),
    )
    .with_context(|| format!("parse rootfs.diff_ids of config {}", m.config.digest))?;
    if diff_ids.len() != m.layers.len() {
        bail!(
            "validate config {}: {} diff IDs for {} layers",
            m.config.digest,
            diff_ids.len(),
            m.layers.len()
        );
    }
    for (layer, diff_id) in m.layers.iter().zip(&diff_ids) {
        if check_layer(src, layer, diff_id)
            .with_context(|| format!("validate layer {}", layer.digest))?
        {
            v.layers += 1;
        }
    }
    v.images += 1;
    Ok(())
}

/// Stream one layer; returns whether its diff ID could be recomputed (not for foreign or
/// non-tar media types).
fn check_layer(src: &dyn ImageSource, layer: &Descriptor, diff_id: &Digest) -> Result<bool> {
    let mut blob = open_blob(src, layer)?;
    let Some(compression) = layer_compression(&layer.media_type) else {
        io::copy(&mut blob, &mut io::sink()).context("read layer")?;
        return Ok(false);
    };
    let mut hasher = Hasher::new(Algorithm::Sha256);
    let mut buf = vec![0u8; 256 * 1024];
    {
        let mut content: Box<dyn Read + '_> = match compression {
            Some(Compression::Gzip) => Box::new(flate2::read::MultiGzDecoder::new(&mut blob)),
            Some(Compression::Zstd) => Box::new(
                zstd::stream::read::Decoder::new(&mut blob).context("start zstd decompression")?,
            ),
            None => Box::new(&mut blob),
        };
        loop {
            let n = content.read(&mut buf).context("read layer")?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
    }
    // Drain to EOF so the verifying reader checks the compressed digest too.
    io::copy(&mut blob, &mut io::sink()).context("read layer")?;
    let actual = hasher.finish();
    if &actual != diff_id {
        bail!("uncompressed content has digest {actual}, config says {diff_id}");
    }
    Ok(true)
}
