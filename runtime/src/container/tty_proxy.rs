//! The caller's own terminal for a foreground `run` or `exec` whose process
//! has `terminal: true` and no `--console-socket`, as runc does it: the
//! container's process still allocates its pty from the container's devpts
//! (tty.rs) and sends the master over a socket pair we hold; we put our
//! stdin in raw mode, copy bytes both ways, and pass window size changes on.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};

use crate::sys::process::{get_window_size, recv_fd, set_window_size};

/// Our end of the console socket and the end the container's process gets.
pub(crate) struct ConsolePair {
    pub ours: UnixStream,
    pub theirs: Arc<OwnedFd>,
}

pub(crate) fn console_pair() -> Result<ConsolePair> {
    let (ours, theirs) = UnixStream::pair().context("create the console socket pair")?;
    Ok(ConsolePair {
        ours,
        theirs: Arc::new(theirs.into()),
    })
}

/// Takes the pty master the container's process sent, if it sent one. Call
/// after the process reported ready: the master is sent before that, so an
/// empty socket means the process has no terminal.
pub(crate) fn take_master(ours: &UnixStream) -> Result<Option<OwnedFd>> {
    ours.set_nonblocking(true)
        .context("console socket: set non-blocking")?;
    let mut name = [0u8; 256];
    match recv_fd(ours.as_fd(), &mut name) {
        Ok((_, Some(master))) => Ok(Some(master)),
        Ok((_, None)) => bail!("console socket: the message carried no pty master"),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e).context("console socket: receive the pty master"),
    }
}

/// Copies between our stdio and the pty master until dropped; restores the
/// caller's terminal mode on drop.
pub(crate) struct TtyProxy {
    master: OwnedFd,
    saved: Option<Termios>,
    output_done: mpsc::Receiver<()>,
}

impl TtyProxy {
    pub(crate) fn start(master: OwnedFd) -> Result<TtyProxy> {
        let stdin = std::io::stdin();
        let saved = match tcgetattr(stdin.as_fd()) {
            Ok(mode) => {
                let mut raw = mode.clone();
                cfmakeraw(&mut raw);
                tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw)
                    .context("put the terminal in raw mode")?;
                Some(mode)
            }
            Err(_) => None, // not a terminal: plain byte copy
        };
        let proxy = TtyProxy {
            saved,
            output_done: copy_output(&master)?,
            master,
        };
        proxy.resize();
        copy_input(&proxy.master)?;
        Ok(proxy)
    }

    /// Gives the pty our terminal's size (on start and on SIGWINCH); the
    /// kernel then signals the container's foreground process group.
    pub(crate) fn resize(&self) {
        if let Ok(size) = get_window_size(std::io::stdin().as_fd()) {
            let _ = set_window_size(self.master.as_fd(), size.ws_row, size.ws_col);
        }
    }

    /// After the process exited: let the last output reach our stdout. Other
    /// holders of the slave (a daemon left behind without a pid namespace)
    /// must not keep us here, hence the bound.
    pub(crate) fn drain(&self) {
        let _ = self.output_done.recv_timeout(Duration::from_secs(1));
    }
}

impl Drop for TtyProxy {
    fn drop(&mut self) {
        if let Some(mode) = &self.saved {
            let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, mode);
        }
    }
}

fn copy_output(master: &OwnedFd) -> Result<mpsc::Receiver<()>> {
    let mut from = std::fs::File::from(master.try_clone().context("duplicate the pty master")?);
    let (done, output_done) = mpsc::channel();
    std::thread::Builder::new()
        .name("tty-output".into())
        .spawn(move || {
            let mut buf = [0u8; 8192];
            let mut out = std::io::stdout().lock();
            // EIO is how a master reports that the last slave closed.
            while let Ok(n @ 1..) = from.read(&mut buf) {
                if out.write_all(&buf[..n]).and_then(|()| out.flush()).is_err() {
                    break;
                }
            }
            let _ = done.send(());
        })
        .context("start the terminal output thread")?;
    Ok(output_done)
}

/// Our stdin to the pty. The thread may block in read(2) until the process
/// exits; it holds nothing that needs cleaning up.
fn copy_input(master: &OwnedFd) -> Result<()> {
    let mut to = std::fs::File::from(master.try_clone().context("duplicate the pty master")?);
    std::thread::Builder::new()
        .name("tty-input".into())
        .spawn(move || {
            let mut buf = [0u8; 4096];
            let mut input = std::io::stdin().lock();
            while let Ok(n @ 1..) = input.read(&mut buf) {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        })
        .context("start the terminal input thread")?;
    Ok(())
}
