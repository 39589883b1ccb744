//! `commit BUNDLE IMAGE[:TAG]` (like `docker commit`): what the container changed in a
//! bundle becomes one new layer on top of the image the bundle was unpacked from, with a
//! new config (the layer's diff ID, a history entry, `--change`s) and a new manifest,
//! stored under IMAGE[:TAG]. The base image stays as it was (a mutation makes a new
//! manifest, never edits one), and nothing is visible in the store before the
//! destination's commit, so a failed commit leaves the store as it found it.
//!
//! Overlay bundles give their upper dir; `--copy` bundles, which have none, are compared
//! with the image's layer dirs (see `changes`). The runtime's mount points (the init
//! layer's `/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf`, volumes, tmpfs) are never
//! part of the layer. No pause is needed: a bundle is files.

mod config;
mod layer;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

pub use config::CommitOptions;

use crate::bundle::open_bundle;
use crate::digest::Digest;
use crate::fsutil::TempDir;
use crate::manifest::{self, Descriptor, Manifest, Parsed};
use crate::reference::ImageRef;
use crate::transport::layout::Layout;
use crate::transport::oci::OciSource;
use crate::transport::{open_blob, store::Store, ImageDestination};

/// `org.opencontainers.image.base.digest` (annotations.md): the image built upon.
const BASE_DIGEST: &str = "org.opencontainers.image.base.digest";

/// What a commit made.
#[derive(Debug, Clone)]
pub struct CommitReport {
    /// Digest of the new image manifest.
    pub manifest_digest: Digest,
    /// The new layer; `None` when the bundle changed nothing (history then records an
    /// empty layer, as docker does).
    pub layer: Option<Descriptor>,
    /// Tar entries in the new layer.
    pub entries: u64,
}

/// The image the bundle came from, read from the store that unpacked it.
struct Base {
    layout: Layout,
    manifest: Manifest,
    media_type: String,
    digest: Digest,
    config: Value,
}

/// Commits the bundle at `bundle` as `name` into the store at `store_root`.
pub fn commit_bundle(
    store_root: &Path,
    bundle: &Path,
    name: &ImageRef,
    opts: &CommitOptions,
) -> Result<CommitReport> {
    if name.digest.is_some() {
        bail!("commit to {name}: name the new image with a tag, not a digest");
    }
    let info = open_bundle(bundle)?;
    let base = read_base(&info.store_root, &info.manifest)
        .with_context(|| format!("read the image bundle {bundle:?} was made from"))?;
    let now = crate::import::rfc3339_now();
    let mut config = config::derive_config(&base.config, opts, &now)?;

    let store = Store::open(store_root)?;
    let work = TempDir::new_in(&store_root.join("tmp"), "commit-")?;
    let layer_path = work.path().join("layer.tar.gz");
    let blob = layer::write_layer(&info, &layer_path)
        .with_context(|| format!("commit bundle {bundle:?}"))?;
    let docker = base.media_type == manifest::DOCKER_MANIFEST;
    let layer = (blob.entries > 0).then(|| {
        let mt = if docker {
            manifest::DOCKER_LAYER_GZIP
        } else {
            manifest::OCI_LAYER_GZIP
        };
        Descriptor::new(mt, blob.digest.clone(), blob.size)
    });
    let created_by = if info.args.is_empty() {
        "skiff-image commit".to_string()
    } else {
        info.args.join(" ")
    };
    config::record_commit(
        &mut config,
        opts,
        &created_by,
        &now,
        layer.as_ref().map(|_| &blob.diff_id),
    )?;
    let config_bytes = serde_json::to_vec(&config).context("serialise image config")?;
    let config_desc = Descriptor::of_bytes(&base.manifest.config.media_type, &config_bytes);
    let mut annotations = BTreeMap::new();
    if !docker {
        annotations.insert(BASE_DIGEST.to_string(), base.digest.to_string());
    }
    let m = Manifest {
        schema_version: 2,
        media_type: Some(base.media_type.clone()),
        config: config_desc.clone(),
        layers: base
            .manifest
            .layers
            .iter()
            .cloned()
            .chain(layer.clone())
            .collect(),
        annotations,
    };
    let manifest_bytes = serde_json::to_vec(&m).context("serialise manifest")?;

    let dest = store.destination(name)?;
    copy_base_layers(&base, &dest)?;
    if let Some(l) = &layer {
        let mut f = File::open(&layer_path).with_context(|| format!("open {layer_path:?}"))?;
        dest.put_blob(l, &mut f)?;
    }
    dest.put_blob(&config_desc, &mut &config_bytes[..])?;
    dest.put_manifest(&manifest_bytes, &base.media_type, false)?;
    dest.commit()
        .with_context(|| format!("store {name} in {store_root:?}"))?;
    Ok(CommitReport {
        manifest_digest: Digest::of(&manifest_bytes),
        layer,
        entries: blob.entries,
    })
}

fn read_base(store_root: &Path, digest: &Digest) -> Result<Base> {
    let layout = Layout::open(&store_root.join("oci"))?;
    let bytes = layout
        .read_blob(digest)
        .map_err(|e| anyhow!("{e:#} (was the image removed from {store_root:?}?)"))?;
    let media_type = manifest::guess_media_type(&bytes);
    let Parsed::Image(m) = manifest::parse(&bytes, &media_type)? else {
        bail!("read manifest {digest}: an index, not an image");
    };
    let config: Value = serde_json::from_slice(&layout.read_blob(&m.config.digest)?)
        .with_context(|| format!("parse image config {}", m.config.digest))?;
    Ok(Base {
        layout,
        manifest: *m,
        media_type,
        digest: digest.clone(),
        config,
    })
}

/// The base layers the destination lacks (a bundle unpacked from another store), each
/// verified as it streams; usually none.
fn copy_base_layers(base: &Base, dest: &dyn ImageDestination) -> Result<()> {
    let src = OciSource::from_parts(
        base.layout.clone(),
        Descriptor::new(manifest::OCI_MANIFEST, base.digest.clone(), 0),
    );
    for l in &base.manifest.layers {
        if !dest.has_blob(l)? {
            dest.put_blob(l, &mut open_blob(&src, l)?)?;
        }
    }
    Ok(())
}
