//! Layer recompression for `copy --dest-compress-format gzip|zstd` (containers/image
//! `copy/compression.go`): the source blob is decompressed and compressed again in one
//! streaming pass into a temp file, hashing the compressed output (the new blob digest)
//! and the uncompressed tar (the diff ID) on the way. The diff ID must equal the config's
//! `rootfs.diff_ids` entry, so a recompressed image keeps its config and image ID; only
//! the manifest changes (image-spec `layer.md`, "Distributable Format").

use crate::digest::{Digest, HashingWriter};
use crate::manifest;
use anyhow::{bail, Context, Result};
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
}

impl FromStr for Compression {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Compression> {
        match s {
            "gzip" => Ok(Compression::Gzip),
            "zstd" => Ok(Compression::Zstd),
            other => bail!("parse compression format {other:?}: expected gzip or zstd"),
        }
    }
}

/// How a layer media type is compressed: `Some(None)` plain tar, `Some(Some(c))`
/// compressed, `None` not a layer skiff-image may recompress (foreign, non-tar).
pub fn layer_compression(media_type: &str) -> Option<Option<Compression>> {
    match media_type {
        manifest::OCI_LAYER | manifest::DOCKER_LAYER => Some(None),
        manifest::OCI_LAYER_GZIP | manifest::DOCKER_LAYER_GZIP => Some(Some(Compression::Gzip)),
        manifest::OCI_LAYER_ZSTD => Some(Some(Compression::Zstd)),
        _ => None,
    }
}

/// The layer media type for `to` in a manifest of `manifest_type` (Docker v2s2 has no
/// zstd type: such manifests are converted to OCI first, see [`needs_oci`]).
pub fn layer_media_type(manifest_type: &str, to: Compression) -> &'static str {
    match (manifest_type == manifest::DOCKER_MANIFEST, to) {
        (true, Compression::Gzip) => manifest::DOCKER_LAYER_GZIP,
        (false, Compression::Gzip) => manifest::OCI_LAYER_GZIP,
        (_, Compression::Zstd) => manifest::OCI_LAYER_ZSTD,
    }
}

/// Whether a manifest of this type must become an OCI manifest to carry `to` layers.
pub fn needs_oci(manifest_type: &str, to: Compression) -> bool {
    manifest_type == manifest::DOCKER_MANIFEST && to == Compression::Zstd
}

/// The OCI equivalent of a Docker v2s2 media type inside a manifest being converted.
pub fn oci_media_type(docker: &str) -> Result<&'static str> {
    Ok(match docker {
        manifest::DOCKER_CONFIG | manifest::OCI_CONFIG => manifest::OCI_CONFIG,
        manifest::DOCKER_LAYER | manifest::OCI_LAYER => manifest::OCI_LAYER,
        manifest::DOCKER_LAYER_GZIP | manifest::OCI_LAYER_GZIP => manifest::OCI_LAYER_GZIP,
        manifest::OCI_LAYER_ZSTD => manifest::OCI_LAYER_ZSTD,
        other => bail!("convert media type {other:?} to OCI: no equivalent"),
    })
}

/// The result of one recompression.
#[derive(Debug, Clone)]
pub struct Recompressed {
    pub digest: Digest,
    pub size: u64,
    pub diff_id: Digest,
}

/// Decompress `input` (compressed as `from`), compress it as `to` into `out`.
pub fn recompress(
    input: &mut dyn Read,
    from: Option<Compression>,
    to: Compression,
    out: &Path,
) -> Result<Recompressed> {
    let file = File::create(out).with_context(|| format!("create {out:?}"))?;
    let mut blob = HashingWriter::new(BufWriter::with_capacity(256 * 1024, file));
    let mut tar: Box<dyn Read + '_> = match from {
        None => Box::new(input),
        Some(Compression::Gzip) => Box::new(flate2::read::MultiGzDecoder::new(input)),
        Some(Compression::Zstd) => {
            Box::new(zstd::stream::read::Decoder::new(input).context("start zstd decompression")?)
        }
    };
    let diff_id = {
        let mut encoder: Box<dyn FinishWrite + '_> = match to {
            Compression::Gzip => Box::new(flate2::write::GzEncoder::new(
                &mut blob,
                flate2::Compression::fast(),
            )),
            Compression::Zstd => Box::new(
                zstd::stream::write::Encoder::new(&mut blob, 3)
                    .context("start zstd compression")?,
            ),
        };
        let mut tar_hash = HashingWriter::new(&mut encoder);
        crate::fsutil::copy_stream(&mut tar, &mut tar_hash).context("recompress layer")?;
        let (_, diff_id, _) = tar_hash.finish();
        encoder
            .finish_stream()
            .context("finish compressed stream")?;
        diff_id
    };
    // Drain to EOF: the input may be a verifying reader that gives its verdict only there.
    io::copy(&mut tar, &mut io::sink()).context("read layer")?;
    drop(tar);
    let (mut file, digest, size) = blob.finish();
    file.flush().with_context(|| format!("write {out:?}"))?;
    Ok(Recompressed {
        digest,
        size,
        diff_id,
    })
}

/// Encoders end their stream differently; one call for both.
trait FinishWrite: Write {
    fn finish_stream(&mut self) -> io::Result<()>;
}

impl<W: Write> FinishWrite for flate2::write::GzEncoder<W> {
    fn finish_stream(&mut self) -> io::Result<()> {
        self.try_finish()
    }
}

impl<W: Write> FinishWrite for zstd::stream::write::Encoder<'_, W> {
    fn finish_stream(&mut self) -> io::Result<()> {
        self.do_finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_keep_the_diff_id() {
        let tmp = crate::fsutil::TempDir::new("recompress-").unwrap();
        let tar: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let want = Digest::of(&tar);
        let z = tmp.path().join("z");
        let r = recompress(&mut &tar[..], None, Compression::Zstd, &z).unwrap();
        assert_eq!(r.diff_id, want);
        let zbytes = std::fs::read(&z).unwrap();
        assert_eq!(Digest::of(&zbytes), r.digest);
        assert_eq!(zbytes.len() as u64, r.size);
        assert_eq!(&zbytes[..4], &[0x28, 0xb5, 0x2f, 0xfd], "zstd magic");
        let g = tmp.path().join("g");
        let r2 = recompress(
            &mut &zbytes[..],
            Some(Compression::Zstd),
            Compression::Gzip,
            &g,
        )
        .unwrap();
        assert_eq!(r2.diff_id, want);
        let gbytes = std::fs::read(&g).unwrap();
        assert_eq!(&gbytes[..2], &[0x1f, 0x8b], "gzip magic");
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gbytes[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, tar);
        // Corrupt input fails instead of producing a blob.
        let bad = recompress(
            &mut &b"not zstd"[..],
            Some(Compression::Zstd),
            Compression::Gzip,
            &g,
        );
        assert!(bad.is_err());
    }
}
