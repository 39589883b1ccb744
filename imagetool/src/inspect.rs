//! `inspect`: skopeo's `inspect` JSON (Name, Digest, RepoTags, Created, Architecture, Os,
//! Layers, LayersData, Env, Labels), `--raw` manifest bytes and `--config` config bytes;
//! `history`: the config's history entries matched to layers (empty ones take none).

use crate::copy::CopyOptions;
use crate::digest::Digest;
use crate::manifest::{self, Descriptor, Parsed};
use crate::transport::{open_blob, read_manifest, ImageSource};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::io::Read;

/// The image manifest for the chosen platform (following an index), with its digest.
pub fn platform_manifest(
    src: &dyn ImageSource,
    opts: &CopyOptions,
) -> Result<(Digest, manifest::Manifest)> {
    let (bytes, mt) = read_manifest(src, None)?;
    match manifest::parse(&bytes, &mt)? {
        Parsed::Image(m) => Ok((Digest::of(&bytes), *m)),
        Parsed::Index(i) => {
            let want = opts.platform_or_host();
            let d = want
                .choose(&i)
                .ok_or_else(|| anyhow!("choose manifest: no entry for platform {want} in index"))?;
            let (cb, ct) = read_manifest(src, Some(&d.digest))?;
            match manifest::parse(&cb, &ct)? {
                Parsed::Image(m) => Ok((d.digest.clone(), *m)),
                Parsed::Index(_) => bail!("read manifest {}: nested index", d.digest),
            }
        }
    }
}

/// The config blob bytes, verified (configs are small; capped at 64 MiB).
pub fn read_config(src: &dyn ImageSource, config: &Descriptor) -> Result<Vec<u8>> {
    if config.size > 64 << 20 {
        bail!(
            "read config {}: {} bytes is too large",
            config.digest,
            config.size
        );
    }
    let mut bytes = Vec::with_capacity(config.size as usize);
    open_blob(src, config)?
        .read_to_end(&mut bytes)
        .with_context(|| format!("read config {}", config.digest))?;
    Ok(bytes)
}

/// skopeo-style inspect document.
pub fn inspect(
    src: &dyn ImageSource,
    name: &str,
    tags: Vec<String>,
    opts: &CopyOptions,
) -> Result<Value> {
    Ok(described(src, name, tags, opts)?.doc)
}

/// What `inspect --format` templates see: skopeo's document plus the fields of
/// `docker image inspect` scripts read: `Id` (the top-level manifest's digest, the image
/// ID of `images`), `RepoDigests`, `Config` (the config's `config`), `RootFS`, `Author`,
/// `Comment` and `Size` (config and layers, compressed).
pub fn template_document(
    src: &dyn ImageSource,
    name: &str,
    tags: Vec<String>,
    opts: &CopyOptions,
) -> Result<Value> {
    let d = described(src, name, tags, opts)?;
    let repo = name
        .parse::<crate::reference::ImageRef>()
        .map_or_else(|_| name.to_string(), |r| r.familiar_name());
    let mut doc = d.doc;
    let text = |k: &str| d.config.get(k).cloned().unwrap_or(json!(""));
    let size = d.manifest.config.size + d.manifest.layers.iter().map(|l| l.size).sum::<u64>();
    let extra = json!({
        "Id": d.top.to_string(),
        "RepoDigests": [format!("{repo}@{}", d.top)],
        "Config": d.config.get("config").cloned().unwrap_or(json!({})),
        "RootFS": d.config.get("rootfs").cloned().unwrap_or(Value::Null),
        "Author": text("author"),
        "Comment": text("comment"),
        "Size": size,
    });
    if let (Some(o), Value::Object(e)) = (doc.as_object_mut(), extra) {
        o.extend(e);
    }
    Ok(doc)
}

struct Described {
    doc: Value,
    config: Value,
    manifest: manifest::Manifest,
    top: Digest,
}

fn described(
    src: &dyn ImageSource,
    name: &str,
    tags: Vec<String>,
    opts: &CopyOptions,
) -> Result<Described> {
    // skopeo's Digest is the top-level manifest's: an index's own digest, though every
    // other field describes the chosen platform's image.
    let (top, _) = read_manifest(src, None)?;
    let top = Digest::of(&top);
    let (_, m) = platform_manifest(src, opts)?;
    let config: Value =
        serde_json::from_slice(&read_config(src, &m.config)?).context("parse image config")?;
    let cfg = config.get("config").cloned().unwrap_or(Value::Null);
    let doc = json!({
        "Name": name,
        "Digest": top.to_string(),
        "RepoTags": tags,
        "Created": config.get("created").cloned().unwrap_or(Value::Null),
        "DockerVersion": config.get("docker_version").cloned().unwrap_or(json!("")),
        "Labels": cfg.get("Labels").cloned().unwrap_or(Value::Null),
        "Architecture": config.get("architecture").cloned().unwrap_or(json!("")),
        "Os": config.get("os").cloned().unwrap_or(json!("")),
        "Layers": m.layers.iter().map(|l| l.digest.to_string()).collect::<Vec<_>>(),
        "LayersData": m.layers.iter().map(|l| json!({
            "MIMEType": l.media_type, "Digest": l.digest.to_string(), "Size": l.size, "Annotations": l.annotations,
        })).collect::<Vec<_>>(),
        "Env": cfg.get("Env").cloned().unwrap_or(Value::Null),
    });
    Ok(Described {
        doc,
        config,
        manifest: m,
        top,
    })
}

/// One `history` row: the config's entry with the layer it produced, if any.
#[derive(Debug, serde::Serialize)]
pub struct HistoryEntry {
    pub created: Option<String>,
    pub created_by: String,
    pub comment: String,
    pub empty_layer: bool,
    /// Compressed size of the layer this step produced.
    pub size: u64,
    pub layer: Option<String>,
}

/// History of the chosen platform's image, newest first (as `docker history` prints it).
pub fn history(src: &dyn ImageSource, opts: &CopyOptions) -> Result<Vec<HistoryEntry>> {
    let (_, m) = platform_manifest(src, opts)?;
    let config: Value =
        serde_json::from_slice(&read_config(src, &m.config)?).context("parse image config")?;
    let mut layers = m.layers.iter();
    let mut out = Vec::new();
    for h in config
        .get("history")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let empty = h
            .get("empty_layer")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let layer = if empty { None } else { layers.next() };
        let text = |k: &str| h.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        out.push(HistoryEntry {
            created: h.get("created").and_then(Value::as_str).map(str::to_string),
            created_by: text("created_by"),
            comment: text("comment"),
            empty_layer: empty,
            size: layer.map_or(0, |l| l.size),
            layer: layer.map(|l| l.digest.to_string()),
        });
    }
    // Layers the history does not describe (images built without history).
    for l in layers {
        out.push(HistoryEntry {
            created: None,
            created_by: String::new(),
            comment: String::new(),
            empty_layer: false,
            size: l.size,
            layer: Some(l.digest.to_string()),
        });
    }
    out.reverse();
    Ok(out)
}
