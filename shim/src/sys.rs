//! Every `unsafe` block of the shim: taking ownership of an fd received
//! over SCM_RIGHTS, the pty window-size ioctl, the new mount API
//! (fsopen/fsconfig/fsmount/move_mount), which libc does not wrap, pidfds,
//! and placing extra fds in a child between fork and exec.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

/// Takes ownership of an fd the kernel just installed in our table
/// (SCM_RIGHTS); nothing else refers to it.
pub fn own_received_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was installed by recvmsg for this call only and is not
    // owned by anything else, so giving it one owner is sound.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// TIOCSWINSZ on a pty master: the kernel signals SIGWINCH to the
/// terminal's foreground process group.
pub fn set_window_size(master: BorrowedFd<'_>, rows: u16, cols: u16) -> io::Result<()> {
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: `master` is an open fd for the duration of the call and
    // `size` is a valid winsize the kernel only reads.
    let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_SET_FLAG: libc::c_uint = 0;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;

fn cstring(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in string"))
}

fn check(rc: libc::c_long) -> io::Result<libc::c_long> {
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(rc)
}

/// An overlay mount through the new mount API, one fsconfig call per
/// option, so `lowerdir+` may repeat once per layer (Linux 6.8+) and the
/// layer count is not bounded by the single page mount(2) takes.
/// `options` are `key=value` strings or bare flags (`userxattr`, `ro`).
pub fn mount_overlay_fsconfig(options: &[String], target: &Path) -> io::Result<()> {
    let fstype = cstring("overlay")?;
    // SAFETY: `fstype` is a valid C string; the result is checked and owned.
    let fs = check(unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), FSOPEN_CLOEXEC) })?;
    // SAFETY: fsopen returned a new fd that nothing else owns.
    let fs = unsafe { OwnedFd::from_raw_fd(fs as RawFd) };
    for option in options {
        let (key, value) = match option.split_once('=') {
            Some((k, v)) => (cstring(k)?, Some(cstring(v)?)),
            None => (cstring(option)?, None),
        };
        let (cmd, value_ptr) = match &value {
            Some(v) => (FSCONFIG_SET_STRING, v.as_ptr()),
            None => (FSCONFIG_SET_FLAG, std::ptr::null()),
        };
        // SAFETY: `fs` is a live fs context fd; key (and value, when set)
        // are valid C strings for the call, a null value is what
        // FSCONFIG_SET_FLAG takes.
        check(unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fs.as_raw_fd(),
                cmd,
                key.as_ptr(),
                value_ptr,
                0,
            )
        })
        .map_err(|e| io::Error::new(e.kind(), format!("fsconfig {option:?}: {e}")))?;
    }
    // SAFETY: `fs` is a live fs context fd; the null key/value are what
    // FSCONFIG_CMD_CREATE takes.
    check(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    })
    .map_err(|e| io::Error::new(e.kind(), format!("create the overlay: {e}")))?;
    // SAFETY: `fs` is a created fs context; the result is checked and owned.
    let mnt =
        check(unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, 0) })?;
    // SAFETY: fsmount returned a new fd that nothing else owns.
    let mnt = unsafe { OwnedFd::from_raw_fd(mnt as RawFd) };
    let target = cstring(&target.to_string_lossy())?;
    let empty = cstring("")?;
    // SAFETY: `mnt` is a detached mount fd; both paths are valid C strings.
    check(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            mnt.as_raw_fd(),
            empty.as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    })?;
    Ok(())
}

/// One malloc arena for all threads. glibc gives each thread that
/// allocates an arena of its own; the shim's threads (ttrpc's pool, stdio
/// copies, the exit and event threads) mostly sleep, and their arenas
/// would be resident memory paid once per container.
pub fn use_one_malloc_arena() {
    // SAFETY: mallopt only sets an allocator parameter; it is called
    // before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Gives the child of `cmd` the fds `fds` as its 3, 4, ... (without
/// close-on-exec), as Go's `ExtraFiles` does; every other fd of ours stays
/// close-on-exec. Each is first duplicated above the targets, so a source
/// that is itself a target number is not overwritten before it is copied.
pub fn pass_extra_fds(cmd: &mut Command, fds: Vec<RawFd>) {
    // SAFETY: between fork and exec the closure only calls fcntl and dup2,
    // which are async-signal-safe, on fds the parent keeps open until the
    // spawn returns, and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            let above = 3 + fds.len() as RawFd;
            let mut moved = [0 as RawFd; 8];
            if fds.len() > moved.len() {
                return Err(io::Error::from_raw_os_error(libc::EINVAL));
            }
            for (i, &fd) in fds.iter().enumerate() {
                let high = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, above);
                if high < 0 {
                    return Err(io::Error::last_os_error());
                }
                moved[i] = high;
            }
            for (i, &high) in moved[..fds.len()].iter().enumerate() {
                if libc::dup2(high, 3 + i as RawFd) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// A pidfd for `pid` (Linux 5.3+), close-on-exec.
pub fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    // SAFETY: the syscall takes two integers and returns a new fd or -1.
    let fd = check(unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) })?;
    // SAFETY: `fd` was just returned by pidfd_open and has no other owner.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// A signal through a pidfd: never to a recycled pid.
pub fn pidfd_signal(pidfd: BorrowedFd<'_>, signal: libc::c_int) -> io::Result<()> {
    // SAFETY: the pidfd is open for the call; a null siginfo is allowed.
    check(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    })?;
    Ok(())
}
