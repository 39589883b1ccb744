//! `--format oci|v2s2` (skopeo copy/sync `-f`): the manifest type the destination gets.
//! Converting changes media types only: the config and layer blobs are the same bytes in
//! either format, so their digests stay and only the manifest (and an index over it) is
//! new. Docker v2s2 has no zstd layer type and no annotations; a zstd layer cannot be
//! converted, annotations are dropped, as containers/image drops them.

use crate::manifest::{self, Descriptor, Index, Manifest};
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

const DOCKER_FOREIGN_GZIP: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
const OCI_NONDISTRIBUTABLE_GZIP: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
const OCI_NONDISTRIBUTABLE: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManifestFormat {
    Oci,
    V2s2,
}

impl FromStr for ManifestFormat {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<ManifestFormat> {
        match s {
            "oci" => Ok(ManifestFormat::Oci),
            "v2s2" => Ok(ManifestFormat::V2s2),
            "v2s1" => bail!(
                "parse manifest format \"v2s1\": Docker schema 1 is deprecated and skiff-image does not write it; use v2s2 or oci"
            ),
            other => bail!("parse manifest format {other:?}: expected oci or v2s2"),
        }
    }
}

impl fmt::Display for ManifestFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ManifestFormat::Oci => "oci",
            ManifestFormat::V2s2 => "v2s2",
        })
    }
}

impl ManifestFormat {
    pub fn manifest_type(self) -> &'static str {
        match self {
            ManifestFormat::Oci => manifest::OCI_MANIFEST,
            ManifestFormat::V2s2 => manifest::DOCKER_MANIFEST,
        }
    }

    pub fn index_type(self) -> &'static str {
        match self {
            ManifestFormat::Oci => manifest::OCI_INDEX,
            ManifestFormat::V2s2 => manifest::DOCKER_LIST,
        }
    }

    /// The media type a config or layer of type `mt` has in a manifest of this format.
    fn blob_type(self, mt: &str) -> Option<&'static str> {
        use ManifestFormat::*;
        Some(match (self, mt) {
            (Oci, manifest::DOCKER_CONFIG | manifest::OCI_CONFIG) => manifest::OCI_CONFIG,
            (Oci, manifest::DOCKER_LAYER | manifest::OCI_LAYER) => manifest::OCI_LAYER,
            (Oci, manifest::DOCKER_LAYER_GZIP | manifest::OCI_LAYER_GZIP) => {
                manifest::OCI_LAYER_GZIP
            }
            (Oci, manifest::OCI_LAYER_ZSTD) => manifest::OCI_LAYER_ZSTD,
            (Oci, DOCKER_FOREIGN_GZIP | OCI_NONDISTRIBUTABLE_GZIP) => OCI_NONDISTRIBUTABLE_GZIP,
            (Oci, OCI_NONDISTRIBUTABLE) => OCI_NONDISTRIBUTABLE,
            (V2s2, manifest::DOCKER_CONFIG | manifest::OCI_CONFIG) => manifest::DOCKER_CONFIG,
            (V2s2, manifest::DOCKER_LAYER | manifest::OCI_LAYER) => manifest::DOCKER_LAYER,
            (V2s2, manifest::DOCKER_LAYER_GZIP | manifest::OCI_LAYER_GZIP) => {
                manifest::DOCKER_LAYER_GZIP
            }
            (V2s2, DOCKER_FOREIGN_GZIP | OCI_NONDISTRIBUTABLE_GZIP) => DOCKER_FOREIGN_GZIP,
            _ => return None,
        })
    }
}

/// The manifest in `format`: the original bytes when it is in that format already.
pub fn convert_manifest(
    bytes: Vec<u8>,
    media_type: String,
    format: ManifestFormat,
) -> Result<(Vec<u8>, String)> {
    if media_type == format.manifest_type() {
        return Ok((bytes, media_type));
    }
    let mut m: Manifest = serde_json::from_slice(&bytes).context("parse image manifest")?;
    let convert = |d: &mut Descriptor| -> Result<()> {
        let Some(to) = format.blob_type(&d.media_type) else {
            bail!(
                "convert manifest to {format}: {} has media type {:?}, which {format} cannot name",
                d.digest,
                d.media_type
            );
        };
        d.media_type = to.to_string();
        if format == ManifestFormat::V2s2 {
            d.annotations = BTreeMap::new();
            d.platform = None;
        }
        Ok(())
    };
    convert(&mut m.config)?;
    for layer in m.layers.iter_mut() {
        convert(layer)?;
    }
    if format == ManifestFormat::V2s2 {
        m.annotations = BTreeMap::new();
    }
    m.media_type = Some(format.manifest_type().to_string());
    let b = serde_json::to_vec(&m).context("serialise image manifest")?;
    Ok((b, format.manifest_type().to_string()))
}

/// The index type `format` asks for, with Docker's limits applied to a list: no
/// annotations on it or its entries.
pub fn convert_index(index: &mut Index, format: ManifestFormat) {
    index.media_type = Some(format.index_type().to_string());
    if format == ManifestFormat::V2s2 {
        index.annotations = BTreeMap::new();
        for d in index.manifests.iter_mut() {
            d.annotations = BTreeMap::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;

    fn image(mt: &str, config: &str, layers: &[&str]) -> (Vec<u8>, String) {
        let d = |t: &str, b: &[u8]| Descriptor::new(t, Digest::of(b), b.len() as u64);
        let mut m = Manifest {
            schema_version: 2,
            media_type: Some(mt.into()),
            config: d(config, b"{}"),
            layers: layers.iter().map(|t| d(t, t.as_bytes())).collect(),
            annotations: BTreeMap::new(),
        };
        if mt == manifest::OCI_MANIFEST {
            m.annotations.insert("org.example".into(), "x".into());
        }
        (serde_json::to_vec(&m).unwrap(), mt.to_string())
    }

    fn types(bytes: &[u8]) -> (String, Vec<String>, usize) {
        let m: Manifest = serde_json::from_slice(bytes).unwrap();
        let mut t = vec![m.config.media_type];
        t.extend(m.layers.into_iter().map(|l| l.media_type));
        (m.media_type.unwrap(), t, m.annotations.len())
    }

    #[test]
    fn oci_and_v2s2_convert_both_ways_and_keep_blob_digests() {
        let (oci, mt) = image(
            manifest::OCI_MANIFEST,
            manifest::OCI_CONFIG,
            &[manifest::OCI_LAYER_GZIP, manifest::OCI_LAYER],
        );
        let (docker, dmt) =
            convert_manifest(oci.clone(), mt.clone(), ManifestFormat::V2s2).unwrap();
        assert_eq!(dmt, manifest::DOCKER_MANIFEST);
        assert_eq!(
            types(&docker),
            (
                dmt.clone(),
                vec![
                    manifest::DOCKER_CONFIG.to_string(),
                    manifest::DOCKER_LAYER_GZIP.to_string(),
                    manifest::DOCKER_LAYER.to_string()
                ],
                0
            )
        );
        let before: Manifest = serde_json::from_slice(&oci).unwrap();
        let after: Manifest = serde_json::from_slice(&docker).unwrap();
        assert_eq!(before.config.digest, after.config.digest);
        let digests = |m: &Manifest| {
            m.layers
                .iter()
                .map(|l| l.digest.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(digests(&before), digests(&after));
        let (back, bmt) = convert_manifest(docker, dmt, ManifestFormat::Oci).unwrap();
        assert_eq!(bmt, manifest::OCI_MANIFEST);
        assert_eq!(types(&back).1, types(&oci).1);
        // Already in the format: the bytes are kept.
        assert_eq!(
            convert_manifest(oci.clone(), mt, ManifestFormat::Oci)
                .unwrap()
                .0,
            oci
        );
    }

    #[test]
    fn zstd_layers_cannot_become_v2s2() {
        let (oci, mt) = image(
            manifest::OCI_MANIFEST,
            manifest::OCI_CONFIG,
            &[manifest::OCI_LAYER_ZSTD],
        );
        let e = convert_manifest(oci, mt, ManifestFormat::V2s2).unwrap_err();
        assert!(format!("{e:#}").contains("tar+zstd"), "{e:#}");
    }

    #[test]
    fn formats_parse_as_skopeo_names_them() {
        assert_eq!(
            "oci".parse::<ManifestFormat>().unwrap(),
            ManifestFormat::Oci
        );
        assert_eq!(
            "v2s2".parse::<ManifestFormat>().unwrap(),
            ManifestFormat::V2s2
        );
        assert!("v2s1"
            .parse::<ManifestFormat>()
            .unwrap_err()
            .to_string()
            .contains("deprecated"));
        assert!("docker".parse::<ManifestFormat>().is_err());
    }
}
