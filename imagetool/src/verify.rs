//! The one verifying reader every blob stream passes through (image-spec `descriptor.md`:
//! "the content MUST be verified against the digest and size"). It counts and hashes bytes
//! as they flow and turns EOF into an error when the size or digest disagree, so a consumer
//! that reads to the end can never accept corrupt content by accident.

use crate::digest::{Digest, Hasher};
use std::io::{self, Read};

pub struct VerifyingReader<R> {
    inner: R,
    expected: Digest,
    size: Option<u64>,
    seen: u64,
    hasher: Option<Hasher>,
}

impl<R: Read> VerifyingReader<R> {
    /// `size` is `None` when the descriptor does not state one (a registry blob fetched by
    /// digest alone); the digest is still verified.
    pub fn new(inner: R, expected: Digest, size: Option<u64>) -> Self {
        let hasher = Some(expected.hasher());
        VerifyingReader {
            inner,
            expected,
            size,
            seen: 0,
            hasher,
        }
    }

    /// Continue verifying a blob whose first `seen` bytes were hashed into `hasher` earlier
    /// (a resumed download): `inner` yields the rest.
    pub fn resume(
        inner: R,
        expected: Digest,
        size: Option<u64>,
        hasher: Hasher,
        seen: u64,
    ) -> Self {
        VerifyingReader {
            inner,
            expected,
            size,
            seen,
            hasher: Some(hasher),
        }
    }

    /// Bytes already read and hashed; used by resumable readers to continue from an offset.
    pub fn position(&self) -> u64 {
        self.seen
    }

    fn check_end(&mut self) -> io::Result<()> {
        let Some(hasher) = self.hasher.take() else {
            return Ok(());
        };
        if let Some(size) = self.size {
            if self.seen != size {
                return Err(invalid(format!(
                    "verify blob {}: size {} does not match expected {}",
                    self.expected, self.seen, size
                )));
            }
        }
        let actual = hasher.finish();
        if actual != self.expected {
            return Err(invalid(format!(
                "verify blob {}: content has digest {}",
                self.expected, actual
            )));
        }
        Ok(())
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.hasher.is_none() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            self.check_end()?;
            return Ok(0);
        }
        self.seen += n as u64;
        if let Some(size) = self.size {
            // Fail as soon as a stream runs long instead of reading an endless body.
            if self.seen > size {
                self.hasher = None;
                return Err(invalid(format!(
                    "verify blob {}: more than the expected {} bytes",
                    self.expected, size
                )));
            }
        }
        if let Some(h) = self.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(r: impl Read) -> io::Result<Vec<u8>> {
        let mut r = r;
        let mut v = Vec::new();
        r.read_to_end(&mut v)?;
        Ok(v)
    }

    #[test]
    fn accepts_matching_content() {
        let data = b"hello layer".to_vec();
        let r = VerifyingReader::new(&data[..], Digest::of(&data), Some(data.len() as u64));
        assert_eq!(read_all(r).unwrap(), data);
    }

    #[test]
    fn rejects_wrong_digest_at_eof() {
        let r = VerifyingReader::new(&b"tampered"[..], Digest::of(b"original"), Some(8));
        let err = read_all(r).unwrap_err();
        assert!(err.to_string().contains("content has digest"), "{err}");
    }

    #[test]
    fn rejects_short_and_long_streams() {
        let d = Digest::of(b"abcd");
        let err = read_all(VerifyingReader::new(&b"abc"[..], d.clone(), Some(4))).unwrap_err();
        assert!(err.to_string().contains("size 3"), "{err}");
        let err = read_all(VerifyingReader::new(&b"abcde"[..], d, Some(4))).unwrap_err();
        assert!(err.to_string().contains("more than"), "{err}");
    }
}
