//! fork and the fd-table syscalls the process model needs.

use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use nix::unistd::{ForkResult, Pid};

/// Which side of a fork we are on.
pub enum Forked {
    Parent(Pid),
    Child,
}

/// fork(2). skiff is single-threaded whenever it forks (no runtime, no
/// helper threads before the container init exists), so the child may
/// allocate and run ordinary Rust code.
pub fn fork_process() -> nix::Result<Forked> {
    // SAFETY: the runtime never has other threads when it forks (see above),
    // so no lock can be held by a thread that does not exist in the child.
    match unsafe { nix::unistd::fork() }? {
        ForkResult::Parent { child } => Ok(Forked::Parent(child)),
        ForkResult::Child => Ok(Forked::Child),
    }
}

/// Marks every fd from `first` upwards close-on-exec: the container's
/// process must inherit nothing of the runtime but what was asked for
/// (the CVE-2024-21626 class). close_range(2) with CLOSE_RANGE_CLOEXEC
/// (Linux 5.11); the fallback walks /proc/self/fd.
pub fn cloexec_from(first: RawFd) -> std::io::Result<()> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range only changes fd flags; no memory is passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd >= first)
        .collect();
    for fd in fds {
        // SAFETY: F_SETFD on an fd number only changes its flags; an fd that
        // closed meanwhile (the read_dir's own) just returns EBADF.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}

/// Clears close-on-exec so the fd survives into the container process
/// (`--preserve-fds`, LISTEN_FDS).
pub fn clear_cloexec(fd: RawFd) -> std::io::Result<()> {
    // SAFETY: F_SETFD with 0 only clears the fd's close-on-exec flag.
    let rc = unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// dup2 that keeps the target's flags clear (for stdio of the container).
pub fn dup_onto(fd: BorrowedFd<'_>, target: RawFd) -> std::io::Result<()> {
    // SAFETY: dup2 on a borrowed, open fd; the target number is replaced atomically.
    let rc = unsafe { libc::dup2(fd.as_raw_fd(), target) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
