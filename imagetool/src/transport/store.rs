//! The local store at `--root` (default `/var/lib/skiff`, `$SKIFF_ROOT`): `oci/` is a plain
//! OCI image layout whose index.json names images by their full normalised reference
//! (`org.opencontainers.image.ref.name` = `docker.io/library/busybox:latest`), `tmp/` holds
//! in-flight writes (`tmp/ingest/` the resumable prefixes of large blobs), `lock`
//! serialises index.json updates. `layers/` belongs to unpack.

use super::layout::{self, Layout};
use super::oci::{LayoutWriter, OciSource};
use crate::digest::Digest;
use crate::fsutil;
use crate::lock;
use crate::manifest::{self, Descriptor, Parsed};
use crate::reference::ImageRef;
use anyhow::{anyhow, bail, Context, Result};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

pub const DEFAULT_ROOT: &str = "/var/lib/skiff";

/// The store root when neither `--root` nor `$SKIFF_ROOT` is given: `/var/lib/skiff` for
/// root, `$XDG_DATA_HOME/skiff` (default `~/.local/share/skiff`) for other users.
pub fn default_root() -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from(DEFAULT_ROOT);
    }
    match (std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME")) {
        (Some(x), _) if !x.is_empty() => PathBuf::from(x).join("skiff"),
        (_, Some(h)) => PathBuf::from(h).join(".local/share/skiff"),
        _ => PathBuf::from(DEFAULT_ROOT),
    }
}

pub struct Store {
    root: PathBuf,
    layout: Layout,
}

/// One named image in the store.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StoreImage {
    pub name: String,
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
}

impl Store {
    /// Open (creating if needed) the store and remove debris of dead processes from `tmp/`.
    pub fn open(root: &Path) -> Result<Store> {
        let layout = Layout::create(&root.join("oci"))?;
        let tmp = root.join("tmp");
        fs::create_dir_all(&tmp).with_context(|| format!("create directory {tmp:?}"))?;
        fsutil::remove_debris(&tmp, "");
        // index.json is replaced through a temp file beside it.
        fsutil::remove_debris(layout.dir(), ".tmp-");
        Ok(Store {
            root: root.to_path_buf(),
            layout,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    fn lock_path(&self) -> PathBuf {
        self.root.join("lock")
    }

    /// The index entry for `name`: a reference (normalised) or an image digest / ID prefix.
    /// A short name that `pull` resolved through registries.conf is stored under the
    /// registry that served it, so the same short name finds it here too.
    pub fn find(&self, name: &str) -> Result<Descriptor> {
        let key = store_key(name)?;
        if let Ok(d) = self.layout.find(Some(&key)) {
            return Ok(d);
        }
        if key != name && crate::reference::is_short_name(name) {
            let opts = crate::registry::RegistryOptions::default();
            let candidates =
                crate::registry::search::pull_candidates(name, &opts).unwrap_or_default();
            for c in candidates {
                if let Ok(d) = self.layout.find(Some(&c.to_string())) {
                    return Ok(d);
                }
            }
        }
        Err(anyhow!(
            "find image {name:?} in store {:?}: no such image",
            self.root
        ))
    }

    pub fn source(&self, name: &str) -> Result<OciSource> {
        Ok(OciSource::from_parts(self.layout.clone(), self.find(name)?))
    }

    pub fn destination(&self, name: &ImageRef) -> Result<LayoutWriter> {
        let ingests = super::ingest::Ingests::open(&self.root.join("tmp/ingest"))?;
        Ok(LayoutWriter::new(
            self.layout.clone(),
            &self.root.join("tmp"),
            Some(&name.to_string()),
            Some(self.lock_path()),
        )?
        .with_ingests(ingests))
    }

    pub fn images(&self) -> Result<Vec<StoreImage>> {
        let index = self.layout.read_index()?;
        Ok(index
            .manifests
            .iter()
            .map(|d| StoreImage {
                name: d.ref_name().unwrap_or("").to_string(),
                digest: d.digest.clone(),
                media_type: d.media_type.clone(),
                size: d.size,
            })
            .collect())
    }

    /// Give the image `source` the additional name `target`; a new index entry, same manifest.
    pub fn tag(&self, source: &str, target: &ImageRef) -> Result<()> {
        let _g = lock::lock_exclusive(&self.lock_path())?;
        let mut desc = self.find(source)?;
        let name = target.to_string();
        desc.annotations
            .insert(manifest::REF_NAME.to_string(), name.clone());
        let mut index = self.layout.read_index()?;
        layout::set_ref(&mut index, desc, Some(&name));
        self.layout.write_index(&index)
    }

    /// Remove a name, or by image ID every name of the image, which takes `force` when it
    /// has several (docker: "image is referenced in multiple repositories"). Blobs no
    /// other name reaches are deleted. Returns the names removed.
    pub fn remove(&self, name: &str, force: bool) -> Result<Vec<String>> {
        let _g = lock::lock_exclusive(&self.lock_path())?;
        let desc = self.find(name)?;
        let mut index = self.layout.read_index()?;
        // By name (also a short name resolved through registries.conf) only that name.
        let hex = name.strip_prefix("sha256:").unwrap_or(name);
        let by_id = store_key(name)? == name && hex.bytes().all(|b| b.is_ascii_hexdigit());
        let gone = |d: &Descriptor| match desc.ref_name() {
            Some(n) if !by_id => d.ref_name() == Some(n),
            _ => d.digest == desc.digest,
        };
        let names: Vec<String> = index
            .manifests
            .iter()
            .filter(|d| gone(d))
            .map(|d| d.ref_name().unwrap_or(name).to_string())
            .collect();
        if names.is_empty() {
            bail!("remove image {name:?}: no such image");
        }
        if names.len() > 1 && !force {
            bail!(
                "remove image {name:?}: it has {} names ({}); name one, or force with -f",
                names.len(),
                names.join(", ")
            );
        }
        index.manifests.retain(|d| !gone(d));
        self.layout.write_index(&index)?;
        self.collect_garbage(&index)?;
        Ok(names)
    }

    /// Delete blobs not reachable from index.json. Caller holds the lock.
    fn collect_garbage(&self, index: &manifest::Index) -> Result<()> {
        let mut live = BTreeSet::new();
        for d in &index.manifests {
            self.mark(&d.digest, &d.media_type, &mut live)?;
        }
        let dir = self.layout.dir().join("blobs/sha256");
        let entries = fs::read_dir(&dir).with_context(|| format!("read directory {dir:?}"))?;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if !live.contains(&name) {
                let p = e.path();
                fs::remove_file(&p).with_context(|| format!("remove blob {p:?}"))?;
            }
        }
        Ok(())
    }

    fn mark(&self, digest: &Digest, media_type: &str, live: &mut BTreeSet<String>) -> Result<()> {
        live.insert(digest.hex().to_string());
        let Ok(bytes) = fsutil::read_small(&self.layout.blob_path(digest)) else {
            return Ok(());
        };
        match manifest::parse(&bytes, media_type) {
            Ok(Parsed::Image(m)) => {
                live.insert(m.config.digest.hex().to_string());
                live.extend(m.layers.iter().map(|l| l.digest.hex().to_string()));
            }
            Ok(Parsed::Index(i)) => {
                for d in &i.manifests {
                    self.mark(&d.digest, &d.media_type, live)?;
                }
            }
            Err(_) => {}
        }
        Ok(())
    }
}

/// The key under which the store records `name`: the full normalised reference when
/// `name` parses as one, else `name` as given when it is a digest or ID prefix.
pub fn store_key(name: &str) -> Result<String, crate::reference::ReferenceError> {
    let hexish = name.strip_prefix("sha256:").unwrap_or(name);
    if hexish.len() >= 12 && hexish.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(name.to_string());
    }
    name.parse::<ImageRef>().map(|r| r.to_string())
}

/// An image in the store resolved to one platform manifest, for `unpack`.
#[derive(Clone, Debug)]
pub struct ResolvedImage {
    /// The name as recorded in index.json (full normalised reference) or the digest asked for.
    pub name: String,
    /// `<root>/oci`, the OCI layout holding every blob.
    pub layout_dir: PathBuf,
    /// Digest of the image manifest for the host platform.
    pub manifest_digest: Digest,
    pub manifest: manifest::Manifest,
}

impl ResolvedImage {
    /// Path of a blob (config or layer) in the layout.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.layout_dir
            .join("blobs")
            .join(digest.algorithm_name())
            .join(digest.hex())
    }
}

/// Resolve `reference` in the store at `store_root` to the host platform's image manifest.
pub fn resolve_image(store_root: &Path, reference: &str) -> Result<ResolvedImage> {
    let store = Store::open(store_root)?;
    let top = store.find(reference)?;
    let layout = store.layout();
    let (os, arch) = manifest::host_platform();
    let mut desc = top.clone();
    // Indexes may nest (an index of indexes); follow them a bounded number of times.
    for _ in 0..4 {
        let bytes = layout.read_blob(&desc.digest)?;
        match manifest::parse(&bytes, &desc.media_type)? {
            Parsed::Image(m) => {
                return Ok(ResolvedImage {
                    name: top.ref_name().unwrap_or(reference).to_string(),
                    layout_dir: layout.dir().to_path_buf(),
                    manifest_digest: desc.digest,
                    manifest: *m,
                })
            }
            Parsed::Index(i) => {
                desc = manifest::choose_platform(&i, os, arch)
                    .cloned()
                    .ok_or_else(|| {
                        anyhow!("resolve image {reference:?}: no manifest for platform {os}/{arch}")
                    })?;
            }
        }
    }
    bail!("resolve image {reference:?}: indexes nested too deeply")
}
