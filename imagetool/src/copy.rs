//! The copy pipeline, generic over every source and destination (containers/image
//! `copy.Image`): read the manifest, pick the platform (or all with `--all`), copy each
//! blob the destination lacks (mount first, then stream through the verifying reader)
//! with bounded concurrency, then put the manifest and commit. The original manifest
//! bytes are kept unless `--dest-compress-format` recompresses layers, which makes a new
//! manifest (and a new index over such manifests) with the same config.

use crate::digest::Digest;
use crate::manifest::{self, Descriptor, Manifest, Parsed};
use crate::platform::PlatformSpec;
use crate::progress::{Bar, Progress};
use crate::recompress::{self, Compression};
use crate::transport::{open_blob, read_manifest, ImageDestination, ImageSource};
use crate::verify::VerifyingReader;
use anyhow::{anyhow, bail, Context, Result};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

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
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            all: false,
            jobs: 4,
            platform: None,
            compress: None,
            progress: None,
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
            let (b, mt) = rewrite_index(bytes, media_type, &index, new_index)?;
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

/// The index bytes to write: the original unless a child manifest changed.
fn rewrite_index(
    bytes: Vec<u8>,
    media_type: String,
    old: &manifest::Index,
    mut new: manifest::Index,
) -> Result<(Vec<u8>, String)> {
    let unchanged = old
        .manifests
        .iter()
        .zip(&new.manifests)
        .all(|(a, b)| a.digest == b.digest);
    if unchanged {
        return Ok((bytes, media_type));
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
        Some(to) => recompress_plan(src, &m, to)?,
        None => HashMap::new(),
    };
    let replaced = copy_blobs(src, dst, &m, &plan, opts, c)?;
    let to = match opts.compress {
        Some(to) if !replaced.is_empty() || recompress::needs_oci(&media_type, to) => to,
        _ => return Ok((bytes, media_type)),
    };
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

/// A layer to recompress: its current compression, the target and the config's diff ID.
#[derive(Clone)]
struct Plan {
    from: Option<Compression>,
    to: Compression,
    diff_id: Digest,
    media_type: &'static str,
}

/// Which layers need recompressing to `to`, with the diff IDs they must keep.
fn recompress_plan(
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

/// Copy config and layers, `opts.jobs` at a time; the first failure stops the rest.
/// Returns the new descriptors of recompressed layers, by old digest.
fn copy_blobs(
    src: &dyn ImageSource,
    dst: &dyn ImageDestination,
    m: &Manifest,
    plan: &HashMap<Digest, Plan>,
    opts: &CopyOptions,
    c: &Counters,
) -> Result<HashMap<Digest, Descriptor>> {
    let mut blobs: Vec<(&Descriptor, Option<Bar>)> = Vec::with_capacity(m.layers.len() + 1);
    // Largest first: the long transfers start early and small ones fill the gaps. Lines
    // are added in manifest order, as docker shows them; the config gets none.
    let mut layers: Vec<&Descriptor> = m.layers.iter().collect();
    let bars: HashMap<&Digest, Bar> = match &opts.progress {
        Some(p) => layers
            .iter()
            .map(|d| (&d.digest, p.add(&d.digest, d.size)))
            .collect(),
        None => HashMap::new(),
    };
    let mut bars = bars;
    layers.sort_by_key(|d| std::cmp::Reverse(d.size));
    for d in std::iter::once(&m.config).chain(layers) {
        if !blobs.iter().any(|(b, _)| b.digest == d.digest) {
            blobs.push((d, bars.remove(&d.digest)));
        }
    }
    let scratch = if plan.is_empty() {
        None
    } else {
        Some(crate::fsutil::TempDir::new(".skiff-recompress-")?)
    };
    let queue = Mutex::new(blobs.into_iter());
    let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let replaced: Mutex<HashMap<Digest, Descriptor>> = Mutex::new(HashMap::new());
    let workers = opts.jobs.clamp(1, 16);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                if failure.lock().unwrap_or_else(|e| e.into_inner()).is_some() {
                    return;
                }
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                let Some((desc, bar)) = next else { return };
                let job = Job {
                    src,
                    dst,
                    bar: bar.as_ref(),
                    c,
                };
                let result = match (plan.get(&desc.digest), &scratch) {
                    (Some(p), Some(dir)) => job.recompressed(desc, p, dir.path()).map(|new| {
                        replaced
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(desc.digest.clone(), new);
                    }),
                    _ => job.copy(desc),
                };
                if let Err(e) = result {
                    if let Some(b) = &bar {
                        b.failed();
                    }
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
        None => Ok(replaced.into_inner().unwrap_or_else(|e| e.into_inner())),
    }
}

/// One blob's copy, with its progress line when there is one.
struct Job<'a> {
    src: &'a dyn ImageSource,
    dst: &'a dyn ImageDestination,
    bar: Option<&'a Bar>,
    c: &'a Counters,
}

impl Job<'_> {
    fn show(&self, f: impl FnOnce(&Bar)) {
        if let Some(b) = self.bar {
            f(b);
        }
    }

    fn copy(&self, desc: &Descriptor) -> Result<()> {
        let step = || format!("copy blob {}", desc.digest);
        if self.dst.has_blob(desc).with_context(step)? {
            self.c.skipped.fetch_add(1, Ordering::Relaxed);
            self.show(|b| b.exists());
            return Ok(());
        }
        if let Some(origin) = self.src.origin() {
            if self.dst.mount_blob(desc, &origin).with_context(step)? {
                self.c.mounted.fetch_add(1, Ordering::Relaxed);
                self.show(|b| b.mounted(&origin.path));
                return Ok(());
            }
        }
        let mut reader = open_blob(self.src, desc).with_context(step)?;
        self.put(desc, &mut reader).with_context(step)
    }

    fn put(&self, desc: &Descriptor, reader: &mut dyn std::io::Read) -> Result<()> {
        match self.bar {
            Some(bar) => {
                bar.start();
                self.dst.put_blob(desc, &mut bar.reader(reader))?;
                bar.done();
            }
            None => self.dst.put_blob(desc, reader)?,
        }
        self.c.copied.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Decompress and compress again into `dir`, check the diff ID, then put the result.
    fn recompressed(
        &self,
        desc: &Descriptor,
        p: &Plan,
        dir: &std::path::Path,
    ) -> Result<Descriptor> {
        let step = || format!("recompress layer {}", desc.digest);
        let out = dir.join(desc.digest.hex());
        let r = {
            let mut reader = open_blob(self.src, desc).with_context(step)?;
            match self.bar {
                Some(bar) => {
                    bar.compressing();
                    recompress::recompress(&mut bar.reader(&mut reader), p.from, p.to, &out)
                }
                None => recompress::recompress(&mut reader, p.from, p.to, &out),
            }
            .with_context(step)?
        };
        if r.diff_id != p.diff_id {
            let _ = std::fs::remove_file(&out);
            bail!(
                "{}: uncompressed content has digest {}, config says {}",
                step(),
                r.diff_id,
                p.diff_id
            );
        }
        let new = Descriptor {
            media_type: p.media_type.to_string(),
            digest: r.digest.clone(),
            size: r.size,
            urls: None,
            annotations: desc.annotations.clone(),
            platform: None,
        };
        self.show(|b| b.set_total(r.size));
        let result = (|| {
            let what = || format!("copy blob {} (recompressed {})", new.digest, desc.digest);
            if self.dst.has_blob(&new).with_context(what)? {
                self.c.skipped.fetch_add(1, Ordering::Relaxed);
                self.show(|b| b.exists());
                return Ok(());
            }
            let file = std::fs::File::open(&out).with_context(|| format!("open {out:?}"))?;
            let mut reader = VerifyingReader::new(file, new.digest.clone(), Some(new.size));
            self.put(&new, &mut reader).with_context(what)
        })();
        let _ = std::fs::remove_file(&out);
        result.map(|()| new)
    }
}
