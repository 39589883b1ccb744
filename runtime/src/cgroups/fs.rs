//! Reading and writing cgroupfs interface files (kernel Documentation
//! admin-guide/cgroup-v1 and cgroup-v2, "Interface Files"), with errors that
//! name the file, the directory and the value, as every cgroup error must.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// What went wrong on one cgroup interface file.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A write the kernel (or the file system) refused.
    #[error("write {value:?} to {file} in {dir:?}: {}", errno_text(err))]
    Write {
        file: String,
        value: String,
        dir: PathBuf,
        err: io::Error,
    },
    /// A cgroup directory that could not be made.
    #[error("create cgroup {dir:?}: {}", errno_text(err))]
    Mkdir { dir: PathBuf, err: io::Error },
    /// A step of installing the v2 eBPF device program.
    #[error("{step} BPF_CGROUP_DEVICE program for {dir:?}: {}", errno_text(err))]
    DeviceProgram {
        step: String,
        dir: PathBuf,
        err: io::Error,
    },
    /// A read that failed.
    #[error("read {file} in {dir:?}: {}", errno_text(err))]
    Read {
        file: String,
        dir: PathBuf,
        err: io::Error,
    },
    /// A file whose content is not what the kernel documents.
    #[error("parse {file} in {dir:?}: unexpected {content:?}")]
    Parse {
        file: String,
        dir: PathBuf,
        content: String,
    },
    /// A resource asks for a controller this host does not offer.
    #[error("{controller} controller is not available (needed for {file}): {why}")]
    Unavailable {
        controller: String,
        file: String,
        why: String,
    },
    /// A memory limit below what the cgroup holds and the kernel cannot reclaim (EBUSY),
    /// with the usage that explains it, as runc reports it.
    #[error(
        "write {value:?} to {file} in {dir:?}: {}, the cgroup uses {usage} bytes (peak {peak})",
        errno_text(&io::Error::from_raw_os_error(libc::EBUSY))
    )]
    LimitBelowUsage {
        file: String,
        value: String,
        dir: PathBuf,
        usage: u64,
        peak: u64,
    },
    /// A resource value that no cgroup file can take.
    #[error("invalid {field} {value:?}: {why}")]
    Invalid {
        field: String,
        value: String,
        why: String,
    },
}

impl CgroupError {
    /// The OS error behind a read or write, to tell ENOENT and EBUSY apart.
    pub fn os_error(&self) -> Option<i32> {
        match self {
            Self::Write { err, .. } | Self::Read { err, .. } | Self::Mkdir { err, .. } => {
                err.raw_os_error()
            }
            Self::LimitBelowUsage { .. } => Some(libc::EBUSY),
            _ => None,
        }
    }
}

/// "Invalid argument" rather than "Invalid argument (os error 22)": errors
/// read like runc's, which quote strerror.
pub fn errno_text(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_string(),
        None => err.to_string(),
    }
}

/// Makes `dir` and those of its parents that are missing, shallowest first,
/// and returns them in that order (a directory another creator made
/// meanwhile counts too: it was missing when looked at). Each is also
/// appended to `made`, the record `Cgroup::create` undoes on failure.
pub fn create_dir_chain(dir: &Path, made: &mut Vec<PathBuf>) -> Result<Vec<PathBuf>, CgroupError> {
    let mut chain: Vec<PathBuf> = dir
        .ancestors()
        .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
        .map(Path::to_path_buf)
        .collect();
    chain.reverse();
    if chain.is_empty() && !dir.is_dir() {
        // What create_dir_all reports for a path that is not a directory.
        return Err(CgroupError::Mkdir {
            dir: dir.to_path_buf(),
            err: io::Error::from_raw_os_error(libc::EEXIST),
        });
    }
    for d in &chain {
        made.push(d.clone());
        std::fs::create_dir(d).or_else(|e| match e.kind() {
            // Made meanwhile by another creator; a file there is an error,
            // as with create_dir_all.
            io::ErrorKind::AlreadyExists if d.is_dir() => Ok(()),
            _ => Err(CgroupError::Mkdir {
                dir: d.clone(),
                err: e,
            }),
        })?;
    }
    Ok(chain)
}

/// Writes `value` to `dir/file` in one write(2): cgroupfs parses each write
/// separately, so a value must never be split. The file is not created
/// (a missing file is a missing controller feature, reported as such);
/// O_TRUNC only matters for the plain files that tests use.
pub fn write_file(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    let wrap = |err: io::Error| CgroupError::Write {
        file: file.to_string(),
        value: value.to_string(),
        dir: dir.to_path_buf(),
        err,
    };
    // std opens with O_CLOEXEC.
    let mut f = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(dir.join(file))
        .map_err(wrap)?;
    let n = f.write(value.as_bytes()).map_err(wrap)?;
    if n != value.len() {
        return Err(wrap(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("short write of {n} bytes"),
        )));
    }
    Ok(())
}

/// Reads the whole of `dir/file`.
pub fn read_file(dir: &Path, file: &str) -> Result<String, CgroupError> {
    let wrap = |err: io::Error| CgroupError::Read {
        file: file.to_string(),
        dir: dir.to_path_buf(),
        err,
    };
    let mut s = String::new();
    File::open(dir.join(file))
        .and_then(|mut f| f.read_to_string(&mut s))
        .map_err(wrap)?;
    Ok(s)
}

/// Reads `dir/file` if it exists: `Ok(None)` when it does not.
pub fn read_optional(dir: &Path, file: &str) -> Result<Option<String>, CgroupError> {
    match read_file(dir, file) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

fn parse_err(dir: &Path, file: &str, content: &str) -> CgroupError {
    CgroupError::Parse {
        file: file.to_string(),
        dir: dir.to_path_buf(),
        content: content.trim().to_string(),
    }
}

/// Parses a single-number file; "max" reads as `u64::MAX`, as runc does.
pub fn parse_u64(dir: &Path, file: &str, content: &str) -> Result<u64, CgroupError> {
    let t = content.trim();
    if t == "max" {
        return Ok(u64::MAX);
    }
    t.parse().map_err(|_| parse_err(dir, file, content))
}

/// Reads a single-number file; a missing file reads as 0, because stats
/// report what exists (runc leaves absent fields zero).
pub fn read_u64_or_zero(dir: &Path, file: &str) -> Result<u64, CgroupError> {
    match read_optional(dir, file)? {
        Some(s) => parse_u64(dir, file, &s),
        None => Ok(0),
    }
}

/// Parses a "key value" per line file (memory.stat, cpu.stat, memory.events).
pub fn parse_flat_keyed(
    dir: &Path,
    file: &str,
    content: &str,
) -> Result<Vec<(String, u64)>, CgroupError> {
    content
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut it = line.split_whitespace();
            match (it.next(), it.next(), it.next()) {
                (Some(k), Some(v), None) => Ok((k.to_string(), parse_u64(dir, file, v)?)),
                _ => Err(parse_err(dir, file, line)),
            }
        })
        .collect()
}

/// Reads one key of a flat-keyed file; missing file or key reads as 0.
pub fn read_keyed_or_zero(dir: &Path, file: &str, key: &str) -> Result<u64, CgroupError> {
    let Some(s) = read_optional(dir, file)? else {
        return Ok(0);
    };
    Ok(parse_flat_keyed(dir, file, &s)?
        .into_iter()
        .find(|(k, _)| k == key)
        .map_or(0, |(_, v)| v))
}

/// Renders an OCI value for a v2 file: -1 is "max" (unlimited).
pub fn num_or_max(v: i64) -> String {
    if v < 0 {
        "max".to_string()
    } else {
        v.to_string()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn write_error_reads_like_runc() {
        let dir = Path::new("/nonexistent-skiff-dir");
        let err = write_file(dir, "memory.limit_in_bytes", "max").unwrap_err();
        assert_eq!(
            err.to_string(),
            "write \"max\" to memory.limit_in_bytes in \"/nonexistent-skiff-dir\": No such file or directory"
        );
        assert_eq!(err.os_error(), Some(libc::ENOENT));
    }

    #[test]
    fn write_does_not_create_and_replaces_content() {
        let tmp = tempdir();
        assert!(write_file(&tmp, "pids.max", "5").is_err());
        std::fs::write(tmp.join("pids.max"), "max\n").unwrap();
        write_file(&tmp, "pids.max", "5").unwrap();
        assert_eq!(read_file(&tmp, "pids.max").unwrap(), "5");
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn flat_keyed_parses_and_rejects_garbage() {
        let d = Path::new("/x");
        let kv = parse_flat_keyed(d, "cpu.stat", "usage_usec 10\nuser_usec 4\n").unwrap();
        assert_eq!(kv, vec![("usage_usec".into(), 10), ("user_usec".into(), 4)]);
        assert!(parse_flat_keyed(d, "cpu.stat", "usage_usec ten\n").is_err());
        assert_eq!(parse_u64(d, "memory.max", "max\n").unwrap(), u64::MAX);
        assert_eq!(num_or_max(-1), "max");
        assert_eq!(num_or_max(42), "42");
    }

    /// A private temp dir for tests that mimic cgroup files.
    pub(crate) fn tempdir() -> PathBuf {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "skiff-cg-unit-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&p).unwrap();
        p
    }
}
