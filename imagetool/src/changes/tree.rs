//! A whole tree → tar (what `export` writes): every object under the root, parents
//! before children, names sorted. Directories on another filesystem (something mounted
//! inside the rootfs) are written as empty directories, as `tar --one-file-system` does.

use std::collections::BTreeSet;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::upper::{list_dir, open_child_dir};
use super::LayerTar;
use crate::unpack::sys;

/// Writes everything under `root` except the paths in `skip` (relative to `root`).
pub(crate) fn write_tree<W: std::io::Write>(
    root: &Path,
    skip: &BTreeSet<PathBuf>,
    tar: &mut LayerTar<W>,
) -> Result<()> {
    let fd = sys::open_dir(root).with_context(|| format!("open {root:?}"))?;
    let dev = std::fs::metadata(sys::fd_path(fd.as_fd()).join("."))
        .with_context(|| format!("stat {root:?}"))?
        .dev();
    let mut walk = Walk { skip, dev, tar };
    walk.dir(fd, root, Path::new(""))
}

struct Walk<'a, W: std::io::Write> {
    skip: &'a BTreeSet<PathBuf>,
    dev: u64,
    tar: &'a mut LayerTar<W>,
}

impl<W: std::io::Write> Walk<'_, W> {
    fn dir(&mut self, dir: OwnedFd, host: &Path, rel: &Path) -> Result<()> {
        for (name, md) in list_dir(dir.as_fd(), host)? {
            let child = rel.join(&name);
            if self.skip.contains(&child) {
                continue;
            }
            self.tar.append_at(dir.as_fd(), &name, &child)?;
            if md.is_dir() && md.dev() == self.dev {
                let sub = open_child_dir(dir.as_fd(), &name, &host.join(&name))?;
                self.dir(sub, &host.join(&name), &child)?;
            }
        }
        Ok(())
    }
}
