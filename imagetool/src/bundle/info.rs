//! What `commit` and `export` need to know about a bundle `create_bundle` made: its
//! record (image, store, layer dirs, overlay or copy) and, from its config.json, the
//! mount destinations (the runtime makes a mount point for each in the rootfs, which
//! belongs to the container, not to its changes) and the process arguments.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use super::{mount, read_record, RECORD};
use crate::digest::Digest;

/// A bundle made by `unpack`, as `open_bundle` read it.
#[derive(Debug, Clone)]
pub struct BundleInfo {
    /// The bundle directory (absolute).
    pub dir: PathBuf,
    /// The store the image was unpacked from.
    pub store_root: PathBuf,
    /// The image manifest the bundle was made from.
    pub manifest: Digest,
    /// A plain copied rootfs (`--copy`) rather than an overlay with an upper dir.
    pub copy: bool,
    /// The image's layer dirs in the store, bottom to top.
    pub layers: Vec<PathBuf>,
    /// Destinations of config.json's mounts (absolute container paths).
    pub mount_destinations: Vec<String>,
    /// config.json's `process.args`.
    pub args: Vec<String>,
}

impl BundleInfo {
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// The overlay's upper dir: everything the container changed.
    pub fn upper(&self) -> Option<PathBuf> {
        (!self.copy).then(|| self.dir.join("upper"))
    }

    /// Whether the overlay rootfs is mounted now (a copied rootfs always "is").
    pub fn is_mounted(&self) -> bool {
        self.copy || mount::is_mounted(&self.rootfs())
    }
}

#[derive(Deserialize)]
struct Spec {
    #[serde(default)]
    process: Option<Process>,
    #[serde(default)]
    mounts: Vec<Mount>,
}

#[derive(Deserialize)]
struct Process {
    #[serde(default)]
    args: Vec<String>,
}

#[derive(Deserialize)]
struct Mount {
    destination: String,
}

/// Reads the bundle at `bundle`; a directory `unpack` did not make is refused.
pub fn open_bundle(bundle: &Path) -> Result<BundleInfo> {
    if !bundle.is_dir() {
        bail!("open bundle {bundle:?}: no such directory");
    }
    let rec = read_record(bundle)?.with_context(|| {
        format!("open bundle {bundle:?}: not a bundle made by `skiff-image unpack` (no {RECORD})")
    })?;
    let copy = match rec.rootfs.as_str() {
        "copy" => true,
        "overlay" => false,
        other => bail!("open bundle {bundle:?}: unknown rootfs kind {other:?} in {RECORD}"),
    };
    let manifest: Digest = rec
        .manifest
        .parse()
        .with_context(|| format!("open bundle {bundle:?}: read {RECORD}"))?;
    let dir = std::path::absolute(bundle).with_context(|| format!("resolve {bundle:?}"))?;
    let config = dir.join("config.json");
    let bytes = std::fs::read(&config).with_context(|| format!("read {config:?}"))?;
    let spec: Spec = serde_json::from_slice(&bytes).with_context(|| format!("parse {config:?}"))?;
    let info = BundleInfo {
        dir,
        store_root: rec.store_root,
        manifest,
        copy,
        layers: rec.layers,
        mount_destinations: spec.mounts.into_iter().map(|m| m.destination).collect(),
        args: spec.process.map(|p| p.args).unwrap_or_default(),
    };
    for d in info.upper().iter().chain(Some(&info.rootfs())) {
        if !d.is_dir() {
            bail!("open bundle {bundle:?}: {d:?} is missing");
        }
    }
    Ok(info)
}
