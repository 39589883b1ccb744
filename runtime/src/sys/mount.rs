//! Mount syscalls that libc and nix do not wrap: `mount_setattr(2)` (Linux 5.12),
//! used for the OCI recursive mount options (`rro`, `rnosuid`, ...), and
//! `open_tree(2)` / `move_mount(2)` (Linux 5.2), which bind one open file
//! onto another with no path looked up in between (the console).

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;

/// Attribute change for `mount_setattr(2)`: bits from `libc::MOUNT_ATTR_*`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MountAttr {
    pub attr_set: u64,
    pub attr_clr: u64,
}

/// Apply `attr` to the mount `fd` refers to and, when `recursive`, to every
/// mount below it (`AT_RECURSIVE`).
pub fn mount_setattr(fd: BorrowedFd<'_>, attr: MountAttr, recursive: bool) -> Result<(), Errno> {
    let raw = libc::mount_attr {
        attr_set: attr.attr_set,
        attr_clr: attr.attr_clr,
        propagation: 0,
        userns_fd: 0,
    };
    let mut flags = libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: `fd` is a live descriptor for the call's duration, the path is a
    // NUL-terminated empty string, and `raw` is a fully initialised
    // `struct mount_attr` whose size we pass; the kernel only reads it.
    let res = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &raw as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    Errno::result(res).map(drop)
}

/// `open_tree(fd, "", OPEN_TREE_CLONE | AT_EMPTY_PATH)`: a detached,
/// non-recursive bind mount of exactly the file `fd` is open on.
pub fn clone_mount_of(fd: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    let flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC | libc::AT_EMPTY_PATH as u32;
    // SAFETY: `fd` is live for the call and the path is a NUL-terminated
    // empty string; the kernel only reads them.
    let res = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags as libc::c_uint,
        )
    };
    let raw = Errno::result(res)?;
    // SAFETY: on success open_tree returns a new descriptor we alone own.
    Ok(unsafe { OwnedFd::from_raw_fd(raw as libc::c_int) })
}

/// `move_mount(from, "", to, "", MOVE_MOUNT_F_EMPTY_PATH |
/// MOVE_MOUNT_T_EMPTY_PATH)`: attach the detached mount `from` on the file
/// `to` is open on (an O_PATH fd is enough).
pub fn move_mount_onto(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> Result<(), Errno> {
    let flags = libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH;
    // SAFETY: both fds are live for the call and both paths are
    // NUL-terminated empty strings; the kernel only reads them.
    let res = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            c"".as_ptr(),
            to.as_raw_fd(),
            c"".as_ptr(),
            flags as libc::c_uint,
        )
    };
    Errno::result(res).map(drop)
}
