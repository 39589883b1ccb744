//! The copy pipeline, generic over every source and destination (containers/image
//! `copy.Image`): read the manifest, pick the platform (or all with `--all`), copy each
//! blob the destination lacks (mount first, then stream through the verifying reader)
//! with bounded concurrency, then put the manifest and commit. The original manifest
//! bytes are kept unless `--dest-compress-format` recompresses layers, which makes a new
//! manifest (and a new index over such manifests) with the same config.

mod blobs;
mod claims;
mod convert;

pub use claims::BlobClaims;

use crate::digest::Digest;
use crate::manifest::{self, Descriptor, Manifest, Parsed};
use crate::platform::PlatformSpec;
use crate::progress::Progress;
use crate::recompress::Compression;
use crate::transport::{read_manifest, ImageDestination, ImageSource};
use anyhow::{anyhow, bail, Context, Result};
use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct CopyOptions {
    /// Copy every manifest of an index instead of one platform's.
    pub all: bool,
    /// Blobs copied at once.
    pub jobs: usize,
    /// Platform to choose from an index; the host's by default.
    pub platform: Option<PlatformSpec>,
    /// Recompress layers to this format (`--dest-compress-format`).
    pub compress: Option<Compression>,
    /// Per-blob progress lines (terminals only).
    pub progress: Option<Arc<Progress>>,
    /// Shared with the other copies into the same repository running at the same time, so
    /// a blob they share is copied once.
    pub claims: Option<Arc<BlobClaims>>,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            all: false,
            jobs: 4,
            platform: None,
            compress: None,
            progress: None,
            claims: None,
        }
    }
}

impl CopyOptions {
    /// The platform asked for, or the host's.
    pub fn platform_or_host(&self) -> PlatformSpec {
        self.platform.clone().unwrap_or_else(PlatformSpec::host)
    }
}

#[derive(Debug, Default)]
pub struct CopyReport {
    /// Digest of the top-level manifest written.
    pub manifest_digest: Option<Digest>,
    pub copied: usize,
    pub skipped: usize,
    pub mounted: usize,
}

#[derive(Default)]
struct Counters {
    copied: AtomicUsize,
    skipped: AtomicUsize,
    mounted: AtomicUsize,
}

/// Copy the image of `src` into `dst` and commit it.
pub fn copy_image(
    src: &dyn ImageSource,
    dst: &dyn ImageDestination,
    opts: &CopyOptions,
) -> Result<CopyReport> {
    let report = copy_uncommitted(src, dst, opts)?;
    dst.commit().context("commit image")?;
    if let Some(p) = &opts.progress {
        p.finish();
    }
    Ok(report)
}

/// Everything but the commit: callers that put several images into one destination
/// (`save`) commit once at the end.
pub fn copy_uncommitted(
    src: &dyn ImageSource,
    dst: &dyn ImageDestination,
    opts: &CopyOptions,
) -> Result<CopyReport> {
    let c = Counters::default();
    let (bytes, media_type) = read_manifest(src, None)?;
    let digest = match manifest::parse(&bytes, &media_type)? {
        Parsed::Image(m) => {
            let (b, mt) = copy_instance(src, dst, bytes, media_type, *m, opts, &c)?;
            dst.put_manifest(&b, &mt, false)?;
            Digest::of(&b)
        }
        Parsed::Index(index) if opts.all => {
            if !dst.supports_index() {
                bail!("copy index: destination cannot store manifest lists; drop --all");
            }
            let mut new_index = index.clone();
            for child in new_index.manifests.iter_mut() {
                let (cb, ct, m) = read_child(src, child)?;
                let (nb, nt) = copy_instance(src, dst, cb, ct, m, opts, &c)?;
                dst.put_manifest(&nb, &nt, true)
                    .with_context(|| format!("write manifest {}", child.digest))?;
                child.digest = Digest::of(&nb);
                child.size = nb.len() as u64;
                child.media_type = nt;
            }
            let (b, mt) = convert::rewrite_index(bytes, media_type, &index, new_index)?;
            dst.put_manifest(&b, &mt, false)?;
            Digest::of(&b)
        }
        Parsed::Index(index) => {
            let want = opts.platform_or_host();
            let child = want
                .choose(&index)
                .ok_or_else(|| anyhow!("choose manifest: no entry for platform {want} in index"))?;
            let (cb, ct, m) = read_child(src, child)?;
            let (b, mt) = copy_instance(src, dst, cb, ct, m, opts, &c)?;
            dst.put_manifest(&b, &mt, false)?;
            Digest::of(&b)
        }
    };
    Ok(CopyReport {
        manifest_digest: Some(digest),
        copied: c.copied.into_inner(),
        skipped: c.skipped.into_inner(),
        mounted: c.mounted.into_inner(),
    })
}

fn read_child(src: &dyn ImageSource, child: &Descriptor) -> Result<(Vec<u8>, String, Manifest)> {
    let (bytes, media_type) = read_manifest(src, Some(&child.digest))?;
    match manifest::parse(&bytes, &media_type)? {
        Parsed::Image(m) => Ok((bytes, media_type, *m)),
        Parsed::Index(_) => bail!(
            "copy manifest {}: nested indexes are not supported",
            child.digest
        ),
    }
}

/// Copy one image's blobs; returns the manifest to write (the original bytes, or a new
/// manifest naming recompressed layers).
fn copy_instance(
    src: &dyn ImageSource,
    dst: &dyn ImageDestination,
    bytes: Vec<u8>,
    media_type: String,
    m: Manifest,
    opts: &CopyOptions,
    c: &Counters,
) -> Result<(Vec<u8>, String)> {
    let plan = match opts.compress {
        Some(to) => convert::recompress_plan(src, &m, to)?,
        None => HashMap::new(),
    };
    let replaced = blobs::copy_blobs(src, dst, &m, &plan, opts, c)?;
    match opts.compress {
        Some(to) => convert::rewrite_manifest(bytes, media_type, m, &replaced, to),
        None => Ok((bytes, media_type)),
    }
}
