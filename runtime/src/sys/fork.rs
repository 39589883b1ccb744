//! fork, clone3 into a cgroup, and the fd-table syscalls the process model
//! needs.

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

/// `struct clone_args` up to `cgroup` (CLONE_ARGS_SIZE_VER2, Linux 5.7);
/// libc does not declare it.
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// clone3(2) with CLONE_INTO_CGROUP: a fork whose child is a member of the
/// cgroup2 directory `cgroup` from its first instruction. Errors are the
/// kernel's: ENOSYS before Linux 5.3 (or under a seccomp filter that hides
/// clone3), E2BIG/EINVAL before 5.7 or for a cgroup that cannot take
/// processes this way.
pub fn fork_into_cgroup(cgroup: BorrowedFd<'_>) -> nix::Result<Forked> {
    let fd = u64::try_from(cgroup.as_raw_fd()).map_err(|_| nix::errno::Errno::EBADF)?;
    let mut args = CloneArgs {
        flags: CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: fd,
        ..Default::default()
    };
    // SAFETY: as for `fork_process`, the runtime is single-threaded here.
    // Without CLONE_VM the child gets its own copy of the address space and
    // returns on its copy of this stack, as after fork(2). glibc's fork
    // bookkeeping does not run: no atfork handlers (skiff registers none),
    // and the child's cached TID stays the parent's, which only glibc's
    // owner-tracking pthread mutexes read; Rust's std locks are futexes
    // that do not. `args` is a live #[repr(C)] clone_args of the size passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match rc {
        r if r < 0 => Err(nix::errno::Errno::last()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(Pid::from_raw(pid as i32))),
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
