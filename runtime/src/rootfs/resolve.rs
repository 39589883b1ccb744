//! Resolving container paths inside the container root, never in the host's
//! view (OCI runtime spec config.md "Mounts": destinations are container
//! paths; the CVE-2021-30465 defence). Existing paths go through
//! openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS); missing ones, and kernels
//! without openat2, go through a component walk that opens each component with
//! O_NOFOLLOW from a directory fd, follows symlinks itself with the root as
//! "/", and keeps its own ".." stack so nothing can climb out of the root.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, openat2, readlinkat, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, mkdirat, Mode, SFlag};

/// Symlinks followed in one resolution before ELOOP, as the kernel's limit.
const MAX_SYMLINKS: usize = 40;

/// openat2 attempts before the walk takes over.
const OPENAT2_RETRIES: usize = 8;

/// What to create at a missing destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Create {
    Dir,
    File,
}

/// An open container root: every container path is resolved beneath it.
pub(crate) struct Root {
    fd: OwnedFd,
    path: PathBuf,
    /// openat2 is used when the kernel has it; tests switch it off to
    /// exercise the walk.
    use_openat2: bool,
}

impl Root {
    pub fn open(path: &Path) -> Result<Root, Errno> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Root {
            fd,
            path: path.to_path_buf(),
            use_openat2: true,
        })
    }

    #[cfg(test)]
    pub fn without_openat2(mut self) -> Root {
        self.use_openat2 = false;
        self
    }

    /// The host path the root was opened at, for error messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Open an existing container path as O_PATH, following symlinks inside
    /// the root.
    pub fn resolve(&self, path: &Path) -> Result<OwnedFd, Errno> {
        self.resolve_flags(path, OFlag::empty())
    }

    /// Open an existing container path without following a final symlink.
    pub fn resolve_nofollow(&self, path: &Path) -> Result<OwnedFd, Errno> {
        self.resolve_flags(path, OFlag::O_NOFOLLOW)
    }

    fn resolve_flags(&self, path: &Path, extra: OFlag) -> Result<OwnedFd, Errno> {
        if self.use_openat2 {
            let how = OpenHow::new()
                .flags(OFlag::O_PATH | OFlag::O_CLOEXEC | extra)
                .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
            // EAGAIN: a rename raced with a ".." step; the kernel asks to retry.
            for _ in 0..OPENAT2_RETRIES {
                match openat2(self.fd.as_fd(), &relative(path), how) {
                    Err(Errno::EAGAIN) => continue,
                    Err(Errno::ENOSYS) => break,
                    other => return other,
                }
            }
        }
        self.walk(path, None, !extra.contains(OFlag::O_NOFOLLOW))
    }

    /// Open a container path, creating it (and missing parent directories,
    /// mode 0755) inside the root when it does not exist.
    pub fn resolve_or_create(&self, path: &Path, create: Create) -> Result<OwnedFd, Errno> {
        match self.resolve(path) {
            Err(Errno::ENOENT) => self.walk(path, Some(create), true),
            other => other,
        }
    }

    /// Open (creating directories as needed) the parent directory of a
    /// container path; returns it with the final name.
    pub fn resolve_parent(&self, path: &Path) -> Result<(OwnedFd, OsString), Errno> {
        let name = path.file_name().ok_or(Errno::EINVAL)?.to_os_string();
        let parent = path.parent().unwrap_or(Path::new("/"));
        Ok((self.resolve_or_create(parent, Create::Dir)?, name))
    }

    fn walk(
        &self,
        path: &Path,
        create: Option<Create>,
        follow_last: bool,
    ) -> Result<OwnedFd, Errno> {
        let mut stack: Vec<OwnedFd> = vec![self.fd.try_clone().map_err(io_errno)?];
        let mut todo: VecDeque<OsString> = components(path.as_os_str());
        let mut links = 0;
        while let Some(name) = todo.pop_front() {
            if name == ".." {
                if stack.len() > 1 {
                    stack.pop();
                }
                continue;
            }
            let cur = stack.last().ok_or(Errno::EINVAL)?.as_fd();
            let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
            match openat(cur, name.as_os_str(), flags, Mode::empty()) {
                Ok(fd) => {
                    let is_link = SFlag::from_bits_truncate(fstat(&fd)?.st_mode) & SFlag::S_IFMT
                        == SFlag::S_IFLNK;
                    if !is_link || (todo.is_empty() && !follow_last) {
                        stack.push(fd);
                        continue;
                    }
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(Errno::ELOOP);
                    }
                    let target = readlinkat(cur, name.as_os_str())?;
                    if target.as_bytes().starts_with(b"/") {
                        stack.truncate(1);
                    }
                    for c in components(&target).into_iter().rev() {
                        todo.push_front(c);
                    }
                }
                Err(Errno::ENOENT) if create.is_some() => {
                    let last = todo.is_empty();
                    let made = if last && create == Some(Create::File) {
                        let flags = OFlag::O_CREAT
                            | OFlag::O_EXCL
                            | OFlag::O_WRONLY
                            | OFlag::O_NOFOLLOW
                            | OFlag::O_CLOEXEC;
                        openat(
                            cur,
                            name.as_os_str(),
                            flags,
                            Mode::from_bits_truncate(0o644),
                        )
                        .map(drop)
                    } else {
                        mkdirat(cur, name.as_os_str(), Mode::from_bits_truncate(0o755))
                    };
                    match made {
                        // A dangling symlink or a racing creator: look again.
                        Ok(()) | Err(Errno::EEXIST) => todo.push_front(name),
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        stack.pop().ok_or(Errno::EINVAL)
    }
}

/// A container path relative to the root, for openat2 ("/" becomes ".").
fn relative(path: &Path) -> PathBuf {
    let rel: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::RootDir | Component::Prefix(_)))
        .collect();
    if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    }
}

/// Path components in order, keeping ".." and dropping "/" and ".".
fn components(path: &OsStr) -> VecDeque<OsString> {
    path.as_bytes()
        .split(|b| *b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .map(|c| OsStr::from_bytes(c).to_os_string())
        .collect()
}

fn io_errno(e: std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    struct TempDir(PathBuf);
    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let p =
                std::env::temp_dir().join(format!("skiff-resolve-{tag}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// The host path an fd refers to.
    fn fd_path(fd: &OwnedFd) -> PathBuf {
        use std::os::fd::AsRawFd;
        fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap()
    }

    fn roots(dir: &Path) -> Vec<Root> {
        vec![
            Root::open(dir).unwrap(),
            Root::open(dir).unwrap().without_openat2(),
        ]
    }

    #[test]
    fn symlink_escapes_stay_inside_the_root() {
        let tmp = TempDir::new("escape");
        let root = tmp.0.join("root");
        fs::create_dir_all(root.join("etc")).unwrap();
        symlink("/", root.join("abs")).unwrap();
        symlink("../../../../../..", root.join("dotdot")).unwrap();
        symlink("../../etc", root.join("etc/up")).unwrap();
        for r in roots(&root) {
            assert_eq!(fd_path(&r.resolve(Path::new("/abs")).unwrap()), root);
            assert_eq!(
                fd_path(&r.resolve(Path::new("/dotdot/etc")).unwrap()),
                root.join("etc")
            );
            assert_eq!(
                fd_path(&r.resolve(Path::new("/etc/up")).unwrap()),
                root.join("etc")
            );
            assert_eq!(fd_path(&r.resolve(Path::new("/../../..")).unwrap()), root);
        }
    }

    #[test]
    fn create_through_dangling_symlink_lands_inside() {
        let tmp = TempDir::new("create");
        let root = tmp.0.join("root");
        fs::create_dir_all(&root).unwrap();
        let outside = tmp.0.join("outside");
        // Points at the host's view of `outside` and, relatively, far above it.
        symlink(&outside, root.join("abs")).unwrap();
        symlink("../../../../outside2", root.join("rel")).unwrap();
        for (i, r) in roots(&root).into_iter().enumerate() {
            let d = r
                .resolve_or_create(Path::new(&format!("/abs/d{i}/e")), Create::Dir)
                .unwrap();
            assert_eq!(
                fd_path(&d),
                root.join(outside.strip_prefix("/").unwrap())
                    .join(format!("d{i}/e"))
            );
            let f = r
                .resolve_or_create(Path::new(&format!("/rel/f{i}")), Create::File)
                .unwrap();
            let want = root.join(format!("outside2/f{i}"));
            assert_eq!(fd_path(&f), want);
            assert!(want.is_file());
        }
        assert!(!outside.exists(), "host path created outside the root");
        assert!(!tmp.0.join("outside2").exists());
    }

    #[test]
    fn resolve_nofollow_keeps_final_symlink() {
        let tmp = TempDir::new("nofollow");
        symlink("/target", tmp.0.join("link")).unwrap();
        for r in roots(&tmp.0) {
            let fd = r.resolve_nofollow(Path::new("/link")).unwrap();
            let mode = SFlag::from_bits_truncate(fstat(&fd).unwrap().st_mode) & SFlag::S_IFMT;
            assert_eq!(mode, SFlag::S_IFLNK);
            assert_eq!(r.resolve(Path::new("/link")).unwrap_err(), Errno::ENOENT);
        }
    }

    #[test]
    fn symlink_loops_fail() {
        let tmp = TempDir::new("loop");
        symlink("b", tmp.0.join("a")).unwrap();
        symlink("a", tmp.0.join("b")).unwrap();
        for r in roots(&tmp.0) {
            assert_eq!(r.resolve(Path::new("/a")).unwrap_err(), Errno::ELOOP);
            assert_eq!(
                r.resolve_or_create(Path::new("/a/x"), Create::Dir)
                    .unwrap_err(),
                Errno::ELOOP
            );
        }
    }

    #[test]
    fn parent_and_name() {
        let tmp = TempDir::new("parent");
        for r in roots(&tmp.0) {
            let (dir, name) = r.resolve_parent(Path::new("/dev/pts/x")).unwrap();
            assert_eq!(fd_path(&dir), tmp.0.join("dev/pts"));
            assert_eq!(name, "x");
        }
    }
}
