//! keyctl(2), which libc has no wrapper for.

use std::ffi::CString;

/// KEYCTL_JOIN_SESSION_KEYRING with a new named keyring.
pub fn join_session_keyring(name: &str) -> nix::Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    let name = CString::new(name).map_err(|_| nix::errno::Errno::EINVAL)?;
    // SAFETY: keyctl reads the NUL-terminated name, which outlives the call.
    let rc = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    if rc < 0 {
        return Err(nix::errno::Errno::last());
    }
    Ok(())
}
