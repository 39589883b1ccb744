//! Filesystem syscalls for layer extraction and bundle copies.
//!
//! Extraction creates every object relative to a directory fd with `O_NOFOLLOW` /
//! `AT_SYMLINK_NOFOLLOW`, so a path from a tar can never be resolved through a symlink.

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub(crate) fn cstr(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

pub(crate) fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

pub(crate) fn check_fd(fd: libc::c_int) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by the kernel and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Opens a directory by host path (the extraction target itself, which the caller trusts).
pub fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    let p = cstr(path)?;
    // SAFETY: `p` is a valid NUL-terminated string for the duration of the call.
    let fd = unsafe {
        libc::open(
            p.as_ptr(),
            libc::O_DIRECTORY | libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    check_fd(fd)
}

/// Opens the directory `name` (one component) under `dir`, refusing symlinks.
pub fn open_dir_at(dir: BorrowedFd, name: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: `dir` is a live fd and `name` a valid C string for the call.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_DIRECTORY | libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    };
    check_fd(fd)
}

/// Creates a new regular file `name` under `dir`; fails if anything exists there.
pub fn create_file_at(dir: BorrowedFd, name: &CStr, mode: u32) -> io::Result<File> {
    // SAFETY: `dir` is a live fd and `name` a valid C string for the call.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            mode as libc::c_uint,
        )
    };
    check_fd(fd).map(File::from)
}

pub fn mkdir_at(dir: BorrowedFd, name: &CStr, mode: u32) -> io::Result<()> {
    // SAFETY: `dir` is a live fd and `name` a valid C string for the call.
    check(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), mode as libc::mode_t) })
}

pub fn symlink_at(target: &CStr, dir: BorrowedFd, name: &CStr) -> io::Result<()> {
    // SAFETY: both strings are valid C strings and `dir` is a live fd.
    check(unsafe { libc::symlinkat(target.as_ptr(), dir.as_raw_fd(), name.as_ptr()) })
}

/// Hard-links `old_dir/old` to `new_dir/new` without following a symlink at `old`.
pub fn link_at(old_dir: BorrowedFd, old: &CStr, new_dir: BorrowedFd, new: &CStr) -> io::Result<()> {
    // SAFETY: all fds are live and the names valid C strings; flags 0 = no follow.
    check(unsafe {
        libc::linkat(
            old_dir.as_raw_fd(),
            old.as_ptr(),
            new_dir.as_raw_fd(),
            new.as_ptr(),
            0,
        )
    })
}

pub fn mknod_at(dir: BorrowedFd, name: &CStr, mode: u32, major: u32, minor: u32) -> io::Result<()> {
    let dev = libc::makedev(major, minor);
    // SAFETY: `dir` is a live fd and `name` a valid C string for the call.
    check(unsafe { libc::mknodat(dir.as_raw_fd(), name.as_ptr(), mode as libc::mode_t, dev) })
}

pub fn unlink_at(dir: BorrowedFd, name: &CStr, is_dir: bool) -> io::Result<()> {
    let flags = if is_dir { libc::AT_REMOVEDIR } else { 0 };
    // SAFETY: `dir` is a live fd and `name` a valid C string for the call.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), flags) })
}

/// `lstat` of `name` under `dir`.
pub fn lstat_at(dir: BorrowedFd, name: &CStr) -> io::Result<libc::stat> {
    // SAFETY: an all-zero `stat` is a valid value of this plain C struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid out-pointer; `dir` live; `name` a valid C string.
    check(unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })?;
    Ok(st)
}

pub fn lstat(path: &Path) -> io::Result<libc::stat> {
    let p = cstr(path)?;
    // SAFETY: an all-zero `stat` is a valid value of this plain C struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid out-pointer and `p` a valid C string.
    check(unsafe { libc::lstat(p.as_ptr(), &mut st) })?;
    Ok(st)
}

/// `lchown` of `name` under `dir` (never follows a symlink).
pub fn chown_at(dir: BorrowedFd, name: &CStr, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: `dir` is a live fd and `name` a valid C string for the call.
    check(unsafe {
        libc::fchownat(
            dir.as_raw_fd(),
            name.as_ptr(),
            uid,
            gid,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
}

/// `chmod` of `name` under `dir`; callers never pass a symlink (Linux has no lchmod).
pub fn chmod_at(dir: BorrowedFd, name: &CStr, mode: u32) -> io::Result<()> {
    // SAFETY: `dir` is a live fd and `name` a valid C string for the call.
    check(unsafe { libc::fchmodat(dir.as_raw_fd(), name.as_ptr(), mode as libc::mode_t, 0) })
}

pub fn fchown(fd: BorrowedFd, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: `fd` is a live fd.
    check(unsafe { libc::fchown(fd.as_raw_fd(), uid, gid) })
}

pub fn fchmod(fd: BorrowedFd, mode: u32) -> io::Result<()> {
    // SAFETY: `fd` is a live fd.
    check(unsafe { libc::fchmod(fd.as_raw_fd(), mode as libc::mode_t) })
}

fn timespecs(sec: i64, nsec: i64) -> [libc::timespec; 2] {
    let ts = libc::timespec {
        tv_sec: sec as libc::time_t,
        tv_nsec: nsec as libc::c_long,
    };
    [ts, ts]
}

/// Sets atime and mtime of `name` under `dir` (an empty `name` with a dir fd means the dir).
pub fn set_times_at(dir: BorrowedFd, name: &CStr, sec: i64, nsec: i64) -> io::Result<()> {
    let ts = timespecs(sec, nsec);
    // SAFETY: `ts` points to two timespecs; `dir` live; `name` a valid C string.
    check(unsafe {
        libc::utimensat(
            dir.as_raw_fd(),
            name.as_ptr(),
            ts.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
}

pub fn set_times_fd(fd: BorrowedFd, sec: i64, nsec: i64) -> io::Result<()> {
    let ts = timespecs(sec, nsec);
    // SAFETY: `ts` points to two timespecs and `fd` is live.
    check(unsafe { libc::futimens(fd.as_raw_fd(), ts.as_ptr()) })
}

/// Path through `/proc/self/fd` naming `name` inside the directory open as `dir`:
/// the kernel resolves the magic link to that very directory, and the `l*xattr`
/// calls do not follow a symlink in the last component.
fn proc_path(dir: RawFd, name: &CStr) -> io::Result<CString> {
    let mut v = format!("/proc/self/fd/{dir}/").into_bytes();
    v.extend_from_slice(name.to_bytes());
    CString::new(v).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

pub fn set_xattr_at(dir: BorrowedFd, name: &CStr, key: &CStr, value: &[u8]) -> io::Result<()> {
    let p = proc_path(dir.as_raw_fd(), name)?;
    // SAFETY: all pointers are valid for the given lengths during the call.
    check(unsafe {
        libc::lsetxattr(
            p.as_ptr(),
            key.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    })
}

pub fn set_xattr_fd(fd: BorrowedFd, key: &CStr, value: &[u8]) -> io::Result<()> {
    // SAFETY: `fd` is live; `key` and `value` valid for the call.
    check(unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            key.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    })
}

/// Names and values of all xattrs of `path` (not following a final symlink).
pub fn list_xattrs(path: &Path) -> io::Result<Vec<(CString, Vec<u8>)>> {
    let p = cstr(path)?;
    let mut names = vec![0u8; 4096];
    let len = loop {
        // SAFETY: `names` is a writable buffer of the given length.
        let n = unsafe { libc::llistxattr(p.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
        if n >= 0 {
            break n as usize;
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::ERANGE) => names.resize(names.len() * 4, 0),
            Some(libc::ENOTSUP) => return Ok(Vec::new()),
            _ => return Err(e),
        }
    };
    let mut out = Vec::new();
    for key in names[..len].split(|b| *b == 0).filter(|k| !k.is_empty()) {
        let key = CString::new(key).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
        let mut val = vec![0u8; 256];
        loop {
            // SAFETY: `val` is a writable buffer of the given length; strings valid.
            let n = unsafe {
                libc::lgetxattr(p.as_ptr(), key.as_ptr(), val.as_mut_ptr().cast(), val.len())
            };
            if n >= 0 {
                val.truncate(n as usize);
                break;
            }
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ERANGE) {
                val.resize(val.len() * 16, 0);
                continue;
            }
            return Err(e);
        }
        out.push((key, val));
    }
    Ok(out)
}

/// Whether the effective uid is 0.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_IN_ROOT: u64 = 0x10;

/// Opens `path` for reading as if `root` were `/` (openat2 RESOLVE_IN_ROOT): absolute
/// symlinks and `..` inside an image stay inside it.
pub fn open_in_root(root: BorrowedFd, path: &Path) -> io::Result<File> {
    let p = cstr(path)?;
    let how = OpenHow {
        flags: (libc::O_RDONLY | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: `how` is a valid open_how of the size passed; `p` a valid C string.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            p.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    check_fd(fd as libc::c_int).map(File::from)
}

/// Resolves `path` as if `root` were `/` (openat2 RESOLVE_IN_ROOT), following symlinks
/// the way a runtime does for a mount destination, to an `O_PATH` fd (nothing is opened
/// for reading, so a fifo or device there is harmless).
pub fn resolve_in_root(root: BorrowedFd, path: &Path) -> io::Result<OwnedFd> {
    let p = cstr(path)?;
    let how = OpenHow {
        flags: (libc::O_PATH | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: `how` is a valid open_how of the size passed; `p` a valid C string.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            p.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    check_fd(fd as libc::c_int)
}

/// The `/proc/self/fd` path of an open directory, to list it with `read_dir` without
/// resolving any path string of our own.
pub fn fd_path(dir: BorrowedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()))
}

/// Blocks until an exclusive flock(2) on `file` is held (released when it closes).
pub fn lock_exclusive(file: &File) -> io::Result<()> {
    loop {
        // SAFETY: the fd is live for the duration of the call.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        match check(rc) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}
