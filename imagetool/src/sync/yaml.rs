//! skopeo sync's YAML source file (skopeo-sync(1), "YAML file content"): a map from
//! registry to the repositories and tags to copy from it, with the registry's options.

use anyhow::{Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Deserialize)]
pub struct YamlRegistry {
    #[serde(default)]
    pub images: BTreeMap<String, Vec<String>>,
    #[serde(default, rename = "tls-verify")]
    pub tls_verify: Option<bool>,
    #[serde(default)]
    pub credentials: Option<YamlCreds>,
}

#[derive(Deserialize)]
pub struct YamlCreds {
    pub username: String,
    pub password: String,
}

/// The registries of the file at `path`, by registry.
pub fn read(path: &Path) -> Result<BTreeMap<String, YamlRegistry>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {path:?}"))?;
    serde_yaml::from_str(&text).with_context(|| format!("parse {path:?}"))
}
