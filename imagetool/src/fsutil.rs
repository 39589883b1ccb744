//! Atomic file writes and staging directories: every file skiff-image makes visible appears
//! whole or not at all (write to a temp name in the same filesystem, then `rename(2)`).

use anyhow::{Context, Result};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name unique within this machine for the lifetime of this process: `<pid>-<n>`.
/// The pid prefix lets a later run tell debris of dead processes from live work.
pub fn unique_name() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Write `bytes` to `path` atomically (temp file beside it, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".tmp-{}", unique_name()));
    let res = (|| -> io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_data()?;
        fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res.with_context(|| format!("write {path:?}"))
}

/// Stream `reader` to a temp file in `tmp_dir`, then rename it to `path`. The reader is read
/// to EOF before the rename, so a verifying reader's verdict decides whether `path` appears.
pub fn stream_atomic(reader: &mut dyn Read, tmp_dir: &Path, path: &Path) -> Result<u64> {
    let tmp = tmp_dir.join(format!(".blob-{}", unique_name()));
    let res = (|| -> io::Result<u64> {
        let mut f = File::create(&tmp)?;
        let n = copy_stream(reader, &mut f)?;
        fs::rename(&tmp, path)?;
        Ok(n)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res.with_context(|| format!("write {path:?}"))
}

/// A file written through a temp name beside `path` and renamed over it by
/// [`AtomicFile::commit`]; dropped uncommitted, the temp file is removed and `path` is
/// untouched.
pub struct AtomicFile {
    file: Option<io::BufWriter<File>>,
    tmp: PathBuf,
    path: PathBuf,
}

impl AtomicFile {
    pub fn create(path: &Path) -> Result<AtomicFile> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let tmp = dir.join(format!(
            ".{}.tmp-{}",
            name.unwrap_or_default(),
            unique_name()
        ));
        let file = File::create(&tmp).with_context(|| format!("create {tmp:?}"))?;
        Ok(AtomicFile {
            file: Some(io::BufWriter::with_capacity(256 * 1024, file)),
            tmp,
            path: path.to_path_buf(),
        })
    }

    /// Flush, sync and rename into place.
    pub fn commit(mut self) -> Result<()> {
        let res = (|| -> io::Result<()> {
            if let Some(w) = self.file.take() {
                let f = w.into_inner().map_err(|e| e.into_error())?;
                f.sync_data()?;
            }
            fs::rename(&self.tmp, &self.path)
        })();
        res.with_context(|| format!("write {:?}", self.path))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.file {
            Some(f) => f.write(buf),
            None => Err(io::Error::other("write after commit")),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        // After a commit the temp name is gone and this does nothing.
        let _ = fs::remove_file(&self.tmp);
    }
}

/// `io::copy` with a larger buffer: fewer syscalls for multi-hundred-MB layers.
pub fn copy_stream(reader: &mut dyn Read, writer: &mut dyn Write) -> io::Result<u64> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        writer.write_all(&buf[..n])?;
        total += n as u64;
    }
}

/// Remove entries of `dir` starting with `prefix` whose writer process is gone: names end
/// in `<pid>-<n>` ([`unique_name`]), so a `kill -9`'d copy's staging files are found by the
/// next run. Entries of live processes (and names of any other shape) are left alone.
pub fn remove_debris(dir: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if !name.starts_with(prefix) {
            continue;
        }
        let mut parts = name.rsplitn(3, '-');
        let (_, pid) = (parts.next(), parts.next());
        let Some(pid) = pid.and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let p = e.path();
            let _ = if p.is_dir() {
                fs::remove_dir_all(&p)
            } else {
                fs::remove_file(&p)
            };
        }
    }
}

/// A directory removed (recursively) when dropped.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Create a fresh directory under `parent`.
    pub fn new_in(parent: &Path, prefix: &str) -> Result<TempDir> {
        fs::create_dir_all(parent).with_context(|| format!("create directory {parent:?}"))?;
        let path = parent.join(format!("{prefix}{}", unique_name()));
        fs::create_dir(&path).with_context(|| format!("create directory {path:?}"))?;
        Ok(TempDir { path })
    }

    /// Create a fresh directory under `$TMPDIR`, first removing directories of the same
    /// prefix that killed processes left there.
    pub fn new(prefix: &str) -> Result<TempDir> {
        let tmp = std::env::temp_dir();
        remove_debris(&tmp, prefix);
        TempDir::new_in(&tmp, prefix)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Read a whole small file (manifests, configs, index.json), naming it on error.
pub fn read_small(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("read {path:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debris_of_dead_processes_only_with_the_prefix() {
        let t = TempDir::new("debris-test-").unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let me = std::process::id();
        let names = [
            format!(".skiff-stage-{dead}-0"),
            format!(".skiff-stage-{me}-1"),
            format!(".other-{dead}-2"),
            "user-file-1-2".to_string(),
        ];
        for n in &names {
            fs::create_dir(t.path().join(n)).unwrap();
        }
        remove_debris(t.path(), ".skiff-stage-");
        let mut left: Vec<String> = fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        left.sort();
        let mut want = names[1..].to_vec();
        want.sort();
        assert_eq!(left, want);
    }
}
