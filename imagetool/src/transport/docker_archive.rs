//! `docker-archive:FILE[:REF]` (`docker save` format). Written in the dual format Docker 25
//! writes: an OCI layout (index.json with `io.containerd.image.name`, read by
//! `ctr images import`) plus legacy `manifest.json`/`repositories` (read by `docker load`
//! and `podman load`). Read: legacy archives (per-layer tars, several images, symlinked
//! layers) and dual archives, preferring the original OCI manifest when present.

use super::archive::TarLayoutSource;
use super::layout::Layout;
use super::oci::LayoutWriter;
use super::tarfile::{self, TarIndex};
use super::{BlobReader, ImageDestination, ImageSource};
use crate::digest::Digest;
use crate::fsutil::{self, TempDir};
use crate::manifest::{self, Descriptor, Manifest, Parsed, REF_NAME};
use crate::reference::ImageRef;
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const CONTAINERD_NAME: &str = "io.containerd.image.name";

#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "PascalCase")]
struct LegacyEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

pub fn open_source(file: &Path, name: Option<&str>) -> Result<Box<dyn ImageSource>> {
    let tar = TarIndex::read(file)?;
    if !tar.contains("manifest.json") {
        if tar.contains("index.json") {
            return Ok(Box::new(super::archive::open_oci_archive(file, name)?));
        }
        bail!("read docker archive {file:?}: no manifest.json");
    }
    let bytes = tar.read_small("manifest.json")?;
    let entries: Vec<LegacyEntry> = serde_json::from_slice(&bytes)
        .with_context(|| format!("parse manifest.json in {file:?}"))?;
    let entry = choose(&entries, name)
        .with_context(|| format!("read docker archive {file:?}"))?
        .clone();
    let config = tar.read_small(&entry.config)?;
    let config_digest = Digest::of(&config);
    if let Some(top) = oci_manifest_for(&tar, &config_digest) {
        return Ok(Box::new(TarLayoutSource::new(tar, top)));
    }
    Ok(Box::new(LegacySource::new(tar, &entry, config)?))
}

fn choose<'a>(entries: &'a [LegacyEntry], name: Option<&str>) -> Result<&'a LegacyEntry> {
    match name {
        None if entries.len() == 1 => Ok(&entries[0]),
        None => bail!(
            "archive holds {} images: name one (FILE:NAME or FILE:@N)",
            entries.len()
        ),
        Some(n) if n.starts_with('@') => {
            let i: usize = n[1..]
                .parse()
                .map_err(|_| anyhow!("parse image index {n:?}"))?;
            entries
                .get(i)
                .ok_or_else(|| anyhow!("find image {n:?}: archive holds {} images", entries.len()))
        }
        Some(n) => {
            let want = n.parse::<ImageRef>()?;
            entries
                .iter()
                .find(|e| {
                    e.repo_tags
                        .iter()
                        .flatten()
                        .any(|t| t.parse::<ImageRef>().is_ok_and(|r| r == want))
                })
                .ok_or_else(|| anyhow!("find image {n:?}: no such image in archive"))
        }
    }
}

/// The OCI index entry whose image manifest uses `config` (dual-format archives).
fn oci_manifest_for(tar: &TarIndex, config: &Digest) -> Option<Descriptor> {
    let index = TarLayoutSource::index(tar).ok()?;
    index.manifests.into_iter().find(|d| {
        let member = format!("blobs/{}/{}", d.digest.algorithm_name(), d.digest.hex());
        let Ok(bytes) = tar.read_small(&member) else { return false };
        matches!(manifest::parse(&bytes, &d.media_type), Ok(Parsed::Image(m)) if &m.config.digest == config)
    })
}

/// A legacy image: the Docker v2s2 manifest is synthesised from the archive's files.
struct LegacySource {
    tar: TarIndex,
    manifest: Vec<u8>,
    members: HashMap<Digest, String>,
}

impl LegacySource {
    fn new(tar: TarIndex, entry: &LegacyEntry, config: Vec<u8>) -> Result<LegacySource> {
        let mut members = HashMap::new();
        let config_desc = Descriptor::of_bytes(manifest::DOCKER_CONFIG, &config);
        members.insert(config_desc.digest.clone(), entry.config.clone());
        let mut layers = Vec::new();
        for path in &entry.layers {
            let (digest, size, gzip) = hash_member(&tar, path)?;
            let mt = if gzip {
                manifest::DOCKER_LAYER_GZIP
            } else {
                manifest::DOCKER_LAYER
            };
            members.insert(digest.clone(), path.clone());
            layers.push(Descriptor::new(mt, digest, size));
        }
        let m = Manifest {
            schema_version: 2,
            media_type: Some(manifest::DOCKER_MANIFEST.to_string()),
            config: config_desc,
            layers,
            annotations: BTreeMap::new(),
        };
        let manifest = serde_json::to_vec_pretty(&m).context("serialise manifest")?;
        Ok(LegacySource {
            tar,
            manifest,
            members,
        })
    }
}

fn hash_member(tar: &TarIndex, path: &str) -> Result<(Digest, u64, bool)> {
    let mut r = tar.open(path)?;
    let mut h = crate::digest::Hasher::new(crate::digest::Algorithm::Sha256);
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    let mut head = [0u8; 2];
    loop {
        let n = r
            .read(&mut buf)
            .with_context(|| format!("read {path:?} in archive {:?}", tar.path()))?;
        if n == 0 {
            break;
        }
        if size == 0 && n >= 2 {
            head.copy_from_slice(&buf[..2]);
        }
        h.update(&buf[..n]);
        size += n as u64;
    }
    Ok((h.finish(), size, head == [0x1f, 0x8b]))
}

impl ImageSource for LegacySource {
    fn manifest(&self, instance: Option<&Digest>) -> Result<(Vec<u8>, String)> {
        match instance {
            None => Ok((self.manifest.clone(), manifest::DOCKER_MANIFEST.to_string())),
            Some(d) => bail!("read manifest {d}: legacy docker archives hold no manifest lists"),
        }
    }

    fn blob_raw(&self, desc: &Descriptor) -> Result<BlobReader> {
        let member = self
            .members
            .get(&desc.digest)
            .ok_or_else(|| anyhow!("find blob {} in archive: not referenced", desc.digest))?;
        Ok(Box::new(self.tar.open(member)?))
    }
}

/// Collects one or more images, then writes the dual-format archive at commit.
pub struct DockerArchiveDestination {
    writer: LayoutWriter,
    file: PathBuf,
    names: Mutex<Vec<ImageRef>>,
    images: Mutex<Vec<(Descriptor, LegacyEntry)>>,
    _tmp: TempDir,
}

impl DockerArchiveDestination {
    pub fn create(file: &Path, names: Vec<ImageRef>) -> Result<DockerArchiveDestination> {
        let tmp = TempDir::new(".skiff-docker-archive-")?;
        let layout = Layout::create(tmp.path())?;
        let writer = LayoutWriter::new(layout, tmp.path(), None, None)?;
        Ok(DockerArchiveDestination {
            writer,
            file: file.to_path_buf(),
            names: Mutex::new(names),
            images: Mutex::new(Vec::new()),
            _tmp: tmp,
        })
    }

    /// Names for the next image put (a `save` of several images sets them per image).
    pub fn set_names(&self, names: Vec<ImageRef>) {
        *self.names.lock().unwrap_or_else(|e| e.into_inner()) = names;
    }

    fn write_metadata(&self) -> Result<()> {
        let dir = self.writer.layout().dir().to_path_buf();
        let images = self
            .images
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut index = manifest::Index::empty();
        let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        let mut legacy = Vec::new();
        for (desc, entry) in images {
            for t in entry.repo_tags.iter().flatten() {
                let Ok(r) = t.parse::<ImageRef>() else {
                    continue;
                };
                let mut d = desc.clone();
                d.annotations
                    .insert(CONTAINERD_NAME.to_string(), r.to_string());
                if let Some(tag) = r.tag_or_latest() {
                    d.annotations.insert(REF_NAME.to_string(), tag.to_string());
                    let top_layer = entry
                        .layers
                        .last()
                        .map(|l| l.rsplit('/').next().unwrap_or(l).to_string());
                    let familiar_repo = r
                        .familiar()
                        .rsplit_once(':')
                        .map(|(n, _)| n.to_string())
                        .unwrap_or_default();
                    repositories
                        .entry(familiar_repo)
                        .or_default()
                        .insert(tag.to_string(), top_layer.unwrap_or_default());
                }
                index.manifests.push(d);
            }
            if entry.repo_tags.as_ref().is_none_or(|t| t.is_empty()) {
                index.manifests.push(desc.clone());
            }
            legacy.push(entry);
        }
        let index_bytes = serde_json::to_vec(&index).context("serialise index.json")?;
        fsutil::write_atomic(&dir.join("index.json"), &index_bytes)?;
        fsutil::write_atomic(
            &dir.join("manifest.json"),
            &serde_json::to_vec(&legacy).context("serialise manifest.json")?,
        )?;
        fsutil::write_atomic(
            &dir.join("repositories"),
            &serde_json::to_vec(&repositories).context("serialise repositories")?,
        )?;
        Ok(())
    }
}

impl DockerArchiveDestination {
    /// Like [`ImageDestination::commit`], but the archive goes to `out` (`save` without
    /// `-o`) instead of the file.
    pub fn commit_to(&self, out: &mut dyn std::io::Write) -> Result<()> {
        self.writer.commit()?;
        self.write_metadata()?;
        tarfile::write_tree_to(self.writer.layout().dir(), out)
    }
}

impl ImageDestination for DockerArchiveDestination {
    fn has_blob(&self, desc: &Descriptor) -> Result<bool> {
        self.writer.has_blob(desc)
    }

    fn put_blob(&self, desc: &Descriptor, reader: &mut dyn Read) -> Result<()> {
        self.writer.put_blob(desc, reader)
    }

    fn put_manifest(&self, bytes: &[u8], media_type: &str, instance: bool) -> Result<()> {
        if instance {
            bail!(
                "write docker archive {:?}: manifest lists are not supported; copy one platform",
                self.file
            );
        }
        let Parsed::Image(m) = manifest::parse(bytes, media_type)? else {
            bail!(
                "write docker archive {:?}: expected an image manifest, got {media_type}",
                self.file
            );
        };
        self.writer.put_manifest(bytes, media_type, true)?;
        let member = |d: &Digest| format!("blobs/{}/{}", d.algorithm_name(), d.hex());
        let names = self.names.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let entry = LegacyEntry {
            config: member(&m.config.digest),
            repo_tags: Some(names.iter().map(ImageRef::familiar).collect()),
            layers: m.layers.iter().map(|l| member(&l.digest)).collect(),
        };
        let desc = Descriptor::of_bytes(media_type, bytes);
        self.images
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((desc, entry));
        Ok(())
    }

    fn supports_index(&self) -> bool {
        false
    }

    fn commit(&self) -> Result<()> {
        self.writer.commit()?;
        self.write_metadata()?;
        tarfile::write_tree(self.writer.layout().dir(), &self.file)
    }
}

/// One image of an archive and the names it carries.
pub type ArchiveImage = (Box<dyn ImageSource>, Vec<ImageRef>);

/// Every image in a `docker save` / dual / OCI archive with the names it carries, for `load`.
pub fn archive_images(file: &Path) -> Result<Vec<ArchiveImage>> {
    let tar = TarIndex::read(file)?;
    let mut out: Vec<ArchiveImage> = Vec::new();
    if tar.contains("manifest.json") {
        let bytes = tar.read_small("manifest.json")?;
        let entries: Vec<LegacyEntry> = serde_json::from_slice(&bytes)
            .with_context(|| format!("parse manifest.json in {file:?}"))?;
        for (i, entry) in entries.iter().enumerate() {
            let names = entry
                .repo_tags
                .iter()
                .flatten()
                .filter_map(|t| t.parse().ok())
                .collect();
            out.push((open_source(file, Some(&format!("@{i}")))?, names));
        }
        return Ok(out);
    }
    let index = TarLayoutSource::index(&tar)?;
    for d in index.manifests {
        let name = d
            .annotations
            .get(CONTAINERD_NAME)
            .map(String::as_str)
            .or(d.ref_name())
            .and_then(|n| n.parse::<ImageRef>().ok());
        let src = TarLayoutSource::new(TarIndex::read(file)?, d);
        out.push((Box::new(src), name.into_iter().collect()));
    }
    Ok(out)
}
