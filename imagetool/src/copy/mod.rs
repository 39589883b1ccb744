//! The copy pipeline, generic over every source and destination (containers/image
//! `copy.Image`): read the manifest, pick the platform (or all with `--all`), copy each
//! blob the destination lacks (mount first, then stream through the verifying reader)
//! with bounded concurrency, then put the manifest and commit. The original manifest
//! bytes are kept unless `--dest-compress-format` recompresses layers or `--format` asks
//! for another manifest type, which makes a new manifest (and a new index over such
//! manifests) with the same config.

mod blobs;
mod claims;
mod convert;
mod format;

pub use claims::BlobClaims;
pub use format::ManifestFormat;

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
    /// The manifest type to write (`--format`); the source's when `None`.
    pub format: Option<ManifestFormat>,
    /// Fail rather than write a manifest whose digest differs from the source's.
    pub preserve_digests: bool,
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
            format: None,
            preserve_digests: false,
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
            let original = Digest::of(&bytes);
            let (b, mt) =
                convert::rewrite_index(bytes, media_type, &index, new_index, opts.format)?;
            check_preserved(opts, &original, &b)?;
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

/// Digest of the top manifest a copy of `src` with `opts` writes, recompression aside: the
/// platform's manifest when an index is copied without `--all`, converted with `--format`.
/// `sync` compares it with the destination's to skip what is up to date.
pub fn written_digest(src: &dyn ImageSource, opts: &CopyOptions) -> Result<Digest> {
    let (bytes, media_type) = read_manifest(src, None)?;
    let converted = |b: Vec<u8>, t: String| match opts.format {
        Some(f) => format::convert_manifest(b, t, f),
        None => Ok((b, t)),
    };
    match manifest::parse(&bytes, &media_type)? {
        Parsed::Image(_) => Ok(Digest::of(&converted(bytes, media_type)?.0)),
        Parsed::Index(_) if opts.all && opts.format.is_none() => Ok(Digest::of(&bytes)),
        Parsed::Index(index) if opts.all => {
            let mut new_index = index.clone();
            for child in new_index.manifests.iter_mut() {
                let (cb, ct, _) = read_child(src, child)?;
                let (nb, nt) = converted(cb, ct)?;
                child.digest = Digest::of(&nb);
                child.size = nb.len() as u64;
                child.media_type = nt;
            }
            let (b, _) = convert::rewrite_index(bytes, media_type, &index, new_index, opts.format)?;
            Ok(Digest::of(&b))
        }
        Parsed::Index(index) => {
            let want = opts.platform_or_host();
            let child = want
                .choose(&index)
                .ok_or_else(|| anyhow!("choose manifest: no entry for platform {want} in index"))?;
            if opts.format.is_none() {
                return Ok(child.digest.clone());
            }
            let (cb, ct, _) = read_child(src, child)?;
            Ok(Digest::of(&converted(cb, ct)?.0))
        }
    }
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
    let original = Digest::of(&bytes);
    // Converted before any blob moves, so a manifest the format cannot express, or a
    // conversion --preserve-digests forbids, fails the copy with nothing written.
    if let Some(f) = opts.format {
        let (converted, _) = format::convert_manifest(bytes.clone(), media_type.clone(), f)?;
        check_preserved(opts, &original, &converted)?;
    }
    let replaced = blobs::copy_blobs(src, dst, &m, &plan, opts, c)?;
    let (bytes, media_type) = match opts.compress {
        Some(to) => convert::rewrite_manifest(bytes, media_type, m, &replaced, to)?,
        None => (bytes, media_type),
    };
    let (bytes, media_type) = match opts.format {
        Some(f) => format::convert_manifest(bytes, media_type, f)?,
        None => (bytes, media_type),
    };
    check_preserved(opts, &original, &bytes)?;
    Ok((bytes, media_type))
}

/// `--preserve-digests`: the manifest written must be the source's, byte for byte.
fn check_preserved(opts: &CopyOptions, original: &Digest, written: &[u8]) -> Result<()> {
    if opts.preserve_digests && Digest::of(written) != *original {
        bail!(
            "copy manifest {original}: converting it{} changes its digest, which --preserve-digests forbids",
            opts.format.map(|f| format!(" to {f}")).unwrap_or_default()
        );
    }
    Ok(())
}
