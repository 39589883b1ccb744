//! Mount syscalls that libc and nix do not wrap: `mount_setattr(2)` (Linux 5.12),
//! used for the OCI recursive mount options (`rro`, `rnosuid`, ...).

use std::os::fd::{AsRawFd, BorrowedFd};

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
