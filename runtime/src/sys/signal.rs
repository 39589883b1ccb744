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
