//! Writing an image to a registry (distribution `api.md` "Pushing An Image"): `HEAD` each
//! blob first, try a cross-repository mount (`?mount=&from=`, falling back when the
//! registry answers 202), upload small blobs in one monolithic `PUT` and stream larger ones
//! in one `PATCH` as they are read, committed with `PUT ?digest=` only after the verifying
//! reader accepted the whole stream; then `PUT` the manifests.

use super::client::{Body, Client, HttpError};
use super::clients::Clients;
use super::RegistryOptions;
use crate::digest::Digest;
use crate::manifest::Descriptor;
use crate::reference::ImageRef;
use crate::transport::{BlobInterrupted, BlobOrigin, ImageDestination};
use anyhow::{anyhow, bail, Context, Result};
use std::io::{self, Read};
use std::sync::Arc;

/// Blobs up to this size are read into memory and go up in one `PUT` (a round trip less,
/// and the client may replay it); larger ones stream, so memory stays flat whatever the
/// layer size.
const MONOLITHIC_MAX: u64 = 1 << 20;

pub struct RegistryDestination {
    client: Arc<Client>,
    reference: ImageRef,
}

impl RegistryDestination {
    /// Pushes go to the registry itself (registries.conf location rewrite, insecure and
    /// blocked apply; mirrors do not).
    pub fn new(reference: &ImageRef, opts: &RegistryOptions) -> Result<RegistryDestination> {
        Self::with_clients(reference, opts, &Clients::default())
    }

    /// Like [`Self::new`], taking the client from `clients` (shared with other images).
    pub fn with_clients(
        reference: &ImageRef,
        opts: &RegistryOptions,
        clients: &Clients,
    ) -> Result<RegistryDestination> {
        let ep = super::registries::push_endpoint(reference, opts)?;
        let r = ep.reference;
        let client = clients.get(&r.domain, &r.path, &ep.opts, true)?;
        Ok(RegistryDestination {
            client,
            reference: r,
        })
    }

    /// Digest of the manifest the reference names there now (`HEAD`), if any.
    pub fn manifest_digest(&self) -> Result<Option<Digest>> {
        super::source::head_manifest(&self.client, &self.reference.manifest_reference())
    }

    fn start_upload(&self) -> Result<String> {
        let url = self.client.repo_url("blobs/uploads/")?;
        let resp =
            self.client
                .send("POST", &url, &[("Content-Length", "0".into())], Body::Empty)?;
        let loc = resp
            .header("location")
            .ok_or_else(|| anyhow!("POST {url}: no Location header"))?;
        self.client.absolute(loc)
    }

    /// The whole blob in memory, then `PUT ?digest=` (replayable, so the client retries it).
    fn put_monolithic(&self, desc: &Descriptor, reader: &mut dyn Read) -> Result<()> {
        let mut bytes = Vec::with_capacity(desc.size as usize);
        reader
            .take(desc.size + 1)
            .read_to_end(&mut bytes)
            .context("read blob")?;
        // Read past the end so the verifying reader checks size and digest.
        if reader.read(&mut [0u8; 1]).context("read blob")? != 0 || bytes.len() as u64 != desc.size
        {
            bail!(
                "read blob {}: size differs from the expected {}",
                desc.digest,
                desc.size
            );
        }
        let location = self.start_upload()?;
        let url = with_query(&location, &format!("digest={}", desc.digest));
        let headers = [
            ("Content-Type", "application/octet-stream".to_string()),
            ("Content-Length", bytes.len().to_string()),
        ];
        self.client
            .send("PUT", &url, &headers, Body::Bytes(&bytes))?;
        Ok(())
    }

    /// One `PATCH` whose body is the blob as it is read (download and upload overlap), then
    /// `PUT ?digest=` once the stream ended verified. A failed read (the source gone, or
    /// the verifying reader's size or digest verdict) cancels the upload and fails; a failed
    /// send cancels it and reports [`BlobInterrupted`] when another try may succeed.
    fn put_streamed(&self, desc: &Descriptor, reader: &mut dyn Read) -> Result<()> {
        let location = self.start_upload()?;
        let mut body = WatchedBody::new(reader, desc.size);
        let headers = [
            ("Content-Type", "application/octet-stream".to_string()),
            ("Content-Range", format!("0-{}", desc.size - 1)),
            ("Content-Length", desc.size.to_string()),
        ];
        let sent = self
            .client
            .send_stream("PATCH", &location, &headers, &mut body);
        if let Some(e) = body.error.take() {
            self.cancel(&location);
            return Err(e.into());
        }
        let resp = match sent {
            Ok(_) if !body.verified => {
                self.cancel(&location);
                bail!("upload blob {}: the body ended unverified", desc.digest);
            }
            Ok(r) => r,
            Err(e) => {
                self.cancel(&location);
                return Err(self.interrupted(desc, e));
            }
        };
        let next = resp
            .header("location")
            .ok_or_else(|| anyhow!("PATCH {location}: no Location header"))?;
        let next = self.client.absolute(next)?;
        let url = with_query(&next, &format!("digest={}", desc.digest));
        match self
            .client
            .send("PUT", &url, &[("Content-Length", "0".into())], Body::Empty)
        {
            Ok(_) => Ok(()),
            // A commit whose answer was lost may have landed: the registry commits only
            // content that matched the digest, so a blob there now is this one.
            Err(_) if self.has_blob(desc).unwrap_or(false) => Ok(()),
            Err(e) => {
                self.cancel(&next);
                Err(self.interrupted(desc, e))
            }
        }
    }

    /// Drop an unfinished upload (best effort: the registry also expires it).
    fn cancel(&self, location: &str) {
        let _ = self.client.send_once("DELETE", location);
    }

    /// A failed send: [`BlobInterrupted`] when trying again may help (429, 5xx, a reset, or
    /// a 401 whose challenge the client has now learnt).
    fn interrupted(&self, desc: &Descriptor, e: HttpError) -> anyhow::Error {
        if e.transient() || e.status() == Some(401) {
            anyhow::Error::new(BlobInterrupted {
                digest: desc.digest.clone(),
                retry_after: e.retry_after(),
                cause: Box::new(e),
            })
        } else {
            e.into()
        }
    }
}

/// The streamed upload body. It passes at most `size` bytes through and holds the last of
/// them back until the verifying reader below has given its verdict at EOF, so the registry
/// never receives the whole of a blob that failed verification. The first read error is
/// kept, which tells a failed source or verdict apart from a failed send.
struct WatchedBody<'a> {
    inner: &'a mut dyn Read,
    size: u64,
    sent: u64,
    verified: bool,
    error: Option<io::Error>,
}

impl<'a> WatchedBody<'a> {
    fn new(inner: &'a mut dyn Read, size: u64) -> Self {
        WatchedBody {
            inner,
            size,
            sent: 0,
            verified: false,
            error: None,
        }
    }

    fn fail(&mut self, e: io::Error) -> io::Error {
        let copy = io::Error::new(e.kind(), e.to_string());
        self.error = Some(e);
        copy
    }

    /// All `size` bytes were read: the next read must be the verifying reader's clean EOF.
    fn verdict(&mut self) -> io::Result<()> {
        loop {
            match self.inner.read(&mut [0u8; 1]) {
                Ok(0) => {
                    self.verified = true;
                    return Ok(());
                }
                Ok(_) => {
                    let e = io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("read blob: more than the stated {} bytes", self.size),
                    );
                    return Err(self.fail(e));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.fail(e)),
            }
        }
    }
}

impl Read for WatchedBody<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = &self.error {
            return Err(io::Error::new(e.kind(), e.to_string()));
        }
        if self.sent == self.size && !self.verified {
            self.verdict()?;
        }
        if self.verified || buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min((self.size - self.sent) as usize);
        match self.inner.read(&mut buf[..want]) {
            Ok(0) => {
                let e = io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("read blob: ended at byte {} of {}", self.sent, self.size),
                );
                Err(self.fail(e))
            }
            Ok(n) => {
                self.sent += n as u64;
                if self.sent == self.size {
                    // The last bytes go out only with the verdict.
                    self.verdict()?;
                }
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => Err(self.fail(e)),
        }
    }
}

fn with_query(url: &str, q: &str) -> String {
    format!("{url}{}{q}", if url.contains('?') { '&' } else { '?' })
}

impl ImageDestination for RegistryDestination {
    fn has_blob(&self, desc: &Descriptor) -> Result<bool> {
        let url = self.client.repo_url(&format!("blobs/{}", desc.digest))?;
        match self.client.send("HEAD", &url, &[], Body::Empty) {
            Ok(_) => Ok(true),
            Err(e) if e.status() == Some(404) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    fn mount_blob(&self, desc: &Descriptor, from: &BlobOrigin) -> Result<bool> {
        if from.domain != self.reference.domain || from.path == self.reference.path {
            return Ok(false);
        }
        self.client.add_pull_scope(&from.path);
        let url = self.client.repo_url(&format!(
            "blobs/uploads/?mount={}&from={}",
            desc.digest, from.path
        ))?;
        let resp =
            match self
                .client
                .send("POST", &url, &[("Content-Length", "0".into())], Body::Empty)
            {
                Ok(r) => r,
                // Not allowed to read the other repository: upload instead.
                Err(e) if matches!(e.status(), Some(401 | 403 | 404)) => return Ok(false),
                Err(e) => return Err(e.into()),
            };
        if resp.status() == 201 {
            return Ok(true);
        }
        // 202: the registry started a plain upload instead; cancel it and upload normally.
        if let Some(loc) = resp.header("location") {
            let loc = self.client.absolute(loc)?;
            let _ = self.client.send("DELETE", &loc, &[], Body::Empty);
        }
        Ok(false)
    }

    fn put_blob(&self, desc: &Descriptor, reader: &mut dyn Read) -> Result<()> {
        if desc.size <= MONOLITHIC_MAX {
            self.put_monolithic(desc, reader)
        } else {
            self.put_streamed(desc, reader)
        }
    }

    fn blob_retries(&self) -> u32 {
        self.client.retries()
    }

    fn put_manifest(&self, bytes: &[u8], media_type: &str, instance: bool) -> Result<()> {
        let target = if instance {
            Digest::of(bytes).to_string()
        } else {
            self.reference.manifest_reference()
        };
        let url = self.client.repo_url(&format!("manifests/{target}"))?;
        let headers = [("Content-Type", media_type.to_string())];
        self.client
            .send("PUT", &url, &headers, Body::Bytes(bytes))
            .with_context(|| format!("write manifest {target}"))?;
        Ok(())
    }

    fn commit(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::VerifyingReader;

    /// What an upload of `content` (claimed to be `expected`) would send, and the verdict.
    fn send(content: &[u8], expected: &[u8]) -> (Vec<u8>, Option<io::Error>, bool) {
        let size = expected.len() as u64;
        let mut v = VerifyingReader::new(content, Digest::of(expected), Some(size));
        let mut body = WatchedBody::new(&mut v, size);
        let (mut out, mut buf) = (Vec::new(), [0u8; 3]);
        while let Ok(n @ 1..) = body.read(&mut buf) {
            out.extend_from_slice(&buf[..n]);
        }
        (out, body.error.take(), body.verified)
    }

    #[test]
    fn the_last_bytes_go_out_only_with_a_good_verdict() {
        let good = b"0123456789";
        let (out, err, verified) = send(good, good);
        assert_eq!(out, good);
        assert!(err.is_none() && verified);
        let (out, err, verified) = send(b"0123456780", good);
        assert!(out.len() < good.len(), "the whole bad blob went out");
        assert_eq!(err.unwrap().kind(), io::ErrorKind::InvalidData);
        assert!(!verified);
        let (out, err, verified) = send(b"01234", good);
        assert_eq!(out, b"01234");
        assert!(err.is_some() && !verified);
    }
}
