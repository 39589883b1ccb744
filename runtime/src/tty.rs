//! OCI config.md "Process" → "terminal" / "consoleSize", with runc's
//! `--console-socket` protocol: the container's init allocates the pty from
//! the container's own devpts (so the pty belongs to the container, runc#814)
//! and hands the master to the caller (recvtty, containerd, conmon) over a
//! unix socket as one SCM_RIGHTS message whose data is the master's file
//! name (runc sends the name of the file it opened, "/dev/ptmx").

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use anyhow::{bail, Context};
use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::pty::{posix_openpt, unlockpt};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use nix::sys::stat::{fstat, major, minor, Mode, SFlag};
use nix::sys::statfs::{fstatfs, DEVPTS_SUPER_MAGIC};
use nix::unistd::{dup2_stderr, dup2_stdin, dup2_stdout, getpid, getsid, setsid};

use crate::sys::mount::{clone_mount_of, move_mount_onto};
use crate::sys::process::{open_pty_peer, pty_number, set_controlling_terminal, set_window_size};

const PTMX: &str = "/dev/ptmx";
const CONSOLE: &str = "/dev/console";

/// Connects to the `--console-socket`. Call in the runtime (parent) before
/// the container process is born, so a bad path fails `create` early and
/// the child inherits a ready socket.
pub fn connect_console_socket(path: &Path) -> anyhow::Result<OwnedFd> {
    let stream = UnixStream::connect(path)
        .with_context(|| format!("connect to console socket {:?}", path.display().to_string()))?;
    Ok(stream.into())
}

/// Makes a pty the container's terminal. Call in the container's init after
/// pivot_root and the mounts (/dev/ptmx must lead to the container's devpts)
/// but before /dev or the root is made read-only, and before `set_identity`
/// (the slave is opened as root).
/// Steps: open /dev/ptmx, unlockpt, open its peer (TIOCGPTPEER), size it,
/// bind that peer over /dev/console, send the master over `socket`, then
/// setsid, TIOCSCTTY and the same peer on fds 0, 1 and 2. `socket` and the
/// master are closed here.
pub fn setup_console(socket: OwnedFd, size: Option<&oci_spec::runtime::Box>) -> anyhow::Result<()> {
    attach_pty(socket, size, ConsoleMount::DevConsole)
}

/// The same for `exec --tty`: a pty of its own, but /dev/console stays the
/// init's.
pub fn setup_exec_console(
    socket: OwnedFd,
    size: Option<&oci_spec::runtime::Box>,
) -> anyhow::Result<()> {
    attach_pty(socket, size, ConsoleMount::None)
}

#[derive(PartialEq)]
enum ConsoleMount {
    DevConsole,
    None,
}

fn attach_pty(
    socket: OwnedFd,
    size: Option<&oci_spec::runtime::Box>,
    console_mount: ConsoleMount,
) -> anyhow::Result<()> {
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .with_context(|| format!("open {PTMX:?}"))?;
    unlockpt(&master).with_context(|| format!("unlockpt {PTMX:?}"))?;
    let n = pty_number(master.as_fd()).with_context(|| format!("TIOCGPTN on {PTMX:?}"))?;
    let slave = open_peer(master.as_fd()).with_context(|| format!("open the peer of pty {n}"))?;
    // runc resizes only when both dimensions are given.
    if let Some(b) = size.filter(|b| b.height() != 0 && b.width() != 0) {
        let rows = u16::try_from(b.height()).unwrap_or(u16::MAX);
        let cols = u16::try_from(b.width()).unwrap_or(u16::MAX);
        set_window_size(master.as_fd(), rows, cols)
            .with_context(|| format!("set console size {}x{} on pty {n}", b.height(), b.width()))?;
    }
    if console_mount == ConsoleMount::DevConsole {
        mount_console(slave.as_fd(), n)?;
    }
    let fds = [master.as_raw_fd()];
    sendmsg::<()>(
        socket.as_raw_fd(),
        &[IoSlice::new(PTMX.as_bytes())],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .context("send pty master over the console socket")?;
    drop(master);
    drop(socket);
    become_session_leader()?;
    set_controlling_terminal(slave.as_fd())
        .with_context(|| format!("make pty {n} the controlling terminal"))?;
    dup_to_stdio(slave).with_context(|| format!("dup pty {n} to stdin, stdout and stderr"))
}

/// The slave of `master`, opened by the kernel from the master itself
/// (TIOCGPTPEER) and never through its `ptsname` path: by the time the
/// runtime would open "/dev/pts/N", the container's /dev/pts may be another
/// devpts instance, a bind mount or a symlink (CVE-2025-52565).
///
/// There is no fallback to the path. TIOCGPTPEER is Linux 4.13 and skiff
/// already needs newer (open_tree/move_mount 5.2, mount_setattr 5.12), and
/// the path lookup is the hole itself: a second devpts instance mounted
/// over /dev/pts passes every check below.
fn open_peer(master: BorrowedFd<'_>) -> anyhow::Result<OwnedFd> {
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    let slave = open_pty_peer(master, flags).context("TIOCGPTPEER")?;
    verify_pty_slave(slave.as_fd())?;
    Ok(slave)
}

/// UNIX98_PTY_SLAVE_MAJOR and the UNIX98_PTY_MAJOR_COUNT majors after it.
const PTY_SLAVE_MAJORS: std::ops::RangeInclusive<u64> = 136..=143;

/// The kernel gave a devpts slave; checked anyway, as runc does, so that a
/// wrong answer fails here instead of becoming the container's stdio.
fn verify_pty_slave(fd: BorrowedFd<'_>) -> anyhow::Result<()> {
    let st = fstat(fd).context("fstat")?;
    let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
    let rdev_major = major(st.st_rdev);
    if kind != SFlag::S_IFCHR || !PTY_SLAVE_MAJORS.contains(&rdev_major) {
        bail!(
            "not a pty slave (mode {:o}, device {rdev_major}:{})",
            st.st_mode,
            minor(st.st_rdev)
        );
    }
    let fs = fstatfs(fd).context("fstatfs")?.filesystem_type();
    if fs != DEVPTS_SUPER_MAGIC {
        bail!("not on devpts (filesystem magic {:#x})", fs.0);
    }
    Ok(())
}

/// setsid, unless the caller already made this process a session leader
/// (setsid then fails with EPERM).
fn become_session_leader() -> anyhow::Result<()> {
    match setsid() {
        Ok(_) => Ok(()),
        Err(Errno::EPERM) if getsid(None).ok() == Some(getpid()) => Ok(()),
        Err(e) => Err(e).context("setsid"),
    }
}

/// Binds the slave over /dev/console, from the slave's fd onto the fd of
/// the target (open_tree + move_mount): neither end is named by a path the
/// container could change. The target is opened with O_PATH|O_NOFOLLOW and
/// checked to be a file or device, so a /dev/console symlink in the image
/// cannot redirect the mount either.
fn mount_console(slave: BorrowedFd<'_>, n: u32) -> anyhow::Result<()> {
    let target = open_console_target().with_context(|| format!("prepare {CONSOLE:?}"))?;
    let tree = clone_mount_of(slave).with_context(|| format!("open_tree of pty {n}"))?;
    move_mount_onto(tree.as_fd(), target.as_fd())
        .with_context(|| format!("move_mount pty {n} onto {CONSOLE:?}"))
}

fn open_console_target() -> anyhow::Result<OwnedFd> {
    let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = match open(CONSOLE, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => {
            // Created empty with O_EXCL: if something appears in between we
            // fail instead of opening it.
            let create = OFlag::O_CREAT
                | OFlag::O_EXCL
                | OFlag::O_NOFOLLOW
                | OFlag::O_WRONLY
                | OFlag::O_CLOEXEC;
            drop(open(CONSOLE, create, Mode::from_bits_truncate(0o600)).context("create")?);
            open(CONSOLE, flags, Mode::empty()).context("open")?
        }
        Err(e) => return Err(e).context("open"),
    };
    let kind =
        SFlag::from_bits_truncate(fstat(&fd).context("fstat")?.st_mode & SFlag::S_IFMT.bits());
    if kind != SFlag::S_IFREG && kind != SFlag::S_IFCHR {
        bail!("not a regular file or character device (symlink or directory refused)");
    }
    Ok(fd)
}

/// dup2 the terminal onto 0, 1 and 2 (dup2 clears O_CLOEXEC on the copies).
/// If `fd` already is one of them it must stay open, so it is not dropped.
fn dup_to_stdio(fd: OwnedFd) -> nix::Result<()> {
    dup2_stdin(&fd)?;
    dup2_stdout(&fd)?;
    dup2_stderr(&fd)?;
    if fd.as_raw_fd() <= 2 {
        let _ = fd.into_raw_fd();
    }
    Ok(())
}

#[cfg(test)]
#[path = "tty_tests.rs"]
mod tests;
