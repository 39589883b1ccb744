//! `gc` (ARCHITECTURE.md, "store"): extracted layer dirs stay in `<root>/layers/` after
//! their image or bundle is gone, so that the next unpack is instant; `gc` removes the
//! ones that no image in the store and no live bundle uses, and the store records of
//! bundles whose directory is gone.
//!
//! `gc` holds `<root>/layers.lock` exclusively; `unpack` holds it shared from before it
//! extracts until its bundle is recorded, so gc never removes a layer between the two.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::lock::lock_exclusive;
use crate::manifest::{self, Parsed};
use crate::transport::store::Store;
use crate::unpack::chain_ids;

pub const LAYERS_LOCK: &str = "layers.lock";

#[derive(Debug, Default)]
pub struct GcReport {
    /// Chain IDs (hex) of the layer dirs removed.
    pub removed_layers: Vec<String>,
    pub kept_layers: usize,
    /// Records of bundles whose directory no longer exists.
    pub stale_bundles: usize,
}

/// The part of a bundle record (bundle/mod.rs) gc needs.
#[derive(Deserialize)]
struct BundleRef {
    bundle: PathBuf,
    layers: Vec<PathBuf>,
}

pub fn gc(store_root: &Path) -> Result<GcReport> {
    let layers_dir = store_root.join("layers");
    if !layers_dir.is_dir() {
        return Ok(GcReport::default());
    }
    let _lock = lock_exclusive(&store_root.join(LAYERS_LOCK))?;
    let mut report = GcReport::default();
    let mut used = layers_of_images(store_root)?;
    used.extend(layers_of_bundles(store_root, &mut report)?);
    let entries = std::fs::read_dir(&layers_dir).with_context(|| format!("read {layers_dir:?}"))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("read {layers_dir:?}"))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if used.contains(&name) {
            report.kept_layers += 1;
            continue;
        }
        // Out of sight first (one rename), then removed: a crash half way leaves
        // debris in tmp/, never a half-deleted layer that looks whole.
        let doomed = store_root
            .join("tmp")
            .join(format!("gc-{name}-{}", std::process::id()));
        std::fs::create_dir_all(store_root.join("tmp")).context("create the store's tmp dir")?;
        std::fs::rename(entry.path(), &doomed)
            .with_context(|| format!("move layer {name} out of the store"))?;
        std::fs::remove_dir_all(&doomed).with_context(|| format!("remove {doomed:?}"))?;
        report.removed_layers.push(name);
    }
    Ok(report)
}

/// Chain IDs (hex) of every image in the store, every platform of every index.
fn layers_of_images(store_root: &Path) -> Result<HashSet<String>> {
    let store = Store::open(store_root)?;
    let layout = store.layout();
    let mut used = HashSet::new();
    let mut queue: Vec<_> = layout.read_index()?.manifests;
    while let Some(desc) = queue.pop() {
        // A platform of an index that was never pulled has no blob here.
        let Ok(bytes) = layout.read_blob(&desc.digest) else {
            continue;
        };
        match manifest::parse(&bytes, &desc.media_type)
            .with_context(|| format!("read manifest {}", desc.digest))?
        {
            Parsed::Index(index) => queue.extend(index.manifests),
            Parsed::Image(m) => {
                let config: serde_json::Value =
                    serde_json::from_slice(&layout.read_blob(&m.config.digest)?)
                        .with_context(|| format!("parse image config {}", m.config.digest))?;
                let diff_ids: Vec<String> = config["rootfs"]["diff_ids"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|d| d.as_str().map(str::to_string))
                    .collect();
                for chain in chain_ids(&diff_ids) {
                    if let Some(hex) = chain.strip_prefix("sha256:") {
                        used.insert(hex.to_string());
                    }
                }
            }
        }
    }
    Ok(used)
}

/// Layer dirs (names) of bundles that still exist; records of gone ones are removed.
fn layers_of_bundles(store_root: &Path, report: &mut GcReport) -> Result<HashSet<String>> {
    let dir = store_root.join("bundles");
    let mut used = HashSet::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(used),
        Err(e) => return Err(e).with_context(|| format!("read {dir:?}")),
    };
    for entry in entries {
        let path = entry.with_context(|| format!("read {dir:?}"))?.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let bytes = std::fs::read(&path).with_context(|| format!("read {path:?}"))?;
        let record: BundleRef =
            serde_json::from_slice(&bytes).with_context(|| format!("parse {path:?}"))?;
        if !record.bundle.join("skiff-bundle.json").exists() {
            std::fs::remove_file(&path).with_context(|| format!("remove {path:?}"))?;
            report.stale_bundles += 1;
            continue;
        }
        used.extend(
            record
                .layers
                .iter()
                .filter_map(|l| l.file_name())
                .map(|n| n.to_string_lossy().into_owned()),
        );
    }
    Ok(used)
}
