//! The harness's only `unsafe`: taking ownership of an fd the kernel handed
//! us in an SCM_RIGHTS message (unix(7)), which nix returns as a raw number.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// Own an fd received through SCM_RIGHTS.
#[allow(unsafe_code)]
pub(crate) fn own_received_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: the kernel installed `fd` in our fd table for this message
    // alone (SCM_RIGHTS); nothing else in the process knows or owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}
