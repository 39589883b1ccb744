//! `sync`: copy whole repositories (every tag, or the tags a YAML file lists) from a
//! registry to a registry or to `dir:` directories, several images at once, skipping images
//! whose destination manifest already has the digest the copy would write (skopeo `sync`).
//! The images of a run share their registry clients (one ping, token and connection pool
//! per repository) and the blob streams; tags copied at once into one repository copy a
//! layer they share once.

mod expand;
mod yaml;

use crate::copy::{copy_image, BlobClaims, CopyOptions};
use crate::digest::Digest;
use crate::manifest::{self, Parsed};
use crate::reference::ImageRef;
use crate::registry::{Clients, RegistryDestination, RegistryOptions, RegistrySource};
use crate::transport::{dir::DirDestination, read_manifest, ImageDestination};
use anyhow::{anyhow, Context, Result};
use expand::{expand, target_name};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Images copied at once, at most.
const MAX_IMAGES: usize = 16;

#[derive(Clone, Debug)]
pub enum SyncSource {
    /// A repository (all tags) or one tagged image.
    Registry(ImageRef),
    /// skopeo's YAML: `REGISTRY: {images: {REPO: [TAGS]}, tls-verify, credentials}`.
    Yaml(PathBuf),
}

#[derive(Clone, Debug)]
pub enum SyncDestination {
    /// `domain/namespace` under which each repository's base name is created.
    Registry(String),
    Dir(PathBuf),
}

#[derive(Clone, Debug, Default)]
pub struct SyncOptions {
    pub src_registry: RegistryOptions,
    pub dest_registry: RegistryOptions,
    /// `copy.jobs` is the number of blob streams of the whole run, shared out among the
    /// images copied at once (each gets at least two).
    pub copy: CopyOptions,
    /// Images copied at once.
    pub jobs: usize,
    /// Keep the full source path (`--scoped`) instead of the repository's base name.
    pub scoped: bool,
}

#[derive(Debug, Default)]
pub struct SyncReport {
    pub copied: usize,
    pub skipped: usize,
}

/// Digest of the manifest a copy of `src` would write (the platform's when not `--all`).
fn written_digest(src: &RegistrySource, copy: &CopyOptions) -> Result<Digest> {
    let (bytes, mt) = read_manifest(src, None)?;
    match manifest::parse(&bytes, &mt)? {
        Parsed::Index(i) if !copy.all => {
            let want = copy.platform_or_host();
            Ok(want
                .choose(&i)
                .ok_or_else(|| anyhow!("choose manifest: no entry for platform {want} in index"))?
                .digest
                .clone())
        }
        _ => Ok(Digest::of(&bytes)),
    }
}

/// What the images of one run share.
struct Run<'a> {
    dst: &'a SyncDestination,
    opts: &'a SyncOptions,
    /// The copy options of each image (blob jobs shared out).
    copy: CopyOptions,
    clients: Arc<Clients>,
    /// By destination repository.
    claims: Mutex<HashMap<String, Arc<BlobClaims>>>,
}

impl Run<'_> {
    fn claims(&self, repo: &str) -> Arc<BlobClaims> {
        let mut all = self.claims.lock().unwrap_or_else(|e| e.into_inner());
        all.entry(repo.to_string()).or_default().clone()
    }

    /// Copy one image unless its destination is up to date; whether it copied.
    fn sync_one(&self, src_ref: &ImageRef, ro: &RegistryOptions) -> Result<bool> {
        let src = RegistrySource::with_clients(src_ref, ro, self.clients.clone())?;
        let tag = src_ref.tag_or_latest().unwrap_or("latest");
        let name = target_name(src_ref, self.opts.scoped);
        let want = written_digest(&src, &self.copy)?;
        let mut copy = self.copy.clone();
        let dest: Box<dyn ImageDestination> = match self.dst {
            SyncDestination::Registry(prefix) => {
                let r: ImageRef = format!("{prefix}/{name}:{tag}").parse()?;
                let dest =
                    RegistryDestination::with_clients(&r, &self.opts.dest_registry, &self.clients)?;
                if dest.manifest_digest()? == Some(want) {
                    return Ok(false);
                }
                copy.claims = Some(self.claims(&r.repository()));
                Box::new(dest)
            }
            SyncDestination::Dir(base) => {
                let dir = base.join(format!("{name}:{tag}"));
                if std::fs::read(dir.join("manifest.json")).is_ok_and(|b| Digest::of(&b) == want) {
                    return Ok(false);
                }
                Box::new(DirDestination::create(&dir)?)
            }
        };
        copy_image(&src, dest.as_ref(), &copy)?;
        Ok(true)
    }
}

/// Sync every image of `src` to `dst`; the first failure is returned after the others end.
pub fn sync(src: &SyncSource, dst: &SyncDestination, opts: &SyncOptions) -> Result<SyncReport> {
    if let SyncDestination::Dir(d) = dst {
        std::fs::create_dir_all(d).with_context(|| format!("create directory {d:?}"))?;
    }
    let clients = Arc::new(Clients::default());
    let images = expand(src, opts, &clients)?;
    let workers = opts.jobs.clamp(1, MAX_IMAGES).min(images.len().max(1));
    let mut copy = opts.copy.clone();
    // One image alone gets every blob stream; several share them.
    copy.jobs = (opts.copy.jobs / workers).max(2);
    let run = Run {
        dst,
        opts,
        copy,
        clients,
        claims: Mutex::default(),
    };
    let queue = Mutex::new(images.into_iter());
    let copied = AtomicUsize::new(0);
    let skipped = AtomicUsize::new(0);
    let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                let Some((r, ro)) = next else { return };
                match run.sync_one(&r, &ro).with_context(|| format!("sync {r}")) {
                    Ok(true) => copied.fetch_add(1, Ordering::Relaxed),
                    Ok(false) => skipped.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        failure
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .get_or_insert(e);
                        return;
                    }
                };
            });
        }
    });
    if let Some(e) = failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    Ok(SyncReport {
        copied: copied.into_inner(),
        skipped: skipped.into_inner(),
    })
}
