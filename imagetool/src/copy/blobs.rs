//! Blob transfers of one image: config and layers, several at once, each skipped when the
//! destination has it, mounted when the registry can, else streamed through the verifying
//! reader (and recompressed first when planned), with a progress line per layer.

use super::convert::Plan;
use super::{CopyOptions, Counters};
use crate::digest::{Digest, Hasher};
use crate::manifest::{Descriptor, Manifest};
use crate::progress::Bar;
use crate::recompress;
use crate::transport::{backoff, open_blob, BlobInterrupted, ImageDestination, ImageSource};
use crate::verify::VerifyingReader;
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Mutex;

/// Copy config and layers, `opts.jobs` at a time; the first failure stops the rest.
/// Returns the new descriptors of recompressed layers, by old digest.
pub(super) fn copy_blobs(
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
                let _claim = opts.claims.as_ref().map(|c| c.hold(&desc.digest));
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

/// Whether a digest or size check failed somewhere in `e`'s chain.
fn is_invalid_data(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::InvalidData)
    })
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
        if let Some((offset, hasher)) = self.dst.resume_point(desc).with_context(step)? {
            match self.resume(desc, offset, hasher) {
                Ok(()) => return Ok(()),
                // The kept prefix did not verify (it is gone now): fetch the whole blob.
                Err(e) if is_invalid_data(&e) => {}
                Err(e) => return Err(e).with_context(step),
            }
        }
        let mut attempt = 0;
        loop {
            let mut reader = open_blob(self.src, desc).with_context(step)?;
            let e = match self.put(desc, &mut reader) {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            // The destination kept nothing of the blob: offer the whole stream again.
            match e.downcast_ref::<BlobInterrupted>() {
                Some(i) if attempt < self.dst.blob_retries() => {
                    std::thread::sleep(i.retry_after.unwrap_or_else(|| backoff(attempt)));
                    attempt += 1;
                }
                _ => return Err(e).with_context(step),
            }
        }
    }

    /// Continue an interrupted earlier run's download of `desc` from `offset`.
    fn resume(&self, desc: &Descriptor, offset: u64, hasher: Hasher) -> Result<()> {
        let raw = self.src.blob_raw_at(desc, offset)?;
        let mut reader =
            VerifyingReader::resume(raw, desc.digest.clone(), Some(desc.size), hasher, offset);
        match self.bar {
            Some(bar) => {
                bar.start();
                bar.advance(offset);
                self.dst
                    .put_blob_at(desc, offset, &mut bar.reader(&mut reader))?;
                bar.done();
            }
            None => self.dst.put_blob_at(desc, offset, &mut reader)?,
        }
        self.c.copied.fetch_add(1, Ordering::Relaxed);
        Ok(())
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
