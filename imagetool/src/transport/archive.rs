//! `oci-archive:FILE[:REF]`: an OCI image layout in a tar file. Read in place through a
//! [`TarIndex`] (no extraction); written as a layout in a temp dir, then tarred atomically.

use super::layout::{find_in_index, Layout};
use super::oci::LayoutWriter;
use super::tarfile::{self, TarIndex};
use super::{BlobReader, ImageDestination, ImageSource};
use crate::digest::Digest;
use crate::fsutil::TempDir;
use crate::manifest::{self, Descriptor, Index};
use anyhow::{anyhow, Context, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// An OCI layout read from inside a tar archive.
pub struct TarLayoutSource {
    tar: TarIndex,
    top: Descriptor,
}

fn blob_member(d: &Digest) -> String {
    format!("blobs/{}/{}", d.algorithm_name(), d.hex())
}

impl TarLayoutSource {
    pub fn index(tar: &TarIndex) -> Result<Index> {
        let bytes = tar.read_small("index.json")?;
        serde_json::from_slice(&bytes)
            .with_context(|| format!("parse index.json in {:?}", tar.path()))
    }

    pub fn new(tar: TarIndex, top: Descriptor) -> TarLayoutSource {
        TarLayoutSource { tar, top }
    }

    /// A manifest member, size-limited and checked against its digest.
    fn read_manifest(&self, d: &Digest) -> Result<Vec<u8>> {
        let member = blob_member(d);
        let name = format!("{d} in {:?}", self.tar.path());
        let bytes = manifest::read_limited(self.tar.open(&member)?, &name, self.tar.size(&member))?;
        let got = Digest::of(&bytes);
        if &got != d {
            anyhow::bail!("verify manifest {d}: content has digest {got}");
        }
        Ok(bytes)
    }
}

pub fn open_oci_archive(file: &Path, name: Option<&str>) -> Result<TarLayoutSource> {
    let tar = TarIndex::read(file)?;
    let index = TarLayoutSource::index(&tar)?;
    let top = find_in_index(&index, name).ok_or_else(|| match name {
        Some(n) => anyhow!("find image {n:?} in {file:?}: no such image"),
        None => anyhow!(
            "find image in {file:?}: expected exactly one image, found {}",
            index.manifests.len()
        ),
    })?;
    Ok(TarLayoutSource::new(tar, top))
}

impl ImageSource for TarLayoutSource {
    fn manifest(&self, instance: Option<&Digest>) -> Result<(Vec<u8>, String)> {
        let digest = instance.unwrap_or(&self.top.digest);
        let bytes = self.read_manifest(digest)?;
        let mt = match instance {
            None => self.top.media_type.clone(),
            Some(_) => manifest::guess_media_type(&bytes),
        };
        manifest::parse(&bytes, &mt)
            .with_context(|| format!("read manifest {digest} in {:?}", self.tar.path()))?;
        Ok((bytes, mt))
    }

    fn blob_raw(&self, desc: &Descriptor) -> Result<BlobReader> {
        Ok(Box::new(self.tar.open(&blob_member(&desc.digest))?))
    }
}

/// Builds an OCI layout in a temp dir; `commit` tars it to the target file.
pub struct OciArchiveDestination {
    writer: LayoutWriter,
    file: PathBuf,
    _tmp: TempDir,
}

impl OciArchiveDestination {
    pub fn create(file: &Path, name: Option<&str>) -> Result<OciArchiveDestination> {
        let tmp = TempDir::new(".skiff-oci-archive-")?;
        let layout = Layout::create(tmp.path())?;
        let writer = LayoutWriter::new(layout, tmp.path(), name, None)?;
        Ok(OciArchiveDestination {
            writer,
            file: file.to_path_buf(),
            _tmp: tmp,
        })
    }
}

impl ImageDestination for OciArchiveDestination {
    fn has_blob(&self, desc: &Descriptor) -> Result<bool> {
        self.writer.has_blob(desc)
    }
    fn put_blob(&self, desc: &Descriptor, reader: &mut dyn Read) -> Result<()> {
        self.writer.put_blob(desc, reader)
    }
    fn put_manifest(&self, bytes: &[u8], media_type: &str, instance: bool) -> Result<()> {
        self.writer.put_manifest(bytes, media_type, instance)
    }
    fn commit(&self) -> Result<()> {
        self.writer.commit()?;
        tarfile::write_tree(self.writer.layout().dir(), &self.file)
    }
}
