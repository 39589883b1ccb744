//! Overlay mounts through the new mount API (fsopen/fsconfig/fsmount/move_mount), with
//! the classic mount(2) as fallback, and umount.
//!
//! The new API takes one `lowerdir+` per layer (Linux 6.8+), so an image's layer count
//! is not bounded by the one page of data that mount(2) accepts.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use super::fs::{check, check_fd, cstr};

const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_SET_FLAG: libc::c_uint = 0;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;

/// A filesystem context from fsopen(2).
pub struct FsContext {
    fd: OwnedFd,
}

impl FsContext {
    pub fn open(fstype: &CStr) -> io::Result<Self> {
        // SAFETY: `fstype` is a valid C string; the returned fd is checked.
        let fd = unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), FSOPEN_CLOEXEC) };
        Ok(Self {
            fd: check_fd(fd as libc::c_int)?,
        })
    }

    /// Appends the kernel's own explanation (read from the context fd) to `err`.
    fn explain(&self, err: io::Error) -> io::Error {
        let mut buf = [0u8; 512];
        // SAFETY: `buf` is a writable buffer of the given length; the fd is live.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n > 0 {
            let msg = String::from_utf8_lossy(&buf[..n as usize])
                .trim()
                .to_string();
            return io::Error::new(err.kind(), format!("{err} ({msg})"));
        }
        err
    }

    pub fn set_string(&self, key: &str, value: &str) -> io::Result<()> {
        let k = CString::new(key).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let v = CString::new(value).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: key and value are valid C strings; the fd is live.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                self.fd.as_raw_fd(),
                FSCONFIG_SET_STRING,
                k.as_ptr(),
                v.as_ptr(),
                0,
            )
        };
        check(rc as libc::c_int).map_err(|e| self.explain(e))
    }

    pub fn set_flag(&self, key: &str) -> io::Result<()> {
        let k = CString::new(key).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: `k` is a valid C string; a flag takes a NULL value; the fd is live.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                self.fd.as_raw_fd(),
                FSCONFIG_SET_FLAG,
                k.as_ptr(),
                std::ptr::null::<libc::c_char>(),
                0,
            )
        };
        check(rc as libc::c_int).map_err(|e| self.explain(e))
    }

    /// Creates the superblock and attaches the mount at `target`.
    pub fn mount_at(&self, target: &Path) -> io::Result<()> {
        // SAFETY: the fd is live; no pointers are passed.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                self.fd.as_raw_fd(),
                FSCONFIG_CMD_CREATE,
                std::ptr::null::<libc::c_char>(),
                std::ptr::null::<libc::c_char>(),
                0,
            )
        };
        check(rc as libc::c_int).map_err(|e| self.explain(e))?;
        // SAFETY: the fd is live; attr flags 0.
        let mfd =
            unsafe { libc::syscall(libc::SYS_fsmount, self.fd.as_raw_fd(), FSMOUNT_CLOEXEC, 0) };
        let mfd = check_fd(mfd as libc::c_int).map_err(|e| self.explain(e))?;
        move_mount(mfd.as_fd(), target)
    }
}

fn move_mount(mnt: BorrowedFd, target: &Path) -> io::Result<()> {
    let t = cstr(target)?;
    let empty = c"";
    // SAFETY: `mnt` is a live detached-mount fd; both strings are valid C strings.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            mnt.as_raw_fd(),
            empty.as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    check(rc as libc::c_int)
}

/// Classic mount(2) of an overlay with `data` (at most one page).
pub fn mount_overlay_legacy(target: &Path, data: &str) -> io::Result<()> {
    let t = cstr(target)?;
    let d = CString::new(data).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: all strings are valid C strings for the duration of the call.
    check(unsafe {
        libc::mount(
            c"overlay".as_ptr(),
            t.as_ptr(),
            c"overlay".as_ptr(),
            0,
            d.as_ptr().cast(),
        )
    })
}

/// Lazily detaches the mount at `target`.
pub fn umount_detach(target: &Path) -> io::Result<()> {
    let t = cstr(target)?;
    // SAFETY: `t` is a valid C string.
    check(unsafe { libc::umount2(t.as_ptr(), libc::MNT_DETACH | libc::UMOUNT_NOFOLLOW) })
}
