//! Reading an image from a registry: manifests by tag or digest with every supported
//! `Accept` type, blobs as streams that resume with `Range` after a dropped connection.

use super::client::{Body, Client, HttpError};
use super::clients::Clients;
use super::registries::{self, Endpoint};
use super::RegistryOptions;
use crate::digest::Digest;
use crate::manifest::{self, Descriptor};
use crate::reference::ImageRef;
use crate::transport::{BlobOrigin, BlobReader, ImageSource};
use anyhow::{bail, Context, Result};
use std::io::{self, Read};
use std::sync::{Arc, OnceLock};

/// Reads from the first endpoint (registries.conf mirrors, then the registry) that serves
/// the top-level manifest; every later read uses that endpoint.
pub struct RegistrySource {
    endpoints: Vec<Endpoint>,
    chosen: OnceLock<(Arc<Client>, ImageRef)>,
    /// The top-level manifest once read: a short-name probe and the copy after it share it.
    top: OnceLock<(Vec<u8>, String)>,
    clients: Arc<Clients>,
}

impl RegistrySource {
    pub fn new(reference: &ImageRef, opts: &RegistryOptions) -> Result<RegistrySource> {
        Self::with_clients(reference, opts, Arc::default())
    }

    /// Like [`Self::new`], taking clients from `clients` (shared with other images).
    pub fn with_clients(
        reference: &ImageRef,
        opts: &RegistryOptions,
        clients: Arc<Clients>,
    ) -> Result<RegistrySource> {
        let endpoints = registries::pull_endpoints(reference, opts)?;
        Ok(RegistrySource {
            endpoints,
            chosen: OnceLock::new(),
            top: OnceLock::new(),
            clients,
        })
    }

    /// The endpoint in use; before any manifest was read, the registry itself.
    fn current(&self) -> Result<(Arc<Client>, ImageRef)> {
        if let Some(c) = self.chosen.get() {
            return Ok(c.clone());
        }
        let ep = self.endpoints.last().context("no registry endpoint")?;
        let r = &ep.reference;
        let client = self.clients.get(&r.domain, &r.path, &ep.opts, false)?;
        Ok(self.chosen.get_or_init(|| (client, r.clone())).clone())
    }

    /// Try each endpoint for the top-level manifest; the first that answers is kept.
    fn choose(&self) -> Result<(Vec<u8>, String)> {
        if let Some(top) = self.top.get() {
            return Ok(top.clone());
        }
        let mut last = None;
        for ep in &self.endpoints {
            let r = &ep.reference;
            let attempt = self
                .clients
                .get(&r.domain, &r.path, &ep.opts, false)
                .and_then(|client| {
                    let got = get_manifest(&client, &r.manifest_reference())?;
                    Ok((client, got))
                });
            match attempt {
                Ok((client, got)) => {
                    let _ = self.chosen.set((client, r.clone()));
                    return Ok(self.top.get_or_init(|| got).clone());
                }
                Err(e) => last = Some(e.context(format!("read manifest {r}"))),
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("no registry endpoint")))
    }
}

/// GET a manifest by tag or digest; returns bytes and media type.
pub fn get_manifest(client: &Client, reference: &str) -> Result<(Vec<u8>, String)> {
    let url = client.repo_url(&format!("manifests/{reference}"))?;
    let accept = manifest::ACCEPT_ALL.join(", ");
    let resp = client.send("GET", &url, &[("Accept", accept)], Body::Empty)?;
    let content_type = resp
        .header("content-type")
        .map(|c| c.split(';').next().unwrap_or(c).trim().to_string());
    let declared = resp
        .header("content-length")
        .and_then(|n| n.trim().parse::<u64>().ok());
    let sep = if reference.contains(':') { '@' } else { ':' };
    let name = format!("{}/{}{sep}{reference}", client.domain(), client.repo());
    let bytes = manifest::read_limited(resp.into_reader(), &name, declared)?;
    let media_type = match content_type {
        Some(c) if c != "application/json" && !c.is_empty() => c,
        _ => manifest::guess_media_type(&bytes),
    };
    Ok((bytes, media_type))
}

/// HEAD a manifest: its digest (`Docker-Content-Digest`) if it exists.
pub fn head_manifest(client: &Client, reference: &str) -> Result<Option<Digest>> {
    let url = client.repo_url(&format!("manifests/{reference}"))?;
    let accept = manifest::ACCEPT_ALL.join(", ");
    match client.send("HEAD", &url, &[("Accept", accept)], Body::Empty) {
        Ok(resp) => Ok(resp
            .header("docker-content-digest")
            .and_then(|d| d.parse().ok())),
        Err(e) if e.status() == Some(404) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

impl ImageSource for RegistrySource {
    fn manifest(&self, instance: Option<&Digest>) -> Result<(Vec<u8>, String)> {
        let (bytes, mt) = match instance {
            Some(d) => {
                let (client, reference) = self.current()?;
                get_manifest(&client, &d.to_string())
                    .with_context(|| format!("read manifest {reference}@{d}"))?
            }
            None => self.choose()?,
        };
        let pinned = self
            .endpoints
            .last()
            .and_then(|e| e.reference.digest.clone());
        if let (None, Some(want)) = (instance, &pinned) {
            let got = Digest::of(&bytes);
            if &got != want {
                bail!("verify manifest {want}: registry sent content with digest {got}");
            }
        }
        // A malformed manifest is refused here, where the reference is known.
        manifest::parse(&bytes, &mt).with_context(|| match (self.chosen.get(), instance) {
            (Some((_, r)), Some(d)) => format!("read manifest {}@{d}", r.repository()),
            (Some((_, r)), None) => format!("read manifest {r}"),
            (None, _) => "read manifest".to_string(),
        })?;
        Ok((bytes, mt))
    }

    fn blob_raw(&self, desc: &Descriptor) -> Result<BlobReader> {
        self.blob_raw_at(desc, 0)
    }

    /// `Range: bytes=OFFSET-` from the start when resuming an earlier run's download.
    fn blob_raw_at(&self, desc: &Descriptor, offset: u64) -> Result<BlobReader> {
        let (client, _) = self.current()?;
        let url = client.repo_url(&format!("blobs/{}", desc.digest))?;
        let mut r = ResumingReader {
            client,
            url,
            offset,
            size: desc.size,
            inner: None,
            resumes_left: 5,
        };
        r.open()?;
        Ok(Box::new(r))
    }

    fn origin(&self) -> Option<BlobOrigin> {
        let (_, r) = self.current().ok()?;
        Some(BlobOrigin {
            domain: r.domain,
            path: r.path,
        })
    }
}

/// A blob body that, when the connection fails mid-stream, asks again from the byte it
/// reached (`Range: bytes=N-`). The verifying reader above it still sees one stream.
/// A body that ends before the descriptor's size counts as cut (a registry or proxy whose
/// Content-Length is too small), and one that fails after the last byte counts as whole
/// (a Content-Length too large): in both cases the verifying reader has the last word.
struct ResumingReader {
    client: Arc<Client>,
    url: String,
    offset: u64,
    /// The descriptor's size: where the blob ends whatever the headers say.
    size: u64,
    inner: Option<Box<dyn Read + Send + Sync>>,
    resumes_left: u32,
}

impl ResumingReader {
    fn open(&mut self) -> Result<(), HttpError> {
        let headers: Vec<(&str, String)> = if self.offset > 0 {
            vec![("Range", format!("bytes={}-", self.offset))]
        } else {
            Vec::new()
        };
        let resp = self.client.send("GET", &self.url, &headers, Body::Empty)?;
        let full_body = resp.status() == 200;
        let mut reader = resp.into_reader();
        if self.offset > 0 && full_body {
            // The server ignored Range and sent the whole blob: skip what we already have.
            let skipped =
                io::copy(&mut (&mut reader).take(self.offset), &mut io::sink()).map_err(|e| {
                    HttpError::Transport {
                        method: "GET".into(),
                        url: self.url.clone(),
                        source: e.into(),
                        transient: true,
                    }
                })?;
            if skipped != self.offset {
                return Err(HttpError::Transport {
                    method: "GET".into(),
                    url: self.url.clone(),
                    source: anyhow::anyhow!(
                        "body ended at byte {skipped} before resume offset {}",
                        self.offset
                    ),
                    transient: true,
                });
            }
        }
        self.inner = Some(reader);
        Ok(())
    }
}

impl Read for ResumingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(inner) = self.inner.as_mut() else {
                return Err(io::Error::other(format!("GET {}: no response", self.url)));
            };
            let err = match inner.read(buf) {
                Ok(0) if !buf.is_empty() && self.offset < self.size => io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "GET {}: body ended at byte {} of {}",
                        self.url, self.offset, self.size
                    ),
                ),
                Ok(n) => {
                    self.offset += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // Every byte is here; the verifying reader checks them.
                Err(e) if self.offset >= self.size && e.kind() != io::ErrorKind::InvalidData => {
                    return Ok(0)
                }
                Err(e) => e,
            };
            if self.resumes_left == 0 || err.kind() == io::ErrorKind::InvalidData {
                return Err(err);
            }
            self.resumes_left -= 1;
            self.inner = None;
            self.open().map_err(|e2| {
                io::Error::other(format!("{err}; resume at byte {}: {e2}", self.offset))
            })?;
        }
    }
}
