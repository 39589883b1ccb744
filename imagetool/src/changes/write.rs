//! Objects of a tree → tar entries, as layer.md describes them: the object's type, mode,
//! owner and mtime (whole seconds, as docker writes them), xattrs as PAX
//! `SCHILY.xattr.*` records (overlay's own left out), hardlinks as link entries to the
//! first path of the inode, whiteouts as empty `.wh.` files. File data streams from an
//! fd opened with `O_NOFOLLOW`; nothing is held whole in memory.

use std::collections::HashMap;
use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::overlay::is_overlay_xattr;
use super::{Change, ChangeError};
use crate::unpack::sys;

/// A layer tar being written.
pub(crate) struct LayerTar<W: Write> {
    tar: tar::Builder<W>,
    /// (dev, inode) of files written so far → their tar path, for hardlinks.
    links: HashMap<(u64, u64), PathBuf>,
    /// Entries written (whiteouts included).
    pub entries: u64,
}

impl<W: Write> LayerTar<W> {
    pub fn new(w: W) -> Self {
        LayerTar {
            tar: tar::Builder::new(w),
            links: HashMap::new(),
            entries: 0,
        }
    }

    /// Appends the object `name` of the open directory `dir` as the tar path `rel`.
    /// Sockets are skipped (a tar cannot hold them), as docker does.
    pub fn append_at(&mut self, dir: BorrowedFd, name: &OsStr, rel: &Path) -> Result<()> {
        let path = sys::fd_path(dir).join(name);
        let md = std::fs::symlink_metadata(&path).with_context(|| format!("stat {rel:?}"))?;
        self.append(&path, &md, rel)
            .with_context(|| format!("write {rel:?} to the tar"))
    }

    fn append(&mut self, path: &Path, md: &std::fs::Metadata, rel: &Path) -> Result<()> {
        let ft = md.file_type();
        if ft.is_socket() {
            return Ok(());
        }
        let mut h = header(md);
        if !ft.is_dir() && md.nlink() > 1 {
            if let Some(first) = self.links.get(&(md.dev(), md.ino())) {
                h.set_entry_type(tar::EntryType::Link);
                h.set_size(0);
                let first = first.clone();
                self.tar.append_link(&mut h, rel, &first)?;
                self.entries += 1;
                return Ok(());
            }
            self.links.insert((md.dev(), md.ino()), rel.to_path_buf());
        }
        self.append_xattrs(path, rel)?;
        if ft.is_dir() {
            h.set_entry_type(tar::EntryType::Directory);
            let mut name = rel.as_os_str().to_owned();
            name.push("/");
            self.tar
                .append_data(&mut h, Path::new(&name), io::empty())?;
        } else if ft.is_file() {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(md.len());
            let file = open_regular(path, md, rel)?;
            let data = ExactReader {
                inner: file.take(md.len()),
                left: md.len(),
                rel,
            };
            self.tar.append_data(&mut h, rel, data)?;
        } else if ft.is_symlink() {
            h.set_entry_type(tar::EntryType::Symlink);
            let target = std::fs::read_link(path).context("read the link")?;
            self.tar.append_link(&mut h, rel, target)?;
        } else {
            let kind = if ft.is_char_device() {
                tar::EntryType::Char
            } else if ft.is_block_device() {
                tar::EntryType::Block
            } else {
                tar::EntryType::Fifo
            };
            h.set_entry_type(kind);
            if kind != tar::EntryType::Fifo {
                h.set_device_major(libc::major(md.rdev()))?;
                h.set_device_minor(libc::minor(md.rdev()))?;
            }
            self.tar.append_data(&mut h, rel, io::empty())?;
        }
        self.entries += 1;
        Ok(())
    }

    /// A PAX header with the object's xattrs, for the entry that follows.
    fn append_xattrs(&mut self, path: &Path, rel: &Path) -> Result<()> {
        let mut records = Vec::new();
        let mut xattrs = sys::list_xattrs(path).context("list xattrs")?;
        xattrs.sort();
        for (k, v) in xattrs {
            if is_overlay_xattr(&k) {
                continue;
            }
            let key = k.to_str().map_err(|_| ChangeError::XattrName {
                path: rel.to_path_buf(),
                key: k.to_string_lossy().into_owned(),
            })?;
            pax_record(&mut records, &format!("SCHILY.xattr.{key}"), &v);
        }
        if records.is_empty() {
            return Ok(());
        }
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::XHeader);
        h.set_mode(0o644);
        h.set_size(records.len() as u64);
        // Readers take the records, not the name (GNU tar's spelling).
        h.set_path("././@PaxHeader")?;
        h.set_cksum();
        self.tar.append(&h, &records[..])?;
        Ok(())
    }

    /// `.wh.NAME` for the removed `rel`.
    pub fn whiteout(&mut self, rel: &Path) -> Result<()> {
        let name = rel.file_name().context("whiteout of the root")?;
        let mut wh = std::ffi::OsString::from(".wh.");
        wh.push(name);
        self.marker(&rel.with_file_name(wh))
    }

    /// `DIR/.wh..wh..opq` for the opaque directory `rel`.
    pub fn opaque(&mut self, rel: &Path) -> Result<()> {
        self.marker(&rel.join(".wh..wh..opq"))
    }

    fn marker(&mut self, rel: &Path) -> Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(0);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        self.tar
            .append_data(&mut h, rel, io::empty())
            .with_context(|| format!("write {rel:?} to the tar"))?;
        self.entries += 1;
        Ok(())
    }

    /// Writes the end-of-archive blocks; returns the writer.
    pub fn finish(self) -> Result<W> {
        self.tar.into_inner().context("finish the tar")
    }
}

fn header(md: &std::fs::Metadata) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_mode(md.mode() & 0o7777);
    h.set_uid(md.uid().into());
    h.set_gid(md.gid().into());
    h.set_mtime(md.mtime().max(0) as u64);
    h.set_size(0);
    h
}

/// One PAX record: `LEN key=value\n`, LEN counting the whole record.
fn pax_record(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    out.extend_from_slice(format!("{len} {key}=").as_bytes());
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// Opens the regular file the listing saw, never a symlink, fifo or another file that
/// took its name since (`O_NONBLOCK` so a fifo swapped in cannot block the open).
fn open_regular(path: &Path, md: &std::fs::Metadata, rel: &Path) -> Result<File> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .with_context(|| format!("open {rel:?}"))?;
    let now = file.metadata().with_context(|| format!("stat {rel:?}"))?;
    if !now.is_file() || now.ino() != md.ino() || now.dev() != md.dev() {
        bail!("open {rel:?}: replaced while being read");
    }
    Ok(file)
}

/// Gives exactly the size the header announced, or fails: a file that shrank would
/// otherwise shift every later entry of the tar.
struct ExactReader<'a, R> {
    inner: R,
    left: u64,
    rel: &'a Path,
}

impl<R: Read> Read for ExactReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            return Err(io::Error::other(ChangeError::Shrank(
                self.rel.to_path_buf(),
            )));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Writes the changeset `changes` of the tree at `root` (an upper dir or a rootfs).
pub(crate) fn write_changes<W: Write>(
    root: &Path,
    changes: &[Change],
    tar: &mut LayerTar<W>,
) -> Result<()> {
    let root_fd = sys::open_dir(root).with_context(|| format!("open {root:?}"))?;
    let mut parents = ParentCache::new(root_fd);
    for c in changes {
        match c {
            Change::Add(rel) => {
                let (Some(parent), Some(name)) = (rel.parent(), rel.file_name()) else {
                    continue;
                };
                let dir = parents.open(parent, root)?;
                tar.append_at(dir.as_fd(), name, rel)?;
            }
            Change::Whiteout(rel) => tar.whiteout(rel)?,
            Change::Opaque(rel) => tar.opaque(rel)?,
        }
    }
    Ok(())
}

/// The last parent directory opened (changesets list a directory's children together).
struct ParentCache {
    root: OwnedFd,
    last: Option<(PathBuf, OwnedFd)>,
}

impl ParentCache {
    fn new(root: OwnedFd) -> Self {
        ParentCache { root, last: None }
    }

    fn open(&mut self, rel: &Path, root: &Path) -> Result<&OwnedFd> {
        if self.last.as_ref().is_none_or(|(p, _)| p != rel) {
            let mut fd = self.root.try_clone()?;
            for c in rel.iter() {
                let name = CString::new(c.as_bytes()).context("NUL in a file name")?;
                fd = sys::open_dir_at(fd.as_fd(), &name)
                    .with_context(|| format!("open directory {:?}", root.join(rel)))?;
            }
            self.last = Some((rel.to_path_buf(), fd));
        }
        match &self.last {
            Some((_, fd)) => Ok(fd),
            None => bail!("open directory {:?}", root.join(rel)),
        }
    }
}
