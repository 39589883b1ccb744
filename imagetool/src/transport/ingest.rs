//! Resumable blob downloads into the local store, after containerd's content ingests: a
//! large blob streams into `tmp/ingest/<alg>-<hex>` under an exclusive `flock(2)`. When the
//! run dies (`kill -9`, a network failure past the retries) the prefix stays; the next run
//! that needs the blob hashes that prefix and asks the source only for the rest (`Range`),
//! still verifying the whole blob's digest at EOF. A prefix that fails verification is
//! deleted, so a bad one is never resumed twice.

use crate::digest::{Digest, Hasher};
use crate::manifest::Descriptor;
use anyhow::{Context, Result};
use nix::fcntl::{Flock, FlockArg};
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// Smaller blobs are cheaper to fetch again than to track.
pub const MIN_RESUMABLE: u64 = 1 << 20;
/// Prefixes nobody resumed for this long are removed when the store opens.
const STALE: Duration = Duration::from_secs(7 * 24 * 3600);

pub struct Ingests {
    dir: PathBuf,
    /// Prefixes offered by `resume_point`, locked until `write` continues them.
    held: Mutex<HashMap<Digest, Flock<File>>>,
}

impl Ingests {
    /// Use `dir` for ingests (made when first needed, removed when empty) and drop stale
    /// prefixes no process holds.
    pub fn open(dir: &Path) -> Result<Ingests> {
        if let Ok(entries) = fs::read_dir(dir) {
            for e in entries.flatten() {
                let old = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| SystemTime::now().duration_since(t).ok())
                    .is_some_and(|age| age > STALE);
                if old && lock(&e.path(), false).ok().flatten().is_some() {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        Ok(Ingests {
            dir: dir.to_path_buf(),
            held: Mutex::new(HashMap::new()),
        })
    }

    fn path(&self, d: &Digest) -> PathBuf {
        self.dir.join(format!("{}-{}", d.algorithm_name(), d.hex()))
    }

    /// Where an earlier run stopped writing this blob, with the hash of the bytes so far;
    /// `None` when there is nothing to resume (or another process is writing it).
    pub fn resume_point(&self, desc: &Descriptor) -> Result<Option<(u64, Hasher)>> {
        if desc.size < MIN_RESUMABLE {
            return Ok(None);
        }
        let path = self.path(&desc.digest);
        let Some(mut file) = lock(&path, false)? else {
            return Ok(None);
        };
        let len = file
            .metadata()
            .with_context(|| format!("stat {path:?}"))?
            .len();
        if len == 0 || len >= desc.size {
            // Empty, or complete but never verified and moved: start over.
            file.set_len(0)
                .with_context(|| format!("truncate {path:?}"))?;
            return Ok(None);
        }
        let mut hasher = desc.digest.hasher();
        let mut buf = vec![0u8; 256 * 1024];
        file.seek(SeekFrom::Start(0))
            .with_context(|| format!("read {path:?}"))?;
        let mut left = len;
        while left > 0 {
            let want = buf.len().min(left as usize);
            let n = file
                .read(&mut buf[..want])
                .with_context(|| format!("read {path:?}"))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            left -= n as u64;
        }
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(desc.digest.clone(), file);
        Ok(Some((len - left, hasher)))
    }

    /// Write the blob from `offset` (0, or what `resume_point` returned) and move the
    /// finished file to `to` once `reader` reached EOF cleanly. `Ok(false)`: another
    /// process is writing this blob, the caller stores it some other way.
    pub fn write(
        &self,
        desc: &Descriptor,
        offset: u64,
        reader: &mut dyn Read,
        to: &Path,
    ) -> Result<bool> {
        let path = self.path(&desc.digest);
        let held = self
            .held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&desc.digest);
        let file = match held {
            Some(f) => f,
            None => match self.create_locked(&path)? {
                Some(f) => f,
                None => return Ok(false),
            },
        };
        let result = (|| -> io::Result<()> {
            file.set_len(offset)?;
            let mut f: &File = &file;
            f.seek(SeekFrom::Start(offset))?;
            let mut out = BufWriter::with_capacity(256 * 1024, f);
            crate::fsutil::copy_stream(reader, &mut out)?;
            out.flush()?;
            drop(out);
            fs::rename(&path, to)
        })();
        match result {
            Ok(()) => {
                // Only when no other ingest is in it; a racing writer recreates it.
                let _ = fs::remove_dir(&self.dir);
                Ok(true)
            }
            Err(e) => {
                // A digest or size mismatch condemns the prefix; anything else (the network,
                // a kill) leaves it for the next run.
                if e.kind() == io::ErrorKind::InvalidData {
                    let _ = fs::remove_file(&path);
                }
                Err(e).with_context(|| format!("store blob {} via {path:?}", desc.digest))
            }
        }
    }
}

impl Ingests {
    /// Create and lock the ingest file, making the directory; another process may remove
    /// the directory when it empties it, so a vanished directory is made again.
    fn create_locked(&self, path: &Path) -> Result<Option<Flock<File>>> {
        let mut tries = 0;
        loop {
            fs::create_dir_all(&self.dir)
                .with_context(|| format!("create directory {:?}", self.dir))?;
            match lock(path, true) {
                Err(e) if tries < 3 && is_not_found(&e) => tries += 1,
                other => return other,
            }
        }
    }
}

fn is_not_found(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::NotFound)
    })
}

/// Lock `path` exclusively without waiting; `None` when another process holds it. With
/// `create`, the file is made when missing; without, a missing file is `None`.
fn lock(path: &Path, create: bool) -> Result<Option<Flock<File>>> {
    let file = match OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .truncate(false)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound && !create => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("open {path:?}")),
    };
    lock_opened(file, path)
}

/// Lock an opened `file` that was found at `path`.
fn lock_opened(file: File, path: &Path) -> Result<Option<Flock<File>>> {
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        // The holder may have renamed the file away (into a store) between our open and
        // our lock: then we hold a lock on a finished blob, not on the ingest. Never touch it.
        Ok(f) if !same_file(&f, path) => Ok(None),
        Ok(f) => Ok(Some(f)),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, errno)) => Err(errno).with_context(|| format!("lock {path:?}")),
    }
}

fn same_file(f: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (f.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::VerifyingReader;

    /// Its bytes, then a connection reset.
    struct Broken<'a>(&'a [u8]);
    impl Read for Broken<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::Error::from(io::ErrorKind::ConnectionReset));
            }
            self.0.read(buf)
        }
    }

    #[test]
    fn a_file_renamed_away_before_the_lock_is_not_taken() {
        let tmp = crate::fsutil::TempDir::new("ingest-race-").unwrap();
        let (p, q) = (tmp.path().join("p"), tmp.path().join("q"));
        fs::write(&p, b"finished blob").unwrap();
        let f = File::open(&p).unwrap();
        fs::rename(&p, &q).unwrap();
        assert!(lock_opened(f, &p).unwrap().is_none());
        fs::write(&p, b"new ingest").unwrap();
        let f = File::open(&p).unwrap();
        assert!(lock_opened(f, &p).unwrap().is_some());
    }

    #[test]
    fn a_prefix_is_resumed_and_a_bad_one_dropped() {
        let tmp = crate::fsutil::TempDir::new("ingest-").unwrap();
        let data: Vec<u8> = (0..3u32 << 20).map(|i| (i * 7 % 251) as u8).collect();
        let desc = Descriptor::of_bytes(crate::manifest::OCI_LAYER, &data);
        let ing = Ingests::open(&tmp.path().join("ingest")).unwrap();
        // A run whose connection failed after 1 MiB + 5 bytes.
        let half = (1 << 20) + 5;
        let mut cut = Broken(&data[..half]);
        let mut r = VerifyingReader::new(&mut cut, desc.digest.clone(), Some(desc.size));
        let to = tmp.path().join("blob");
        assert!(ing.write(&desc, 0, &mut r, &to).is_err());
        assert!(!to.exists());
        let (offset, hasher) = ing.resume_point(&desc).unwrap().unwrap();
        assert_eq!(offset, half as u64);
        // While we hold it, nobody else gets it.
        let other = Ingests::open(&tmp.path().join("ingest")).unwrap();
        assert!(other.resume_point(&desc).unwrap().is_none());
        let mut rest = &data[half..];
        let mut r = VerifyingReader::resume(
            &mut rest,
            desc.digest.clone(),
            Some(desc.size),
            hasher,
            offset,
        );
        assert!(ing.write(&desc, offset, &mut r, &to).unwrap());
        assert_eq!(fs::read(&to).unwrap(), data);
        assert!(ing.resume_point(&desc).unwrap().is_none());
        // A corrupt prefix fails verification and is deleted.
        let mut cut = Broken(&data[..half]);
        let mut r = VerifyingReader::new(&mut cut, desc.digest.clone(), Some(desc.size));
        let _ = ing.write(&desc, 0, &mut r, &to);
        let p = ing.path(&desc.digest);
        let mut bytes = fs::read(&p).unwrap();
        bytes[10] ^= 0xff;
        fs::write(&p, bytes).unwrap();
        let (offset, hasher) = ing.resume_point(&desc).unwrap().unwrap();
        let mut rest = &data[half..];
        let mut r = VerifyingReader::resume(
            &mut rest,
            desc.digest.clone(),
            Some(desc.size),
            hasher,
            offset,
        );
        assert!(ing.write(&desc, offset, &mut r, &to).is_err());
        assert!(!p.exists());
    }
}
