//! `sync` (skopeo-sync(1)): copy whole repositories, whole registries (through the
//! catalog), the images a YAML file lists or a directory of `dir:` images to a registry or
//! to `dir:` directories, several images at once, skipping images whose destination
//! manifest already has the digest the copy would write.
//! The images of a run share their registry clients (one ping, token and connection pool
//! per repository) and the blob streams; tags copied at once into one repository copy a
//! layer they share once.
//!
//! `expand` decides what to copy, `yaml` reads skopeo's YAML file; this module runs the
//! copies.

mod expand;
mod yaml;

pub use expand::{Planned, PlannedSource, Version};
pub use yaml::YamlError;

use crate::copy::{copy_image, written_digest, BlobClaims, CopyOptions};
use crate::digest::Digest;
use crate::reference::ImageRef;
use crate::registry::{Clients, RegistryDestination, RegistryOptions, RegistrySource};
use crate::transport::dir::{DirDestination, DirSource};
use crate::transport::{ImageDestination, ImageSource};
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Images copied at once, at most.
const MAX_IMAGES: usize = 16;

#[derive(Clone, Debug)]
pub enum SyncSource {
    /// A repository (all tags) or one image, by tag or digest.
    Repository(ImageRef),
    /// A registry alone (`host[:port]`): every repository its catalog lists.
    Registry(String),
    /// skopeo's YAML file (see [`yaml`]).
    Yaml(PathBuf),
    /// A directory tree of `dir:` images.
    Dir(PathBuf),
}

impl SyncSource {
    /// What `--src docker SOURCE` names: a registry when SOURCE is a host alone
    /// (`127.0.0.1:5000`, `registry.example`, `localhost`), else a repository or image.
    pub fn docker(source: &str) -> Result<SyncSource> {
        let s = source.strip_prefix("docker://").unwrap_or(source);
        let s = s.trim_end_matches('/');
        let host_only =
            !s.contains('/') && (s.contains('.') || s.contains(':') || s == "localhost");
        if host_only {
            return Ok(SyncSource::Registry(s.to_string()));
        }
        Ok(SyncSource::Repository(s.parse()?))
    }
}

impl fmt::Display for SyncSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncSource::Repository(r) => write!(f, "docker://{r}"),
            SyncSource::Registry(d) => write!(f, "docker://{d}"),
            SyncSource::Yaml(p) => write!(f, "yaml:{}", p.display()),
            SyncSource::Dir(p) => write!(f, "dir:{}", p.display()),
        }
    }
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
    /// Find what would be copied, copy nothing (`--dry-run`).
    pub dry_run: bool,
    /// Go on after an image or repository fails (`--keep-going`); the failures are in the
    /// report.
    pub keep_going: bool,
}

#[derive(Debug, Default)]
pub struct SyncReport {
    pub copied: usize,
    pub skipped: usize,
    /// With `dry_run`: (source, destination) of each image a run would copy, sorted.
    pub would_copy: Vec<(String, String)>,
    /// With `keep_going`: what failed, each error naming its image or repository.
    pub failures: Vec<anyhow::Error>,
}

/// Where one image goes.
enum Target {
    Registry(ImageRef),
    Dir(PathBuf),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Registry(r) => write!(f, "docker://{r}"),
            Target::Dir(d) => write!(f, "dir:{}", d.display()),
        }
    }
}

enum Outcome {
    Copied,
    UpToDate,
    WouldCopy(String, String),
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

    fn target(&self, p: &Planned) -> Result<Target> {
        Ok(match self.dst {
            SyncDestination::Registry(prefix) => Target::Registry(
                format!("{prefix}/{}{}", p.name, p.version)
                    .parse()
                    .context("name destination")?,
            ),
            SyncDestination::Dir(base) => {
                Target::Dir(base.join(format!("{}{}", p.name, p.version)))
            }
        })
    }

    fn open_source(&self, p: &Planned) -> Result<Box<dyn ImageSource>> {
        Ok(match &p.source {
            PlannedSource::Registry { reference, opts } => Box::new(RegistrySource::with_clients(
                reference,
                opts,
                self.clients.clone(),
            )?),
            PlannedSource::Dir(d) => Box::new(DirSource::open(d)?),
        })
    }

    /// Copy one image unless its destination is up to date.
    fn sync_one(&self, p: &Planned) -> Result<Outcome> {
        let target = self.target(p)?;
        let src = self.open_source(p)?;
        let want = written_digest(src.as_ref(), &self.copy)?;
        if let Version::Digest(pinned) = &p.version {
            // Stored under the digest it was asked by, so what is written must be it.
            if want != *pinned {
                match self.copy.format {
                    Some(f) => bail!("{pinned}: converting it to {f} changes its digest, and a digest-pinned image is stored under its own"),
                    None => bail!("{pinned} is an index and one platform's manifest cannot be stored under the index's digest: add --all"),
                }
            }
        }
        let mut copy = self.copy.clone();
        let dest: Box<dyn ImageDestination> = match &target {
            Target::Registry(r) => {
                let dest =
                    RegistryDestination::with_clients(r, &self.opts.dest_registry, &self.clients)?;
                if dest.manifest_digest()? == Some(want) {
                    return Ok(Outcome::UpToDate);
                }
                if self.opts.dry_run {
                    return Ok(Outcome::WouldCopy(p.source.to_string(), target.to_string()));
                }
                copy.claims = Some(self.claims(&r.repository()));
                Box::new(dest)
            }
            Target::Dir(dir) => {
                if std::fs::read(dir.join("manifest.json")).is_ok_and(|b| Digest::of(&b) == want) {
                    return Ok(Outcome::UpToDate);
                }
                if self.opts.dry_run {
                    return Ok(Outcome::WouldCopy(p.source.to_string(), target.to_string()));
                }
                Box::new(DirDestination::create(dir)?)
            }
        };
        copy_image(src.as_ref(), dest.as_ref(), &copy)?;
        Ok(Outcome::Copied)
    }
}

/// Sync every image of `src` to `dst`. Without `keep_going` the first failure stops the
/// run (images already being copied finish) and is returned; with it, every image is tried
/// and the failures are in the report.
pub fn sync(src: &SyncSource, dst: &SyncDestination, opts: &SyncOptions) -> Result<SyncReport> {
    if let (SyncDestination::Dir(d), false) = (dst, opts.dry_run) {
        std::fs::create_dir_all(d).with_context(|| format!("create directory {d:?}"))?;
    }
    let clients = Arc::new(Clients::default());
    let found = expand::expand(src, opts, &clients)?;
    let images = found.images;
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
    let queue = Mutex::new(images.iter());
    let copied = AtomicUsize::new(0);
    let skipped = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let would_copy = Mutex::new(Vec::new());
    let failures = Mutex::new(found.failures);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                let Some(p) = next else { return };
                match run
                    .sync_one(p)
                    .with_context(|| format!("sync {}", p.source))
                {
                    Ok(Outcome::Copied) => {
                        copied.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Outcome::UpToDate) => {
                        skipped.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Outcome::WouldCopy(s, d)) => {
                        would_copy
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((s, d));
                    }
                    Err(e) => {
                        if !opts.keep_going {
                            stop.store(true, Ordering::Relaxed);
                        }
                        failures.lock().unwrap_or_else(|e| e.into_inner()).push(e);
                    }
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    if !opts.keep_going && !failures.is_empty() {
        return Err(failures.swap_remove(0));
    }
    let mut would_copy = would_copy.into_inner().unwrap_or_else(|e| e.into_inner());
    would_copy.sort();
    Ok(SyncReport {
        copied: copied.into_inner(),
        skipped: skipped.into_inner(),
        would_copy,
        failures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_source_is_a_registry_only_when_it_is_a_host_alone() {
        for s in [
            "127.0.0.1:5000",
            "docker://127.0.0.1:5000/",
            "registry.example",
            "localhost",
        ] {
            assert!(
                matches!(SyncSource::docker(s), Ok(SyncSource::Registry(_))),
                "{s}"
            );
        }
        for (s, want) in [
            ("127.0.0.1:5000/a/b", "127.0.0.1:5000/a/b"),
            ("busybox", "docker.io/library/busybox"),
            ("docker://registry.example/app:1", "registry.example/app"),
        ] {
            match SyncSource::docker(s) {
                Ok(SyncSource::Repository(r)) => assert_eq!(r.repository(), want),
                _ => panic!("{s}"),
            }
        }
        assert!(SyncSource::docker("Bad/Name").is_err());
    }
}
