//! Raw syscalls for the per-process attributes of the OCI process spec
//! (capabilities, I/O priority, scheduler, personality, domain name, the
//! console's terminal ioctls, pidfds for hook timeouts), behind safe
//! wrappers. Everything here is a thin call: policy lives in the callers.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// `_LINUX_CAPABILITY_VERSION_3`: 64-bit sets split over two `data` words.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapUserHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapUserData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// The three capset(2) sets of the calling thread, as bit masks indexed by
/// capability number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CapSets {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
}

/// Sets effective, permitted and inheritable in one capset(2), so that no
/// intermediate state (effective not a subset of permitted) is ever asked for.
pub fn capset(sets: CapSets) -> io::Result<()> {
    let header = CapUserHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let split = |v: u64| (v as u32, (v >> 32) as u32);
    let (e0, e1) = split(sets.effective);
    let (p0, p1) = split(sets.permitted);
    let (i0, i1) = split(sets.inheritable);
    let data = [
        CapUserData {
            effective: e0,
            permitted: p0,
            inheritable: i0,
        },
        CapUserData {
            effective: e1,
            permitted: p1,
            inheritable: i1,
        },
    ];
    // SAFETY: header and data are valid, properly laid out (repr(C)) and
    // live for the call; version 3 takes exactly two data elements.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &header, data.as_ptr()) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// setdomainname(2): nix has no wrapper.
pub fn setdomainname(name: &str) -> io::Result<()> {
    let c = CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: c points to name.len() valid bytes for the duration of the call.
    let rc = unsafe { libc::setdomainname(c.as_ptr(), name.len()) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// ioprio_set(IOPRIO_WHO_PROCESS, 0, class << 13 | level) for the caller.
pub fn ioprio_set(class: u32, level: u32) -> io::Result<()> {
    const IOPRIO_WHO_PROCESS: libc::c_long = 1;
    const IOPRIO_CLASS_SHIFT: u32 = 13;
    let prio = (class << IOPRIO_CLASS_SHIFT) | level;
    // SAFETY: ioprio_set takes three integers and touches no memory of ours.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_ioprio_set,
            IOPRIO_WHO_PROCESS,
            0 as libc::c_long,
            prio as libc::c_long,
        )
    };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// ioprio_get for the caller, returning (class, level); used to verify.
pub fn ioprio_get() -> io::Result<(u32, u32)> {
    const IOPRIO_WHO_PROCESS: libc::c_long = 1;
    // SAFETY: ioprio_get takes two integers and touches no memory of ours.
    let rc = unsafe { libc::syscall(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0 as libc::c_long) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    let v = rc as u32;
    Ok((v >> 13, v & 0x1fff))
}

/// The sched_setattr(2) arguments skiff passes (all of `struct sched_attr`
/// up to the period; the util-clamp fields are left zero).
#[derive(Clone, Copy, Debug, Default)]
pub struct SchedAttr {
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
}

/// sched_setattr(0, attr, 0) for the calling thread.
pub fn sched_setattr(attr: SchedAttr) -> io::Result<()> {
    let raw = libc::sched_attr {
        size: std::mem::size_of::<libc::sched_attr>() as u32,
        sched_policy: attr.policy,
        sched_flags: attr.flags,
        sched_nice: attr.nice,
        sched_priority: attr.priority,
        sched_runtime: attr.runtime,
        sched_deadline: attr.deadline,
        sched_period: attr.period,
    };
    // SAFETY: raw is a valid sched_attr whose size field matches its layout;
    // the kernel only reads it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_sched_setattr,
            0 as libc::c_long,
            &raw as *const libc::sched_attr,
            0 as libc::c_long,
        )
    };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// sched_getscheduler(0): the caller's policy, with SCHED_RESET_ON_FORK
/// (0x40000000) or'ed in when set; used to verify.
pub fn sched_getscheduler() -> io::Result<i32> {
    // SAFETY: sched_getscheduler takes a pid and touches no memory of ours.
    let rc = unsafe { libc::sched_getscheduler(0) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(rc)
}

/// personality(2) with the whole persona value; returns the previous one.
pub fn personality(persona: u64) -> io::Result<u64> {
    // SAFETY: personality takes an integer and touches no memory of ours.
    let rc = unsafe { libc::personality(persona as libc::c_ulong) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(rc as u32 as u64)
}

/// pidfd_open(2): a pollable handle that becomes readable when `pid` exits.
pub fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let rc = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::c_long, 0 as libc::c_long) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: rc is a freshly opened fd owned by nobody else; pidfds are
    // always close-on-exec.
    Ok(unsafe { OwnedFd::from_raw_fd(rc as libc::c_int) })
}

/// TIOCGWINSZ: the terminal size of `fd`.
pub fn get_window_size(fd: BorrowedFd<'_>) -> io::Result<libc::winsize> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: fd is a valid open fd for the call; ws is a valid winsize the
    // kernel writes into.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(ws)
}

/// TIOCSWINSZ on a terminal fd.
pub fn set_window_size(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: fd is a valid open fd for the call; ws is a valid winsize that
    // the kernel only reads.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// TIOCGWINSZ on a terminal fd, returning (rows, cols).
pub fn window_size(fd: BorrowedFd<'_>) -> io::Result<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: fd is valid for the call; ws is a writable winsize.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok((ws.ws_row, ws.ws_col))
}

/// TIOCSCTTY: make the terminal the session's controlling terminal (the
/// caller must be a session leader without one, i.e. just after setsid).
pub fn set_controlling_terminal(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: fd is valid for the call; the argument 0 means "do not steal".
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0 as libc::c_int) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// TIOCGPTN: the pty number of a pty master (fails on anything else).
pub fn pty_number(fd: BorrowedFd<'_>) -> io::Result<u32> {
    let mut n: libc::c_uint = 0;
    // SAFETY: fd is valid for the call; n is a writable c_uint.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGPTN, &mut n) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(n)
}

/// TIOCGPTPEER (Linux 4.13): open the slave of the pty master `fd` with
/// `flags` (O_RDWR, O_NOCTTY, O_CLOEXEC). The kernel opens the master's own
/// peer, so no path in the caller's view of /dev/pts is looked up.
pub fn open_pty_peer(fd: BorrowedFd<'_>, flags: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: fd is valid for the call; the argument is the open flags as
    // an int, which the kernel reads by value.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGPTPEER, flags) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: on success the ioctl returns a new descriptor we alone own.
    Ok(unsafe { OwnedFd::from_raw_fd(rc) })
}

/// Runs `f` in a forked child and returns its exit code (a panic is 101).
/// For tests that change process-wide state (credentials, limits, mount
/// namespace) without touching the test runner. glibc's fork re-initialises
/// the malloc locks, so the child may allocate.
#[cfg(test)]
pub(crate) fn run_in_child(f: impl FnOnce() -> i32) -> io::Result<i32> {
    // SAFETY: the child runs only `f` and then _exit()s without returning
    // into the test harness or running its destructors.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(101);
            // SAFETY: _exit ends the child immediately, which is the point.
            unsafe { libc::_exit(code) }
        }
        child => {
            let mut status = 0;
            loop {
                // SAFETY: status is a writable c_int; child is our child.
                let rc = unsafe { libc::waitpid(child, &mut status, 0) };
                if rc == child {
                    break;
                }
                let err = io::Error::last_os_error();
                if err.raw_os_error() != Some(libc::EINTR) {
                    return Err(err);
                }
            }
            if libc::WIFEXITED(status) {
                Ok(libc::WEXITSTATUS(status))
            } else {
                Ok(128 + libc::WTERMSIG(status))
            }
        }
    }
}

/// Receives one message with at most one SCM_RIGHTS fd (made O_CLOEXEC):
/// returns the data length written to `buf` and the fd, if one came.
/// The console-socket receiver's half of `tty::setup_console`.
pub fn recv_fd(sock: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<(usize, Option<OwnedFd>)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut iov = [io::IoSliceMut::new(buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let mut received = None;
    for cmsg in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            for fd in fds {
                // SAFETY: the kernel just installed fd in our table for this
                // message; nothing else owns it. Extra fds are closed on drop.
                let owned = unsafe { OwnedFd::from_raw_fd(fd) };
                received.get_or_insert(owned);
            }
        }
    }
    Ok((msg.bytes, received))
}
