//! The copy pipeline, generic over every source and destination (containers/image
//! `copy.Image`): read the manifest, pick the platform (or all with `--all`), copy each
//! blob the destination lacks (mount first, then stream through the verifying reader)
//! with bounded concurrency, then put the original manifest bytes and commit.

use crate::digest::Digest;
use crate::manifest::{self, Descriptor, Parsed};
use crate::transport::{open_blob, read_manifest, ImageDestination, ImageSource};
use anyhow::{anyhow, bail, Context, Result};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

#[derive(Clone, Debug)]
pub struct CopyOptions {
    /// Copy every manifest of an index instead of the host platform's.
    pub all: bool,
    /// Blobs copied at once.
    pub jobs: usize,
    /// Platform to choose from an index (`os`, `arch`); the host's by default.
    pub platform: Option<(String, String)>,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            all: false,
            jobs: 4,
            platform: None,
        }
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
    Ok(report)
}

/// Everything but the commit: callers that put several images into one destination
/// (`save`) commit once at the end.
pub fn copy_uncommitted(
    src: &dyn ImageSource,
    dst: &dyn ImageDestination,
    opts: &CopyOptions,
) -> Result<CopyReport> {
    let counters = Counters::default();
    let (bytes, media_type) = read_manifest(src, None)?;
    let digest = match manifest::parse(&bytes, &media_type)? {
        Parsed::Image(m) => {
            copy_blobs(src, dst, &m, opts, &counters)?;
            dst.put_manifest(&bytes, &media_type, false)?;
            Digest::of(&bytes)
        }
        Parsed::Index(index) if opts.all => {
            if !dst.supports_index() {
                bail!("copy index: destination cannot store manifest lists; drop --all");
            }
            for child in &index.manifests {
                copy_instance(src, dst, child, opts, &counters)?;
            }
            dst.put_manifest(&bytes, &media_type, false)?;
            Digest::of(&bytes)
        }
        Parsed::Index(index) => {
            let (host_os, host_arch) = manifest::host_platform();
            let (os, arch) = opts
                .platform
                .clone()
                .unwrap_or((host_os.to_string(), host_arch.to_string()));
            let child = manifest::choose_platform(&index, &os, &arch).ok_or_else(|| {
                anyhow!("choose manifest: no entry for platform {os}/{arch} in index")
            })?;
            let (child_bytes, child_type) = read_manifest(src, Some(&child.digest))?;
            let Parsed::Image(m) = manifest::parse(&child_bytes, &child_type)? else {
                bail!(
                    "copy manifest {}: nested index for one platform",
                    child.digest
                );
            };
            copy_blobs(src, dst, &m, opts, &counters)?;
            dst.put_manifest(&child_bytes, &child_type, false)?;
            child.digest.clone()
        }
    };
    Ok(CopyReport {
        manifest_digest: Some(digest),
        copied: counters.copied.into_inner(),
        skipped: counters.skipped.into_inner(),
        mounted: counters.mounted.into_inner(),
    })
}

fn copy_instance(
    src: &dyn ImageSource,
    dst: &dyn ImageDestination,
    child: &Descriptor,
    opts: &CopyOptions,
    c: &Counters,
) -> Result<()> {
    let (bytes, media_type) = read_manifest(src, Some(&child.digest))?;
    match manifest::parse(&bytes, &media_type)? {
        Parsed::Image(m) => copy_blobs(src, dst, &m, opts, c)?,
        Parsed::Index(_) => bail!(
            "copy manifest {}: nested indexes are not supported",
            child.digest
        ),
    }
    dst.put_manifest(&bytes, &media_type, true)
        .with_context(|| format!("write manifest {}", child.digest))
}

/// Copy config and layers, `opts.jobs` at a time; the first failure stops the rest.
fn copy_blobs(
    src: &dyn ImageSource,
    dst: &dyn ImageDestination,
    m: &manifest::Manifest,
    opts: &CopyOptions,
    c: &Counters,
) -> Result<()> {
    let mut blobs: Vec<&Descriptor> = Vec::with_capacity(m.layers.len() + 1);
    // Largest first: the long transfers start early and small ones fill the gaps.
    let mut layers: Vec<&Descriptor> = m.layers.iter().collect();
    layers.sort_by_key(|d| std::cmp::Reverse(d.size));
    for d in std::iter::once(&m.config).chain(layers) {
        if !blobs.iter().any(|b| b.digest == d.digest) {
            blobs.push(d);
        }
    }
    let queue = Mutex::new(blobs.into_iter());
    let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let workers = opts.jobs.clamp(1, 16);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                if failure.lock().unwrap_or_else(|e| e.into_inner()).is_some() {
                    return;
                }
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                let Some(desc) = next else { return };
                if let Err(e) = copy_blob(src, dst, desc, c) {
                    failure
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get_or_insert(e);
                    return;
                }
            });
        }
    });
    match failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn copy_blob(
    src: &dyn ImageSource,
    dst: &dyn ImageDestination,
    desc: &Descriptor,
    c: &Counters,
) -> Result<()> {
    let step = || format!("copy blob {}", desc.digest);
    if dst.has_blob(desc).with_context(step)? {
        c.skipped.fetch_add(1, Ordering::Relaxed);
        return Ok(());
    }
    if let Some(origin) = src.origin() {
        if dst.mount_blob(desc, &origin).with_context(step)? {
            c.mounted.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
    }
    let mut reader = open_blob(src, desc).with_context(step)?;
    dst.put_blob(desc, &mut reader).with_context(step)?;
    c.copied.fetch_add(1, Ordering::Relaxed);
    Ok(())
}
