//! Tar entries → objects under a target directory (OCI image spec, layer.md
//! "Applying Changesets"), with whiteouts converted to overlay form.
//!
//! Nothing is ever resolved through a path string: every object is created relative to
//! an fd of its parent directory, reached from the target's fd one component at a time
//! with `O_NOFOLLOW`. A `..` or absolute entry path is refused up front, and a symlink
//! met on the way (written by an earlier entry) is refused instead of followed, so no
//! entry, link target or hardlink source can name anything outside the target.

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::meta::{read_meta, Meta};
use super::sys;
use super::ExtractOptions;

/// Deferred directory metadata: applied after all entries, because creating children
/// changes a directory's mtime and a read-only mode would block creating them.
#[derive(Clone, Copy)]
struct DirMeta {
    mode: u32,
    mtime: i64,
    mtime_nsec: i64,
}

pub(crate) struct Extractor<'a> {
    root: OwnedFd,
    opts: &'a ExtractOptions,
    /// Last parent directory opened, keyed by its relative path (tars group by dir).
    cache: Option<(PathBuf, OwnedFd)>,
    dirs: HashMap<PathBuf, DirMeta>,
    implied: Vec<PathBuf>,
    pub entries: u64,
    pub bytes: u64,
}

fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

pub(crate) fn c(b: &[u8]) -> Result<CString> {
    CString::new(b).context("path contains a NUL byte")
}

/// Splits an entry path into components, refusing absolute paths and `..`.
fn clean_path(raw: &[u8]) -> Result<Vec<&[u8]>> {
    if raw.first() == Some(&b'/') {
        bail!("absolute path refused");
    }
    let mut out = Vec::new();
    for comp in raw.split(|b| *b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => bail!("path with \"..\" refused"),
            _ => out.push(comp),
        }
    }
    Ok(out)
}

fn join(comps: &[&[u8]]) -> PathBuf {
    let mut p = PathBuf::new();
    for c in comps {
        p.push(std::ffi::OsStr::from_bytes(c));
    }
    p
}

impl<'a> Extractor<'a> {
    pub fn new(target: &Path, opts: &'a ExtractOptions) -> Result<Self> {
        let root = sys::open_dir(target).with_context(|| format!("open {target:?}"))?;
        Ok(Self {
            root,
            opts,
            cache: None,
            dirs: HashMap::new(),
            implied: Vec::new(),
            entries: 0,
            bytes: 0,
        })
    }

    /// Opens the directory at `comps` under the root, never following a symlink;
    /// with `create`, missing directories are made and remembered as implied.
    fn walk(&mut self, comps: &[&[u8]], create: bool) -> Result<OwnedFd> {
        let rel = join(comps);
        if let Some((p, fd)) = &self.cache {
            if *p == rel {
                return Ok(fd.try_clone()?);
            }
        }
        let mut fd = self.root.try_clone()?;
        let mut sofar = PathBuf::new();
        for comp in comps {
            sofar.push(std::ffi::OsStr::from_bytes(comp));
            let name = c(comp)?;
            fd = match sys::open_dir_at(fd.as_fd(), &name) {
                Ok(d) => d,
                Err(e) if errno(&e) == libc::ENOENT && create => {
                    sys::mkdir_at(fd.as_fd(), &name, 0o755)
                        .with_context(|| format!("create implied directory {sofar:?}"))?;
                    self.implied.push(sofar.clone());
                    sys::open_dir_at(fd.as_fd(), &name)?
                }
                Err(e) if matches!(errno(&e), libc::ELOOP | libc::ENOTDIR) => {
                    bail!(
                        "{sofar:?} is a symlink or not a directory: refusing to resolve through it"
                    )
                }
                Err(e) => return Err(e).with_context(|| format!("open directory {sofar:?}")),
            };
        }
        self.cache = Some((rel, fd.try_clone()?));
        Ok(fd)
    }

    /// Clears whatever sits at `name` so a new entry can take its place (later tar
    /// entries win). Returns true when a directory stays because `keep_dir` is set.
    fn clear(&mut self, dir: BorrowedFd, name: &CStr, keep_dir: bool) -> Result<bool> {
        let st = match sys::lstat_at(dir, name) {
            Ok(st) => st,
            Err(e) if errno(&e) == libc::ENOENT => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        let is_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
        if is_dir && keep_dir {
            return Ok(true);
        }
        if is_dir {
            self.cache = None;
        }
        sys::unlink_at(dir, name, is_dir).context("replace the existing object")?;
        Ok(false)
    }

    pub fn apply<R: Read>(&mut self, entry: &mut tar::Entry<R>) -> Result<()> {
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        self.apply_inner(entry, &raw)
            .with_context(|| format!("extract {shown:?}"))
    }

    fn apply_inner<R: Read>(&mut self, entry: &mut tar::Entry<R>, raw: &[u8]) -> Result<()> {
        use tar::EntryType as T;
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink
        ) {
            return Ok(());
        }
        let comps = clean_path(raw)?;
        self.entries += 1;
        let meta = read_meta(entry)?;
        let Some((&name, parent)) = comps.split_last() else {
            // "./": metadata of the layer root itself.
            if kind != T::Directory {
                bail!("the root must be a directory");
            }
            self.dirs.insert(PathBuf::new(), dir_meta(&meta));
            return self.own_fd(self.root.try_clone()?.as_fd(), &meta);
        };
        if let Some(hidden) = name.strip_prefix(b".wh.") {
            return self.whiteout(parent, hidden);
        }
        let dir = self.walk(parent, true)?;
        let cname = c(name)?;
        match kind {
            T::Regular | T::Continuous | T::GNUSparse => {
                self.file(dir.as_fd(), &cname, entry, &meta)
            }
            T::Directory => {
                let exists = self.clear(dir.as_fd(), &cname, true)?;
                if !exists {
                    sys::mkdir_at(dir.as_fd(), &cname, 0o755)?;
                }
                let rel = join(&comps);
                self.implied.retain(|p| *p != rel);
                self.dirs.insert(rel, dir_meta(&meta));
                self.own_at(dir.as_fd(), &cname, &meta)
            }
            T::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .context("symlink without a target")?;
                self.clear(dir.as_fd(), &cname, false)?;
                sys::symlink_at(&c(&target)?, dir.as_fd(), &cname)?;
                self.own_at(dir.as_fd(), &cname, &meta)?;
                sys::set_times_at(dir.as_fd(), &cname, meta.mtime, meta.mtime_nsec)?;
                Ok(())
            }
            T::Link => {
                let target = entry
                    .link_name_bytes()
                    .context("hardlink without a target")?;
                let tcomps = clean_path(&target).context("hardlink target")?;
                let Some((&tname, tparent)) = tcomps.split_last() else {
                    bail!("hardlink to the root refused");
                };
                if tcomps == comps {
                    return Ok(());
                }
                let tdir = self.walk(tparent, false).context("hardlink target")?;
                self.clear(dir.as_fd(), &cname, false)?;
                sys::link_at(tdir.as_fd(), &c(tname)?, dir.as_fd(), &cname).with_context(|| {
                    format!("hardlink to {:?}", String::from_utf8_lossy(&target))
                })?;
                Ok(())
            }
            T::Char | T::Block | T::Fifo => {
                if self.opts.rootless {
                    bail!("device nodes and fifos are refused in rootless mode");
                }
                let fmt = match kind {
                    T::Char => libc::S_IFCHR,
                    T::Block => libc::S_IFBLK,
                    _ => libc::S_IFIFO,
                };
                let major = entry.header().device_major()?.unwrap_or(0);
                let minor = entry.header().device_minor()?.unwrap_or(0);
                self.clear(dir.as_fd(), &cname, false)?;
                sys::mknod_at(dir.as_fd(), &cname, fmt | (meta.mode & 0o777), major, minor)?;
                self.own_at(dir.as_fd(), &cname, &meta)?;
                sys::chmod_at(dir.as_fd(), &cname, meta.mode)?;
                sys::set_times_at(dir.as_fd(), &cname, meta.mtime, meta.mtime_nsec)?;
                Ok(())
            }
            other => bail!("unsupported tar entry type {other:?}"),
        }
    }

    fn file<R: Read>(
        &mut self,
        dir: BorrowedFd,
        name: &CStr,
        entry: &mut tar::Entry<R>,
        meta: &Meta,
    ) -> Result<()> {
        let size = entry.size();
        self.check_limit(size)?;
        self.clear(dir, name, false)?;
        let mut file = sys::create_file_at(dir, name, 0o600)?;
        let mut buf = vec![0u8; 128 * 1024];
        loop {
            let n = match entry.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e).context("read entry data"),
            };
            self.check_limit(n as u64)?;
            self.bytes += n as u64;
            file.write_all(&buf[..n]).context("write file data")?;
        }
        self.own_fd(file.as_fd(), meta)?;
        sys::fchmod(file.as_fd(), meta.mode)?;
        sys::set_times_fd(file.as_fd(), meta.mtime, meta.mtime_nsec)?;
        Ok(())
    }

    fn check_limit(&self, more: u64) -> Result<()> {
        if let Some(max) = self.opts.max_bytes {
            if self.bytes.saturating_add(more) > max {
                bail!("layer exceeds the limit of {max} bytes (tar bomb?)");
            }
        }
        Ok(())
    }

    /// `.wh.NAME` hides NAME of the lower layers; `.wh..wh..opq` hides all their
    /// children of the directory. Overlay spells these as a 0/0 char device and the
    /// `overlay.opaque` xattr.
    fn whiteout(&mut self, parent: &[&[u8]], hidden: &[u8]) -> Result<()> {
        let dir = self.walk(parent, true)?;
        if hidden == b".wh..opq" {
            let key = self.overlay_xattr("opaque");
            return sys::set_xattr_fd(dir.as_fd(), &key, b"y").context("mark the directory opaque");
        }
        if hidden.starts_with(b".wh.") {
            return Ok(()); // aufs bookkeeping (.wh..wh.plnk and friends), not content
        }
        if hidden.is_empty() || hidden == b"." || hidden == b".." {
            bail!("malformed whiteout");
        }
        let name = c(hidden)?;
        // A whiteout only applies to lower layers: an object of this layer stays.
        if sys::lstat_at(dir.as_fd(), &name).is_ok() {
            return Ok(());
        }
        sys::mknod_at(dir.as_fd(), &name, libc::S_IFCHR, 0, 0)
            .context("create the overlay whiteout (char device 0/0)")?;
        Ok(())
    }

    fn overlay_xattr(&self, what: &str) -> CString {
        let ns = if self.opts.rootless {
            "user"
        } else {
            "trusted"
        };
        CString::new(format!("{ns}.overlay.{what}")).unwrap_or_default()
    }

    fn chown_result(&self, r: io::Result<()>) -> Result<()> {
        match r {
            Err(e) if self.opts.rootless && matches!(errno(&e), libc::EPERM | libc::EINVAL) => {
                Ok(())
            }
            r => Ok(r.context("set the owner")?),
        }
    }

    fn xattr_result(&self, key: &CStr, r: io::Result<()>) -> Result<()> {
        match r {
            Err(e) if self.opts.rootless && errno(&e) == libc::EPERM => Ok(()),
            r => Ok(r.with_context(|| format!("set xattr {key:?}"))?),
        }
    }

    fn own_fd(&self, fd: BorrowedFd, meta: &Meta) -> Result<()> {
        self.chown_result(sys::fchown(fd, meta.uid, meta.gid))?;
        for (k, v) in &meta.xattrs {
            self.xattr_result(k, sys::set_xattr_fd(fd, k, v))?;
        }
        Ok(())
    }

    fn own_at(&self, dir: BorrowedFd, name: &CStr, meta: &Meta) -> Result<()> {
        self.chown_result(sys::chown_at(dir, name, meta.uid, meta.gid))?;
        for (k, v) in &meta.xattrs {
            self.xattr_result(k, sys::set_xattr_at(dir, name, k, v))?;
        }
        Ok(())
    }

    /// Applies deferred directory modes and mtimes, deepest first; implied
    /// directories get 0755. Returns the implied directories.
    pub fn finish(mut self) -> Result<Vec<PathBuf>> {
        let mut all: Vec<(PathBuf, DirMeta)> = self.dirs.drain().collect();
        let implied = std::mem::take(&mut self.implied);
        for p in &implied {
            all.push((
                p.clone(),
                DirMeta {
                    mode: 0o755,
                    mtime: 0,
                    mtime_nsec: 0,
                },
            ));
        }
        all.sort_by_key(|(p, _)| std::cmp::Reverse(p.components().count()));
        self.cache = None;
        for (rel, meta) in all {
            let bytes: Vec<&[u8]> = rel.iter().map(|c| c.as_bytes()).collect();
            let fd = self
                .walk(&bytes, false)
                .with_context(|| format!("set metadata of directory {rel:?}"))?;
            sys::fchmod(fd.as_fd(), meta.mode)
                .with_context(|| format!("chmod directory {rel:?}"))?;
            sys::set_times_fd(fd.as_fd(), meta.mtime, meta.mtime_nsec)
                .with_context(|| format!("set mtime of directory {rel:?}"))?;
        }
        Ok(implied)
    }
}

fn dir_meta(m: &Meta) -> DirMeta {
    DirMeta {
        mode: m.mode,
        mtime: m.mtime,
        mtime_nsec: m.mtime_nsec,
    }
}
