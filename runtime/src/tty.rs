//! OCI config.md "Process" → "terminal" / "consoleSize", with runc's
//! `--console-socket` protocol: the container's init allocates the pty from
//! the container's own devpts (so the pty belongs to the container, runc#814)
//! and hands the master to the caller (recvtty, containerd, conmon) over a
//! unix socket as one SCM_RIGHTS message whose data is the master's file
//! name (runc sends the name of the file it opened, "/dev/ptmx").

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, IntoRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use anyhow::{bail, Context};
use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, MsFlags};
use nix::pty::{posix_openpt, ptsname_r, unlockpt};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use nix::sys::stat::{fstat, Mode, SFlag};
use nix::unistd::{dup2_stderr, dup2_stdin, dup2_stdout, getpid, getsid, setsid};

use crate::sys::process::{set_controlling_terminal, set_window_size};

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
/// pivot_root and the mounts (/dev/ptmx must lead to the container's devpts
/// and /proc should be mounted) but before /dev or the root is made
/// read-only, and before `set_identity` (the slave is opened as root).
/// Steps: open /dev/ptmx, unlockpt, size it, bind the slave over
/// /dev/console, send the master over `socket`, then setsid, TIOCSCTTY and
/// the slave on fds 0, 1 and 2. `socket` and the master are closed here.
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
    let slave = ptsname_r(&master).with_context(|| format!("ptsname of {PTMX:?}"))?;
    // runc resizes only when both dimensions are given.
    if let Some(b) = size.filter(|b| b.height() != 0 && b.width() != 0) {
        let rows = u16::try_from(b.height()).unwrap_or(u16::MAX);
        let cols = u16::try_from(b.width()).unwrap_or(u16::MAX);
        set_window_size(master.as_fd(), rows, cols).with_context(|| {
            format!("set console size {}x{} on {slave:?}", b.height(), b.width())
        })?;
    }
    if console_mount == ConsoleMount::DevConsole {
        mount_console(&slave)?;
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
    let fd = open(
        slave.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("open {slave:?}"))?;
    set_controlling_terminal(fd.as_fd())
        .with_context(|| format!("make {slave:?} the controlling terminal"))?;
    dup_to_stdio(fd).with_context(|| format!("dup {slave:?} to stdin, stdout and stderr"))
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

/// Bind-mounts the slave over /dev/console. The target is opened with
/// O_PATH|O_NOFOLLOW and checked to be a file or device, and the mount goes
/// through that fd, so a /dev/console symlink in the image cannot redirect
/// the bind mount onto a host path.
fn mount_console(slave: &str) -> anyhow::Result<()> {
    let target = open_console_target().with_context(|| format!("prepare {CONSOLE:?}"))?;
    let fd_path = format!("/proc/self/fd/{}", target.as_raw_fd());
    // Without /proc in the container the fd cannot be named; the path was
    // just checked not to be a symlink, and nothing in the container runs yet.
    let via = if Path::new(&fd_path).exists() {
        fd_path.as_str()
    } else {
        CONSOLE
    };
    mount(
        Some(slave),
        via,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .with_context(|| format!("bind mount {slave:?} on {CONSOLE:?}"))
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
