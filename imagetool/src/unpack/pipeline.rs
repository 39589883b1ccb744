//! Compression detection (OCI image spec, layer.md media types: tar, tar+gzip,
//! tar+zstd, told apart by their magic bytes) and the two-thread extraction pipeline.
//!
//! The calling thread decompresses and hashes the tar stream (the DiffID); a scoped
//! thread parses entries and writes files. A decompression error travels down the
//! channel as a read error, so a truncated layer never looks like a clean end of tar.

#![forbid(unsafe_code)]

use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use anyhow::{anyhow, Context, Result};
use sha2::{Digest as _, Sha256};

use super::extract::Extractor;
use super::{ExtractOptions, ExtractStats};

const CHUNK: usize = 256 * 1024;
/// Chunks in flight between the threads: enough to absorb bursts of small files.
const DEPTH: usize = 16;

enum Compression {
    Gzip,
    Zstd,
    Plain,
}

fn detect(magic: &[u8]) -> Compression {
    if magic.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::Plain
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A reader that hashes what passes through it.
pub(crate) struct HashRead<R> {
    pub inner: R,
    pub hasher: Sha256,
    pub count: u64,
}

impl<R: Read> HashRead<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    pub fn digest(self) -> String {
        format!("sha256:{}", hex(&self.hasher.finalize()))
    }
}

impl<R: Read> Read for HashRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// The extraction side's view of the channel.
struct ChannelReader {
    rx: Receiver<io::Result<Vec<u8>>>,
    cur: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    self.cur = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn apply_entries(reader: impl Read, target: &Path, opts: &ExtractOptions) -> Result<ExtractStats> {
    let mut ex = Extractor::new(target, opts)?;
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().context("read tar")? {
        let mut entry = entry.context("read tar entry")?;
        ex.apply(&mut entry)?;
    }
    let (entries, bytes) = (ex.entries, ex.bytes);
    let implied_dirs = ex.finish()?;
    Ok(ExtractStats {
        entries,
        bytes,
        diff_id: String::new(),
        implied_dirs,
    })
}

/// Reads the decompressed stream into the channel. Returns Ok(true) at EOF, Ok(false)
/// when the extractor hung up early (done or failed).
fn feed(src: &mut impl Read, tx: SyncSender<io::Result<Vec<u8>>>) -> io::Result<bool> {
    loop {
        let mut chunk = vec![0u8; CHUNK];
        let n = match read_full(src, &mut chunk) {
            Ok(n) => n,
            Err(e) => {
                let _ = tx.send(Err(io::Error::new(e.kind(), e.to_string())));
                return Err(e);
            }
        };
        if n == 0 {
            return Ok(true);
        }
        chunk.truncate(n);
        if tx.send(Ok(chunk)).is_err() {
            return Ok(false);
        }
    }
}

/// Fills `buf` as far as the stream allows, so chunks are large even when the
/// decoder returns a few KiB per call.
fn read_full(src: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match src.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

pub(crate) fn extract_stream(
    reader: impl Read,
    target: &Path,
    opts: &ExtractOptions,
) -> Result<ExtractStats> {
    let mut br = BufReader::with_capacity(CHUNK, reader);
    let magic = br.fill_buf().context("read layer")?.to_vec();
    let decoder: Box<dyn Read> = match detect(&magic) {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(br)),
        Compression::Zstd => {
            Box::new(zstd::stream::read::Decoder::with_buffer(br).context("start zstd decoder")?)
        }
        Compression::Plain => Box::new(br),
    };
    let mut src = HashRead::new(decoder);
    let (tx, rx) = sync_channel(DEPTH);
    let (fed, extracted) = std::thread::scope(|s| {
        let worker = s.spawn(move || {
            let reader = ChannelReader {
                rx,
                cur: Vec::new(),
                pos: 0,
            };
            apply_entries(reader, target, opts)
        });
        let fed = feed(&mut src, tx);
        let extracted = worker
            .join()
            .unwrap_or_else(|_| Err(anyhow!("extraction thread panicked")));
        (fed, extracted)
    });
    // A decompression error explains an extraction error it caused, so it wins.
    let at_eof = fed.context("decompress layer")?;
    let mut stats = extracted?;
    if !at_eof {
        // The tar ended before the stream: read the rest so the gzip trailer and
        // the digest cover every byte.
        io::copy(&mut src, &mut io::sink()).context("decompress layer")?;
    }
    stats.diff_id = src.digest();
    Ok(stats)
}
