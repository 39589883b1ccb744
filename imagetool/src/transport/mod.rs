//! Transports: where images live. One source trait and one destination trait, served by
//! every transport, shaped after containers/image `types.ImageSource`/`ImageDestination`.
//! Image locations use skopeo's `transport:details` syntax.

pub mod archive;
pub mod dir;
pub mod docker_archive;
pub mod ingest;
pub mod layout;
pub mod oci;
pub mod store;
pub mod subset;
pub mod tarfile;

use crate::digest::{Digest, Hasher};
use crate::manifest::Descriptor;
use crate::reference::ImageRef;
use crate::registry::RegistryOptions;
use crate::verify::VerifyingReader;
use anyhow::{bail, Context, Result};
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

pub type BlobReader = Box<dyn Read + Send>;

/// A destination's word that an upload failed for a passing reason (a cut connection, 429,
/// 5xx) and that it kept nothing of the blob: the copy may offer the whole stream again,
/// up to [`ImageDestination::blob_retries`] times.
#[derive(Debug, thiserror::Error)]
#[error("upload blob {digest}: interrupted")]
pub struct BlobInterrupted {
    pub digest: Digest,
    /// What the server asked for (`Retry-After`); otherwise the copy backs off.
    pub retry_after: Option<Duration>,
    #[source]
    pub cause: Box<dyn std::error::Error + Send + Sync>,
}

/// The wait before retry number `attempt` (from 0): 250 ms doubling, at most 8 s.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis((250u64 << attempt.min(5)).min(8000))
}

/// Where a blob can be mounted from: registry host and repository path.
#[derive(Clone, Debug, PartialEq)]
pub struct BlobOrigin {
    pub domain: String,
    pub path: String,
}

/// Reads one image (or index) lazily.
pub trait ImageSource: Send + Sync {
    /// The top-level manifest (`None`) or the manifest with `instance` digest (an index
    /// child), with its media type. Bytes are exactly as stored.
    fn manifest(&self, instance: Option<&Digest>) -> Result<(Vec<u8>, String)>;
    /// The blob's raw stream. Callers go through [`open_blob`], which verifies it.
    fn blob_raw(&self, desc: &Descriptor) -> Result<BlobReader>;
    /// The blob's raw stream from byte `offset` on (a resumed download). By default the
    /// first `offset` bytes are read and dropped; registries ask with `Range`.
    fn blob_raw_at(&self, desc: &Descriptor, offset: u64) -> Result<BlobReader> {
        let mut r = self.blob_raw(desc)?;
        let skipped = std::io::copy(&mut (&mut r).take(offset), &mut std::io::sink())
            .with_context(|| format!("read blob {}", desc.digest))?;
        if skipped != offset {
            bail!(
                "read blob {}: ended at byte {skipped} before resume offset {offset}",
                desc.digest
            );
        }
        Ok(r)
    }
    /// Registry repository the blobs come from, when a registry may mount them.
    fn origin(&self) -> Option<BlobOrigin> {
        None
    }
}

/// Writes one image; nothing is visible before `commit`.
pub trait ImageDestination: Send + Sync {
    /// Whether the destination already has this blob (the copy then skips it).
    fn has_blob(&self, desc: &Descriptor) -> Result<bool>;
    /// Try to reuse the blob from another repository of the same registry.
    fn mount_blob(&self, _desc: &Descriptor, _from: &BlobOrigin) -> Result<bool> {
        Ok(false)
    }
    /// Store a blob, reading `reader` to EOF; a read error (digest mismatch) fails the put,
    /// and leaves nothing of the blob behind.
    fn put_blob(&self, desc: &Descriptor, reader: &mut dyn Read) -> Result<()>;
    /// How often a put that failed with [`BlobInterrupted`] may be tried again.
    fn blob_retries(&self) -> u32 {
        0
    }
    /// How much of this blob an interrupted earlier run already stored, with the hash of
    /// those bytes; the copy then streams only the rest into [`Self::put_blob_at`].
    fn resume_point(&self, _desc: &Descriptor) -> Result<Option<(u64, Hasher)>> {
        Ok(None)
    }
    /// Store the rest of a blob from `offset`, as offered by [`Self::resume_point`].
    fn put_blob_at(&self, desc: &Descriptor, offset: u64, _reader: &mut dyn Read) -> Result<()> {
        bail!(
            "store blob {} from byte {offset}: destination cannot resume",
            desc.digest
        )
    }
    /// Store a manifest: an index child (`instance`) or the top-level manifest.
    fn put_manifest(&self, bytes: &[u8], media_type: &str, instance: bool) -> Result<()>;
    /// Whether index manifests (`--all`) can be stored.
    fn supports_index(&self) -> bool {
        true
    }
    /// Make the image visible.
    fn commit(&self) -> Result<()>;
}

/// Open a blob of `src` through the verifying reader: size and digest are checked at EOF.
pub fn open_blob(src: &dyn ImageSource, desc: &Descriptor) -> Result<VerifyingReader<BlobReader>> {
    let raw = src
        .blob_raw(desc)
        .with_context(|| format!("read blob {}", desc.digest))?;
    Ok(VerifyingReader::new(
        raw,
        desc.digest.clone(),
        Some(desc.size),
    ))
}

/// Read a manifest and, when fetched by digest, check the bytes match it.
pub fn read_manifest(
    src: &dyn ImageSource,
    instance: Option<&Digest>,
) -> Result<(Vec<u8>, String)> {
    let (bytes, media_type) = src.manifest(instance)?;
    if let Some(want) = instance {
        let got = Digest::of(&bytes);
        if &got != want {
            bail!("verify manifest {want}: content has digest {got}");
        }
    }
    Ok((bytes, media_type))
}

/// A parsed `transport:details` location.
#[derive(Clone, Debug, PartialEq)]
pub enum Location {
    Registry(ImageRef),
    Oci {
        dir: PathBuf,
        name: Option<String>,
    },
    OciArchive {
        file: PathBuf,
        name: Option<String>,
    },
    DockerArchive {
        file: PathBuf,
        name: Option<String>,
    },
    Dir(PathBuf),
    /// The local store (`skiff:NAME`; bare names in pull/push/inspect).
    Store(String),
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LocationError {
    #[error("parse image location {0:?}: expected TRANSPORT:DETAILS (docker://, oci:, oci-archive:, docker-archive:, dir:, skiff:)")]
    NoTransport(String),
    #[error("parse image location {location:?}: unknown transport {transport:?}")]
    Unknown { location: String, transport: String },
    #[error("parse image location {0:?}: docker transport needs \"docker://\"")]
    DockerSlashes(String),
    #[error("parse image location {0:?}: empty path")]
    EmptyPath(String),
}

impl Location {
    pub fn parse(s: &str) -> std::result::Result<Location, anyhow::Error> {
        let Some((transport, rest)) = s.split_once(':') else {
            return Err(LocationError::NoTransport(s.to_string()).into());
        };
        let path_ref =
            |rest: &str| -> std::result::Result<(PathBuf, Option<String>), LocationError> {
                let (p, n) = match rest.split_once(':') {
                    Some((p, n)) => (p, Some(n.to_string()).filter(|n| !n.is_empty())),
                    None => (rest, None),
                };
                if p.is_empty() {
                    return Err(LocationError::EmptyPath(s.to_string()));
                }
                Ok((PathBuf::from(p), n))
            };
        Ok(match transport {
            "docker" => {
                let r = rest
                    .strip_prefix("//")
                    .ok_or_else(|| LocationError::DockerSlashes(s.to_string()))?;
                Location::Registry(r.parse()?)
            }
            "oci" => {
                let (dir, name) = path_ref(rest)?;
                Location::Oci { dir, name }
            }
            "oci-archive" => {
                let (file, name) = path_ref(rest)?;
                Location::OciArchive { file, name }
            }
            "docker-archive" => {
                let (file, name) = path_ref(rest)?;
                Location::DockerArchive { file, name }
            }
            "dir" if !rest.is_empty() => Location::Dir(PathBuf::from(rest)),
            "dir" => return Err(LocationError::EmptyPath(s.to_string()).into()),
            "skiff" => Location::Store(rest.to_string()),
            other => {
                return Err(LocationError::Unknown {
                    location: s.to_string(),
                    transport: other.to_string(),
                }
                .into())
            }
        })
    }
}

/// What opening a location needs besides the location itself.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    pub store_root: PathBuf,
    pub registry: RegistryOptions,
}

pub fn open_source(loc: &Location, opts: &OpenOptions) -> Result<Box<dyn ImageSource>> {
    Ok(match loc {
        Location::Registry(r) => Box::new(crate::registry::RegistrySource::new(r, &opts.registry)?),
        Location::Oci { dir, name } => Box::new(oci::OciSource::open(dir, name.as_deref())?),
        Location::OciArchive { file, name } => {
            Box::new(archive::open_oci_archive(file, name.as_deref())?)
        }
        Location::DockerArchive { file, name } => {
            docker_archive::open_source(file, name.as_deref())?
        }
        Location::Dir(d) => Box::new(dir::DirSource::open(d)?),
        Location::Store(name) => Box::new(store::Store::open(&opts.store_root)?.source(name)?),
    })
}

pub fn open_destination(loc: &Location, opts: &OpenOptions) -> Result<Box<dyn ImageDestination>> {
    Ok(match loc {
        Location::Registry(r) => Box::new(crate::registry::RegistryDestination::new(
            r,
            &opts.registry,
        )?),
        Location::Oci { dir, name } => Box::new(oci::OciDestination::create(dir, name.as_deref())?),
        Location::OciArchive { file, name } => Box::new(archive::OciArchiveDestination::create(
            file,
            name.as_deref(),
        )?),
        Location::DockerArchive { file, name } => {
            let names = match name {
                Some(n) => vec![n.parse::<ImageRef>()?],
                None => Vec::new(),
            };
            Box::new(docker_archive::DockerArchiveDestination::create(
                file, names,
            )?)
        }
        Location::Dir(d) => Box::new(dir::DirDestination::create(d)?),
        Location::Store(name) => {
            let r: ImageRef = name.parse()?;
            Box::new(store::Store::open(&opts.store_root)?.destination(&r)?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_locations() {
        assert_eq!(
            Location::parse("oci:/tmp/x:busybox:1").unwrap(),
            Location::Oci {
                dir: "/tmp/x".into(),
                name: Some("busybox:1".into())
            }
        );
        assert_eq!(
            Location::parse("dir:/d").unwrap(),
            Location::Dir("/d".into())
        );
        let Location::Registry(r) = Location::parse("docker://localhost:5000/a:t").unwrap() else {
            panic!()
        };
        assert_eq!(r.to_string(), "localhost:5000/a:t");
        let e = Location::parse("ftp:/x").unwrap_err().to_string();
        assert!(e.contains("unknown transport \"ftp\""), "{e}");
        assert!(Location::parse("docker:busybox").is_err());
        assert!(Location::parse("busybox").is_err());
        assert!(Location::parse("oci:").is_err());
    }
}
