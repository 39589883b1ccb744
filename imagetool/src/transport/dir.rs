//! `dir:DIR`, skopeo's directory format (containers/image `directory` transport, version
//! 1.1): `version`, `manifest.json`, `<hex>.manifest.json` per index child, blobs as `<hex>`.

use super::{BlobReader, ImageDestination, ImageSource};
use crate::digest::{Algorithm, Digest};
use crate::fsutil;
use crate::manifest::{self, Descriptor};
use anyhow::{bail, Context, Result};
use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

const VERSION: &str = "Directory Transport Version: 1.1\n";

fn blob_name(dir: &Path, d: &Digest) -> PathBuf {
    match d.algorithm() {
        Algorithm::Sha256 => dir.join(d.hex()),
        _ => dir.join(format!("{}-{}", d.algorithm_name(), d.hex())),
    }
}

fn manifest_name(dir: &Path, instance: Option<&Digest>) -> PathBuf {
    match instance {
        None => dir.join("manifest.json"),
        Some(d) => dir.join(format!("{}.manifest.json", d.hex())),
    }
}

pub struct DirSource {
    dir: PathBuf,
}

impl DirSource {
    pub fn open(dir: &Path) -> Result<DirSource> {
        if !dir.join("manifest.json").is_file() {
            bail!("open dir image {dir:?}: no manifest.json");
        }
        Ok(DirSource {
            dir: dir.to_path_buf(),
        })
    }
}

impl ImageSource for DirSource {
    fn manifest(&self, instance: Option<&Digest>) -> Result<(Vec<u8>, String)> {
        let p = manifest_name(&self.dir, instance);
        let f = File::open(&p).with_context(|| format!("open manifest {p:?}"))?;
        let size = f.metadata().ok().map(|m| m.len());
        let bytes = manifest::read_limited(f, &format!("{p:?}"), size)?;
        let mt = manifest::guess_media_type(&bytes);
        manifest::parse(&bytes, &mt).with_context(|| format!("read manifest {p:?}"))?;
        Ok((bytes, mt))
    }

    fn blob_raw(&self, desc: &Descriptor) -> Result<BlobReader> {
        let p = blob_name(&self.dir, &desc.digest);
        Ok(Box::new(
            File::open(&p).with_context(|| format!("open blob {p:?}"))?,
        ))
    }
}

pub struct DirDestination {
    dir: PathBuf,
}

impl DirDestination {
    /// Like skopeo, refuse to overwrite a non-empty directory that is not a dir image.
    pub fn create(dir: &Path) -> Result<DirDestination> {
        fs::create_dir_all(dir).with_context(|| format!("create directory {dir:?}"))?;
        let version = dir.join("version");
        let empty = fs::read_dir(dir)
            .with_context(|| format!("read directory {dir:?}"))?
            .next()
            .is_none();
        if !empty && !version.is_file() {
            bail!("write dir image {dir:?}: directory is not empty and holds no dir image");
        }
        fsutil::write_atomic(&version, VERSION.as_bytes())?;
        Ok(DirDestination {
            dir: dir.to_path_buf(),
        })
    }
}

impl ImageDestination for DirDestination {
    fn has_blob(&self, desc: &Descriptor) -> Result<bool> {
        Ok(fs::metadata(blob_name(&self.dir, &desc.digest)).is_ok_and(|m| m.len() == desc.size))
    }

    fn put_blob(&self, desc: &Descriptor, reader: &mut dyn Read) -> Result<()> {
        fsutil::stream_atomic(reader, &self.dir, &blob_name(&self.dir, &desc.digest))?;
        Ok(())
    }

    fn put_manifest(&self, bytes: &[u8], _media_type: &str, instance: bool) -> Result<()> {
        let d = Digest::of(bytes);
        fsutil::write_atomic(&manifest_name(&self.dir, instance.then_some(&d)), bytes)
    }

    fn commit(&self) -> Result<()> {
        Ok(())
    }
}
