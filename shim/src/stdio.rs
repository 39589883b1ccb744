//! A process's stdio as containerd hands it over (TaskIO: three paths,
//! usually fifos the client holds or is about to open; empty for a stream
//! it does not want), wired so the client sees what it would see with
//! containerd's runc shim:
//! - stdout and stderr: the fifo itself becomes the process's stdout or
//!   stderr, opened read-write so that a client that is not there yet, or
//!   has gone (`ctr run -d`), never kills the process with SIGPIPE, and
//!   with no copy through the shim; `file://PATH` appends to a file;
//!   `binary://PATH` pipes both to a logging binary (see [`crate::logging`]);
//! - stdin: a pipe the shim fills from the fifo, so that CloseIO can end it;
//! - with a terminal: the pty master, which skiff sends over the console
//!   socket, copied to and from the fifos and resizable.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use crate::error::{Result, ShimError};
use crate::logging::LoggingBinary;
use crate::runtime::ProcessStdio;

/// The stdio paths of a task or exec request.
#[derive(Debug, Clone, Default)]
pub struct StdioPaths {
    pub stdin: String,
    pub stdout: String,
    pub stderr: String,
    pub terminal: bool,
    /// Who the process belongs to, as a `binary://` logger is told.
    pub container_id: String,
    pub namespace: String,
}

impl StdioPaths {
    /// A `binary://` stdout makes a logging binary take both outputs.
    fn logging_binary(&self) -> Option<&str> {
        self.stdout
            .starts_with("binary://")
            .then_some(self.stdout.as_str())
    }
}

/// The shim's side of one process's stdio, kept until the process is
/// deleted.
#[derive(Default)]
pub struct ProcessIo {
    stdin: Option<Arc<StdinPipe>>,
    console: Option<Arc<OwnedFd>>,
    output_done: Option<mpsc::Receiver<()>>,
    logger: Option<LoggingBinary>,
}

/// The write end of the process's stdin pipe. The copy thread may be
/// blocked writing (the process does not read), so closing only flags it
/// then, and the thread closes after its write.
struct StdinPipe {
    writer: Mutex<Option<File>>,
    closed: AtomicBool,
}

impl StdinPipe {
    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        if let Ok(mut writer) = self.writer.try_lock() {
            writer.take();
        }
    }

    fn write(&self, data: &[u8]) -> bool {
        let Ok(mut writer) = self.writer.lock() else {
            return false;
        };
        let ok = match writer.as_mut() {
            Some(w) => w.write_all(data).is_ok(),
            None => false,
        };
        if !ok || self.closed.load(Ordering::SeqCst) {
            writer.take();
            return false;
        }
        true
    }
}

impl ProcessIo {
    /// Stdio without a terminal: the fds the runtime call hands to the
    /// process, and the shim's side. `owner` is the host uid/gid of the
    /// container's root, which must be able to reopen its stdin pipe.
    pub fn without_terminal(
        paths: &StdioPaths,
        owner: Option<(u32, u32)>,
    ) -> Result<(ProcessIo, ProcessStdio)> {
        let mut io = ProcessIo::default();
        let mut stdio = ProcessStdio::default();
        if !paths.stdin.is_empty() {
            let (reader, writer) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                .map_err(|e| ShimError::os("create the stdin pipe", e))?;
            if let Some((uid, gid)) = owner {
                nix::unistd::fchown(&reader, Some(uid.into()), Some(gid.into()))
                    .map_err(|e| ShimError::os("chown the stdin pipe", e))?;
            }
            let pipe = Arc::new(StdinPipe {
                writer: Mutex::new(Some(File::from(writer))),
                closed: AtomicBool::new(false),
            });
            copy_stdin_to_pipe(PathBuf::from(&paths.stdin), pipe.clone())?;
            io.stdin = Some(pipe);
            stdio.stdin = Some(reader);
        }
        match paths.logging_binary() {
            Some(uri) => {
                let (logger, output) =
                    LoggingBinary::start(uri, &paths.container_id, &paths.namespace)?;
                stdio.stdout = Some(output.stdout);
                stdio.stderr = Some(output.stderr);
                io.logger = Some(logger);
            }
            None => {
                stdio.stdout = open_output(&paths.stdout)?;
                stdio.stderr = open_output(&paths.stderr)?;
            }
        }
        Ok((io, stdio))
    }

    /// Stdio through the terminal whose master skiff sent: stdin fifo to
    /// the master, the master to the stdout fifo (a pty has one output).
    pub fn with_terminal(paths: &StdioPaths, master: OwnedFd) -> Result<ProcessIo> {
        let master = Arc::new(master);
        let clone = |m: &OwnedFd| {
            m.try_clone()
                .map(File::from)
                .map_err(|e| ShimError::os("duplicate the pty master", e))
        };
        let mut io = ProcessIo {
            console: Some(master.clone()),
            ..Default::default()
        };
        let out = match paths.logging_binary() {
            // A terminal has one output: the logger's stderr pipe stays empty.
            Some(uri) => {
                let (logger, output) =
                    LoggingBinary::start(uri, &paths.container_id, &paths.namespace)?;
                io.logger = Some(logger);
                Some(output.stdout)
            }
            None => open_output(&paths.stdout)?,
        };
        if let Some(out) = out {
            io.output_done = Some(copy_output(clone(&master)?, File::from(out))?);
        }
        if !paths.stdin.is_empty() {
            let pipe = Arc::new(StdinPipe {
                writer: Mutex::new(Some(clone(&master)?)),
                closed: AtomicBool::new(false),
            });
            copy_stdin_to_pipe(PathBuf::from(&paths.stdin), pipe.clone())?;
            io.stdin = Some(pipe);
        }
        Ok(io)
    }

    /// CloseIO: the process reads EOF on stdin.
    pub fn close_stdin(&self) {
        if let Some(stdin) = &self.stdin {
            stdin.close();
        }
    }

    pub fn resize(&self, width: u32, height: u32) -> Result<()> {
        let Some(master) = &self.console else {
            return Err(ShimError::invalid("resize", "the process has no terminal"));
        };
        let clamp = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
        crate::sys::set_window_size(master.as_fd(), clamp(height), clamp(width))
            .map_err(|e| ShimError::os("resize the terminal", e))
    }

    /// Waits (at most `timeout`) until the terminal's output reached the
    /// stdout fifo, so a client that stops reading at the exit event has
    /// it all. A process left behind holding the pty must not hold us.
    pub fn drain(&self, timeout: Duration) {
        if let Some(done) = &self.output_done {
            let _ = done.recv_timeout(timeout);
        }
    }

    pub fn drain_handle(&mut self) -> Option<mpsc::Receiver<()>> {
        self.output_done.take()
    }
}

/// An output stream of the process: the fifo (or `file://` file) itself.
fn open_output(uri: &str) -> Result<Option<OwnedFd>> {
    if uri.is_empty() {
        return Ok(None);
    }
    if uri.starts_with("binary://") {
        return Err(ShimError::invalid(
            uri,
            "a binary:// logging URI is taken for stderr only with the same for stdout",
        ));
    }
    if let Some(path) = uri.strip_prefix("file://") {
        let path = Path::new(path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| ShimError::io("create", dir, e))?;
        }
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| ShimError::io("open the log file", path, e))?;
        return Ok(Some(file.into()));
    }
    let path = uri.strip_prefix("fifo://").unwrap_or(uri);
    // Read-write: open(2) of a fifo never blocks that way, and the fifo
    // always has a reader, so writes never raise SIGPIPE.
    let fifo = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| ShimError::io("open the output fifo", path, e))?;
    Ok(Some(fifo.into()))
}

/// The stdin fifo into `pipe`, on a thread: opening the fifo blocks until
/// the client opens its end. EOF on the fifo is EOF for the process.
fn copy_stdin_to_pipe(fifo: PathBuf, pipe: Arc<StdinPipe>) -> Result<()> {
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            if let Ok(mut from) = File::open(&fifo) {
                let mut buf = vec![0u8; 32 << 10];
                while let Ok(n @ 1..) = from.read(&mut buf) {
                    if !pipe.write(&buf[..n]) {
                        break;
                    }
                }
            }
            pipe.close();
        })
        .map(drop)
        .map_err(|e| ShimError::os("start the stdin thread", e))
}

/// The pty master into the stdout fifo, on a thread; EIO on the master
/// means the last holder of the terminal closed it.
fn copy_output(mut from: File, mut to: File) -> Result<mpsc::Receiver<()>> {
    let (done, output_done) = mpsc::channel();
    std::thread::Builder::new()
        .name("tty-output".into())
        .spawn(move || {
            let mut buf = vec![0u8; 32 << 10];
            while let Ok(n @ 1..) = from.read(&mut buf) {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            drop(to);
            let _ = done.send(());
        })
        .map_err(|e| ShimError::os("start the terminal output thread", e))?;
    Ok(output_done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("skiff-shim-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn mkfifo(path: &Path) {
        nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    }

    #[test]
    fn stdin_flows_from_the_fifo_and_close_io_ends_it() {
        let dir = temp_dir("stdin");
        let fifo = dir.join("stdin");
        mkfifo(&fifo);
        let paths = StdioPaths {
            stdin: fifo.to_string_lossy().into_owned(),
            ..Default::default()
        };
        let (io, stdio) = ProcessIo::without_terminal(&paths, None).unwrap();
        let mut client = OpenOptions::new().write(true).open(&fifo).unwrap();
        client.write_all(b"hello\n").unwrap();
        let mut process_stdin = File::from(stdio.stdin.unwrap());
        let mut line = [0u8; 6];
        process_stdin.read_exact(&mut line).unwrap();
        assert_eq!(&line, b"hello\n");
        io.close_stdin();
        let mut rest = Vec::new();
        process_stdin.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty(), "EOF after CloseIO");
        drop(client);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn stdin_eof_on_the_fifo_is_eof_for_the_process() {
        let dir = temp_dir("stdin-eof");
        let fifo = dir.join("stdin");
        mkfifo(&fifo);
        let paths = StdioPaths {
            stdin: fifo.to_string_lossy().into_owned(),
            ..Default::default()
        };
        let (_io, stdio) = ProcessIo::without_terminal(&paths, None).unwrap();
        let mut client = OpenOptions::new().write(true).open(&fifo).unwrap();
        client.write_all(b"x").unwrap();
        drop(client);
        let mut all = Vec::new();
        File::from(stdio.stdin.unwrap())
            .read_to_end(&mut all)
            .unwrap();
        assert_eq!(all, b"x");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn outputs_are_the_fifos_and_files_themselves() {
        let dir = temp_dir("out");
        let fifo = dir.join("stdout");
        mkfifo(&fifo);
        let log = dir.join("logs/err.log");
        let paths = StdioPaths {
            stdout: fifo.to_string_lossy().into_owned(),
            stderr: format!("file://{}", log.display()),
            ..Default::default()
        };
        // No client holds the fifo yet: opening must not block.
        let (_io, stdio) = ProcessIo::without_terminal(&paths, None).unwrap();
        let mut out = File::from(stdio.stdout.unwrap());
        out.write_all(b"to the fifo").unwrap();
        File::from(stdio.stderr.unwrap())
            .write_all(b"to the file")
            .unwrap();
        assert_eq!(std::fs::read(&log).unwrap(), b"to the file");
        let mut reader = OpenOptions::new().read(true).open(&fifo).unwrap();
        let mut got = [0u8; 11];
        reader.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"to the fifo");
        assert!(stdio.stdin.is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_logging_binary_that_cannot_start_fails_naming_it() {
        let paths = StdioPaths {
            stdout: "binary:///nonexistent/logger?x=1".into(),
            stderr: "binary:///nonexistent/logger?x=1".into(),
            ..Default::default()
        };
        let err = ProcessIo::without_terminal(&paths, None).err().unwrap();
        assert!(err.to_string().contains("/nonexistent/logger"), "{err}");
        // A logger for stderr alone is not what containerd ever sends.
        let paths = StdioPaths {
            stderr: "binary:///usr/bin/logger".into(),
            ..Default::default()
        };
        let err = ProcessIo::without_terminal(&paths, None).err().unwrap();
        assert!(err.to_string().contains("stderr only"), "{err}");
    }
}
