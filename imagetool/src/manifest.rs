//! The image model: media types, descriptors, manifests and indexes, as the OCI image spec
//! (`manifest.md`, `image-index.md`, `descriptor.md`) and Docker's Image Manifest V2 Schema 2
//! define them. Parsed views only: the original manifest bytes are always kept beside them,
//! because the digest of an image is the digest of those exact bytes.

use crate::digest::Digest;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Read;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// Every manifest type a registry may be asked for, in preference order.
pub const ACCEPT_ALL: &[&str] = &[OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST];

/// The largest manifest read from any transport: distribution refuses to store larger ones
/// and containers/image to read them (`iolimits.MaxManifestBodySize`, 4 MiB).
pub const MAX_MANIFEST_SIZE: u64 = 4 << 20;

/// A manifest over [`MAX_MANIFEST_SIZE`], refused before it is parsed.
#[derive(Debug, thiserror::Error)]
#[error("manifest {name} too large ({size} bytes, limit {limit})")]
pub struct ManifestTooLarge {
    pub name: String,
    /// The size declared (Content-Length, file size) or counted; `64 MiB+` past that.
    pub size: String,
    pub limit: u64,
}

/// Read a manifest of `name` from `r`, refusing one over [`MAX_MANIFEST_SIZE`]: by the
/// `declared` size (Content-Length, file size) before reading, else by counting.
pub fn read_limited(mut r: impl Read, name: &str, declared: Option<u64>) -> Result<Vec<u8>> {
    let too_large = |size: String| ManifestTooLarge {
        name: name.to_string(),
        size,
        limit: MAX_MANIFEST_SIZE,
    };
    if let Some(n) = declared.filter(|n| *n > MAX_MANIFEST_SIZE) {
        return Err(too_large(n.to_string()).into());
    }
    let mut bytes = Vec::new();
    (&mut r)
        .take(MAX_MANIFEST_SIZE + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("read manifest {name}"))?;
    if bytes.len() as u64 > MAX_MANIFEST_SIZE {
        // Count the rest (bounded) so the message says how large it was.
        const COUNT_UP_TO: u64 = 64 << 20;
        let rest = std::io::copy(&mut r.take(COUNT_UP_TO), &mut std::io::sink()).unwrap_or(0);
        let total = bytes.len() as u64 + rest;
        let size = if total > COUNT_UP_TO {
            format!("over {COUNT_UP_TO}")
        } else {
            total.to_string()
        };
        return Err(too_large(size).into());
    }
    Ok(bytes)
}

/// `org.opencontainers.image.ref.name`, the annotation naming an image in an OCI layout index.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(
        default,
        rename = "os.version",
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

impl Descriptor {
    pub fn new(media_type: &str, digest: Digest, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest,
            size,
            urls: None,
            annotations: BTreeMap::new(),
            platform: None,
        }
    }

    pub fn of_bytes(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor::new(media_type, Digest::of(bytes), bytes.len() as u64)
    }

    pub fn ref_name(&self) -> Option<&str> {
        self.annotations.get(REF_NAME).map(String::as_str)
    }
}

/// An image manifest (OCI or Docker v2s2: the same shape).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An image index / manifest list.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Index {
    pub fn empty() -> Index {
        Index {
            schema_version: 2,
            media_type: Some(OCI_INDEX.to_string()),
            manifests: Vec::new(),
            annotations: BTreeMap::new(),
        }
    }
}

/// A parsed manifest of either kind.
#[derive(Clone, Debug)]
pub enum Parsed {
    Image(Box<Manifest>),
    Index(Index),
}

pub fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_LIST
}

/// Guess the media type of manifest bytes that came without one (`dir:`, a layout entry
/// missing `mediaType`), the way containers/image `manifest.GuessMIMEType` does.
pub fn guess_media_type(bytes: &[u8]) -> String {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
        config: Option<serde_json::Value>,
    }
    match serde_json::from_slice::<Probe>(bytes) {
        Ok(Probe {
            media_type: Some(m),
            ..
        }) => m,
        Ok(Probe {
            manifests: Some(_), ..
        }) => OCI_INDEX.to_string(),
        Ok(Probe {
            config: Some(_), ..
        }) => OCI_MANIFEST.to_string(),
        _ => OCI_MANIFEST.to_string(),
    }
}

/// Parse manifest bytes of the given media type. A `mediaType` in the body must agree
/// with the type declared beside it (Content-Type, the index entry), as the image spec
/// requires and containers/image checks; a manifest must be schema version 2.
pub fn parse(bytes: &[u8], media_type: &str) -> Result<Parsed> {
    if is_index(media_type) {
        let idx: Index = serde_json::from_slice(bytes)
            .with_context(|| format!("parse image index ({media_type})"))?;
        check_declared(idx.media_type.as_deref(), media_type, idx.schema_version)?;
        return Ok(Parsed::Index(idx));
    }
    if media_type == OCI_MANIFEST || media_type == DOCKER_MANIFEST {
        let m: Manifest = serde_json::from_slice(bytes)
            .with_context(|| format!("parse image manifest ({media_type})"))?;
        check_declared(m.media_type.as_deref(), media_type, m.schema_version)?;
        return Ok(Parsed::Image(Box::new(m)));
    }
    bail!("parse manifest: unsupported media type {media_type:?}")
}

fn check_declared(body: Option<&str>, declared: &str, schema_version: u32) -> Result<()> {
    if let Some(b) = body.filter(|b| *b != declared) {
        bail!("parse manifest: body says mediaType {b:?}, but it was served as {declared:?}");
    }
    if schema_version != 2 {
        bail!("parse manifest ({declared}): schemaVersion {schema_version}, expected 2");
    }
    Ok(())
}

/// The platform of the running host in OCI terms (`GOARCH` names).
pub fn host_platform() -> (&'static str, &'static str) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "arm" => "arm",
        other => other,
    };
    ("linux", arch)
}

/// Choose the host's entry of an index: first exact os/arch match, like containerd's default matcher.
pub fn choose_platform<'a>(index: &'a Index, os: &str, arch: &str) -> Option<&'a Descriptor> {
    index.manifests.iter().find(|d| {
        d.platform
            .as_ref()
            .is_some_and(|p| p.os == os && p.architecture == arch)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_media_types() {
        assert_eq!(
            guess_media_type(br#"{"schemaVersion":2,"manifests":[]}"#),
            OCI_INDEX
        );
        assert_eq!(
            guess_media_type(br#"{"schemaVersion":2,"config":{}}"#),
            OCI_MANIFEST
        );
        let d = format!(r#"{{"mediaType":"{DOCKER_MANIFEST}"}}"#);
        assert_eq!(guess_media_type(d.as_bytes()), DOCKER_MANIFEST);
    }

    #[test]
    fn parses_docker_list_and_picks_platform() {
        let zero = Digest::of(b"");
        let bytes = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_LIST}","manifests":[
            {{"mediaType":"{DOCKER_MANIFEST}","digest":"{zero}","size":1,"platform":{{"architecture":"arm64","os":"linux"}}}},
            {{"mediaType":"{DOCKER_MANIFEST}","digest":"{zero}","size":2,"platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#
        );
        let Parsed::Index(idx) = parse(bytes.as_bytes(), DOCKER_LIST).unwrap() else {
            panic!("not an index")
        };
        assert_eq!(choose_platform(&idx, "linux", "amd64").unwrap().size, 2);
        assert!(choose_platform(&idx, "linux", "s390x").is_none());
    }
}
