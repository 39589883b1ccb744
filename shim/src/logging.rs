//! `binary://PATH?KEY=VALUE` stdio: containerd's logging-binary protocol, as
//! its runc shim speaks it (pkg/process `NewBinaryIO`). The shim starts PATH
//! with `KEY VALUE` arguments and only `CONTAINER_ID` and
//! `CONTAINER_NAMESPACE` in its environment; the read ends of the process's
//! stdout and stderr pipes are its fds 3 and 4, and fd 5 is a pipe it writes
//! to or closes once it is ready. The process starts only after that, so no
//! output is lost. The shim keeps no write end: the logger sees EOF when the
//! process and everything that inherited its output are gone. When the task
//! is deleted, a logger still running gets SIGTERM to flush and exit, and
//! SIGKILL 10 s later, as containerd's shim does it.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use log::warn;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::error::{Result, ShimError};

/// How long the logger may take to say it is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a logger has after SIGTERM.
const EXIT_GRACE: Duration = Duration::from_secs(10);

/// A running logging binary, watched until its task is deleted.
pub struct LoggingBinary {
    /// A pidfd, so a late kill can never reach a recycled pid.
    process: Option<OwnedFd>,
}

/// The write ends of the pipes the logger reads: the process's stdout and
/// stderr.
pub struct LoggedOutput {
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// The program and arguments of a `binary://` URI.
fn command_of(uri: &str) -> Result<(String, Vec<String>)> {
    let rest = uri.strip_prefix("binary://").unwrap_or(uri);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    // `binary://host/path` names /path, as Go's url.Parse reads it.
    let path = match path.find('/') {
        Some(i) => &path[i..],
        None => "",
    };
    let path = percent_decode(path, false);
    if path.is_empty() {
        return Err(ShimError::invalid(uri, "a binary:// URI names no program"));
    }
    let mut args = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        // Each key, then its value even when empty, as containerd passes them.
        args.push(percent_decode(k, true));
        args.push(percent_decode(v, true));
    }
    Ok((path, args))
}

/// `%XX` escapes (and `+` as a space in a query, as Go's ParseQuery does).
fn percent_decode(s: &str, query: bool) -> String {
    let b = s.as_bytes();
    let hex = |c: &u8| (*c as char).to_digit(16);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let (Some(h), Some(l)) = (b.get(i + 1).and_then(hex), b.get(i + 2).and_then(hex)) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(if query && b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl LoggingBinary {
    /// Start the logger of `uri` for the process of container `id` in
    /// `namespace` and wait until it is ready.
    pub fn start(uri: &str, id: &str, namespace: &str) -> Result<(LoggingBinary, LoggedOutput)> {
        let (program, args) = command_of(uri)?;
        // Checked here: std's spawn waits for a child whose exec failed,
        // racing the shim's reaper for it.
        match std::fs::metadata(&program) {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => {}
            Ok(_) => {
                return Err(ShimError::invalid(
                    uri,
                    format!("{program:?} is not an executable file"),
                ))
            }
            Err(e) => return Err(ShimError::io("find the logging binary", &program, e)),
        }
        let pipe = |what| nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| ShimError::os(what, e));
        let (out_r, out_w) = pipe("create the stdout pipe of the logging binary")?;
        let (err_r, err_w) = pipe("create the stderr pipe of the logging binary")?;
        let (ready_r, ready_w) = pipe("create the ready pipe of the logging binary")?;
        let mut cmd = Command::new(&program);
        cmd.args(&args)
            .env_clear()
            .env("CONTAINER_ID", id)
            .env("CONTAINER_NAMESPACE", namespace)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        crate::sys::pass_extra_fds(
            &mut cmd,
            vec![out_r.as_raw_fd(), err_r.as_raw_fd(), ready_w.as_raw_fd()],
        );
        let child = cmd.spawn().map_err(|e| ShimError::Runtime {
            command: "start the logging binary".into(),
            message: format!("run {program:?}: {e}"),
        })?;
        // Ours closed, the logger's own end of each pipe is all that is left.
        drop((out_r, err_r, ready_w));
        let process = crate::sys::pidfd_open(child.id()).ok();
        // The child is reaped by the shim's reaper, not waited for here.
        drop(child);
        // Watched from here on: a logger that never gets ready is killed
        // once its task is deleted, like any other.
        let logger = LoggingBinary { process };
        wait_ready(ready_r, &program)?;
        let output = LoggedOutput {
            stdout: out_w,
            stderr: err_w,
        };
        Ok((logger, output))
    }
}

/// A byte on fd 5 or its close means ready; silence past the timeout fails
/// the task rather than hang its create.
fn wait_ready(ready: OwnedFd, program: &str) -> Result<()> {
    let timeout =
        PollTimeout::try_from(READY_TIMEOUT.as_millis() as i32).unwrap_or(PollTimeout::MAX);
    let mut fds = [PollFd::new(ready.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, timeout) {
        Ok(0) => Err(ShimError::Runtime {
            command: "start the logging binary".into(),
            message: format!("{program:?} did not signal ready on fd 5 within {READY_TIMEOUT:?}"),
        }),
        Ok(_) => {
            let _ = File::from(ready).read(&mut [0u8; 1]);
            Ok(())
        }
        Err(e) => Err(ShimError::os("wait for the logging binary", e)),
    }
}

impl Drop for LoggingBinary {
    fn drop(&mut self) {
        let Some(process) = self.process.take() else {
            return;
        };
        let spawned = std::thread::Builder::new()
            .name("logger-exit".into())
            .spawn(move || {
                // Gone already (EOF, most often) makes the signal a no-op.
                let _ = crate::sys::pidfd_signal(process.as_fd(), libc::SIGTERM);
                let timeout = PollTimeout::try_from(EXIT_GRACE.as_millis() as i32)
                    .unwrap_or(PollTimeout::MAX);
                let mut fds = [PollFd::new(process.as_fd(), PollFlags::POLLIN)];
                if let Ok(0) = poll(&mut fds, timeout) {
                    warn!("the logging binary ignored SIGTERM for {EXIT_GRACE:?}: killing it");
                    let _ = crate::sys::pidfd_signal(process.as_fd(), libc::SIGKILL);
                }
            });
        if let Err(e) = spawned {
            warn!("watch the logging binary's exit: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_become_a_program_and_its_arguments_as_containerd_passes_them() {
        assert_eq!(
            command_of("binary:///usr/bin/log?tag=web&debug").unwrap(),
            (
                "/usr/bin/log".to_string(),
                vec!["tag".into(), "web".into(), "debug".into(), "".into()]
            )
        );
        assert_eq!(
            command_of("binary:///opt/my%20logger?msg=a+b%26c").unwrap(),
            (
                "/opt/my logger".to_string(),
                vec!["msg".into(), "a b&c".into()]
            )
        );
        assert_eq!(command_of("binary://host/bin/x").unwrap().0, "/bin/x");
        assert!(command_of("binary://").is_err());
        assert_eq!(percent_decode("100%", false), "100%");
        assert_eq!(percent_decode("%4", false), "%4");
    }
}
