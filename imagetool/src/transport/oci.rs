//! `oci:DIR[:REF]`: an OCI image layout directory, images named by the
//! `org.opencontainers.image.ref.name` annotation in index.json, as skopeo reads and writes it.

use super::ingest::{Ingests, MIN_RESUMABLE};
use super::layout::{self, Layout, Staging};
use super::{BlobReader, ImageDestination, ImageSource};
use crate::digest::{Digest, Hasher};
use crate::manifest::{self, Descriptor};
use anyhow::{Context, Result};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub struct OciSource {
    layout: Layout,
    top: Descriptor,
}

impl OciSource {
    pub fn open(dir: &Path, name: Option<&str>) -> Result<OciSource> {
        let layout = Layout::open(dir)?;
        let top = layout.find(name)?;
        Ok(OciSource { layout, top })
    }

    pub fn from_parts(layout: Layout, top: Descriptor) -> OciSource {
        OciSource { layout, top }
    }
}

impl ImageSource for OciSource {
    fn manifest(&self, instance: Option<&Digest>) -> Result<(Vec<u8>, String)> {
        let digest = instance.unwrap_or(&self.top.digest);
        let bytes = self.layout.read_manifest(digest)?;
        let mt = match instance {
            None => self.top.media_type.clone(),
            Some(_) => manifest::guess_media_type(&bytes),
        };
        manifest::parse(&bytes, &mt)
            .with_context(|| format!("read manifest {digest} in {:?}", self.layout.dir()))?;
        Ok((bytes, mt))
    }

    fn blob_raw(&self, desc: &Descriptor) -> Result<BlobReader> {
        Ok(Box::new(self.layout.open_blob(&desc.digest)?))
    }
}

/// Writes into a layout: blobs staged, then published and named at commit. Used by `oci:`
/// and (with a lock file) by the local store.
pub struct LayoutWriter {
    layout: Layout,
    staging: Staging,
    /// Resumable writes of large blobs (the local store only).
    ingests: Option<Ingests>,
    name: Option<String>,
    lock: Option<PathBuf>,
    top: Mutex<Option<Descriptor>>,
}

impl LayoutWriter {
    pub fn new(
        layout: Layout,
        staging_parent: &Path,
        name: Option<&str>,
        lock: Option<PathBuf>,
    ) -> Result<LayoutWriter> {
        let staging = Staging::new_in(staging_parent)?;
        Ok(LayoutWriter {
            layout,
            staging,
            ingests: None,
            name: name.map(str::to_string),
            lock,
            top: Mutex::new(None),
        })
    }

    /// Write large blobs through `ingests`, so an interrupted copy resumes where it stopped.
    pub fn with_ingests(mut self, ingests: Ingests) -> LayoutWriter {
        self.ingests = Some(ingests);
        self
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Write through the ingests when they take this blob; `false` when the caller must.
    fn put_ingest(&self, desc: &Descriptor, offset: u64, reader: &mut dyn Read) -> Result<bool> {
        let Some(ing) = &self.ingests else {
            return Ok(false);
        };
        if desc.size < MIN_RESUMABLE && offset == 0 {
            return Ok(false);
        }
        if !ing.write(desc, offset, reader, &self.staging.path(&desc.digest))? {
            return Ok(false);
        }
        self.staging.record(&desc.digest);
        Ok(true)
    }

    /// The top-level descriptor written by the last `put_manifest`.
    pub fn top(&self) -> Option<Descriptor> {
        self.top.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl ImageDestination for LayoutWriter {
    fn has_blob(&self, desc: &Descriptor) -> Result<bool> {
        Ok(self.layout.has_blob(desc) || self.staging.has(desc))
    }

    fn put_blob(&self, desc: &Descriptor, reader: &mut dyn Read) -> Result<()> {
        if self.put_ingest(desc, 0, reader)? {
            return Ok(());
        }
        self.staging.put(desc, reader)
    }

    fn resume_point(&self, desc: &Descriptor) -> Result<Option<(u64, Hasher)>> {
        match &self.ingests {
            Some(ing) => ing.resume_point(desc),
            None => Ok(None),
        }
    }

    fn put_blob_at(&self, desc: &Descriptor, offset: u64, reader: &mut dyn Read) -> Result<()> {
        if self.put_ingest(desc, offset, reader)? {
            return Ok(());
        }
        anyhow::bail!(
            "store blob {} from byte {offset}: nothing to resume",
            desc.digest
        )
    }

    fn put_manifest(&self, bytes: &[u8], media_type: &str, instance: bool) -> Result<()> {
        self.staging.put_bytes(bytes)?;
        if !instance {
            let entry = layout::index_entry(bytes, media_type, self.name.as_deref());
            *self.top.lock().unwrap_or_else(|e| e.into_inner()) = Some(entry);
        }
        Ok(())
    }

    fn commit(&self) -> Result<()> {
        // Publish under the lock too: a concurrent `rmi` garbage-collects unreferenced
        // blobs under it and must not see ours before index.json names them.
        let _guard = match &self.lock {
            Some(p) => Some(crate::lock::lock_exclusive(p)?),
            None => None,
        };
        self.staging.publish(&self.layout)?;
        let Some(top) = self.top() else { return Ok(()) };
        let mut index = self.layout.read_index()?;
        layout::set_ref(&mut index, top, self.name.as_deref());
        self.layout
            .write_index(&index)
            .with_context(|| format!("update index of {:?}", self.layout.dir()))
    }
}

pub struct OciDestination;

impl OciDestination {
    #[allow(clippy::new_ret_no_self)]
    pub fn create(dir: &Path, name: Option<&str>) -> Result<LayoutWriter> {
        let layout = Layout::create(dir)?;
        // Staging of a killed earlier copy into this layout (only our own prefix: the
        // directory may hold the user's files too).
        crate::fsutil::remove_debris(dir, ".skiff-stage-");
        crate::fsutil::remove_debris(dir, ".tmp-");
        LayoutWriter::new(layout, dir, name, None)
    }
}
