//! kill(2) for any signal number, real-time ones included (nix's `Signal`
//! enum has no real-time variants).

pub fn send_signal(pid: i32, signal: i32) -> nix::Result<()> {
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    let rc = unsafe { libc::kill(pid, signal) };
    if rc < 0 {
        return Err(nix::errno::Errno::last());
    }
    Ok(())
}

/// Rust's runtime ignores SIGPIPE at start-up, and an ignored disposition
/// survives execve: every container process would inherit it. The runtime
/// itself keeps ignoring it (a hook that never reads its stdin must not kill
/// `skiff`); the container's processes get the default back.
pub fn restore_default_sigpipe() {
    // SAFETY: installing SIG_DFL involves no handler code and no memory of ours.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}
