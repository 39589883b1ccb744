//! The receiving end of skiff's `--console-socket` (runc's protocol): a
//! unix listener in a private directory; skiff connects during `create` or
//! `exec` and sends the pty master as SCM_RIGHTS.

use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};

use crate::error::{Result, ShimError};

pub struct ConsoleSocket {
    dir: PathBuf,
    path: PathBuf,
    listener: UnixListener,
}

impl ConsoleSocket {
    /// A socket under a fresh 0700 directory in /tmp: the bundle path can
    /// be longer than the 108 bytes a socket address holds.
    pub fn new() -> Result<ConsoleSocket> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "skiff-shim-pty-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| ShimError::io("create the console socket directory", &dir, e))?;
        let path = dir.join("pty.sock");
        let listener = UnixListener::bind(&path).map_err(|e| {
            let _ = std::fs::remove_dir_all(&dir);
            ShimError::io("bind the console socket", &path, e)
        })?;
        Ok(ConsoleSocket {
            dir,
            path,
            listener,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The master skiff sent. Call once the runtime call returned: it
    /// connects and sends before it exits, so the connection is queued.
    pub fn receive_master(&self, timeout: Duration) -> Result<OwnedFd> {
        let fail = |e: std::io::Error| ShimError::io("receive the pty master on", &self.path, e);
        self.listener.set_nonblocking(true).map_err(fail)?;
        let deadline = Instant::now() + timeout;
        let stream = loop {
            match self.listener.accept() {
                Ok((stream, _)) => break stream,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Err(e) => return Err(fail(e)),
            }
        };
        stream.set_nonblocking(false).map_err(fail)?;
        let mut name = [0u8; 4096];
        let mut iov = [IoSliceMut::new(&mut name)];
        let mut space = nix::cmsg_space!([RawFd; 1]);
        let msg = recvmsg::<()>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(|e| fail(e.into()))?;
        let mut received = None;
        for cmsg in msg.cmsgs().map_err(|e| fail(e.into()))? {
            if let ControlMessageOwned::ScmRights(fds) = cmsg {
                for fd in fds {
                    let owned = crate::sys::own_received_fd(fd);
                    if received.is_none() {
                        received = Some(owned);
                    }
                }
            }
        }
        received.ok_or_else(|| fail(std::io::Error::other("the message carried no fd")))
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
