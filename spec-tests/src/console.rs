//! The receiving end of `--console-socket` (runc's `recvtty`): a unix
//! listener that accepts the runtime's connection and takes the pty master
//! it sends as SCM_RIGHTS.

use std::io::{IoSliceMut, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};

/// A listening console socket in a private directory.
pub struct ConsoleSocket {
    path: PathBuf,
    listener: UnixListener,
}

impl ConsoleSocket {
    pub fn bind(dir: &Path) -> ConsoleSocket {
        let path = dir.join("console.sock");
        let listener =
            UnixListener::bind(&path).unwrap_or_else(|e| panic!("bind {}: {e}", path.display()));
        listener.set_nonblocking(true).ok();
        ConsoleSocket { path, listener }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Accept one connection and receive the pty master (waits `timeout`).
    /// Errors say what arrived instead, for the test's message.
    pub fn receive_master(&self, timeout: Duration) -> Result<std::fs::File, String> {
        let start = Instant::now();
        let stream = loop {
            match self.listener.accept() {
                Ok((s, _)) => break s,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock && start.elapsed() < timeout =>
                {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Err(e) => return Err(format!("accept on {}: {e}", self.path.display())),
            }
        };
        stream.set_nonblocking(false).ok();
        let mut buf = [0u8; 4096];
        let mut iov = [IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!([RawFd; 1]);
        let msg = recvmsg::<()>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(|e| format!("recvmsg on {}: {e}", self.path.display()))?;
        let (bytes, flags) = (msg.bytes, msg.flags);
        let cmsgs = msg
            .cmsgs()
            .map_err(|e| format!("control data on {}: {e}", self.path.display()))?;
        for cmsg in cmsgs {
            if let ControlMessageOwned::ScmRights(fds) = cmsg {
                if let Some(&fd) = fds.first() {
                    let owned = crate::sys::own_received_fd(fd);
                    return Ok(std::fs::File::from(owned));
                }
            }
        }
        Err(format!(
            "no fd in the message on {} ({bytes} bytes, flags {flags:?})",
            self.path.display()
        ))
    }
}

/// True if `f` is a terminal (isatty).
pub fn is_tty(f: &std::fs::File) -> bool {
    nix::unistd::isatty(f).unwrap_or(false)
}

/// Read from a pty master until `needle` shows up, EOF/EIO, or `timeout`.
pub fn read_until(master: &mut std::fs::File, needle: &str, timeout: Duration) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    let mut f = match master.try_clone() {
        Ok(f) => f,
        Err(e) => panic!("dup pty master: {e}"),
    };
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match f.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let start = Instant::now();
    let mut text = String::new();
    while start.elapsed() < timeout && !text.contains(needle) {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(chunk) => text.push_str(&String::from_utf8_lossy(&chunk)),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(_) => break,
        }
    }
    text
}

/// Runs the shell command `line` under `script`, i.e. with a pty as its
/// terminal; returns its exit code and what it wrote to the terminal.
/// script's own stdin is a pipe kept open and silent: at EOF (a /dev/null
/// stdin) script would type ^D/NUL into the terminal mid-test.
pub fn under_script(line: &str, timeout: Duration) -> crate::Out {
    let dir = crate::TempDir::new("skt-script");
    let out_path = dir.path().join("out");
    let mut child = std::process::Command::new("script")
        .args(["-qec", line, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::fs::File::create(&out_path).expect("create script output"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn script (util-linux)");
    let _keep_open = child.stdin.take();
    let deadline = std::time::Instant::now() + timeout;
    let code = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status.code().unwrap_or(-1);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break -1;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    crate::Out {
        cmd: line.to_string(),
        code,
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: String::new(),
    }
}

/// `cmd` as one shell-quoted line, for [`under_script`].
pub fn shell_line(cmd: &std::process::Command) -> String {
    let quote = |a: &std::ffi::OsStr| format!("'{}'", a.to_string_lossy().replace('\'', "'\\''"));
    std::iter::once(quote(cmd.get_program()))
        .chain(cmd.get_args().map(quote))
        .collect::<Vec<_>>()
        .join(" ")
}
