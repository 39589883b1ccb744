//! The steps after entering the root (OCI runtime spec config-linux.md
//! "readonlyPaths", "maskedPaths"; config.md "Root" readonly), as runc's
//! `readonlyPath`, `maskPath` and `setReadonly`. Paths are resolved in the
//! new root; mounts go through the resolved fd when /proc is mounted and
//! otherwise through the path, which the kernel now resolves inside the root.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use anyhow::Context;
use nix::errno::Errno;
use nix::mount::MsFlags;
use nix::sys::stat::{fstat, makedev, SFlag};

use super::mount::{fd_target, locked_flags, remount_bind_at, sys_mount};
use super::resolve::Root;
use super::SysError;

/// The new root, with how to name a resolved fd to mount(2).
pub(crate) struct NewRoot {
    root: Root,
    via_fd: bool,
}

impl NewRoot {
    pub fn open() -> anyhow::Result<NewRoot> {
        let root = Root::open(Path::new("/"))
            .map_err(SysError)
            .context("open new root \"/\"")?;
        Ok(NewRoot {
            root,
            via_fd: Path::new("/proc/self/fd").is_dir(),
        })
    }

    fn target(&self, fd: &OwnedFd, path: &Path) -> PathBuf {
        if self.via_fd {
            fd_target(fd)
        } else {
            path.to_path_buf()
        }
    }

    /// Resolve an existing path; `None` when it does not exist.
    fn resolve(&self, path: &Path) -> anyhow::Result<Option<OwnedFd>> {
        match self.root.resolve(path) {
            Ok(fd) => Ok(Some(fd)),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(SysError(e)).context("resolve"),
        }
    }

    /// Bind `path` onto itself and remount it read-only, keeping its
    /// nosuid/nodev/noexec. Missing paths are skipped.
    pub fn readonly_path(&self, path: &Path) -> anyhow::Result<()> {
        let what = || format!("make {path:?} read-only");
        let Some(fd) = self.resolve(path).with_context(what)? else {
            return Ok(());
        };
        let target = self.target(&fd, path);
        sys_mount(
            Some(&target),
            &target,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        )
        .map_err(SysError)
        .with_context(|| format!("{}: bind onto itself", what()))?;
        let fd = self
            .resolve(path)
            .with_context(what)?
            .with_context(|| format!("{}: reopen", what()))?;
        self.remount_readonly(&fd, path).with_context(what)
    }

    /// Remount the mount at `fd` read-only, keeping nosuid/nodev/noexec.
    pub fn remount_readonly(&self, fd: &OwnedFd, path: &Path) -> anyhow::Result<()> {
        let keep =
            locked_flags(fd)? & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC);
        remount_bind_at(&self.target(fd, path), fd, MsFlags::MS_RDONLY | keep)
            .context("remount read-only")
    }

    /// Hide `path`: /dev/null over a file, an empty read-only tmpfs over a
    /// directory. Missing paths are skipped.
    pub fn mask_path(&self, path: &Path, null: &mut Option<OwnedFd>) -> anyhow::Result<()> {
        let what = || format!("mask {path:?}");
        let Some(fd) = self.resolve(path).with_context(what)? else {
            return Ok(());
        };
        let kind =
            SFlag::from_bits_truncate(fstat(&fd).map_err(SysError).with_context(what)?.st_mode)
                & SFlag::S_IFMT;
        let target = self.target(&fd, path);
        if kind == SFlag::S_IFDIR {
            return sys_mount(
                Some(Path::new("tmpfs")),
                &target,
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                None,
            )
            .map_err(SysError)
            .with_context(|| format!("{}: mount read-only tmpfs", what()));
        }
        if null.is_none() {
            *null = Some(self.open_dev_null().with_context(what)?);
        }
        let null_fd = null.as_ref().context("no /dev/null")?;
        let source = self.target(null_fd, Path::new("/dev/null"));
        sys_mount(Some(&source), &target, None, MsFlags::MS_BIND, None)
            .map_err(SysError)
            .with_context(|| format!("{}: bind mount /dev/null", what()))
    }

    /// The container's /dev/null, refusing anything but the real char 1:3
    /// (a symlink or a planted file there would be bound over masked paths).
    fn open_dev_null(&self) -> anyhow::Result<OwnedFd> {
        let fd = self
            .root
            .resolve_nofollow(Path::new("/dev/null"))
            .map_err(SysError)
            .context("open \"/dev/null\"")?;
        let st = fstat(&fd).map_err(SysError).context("stat \"/dev/null\"")?;
        let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
        anyhow::ensure!(
            kind == SFlag::S_IFCHR && st.st_rdev == makedev(1, 3),
            "\"/dev/null\" is not the null device (char 1:3)"
        );
        Ok(fd)
    }

    pub fn root_fd(&self, path: &Path) -> anyhow::Result<OwnedFd> {
        self.root
            .resolve(path)
            .map_err(SysError)
            .with_context(|| format!("resolve {path:?}"))
    }
}
