//! Advisory file locks (`flock(2)`) coordinating processes that share a store. Held only
//! around index.json read-modify-write, so a long pull never blocks another.

use anyhow::{Context, Result};
use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::path::Path;

pub struct LockGuard {
    _flock: Flock<File>,
}

pub fn lock_exclusive(path: &Path) -> Result<LockGuard> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("open lock file {path:?}"))?;
    let flock = Flock::lock(file, FlockArg::LockExclusive)
        .map_err(|(_, errno)| errno)
        .with_context(|| format!("lock {path:?}"))?;
    Ok(LockGuard { _flock: flock })
}

/// A shared lock: many holders at once, none while someone holds it exclusively.
pub fn lock_shared(path: &Path) -> Result<LockGuard> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("open lock file {path:?}"))?;
    let flock = Flock::lock(file, FlockArg::LockShared)
        .map_err(|(_, errno)| errno)
        .with_context(|| format!("lock {path:?}"))?;
    Ok(LockGuard { _flock: flock })
}
