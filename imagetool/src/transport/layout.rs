//! OCI Image Layout (image-spec `image-layout.md`): `oci-layout`, `index.json`,
//! `blobs/<alg>/<hex>`. The shared core of the `oci:`, `oci-archive:`, `docker-archive:`
//! transports and the local store. Writers stage blobs in a private directory and move
//! them into `blobs/` only at commit, so a failed copy leaves the layout untouched.

use crate::digest::Digest;
use crate::fsutil::{self, TempDir};
use crate::manifest::{self, Descriptor, Index, REF_NAME};
use anyhow::{anyhow, bail, Context, Result};
use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

const LAYOUT_FILE: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;

#[derive(Clone, Debug)]
pub struct Layout {
    dir: PathBuf,
}

impl Layout {
    /// Open an existing layout; fails when `oci-layout` is missing.
    pub fn open(dir: &Path) -> Result<Layout> {
        let marker = dir.join("oci-layout");
        if !marker.is_file() {
            bail!("open OCI layout {dir:?}: no oci-layout file");
        }
        Ok(Layout {
            dir: dir.to_path_buf(),
        })
    }

    /// Open or create a layout at `dir`.
    pub fn create(dir: &Path) -> Result<Layout> {
        fs::create_dir_all(dir.join("blobs/sha256"))
            .with_context(|| format!("create OCI layout {dir:?}"))?;
        if !dir.join("oci-layout").exists() {
            fsutil::write_atomic(&dir.join("oci-layout"), LAYOUT_FILE.as_bytes())?;
        }
        if !dir.join("index.json").exists() {
            write_index_file(dir, &Index::empty())?;
        }
        Ok(Layout {
            dir: dir.to_path_buf(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dir
            .join("blobs")
            .join(digest.algorithm_name())
            .join(digest.hex())
    }

    pub fn has_blob(&self, desc: &Descriptor) -> bool {
        fs::metadata(self.blob_path(&desc.digest)).is_ok_and(|m| m.len() == desc.size)
    }

    pub fn open_blob(&self, digest: &Digest) -> Result<File> {
        let p = self.blob_path(digest);
        File::open(&p).with_context(|| format!("open blob {digest} at {p:?}"))
    }

    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let bytes = fsutil::read_small(&self.blob_path(digest))?;
        let actual = Digest::of(&bytes);
        if &actual != digest {
            bail!("verify blob {digest}: content has digest {actual}");
        }
        Ok(bytes)
    }

    /// A manifest blob, refused past [`manifest::MAX_MANIFEST_SIZE`] before it is read.
    pub fn read_manifest(&self, digest: &Digest) -> Result<Vec<u8>> {
        let p = self.blob_path(digest);
        let f = File::open(&p).with_context(|| format!("open manifest {digest} at {p:?}"))?;
        let size = f.metadata().ok().map(|m| m.len());
        let name = format!("{digest} in {:?}", self.dir);
        let bytes = manifest::read_limited(f, &name, size)?;
        let actual = Digest::of(&bytes);
        if &actual != digest {
            bail!("verify manifest {digest}: content has digest {actual}");
        }
        Ok(bytes)
    }

    pub fn read_index(&self) -> Result<Index> {
        let p = self.dir.join("index.json");
        let bytes = fsutil::read_small(&p)?;
        serde_json::from_slice(&bytes).with_context(|| format!("parse {p:?}"))
    }

    pub fn write_index(&self, index: &Index) -> Result<()> {
        write_index_file(&self.dir, index)
    }

    /// Find the index entry for `name`: its `ref.name` annotation, else a digest
    /// (`sha256:…` or a hex prefix of at least 12 characters, like docker image IDs),
    /// else the only entry when `name` is `None`.
    pub fn find(&self, name: Option<&str>) -> Result<Descriptor> {
        let index = self.read_index()?;
        find_in_index(&index, name).ok_or_else(|| match name {
            Some(n) => anyhow!("find image {n:?} in {:?}: no such image", self.dir),
            None => anyhow!(
                "find image in {:?}: expected exactly one image, found {}",
                self.dir,
                index.manifests.len()
            ),
        })
    }
}

pub fn find_in_index(index: &Index, name: Option<&str>) -> Option<Descriptor> {
    let Some(name) = name else {
        return (index.manifests.len() == 1).then(|| index.manifests[0].clone());
    };
    if let Some(d) = index.manifests.iter().find(|d| d.ref_name() == Some(name)) {
        return Some(d.clone());
    }
    let hex = name.strip_prefix("sha256:").unwrap_or(name);
    if hex.len() >= 12 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return index
            .manifests
            .iter()
            .find(|d| d.digest.hex().starts_with(hex))
            .cloned();
    }
    None
}

fn write_index_file(dir: &Path, index: &Index) -> Result<()> {
    let bytes = serde_json::to_vec(index).context("serialise index.json")?;
    fsutil::write_atomic(&dir.join("index.json"), &bytes)
}

/// Blobs written during one copy, moved into a layout at `publish`.
pub struct Staging {
    dir: TempDir,
    staged: std::sync::Mutex<Vec<Digest>>,
}

impl Staging {
    pub fn new_in(parent: &Path) -> Result<Staging> {
        Ok(Staging {
            dir: TempDir::new_in(parent, ".skiff-stage-")?,
            staged: Default::default(),
        })
    }

    /// Where a staged blob lives (writers that fill it themselves then call [`Staging::record`]).
    pub fn path(&self, d: &Digest) -> PathBuf {
        self.dir
            .path()
            .join(format!("{}-{}", d.algorithm_name(), d.hex()))
    }

    pub fn has(&self, desc: &Descriptor) -> bool {
        fs::metadata(self.path(&desc.digest)).is_ok_and(|m| m.len() == desc.size)
    }

    /// Stream a blob into staging; it appears only if the reader reaches EOF cleanly.
    pub fn put(&self, desc: &Descriptor, reader: &mut dyn Read) -> Result<()> {
        fsutil::stream_atomic(reader, self.dir.path(), &self.path(&desc.digest))
            .with_context(|| format!("store blob {}", desc.digest))?;
        self.record(&desc.digest);
        Ok(())
    }

    pub fn put_bytes(&self, bytes: &[u8]) -> Result<Digest> {
        let d = Digest::of(bytes);
        fsutil::write_atomic(&self.path(&d), bytes)?;
        self.record(&d);
        Ok(d)
    }

    pub fn record(&self, d: &Digest) {
        let mut staged = self.staged.lock().unwrap_or_else(|e| e.into_inner());
        if !staged.contains(d) {
            staged.push(d.clone());
        }
    }

    /// Move every staged blob into the layout (blob files are content-addressed, so a
    /// concurrent writer of the same blob writes the same bytes: rename over it is safe).
    pub fn publish(&self, layout: &Layout) -> Result<()> {
        let staged = self
            .staged
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for d in staged {
            let to = layout.blob_path(&d);
            if let Some(parent) = to.parent() {
                fs::create_dir_all(parent)
                    .with_context(|| format!("create directory {parent:?}"))?;
            }
            fs::rename(self.path(&d), &to)
                .with_context(|| format!("move blob {d} into {:?}", layout.dir()))?;
        }
        Ok(())
    }
}

/// Replace the entries named `name` (if any) with `desc` in `index`.
pub fn set_ref(index: &mut Index, desc: Descriptor, name: Option<&str>) {
    if let Some(n) = name {
        index.manifests.retain(|d| d.ref_name() != Some(n));
    } else {
        index
            .manifests
            .retain(|d| d.digest != desc.digest || d.ref_name().is_some());
    }
    index.manifests.push(desc);
}

/// A descriptor for a top-level manifest entry in index.json.
pub fn index_entry(bytes: &[u8], media_type: &str, name: Option<&str>) -> Descriptor {
    let mut d = Descriptor::of_bytes(media_type, bytes);
    if let Some(n) = name {
        d.annotations.insert(REF_NAME.to_string(), n.to_string());
    }
    d
}
