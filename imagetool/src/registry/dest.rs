//! Writing an image to a registry (distribution `api.md` "Pushing An Image"): `HEAD` each
//! blob first, try a cross-repository mount (`?mount=&from=`, falling back when the
//! registry answers 202), upload small blobs in one monolithic `PUT` and large ones in
//! `PATCH` chunks (each chunk retriable), then `PUT` the manifests.

use super::client::{Body, Client};
use super::RegistryOptions;
use crate::digest::Digest;
use crate::manifest::Descriptor;
use crate::reference::ImageRef;
use crate::transport::{BlobOrigin, ImageDestination};
use anyhow::{anyhow, bail, Context, Result};
use std::io::Read;

/// Blobs up to this size go up in one PUT; larger ones in PATCH chunks of this size.
const CHUNK: usize = 8 << 20;

pub struct RegistryDestination {
    client: Client,
    reference: ImageRef,
}

impl RegistryDestination {
    /// Pushes go to the registry itself (registries.conf location rewrite, insecure and
    /// blocked apply; mirrors do not).
    pub fn new(reference: &ImageRef, opts: &RegistryOptions) -> Result<RegistryDestination> {
        let ep = super::registries::push_endpoint(reference, opts)?;
        let r = ep.reference;
        let client = Client::new(&r.domain, &r.path, &ep.opts, true)?;
        Ok(RegistryDestination {
            client,
            reference: r,
        })
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

    fn upload_chunked(&self, mut location: String, reader: &mut dyn Read) -> Result<String> {
        let mut buf = vec![0u8; CHUNK];
        let mut start = 0u64;
        loop {
            let n = fill(reader, &mut buf)?;
            if n == 0 {
                return Ok(location);
            }
            let end = start + n as u64 - 1;
            let headers = [
                ("Content-Type", "application/octet-stream".to_string()),
                ("Content-Range", format!("{start}-{end}")),
                ("Content-Length", n.to_string()),
            ];
            let resp = self
                .client
                .send("PATCH", &location, &headers, Body::Bytes(&buf[..n]))?;
            let loc = resp
                .header("location")
                .ok_or_else(|| anyhow!("PATCH {location}: no Location header"))?;
            location = self.client.absolute(loc)?;
            start = end + 1;
            if n < CHUNK {
                // Read on to EOF so the verifying reader gives its verdict before we commit.
                if fill(reader, &mut buf[..1])? != 0 {
                    bail!("read blob: stream continued after a short read");
                }
                return Ok(location);
            }
        }
    }
}

/// Read until `buf` is full or EOF.
fn fill(reader: &mut dyn Read, buf: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).context("read blob"),
        }
    }
    Ok(n)
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
        let location = self.start_upload()?;
        let location = if desc.size as usize <= CHUNK {
            let mut bytes = Vec::with_capacity(desc.size as usize);
            reader
                .take(desc.size + 1)
                .read_to_end(&mut bytes)
                .context("read blob")?;
            // Read past the end so the verifying reader checks size and digest.
            if reader.read(&mut [0u8; 1]).context("read blob")? != 0
                || bytes.len() as u64 != desc.size
            {
                bail!(
                    "read blob {}: size differs from the expected {}",
                    desc.digest,
                    desc.size
                );
            }
            let url = with_query(&location, &format!("digest={}", desc.digest));
            let headers = [
                ("Content-Type", "application/octet-stream".to_string()),
                ("Content-Length", bytes.len().to_string()),
            ];
            self.client
                .send("PUT", &url, &headers, Body::Bytes(&bytes))?;
            return Ok(());
        } else {
            self.upload_chunked(location, reader)?
        };
        let url = with_query(&location, &format!("digest={}", desc.digest));
        self.client
            .send("PUT", &url, &[("Content-Length", "0".into())], Body::Empty)?;
        Ok(())
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
