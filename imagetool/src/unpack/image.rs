//! The few pieces of the OCI image spec (manifest.md, config.md) that unpacking and
//! bundling read from the store's OCI layout, each blob verified against its digest.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::pipeline::hex;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub digest: String,
    pub size: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ImageConfig {
    #[serde(default)]
    pub config: Option<ContainerConfig>,
    pub rootfs: RootFs,
}

/// The runtime defaults an image carries (config.md "config").
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    pub user: Option<String>,
    pub env: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    pub working_dir: Option<String>,
    pub stop_signal: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RootFs {
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

/// `sha256:<64 hex>` → its hex part; anything else is refused (it becomes a path).
pub fn digest_hex(digest: &str) -> Result<&str> {
    let hex = digest
        .strip_prefix("sha256:")
        .with_context(|| format!("parse digest {digest:?}: only sha256 is supported"))?;
    if hex.len() != 64
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        bail!("parse digest {digest:?}: not 64 lowercase hex digits");
    }
    Ok(hex)
}

pub fn blob_path(root: &Path, digest: &str) -> Result<PathBuf> {
    Ok(root.join("oci/blobs/sha256").join(digest_hex(digest)?))
}

/// Reads a small JSON blob, checks its digest, and parses it.
pub fn read_json_blob<T: DeserializeOwned>(root: &Path, digest: &str, what: &str) -> Result<T> {
    let path = blob_path(root, digest)?;
    let bytes = std::fs::read(&path).with_context(|| format!("read {what} {path:?}"))?;
    let got = format!("sha256:{}", hex(&Sha256::digest(&bytes)));
    if got != digest {
        bail!("verify {what} {path:?}: digest is {got}, expected {digest}");
    }
    serde_json::from_slice(&bytes).with_context(|| format!("parse {what} {digest}"))
}

pub fn read_manifest(root: &Path, digest: &str) -> Result<(Manifest, ImageConfig)> {
    let manifest: Manifest = read_json_blob(root, digest, "manifest")?;
    let config: ImageConfig = read_json_blob(root, &manifest.config.digest, "image config")?;
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        bail!(
            "read image {digest}: {} layers but {} diff_ids in the config",
            manifest.layers.len(),
            config.rootfs.diff_ids.len()
        );
    }
    Ok((manifest, config))
}
