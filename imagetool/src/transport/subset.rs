//! An image source whose top-level index keeps only the entries of chosen platforms
//! (`copy --all --platform A,B`). skopeo has no equivalent (1.9.3 copies one platform or
//! all); containers/image's `CopySpecificImages` keeps the whole index and leaves it
//! sparse. Here the index is rewritten instead, so the destination never names manifests
//! it does not hold: a new index, with a new digest, unless every entry was chosen, when
//! the original bytes (and digest) are kept. Unknown index fields do not survive the
//! rewrite; the entries and annotations do.

use super::{BlobOrigin, BlobReader, ImageSource};
use crate::digest::Digest;
use crate::manifest::{self, Descriptor, Parsed};
use crate::platform::PlatformSpec;
use anyhow::{bail, Context, Result};
use std::sync::OnceLock;

pub struct SubsetSource {
    inner: Box<dyn ImageSource>,
    platforms: Vec<PlatformSpec>,
    top: OnceLock<(Vec<u8>, String)>,
}

impl SubsetSource {
    pub fn new(inner: Box<dyn ImageSource>, platforms: Vec<PlatformSpec>) -> SubsetSource {
        SubsetSource {
            inner,
            platforms,
            top: OnceLock::new(),
        }
    }

    fn select(&self) -> Result<(Vec<u8>, String)> {
        let (bytes, media_type) = self.inner.manifest(None)?;
        let Parsed::Index(mut index) = manifest::parse(&bytes, &media_type)? else {
            // One image: nothing to choose from, as without --all.
            return Ok((bytes, media_type));
        };
        let total = index.manifests.len();
        index.manifests.retain(|d| self.wanted(d));
        for p in &self.platforms {
            if !index.manifests.iter().any(|d| matches(p, d)) {
                bail!("select platforms: no entry for platform {p} in index");
            }
        }
        if index.manifests.len() == total {
            return Ok((bytes, media_type));
        }
        let new = serde_json::to_vec(&index).context("serialise image index")?;
        Ok((new, media_type))
    }

    fn wanted(&self, d: &Descriptor) -> bool {
        self.platforms.iter().any(|p| matches(p, d))
    }
}

fn matches(p: &PlatformSpec, d: &Descriptor) -> bool {
    d.platform.as_ref().is_some_and(|pl| p.matches(pl))
}

impl ImageSource for SubsetSource {
    fn manifest(&self, instance: Option<&Digest>) -> Result<(Vec<u8>, String)> {
        match instance {
            Some(_) => self.inner.manifest(instance),
            None => {
                if let Some(top) = self.top.get() {
                    return Ok(top.clone());
                }
                let top = self.select()?;
                Ok(self.top.get_or_init(|| top).clone())
            }
        }
    }

    fn blob_raw(&self, desc: &Descriptor) -> Result<BlobReader> {
        self.inner.blob_raw(desc)
    }

    fn blob_raw_at(&self, desc: &Descriptor, offset: u64) -> Result<BlobReader> {
        self.inner.blob_raw_at(desc, offset)
    }

    fn origin(&self) -> Option<BlobOrigin> {
        self.inner.origin()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Index, Platform};

    struct OneIndex(Vec<u8>);

    impl ImageSource for OneIndex {
        fn manifest(&self, _: Option<&Digest>) -> Result<(Vec<u8>, String)> {
            Ok((self.0.clone(), manifest::DOCKER_LIST.to_string()))
        }
        fn blob_raw(&self, _: &Descriptor) -> Result<BlobReader> {
            bail!("no blobs")
        }
    }

    fn entry(arch: &str, variant: Option<&str>, n: u8) -> Descriptor {
        let mut d = Descriptor::new(manifest::DOCKER_MANIFEST, Digest::of(&[n]), n as u64);
        d.platform = Some(Platform {
            architecture: arch.into(),
            os: "linux".into(),
            variant: variant.map(str::to_string),
            os_version: None,
        });
        d
    }

    fn subset(list: &str) -> Result<Vec<u64>> {
        let idx = Index {
            media_type: Some(manifest::DOCKER_LIST.into()),
            manifests: vec![
                entry("amd64", None, 1),
                entry("arm", Some("v6"), 2),
                entry("arm", Some("v7"), 3),
                entry("arm64", Some("v8"), 4),
            ],
            ..Index::empty()
        };
        let src = OneIndex(serde_json::to_vec(&idx).unwrap());
        let platforms = list.split(',').map(|p| p.parse().unwrap()).collect();
        let s = SubsetSource::new(Box::new(src), platforms);
        let (b, mt) = s.manifest(None)?;
        let Parsed::Index(i) = manifest::parse(&b, &mt)? else {
            panic!("not an index")
        };
        Ok(i.manifests.iter().map(|d| d.size).collect())
    }

    #[test]
    fn keeps_the_chosen_entries_in_index_order() {
        assert_eq!(subset("linux/arm64,linux/amd64").unwrap(), [1, 4]);
        assert_eq!(subset("linux/arm").unwrap(), [2, 3], "every arm variant");
        assert_eq!(subset("linux/arm/v7").unwrap(), [3]);
        let e = subset("linux/amd64,linux/s390x").unwrap_err().to_string();
        assert!(e.contains("no entry for platform linux/s390x"), "{e}");
    }
}
