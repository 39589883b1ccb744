//! Calls of the `skiff` binary, with runc's command line, as
//! containerd-shim-runc-v2 calls runc: every call logs JSON lines to the
//! bundle's `log.json`, and a failed call reports the last `error` line it
//! wrote there (what containerd shows its users), else its stderr.
//!
//! The shim is a subreaper whose reaper thread (containerd-shim's) reaps
//! every child, so a call never waits on its own child: it subscribes to
//! the exit monitor before the spawn and takes its pid's exit from there.

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use containerd_shim::monitor::{monitor_subscribe, ExitEvent, Subject, Topic};

use crate::error::{Result, ShimError};
use crate::options::RuntimeOptions;

/// The skiff binary, its state root and the log every call appends to.
#[derive(Debug, Clone)]
pub struct Skiff {
    options: RuntimeOptions,
    log: PathBuf,
}

/// The stdio a call hands to the process it creates (the container's init
/// or an exec'd process inherits them through skiff).
#[derive(Default)]
pub struct ProcessStdio {
    pub stdin: Option<OwnedFd>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
}

pub struct CreateArgs<'a> {
    pub id: &'a str,
    pub bundle: &'a Path,
    pub pid_file: &'a Path,
    pub console_socket: Option<&'a Path>,
    pub stdio: ProcessStdio,
}

pub struct ExecArgs<'a> {
    pub id: &'a str,
    pub process_file: &'a Path,
    pub pid_file: &'a Path,
    pub console_socket: Option<&'a Path>,
    pub stdio: ProcessStdio,
}

/// What one call gives back.
struct Output {
    code: i32,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Skiff {
    pub fn new(options: RuntimeOptions, bundle: &Path) -> Skiff {
        Skiff {
            options,
            log: bundle.join("log.json"),
        }
    }

    pub fn create(&self, args: CreateArgs<'_>) -> Result<()> {
        let mut argv: Vec<OsString> = vec!["create".into(), "--bundle".into(), args.bundle.into()];
        argv.extend(["--pid-file".into(), args.pid_file.into()]);
        if let Some(socket) = args.console_socket {
            argv.extend(["--console-socket".into(), socket.into()]);
        }
        if self.options.no_pivot_root {
            argv.push("--no-pivot".into());
        }
        if self.options.no_new_keyring {
            argv.push("--no-new-keyring".into());
        }
        argv.push(args.id.into());
        self.call("create", argv, Some(args.stdio), None).map(drop)
    }

    pub fn start(&self, id: &str) -> Result<()> {
        self.call("start", vec!["start".into(), id.into()], None, None)
            .map(drop)
    }

    pub fn exec(&self, args: ExecArgs<'_>) -> Result<()> {
        let mut argv: Vec<OsString> = vec!["exec".into(), "--detach".into()];
        argv.extend(["--process".into(), args.process_file.into()]);
        argv.extend(["--pid-file".into(), args.pid_file.into()]);
        if let Some(socket) = args.console_socket {
            argv.extend(["--console-socket".into(), socket.into()]);
        }
        argv.push(args.id.into());
        self.call("exec", argv, Some(args.stdio), None).map(drop)
    }

    /// `kill [--all] ID SIGNAL`.
    pub fn kill(&self, id: &str, signal: u32, all: bool) -> Result<()> {
        let mut argv: Vec<OsString> = vec!["kill".into()];
        if all {
            argv.push("--all".into());
        }
        argv.extend([id.into(), signal.to_string().into()]);
        self.call("kill", argv, None, None).map(drop)
    }

    pub fn delete(&self, id: &str, force: bool) -> Result<()> {
        let mut argv: Vec<OsString> = vec!["delete".into()];
        if force {
            argv.push("--force".into());
        }
        argv.push(id.into());
        self.call("delete", argv, None, None).map(drop)
    }

    pub fn pause(&self, id: &str) -> Result<()> {
        self.call("pause", vec!["pause".into(), id.into()], None, None)
            .map(drop)
    }

    pub fn resume(&self, id: &str) -> Result<()> {
        self.call("resume", vec!["resume".into(), id.into()], None, None)
            .map(drop)
    }

    /// `update --resources -` with the LinuxResources JSON on stdin.
    pub fn update(&self, id: &str, resources_json: &[u8]) -> Result<()> {
        let argv = vec!["update".into(), "--resources".into(), "-".into(), id.into()];
        self.call("update", argv, None, Some(resources_json))
            .map(drop)
    }

    /// The pids of the container's processes (`ps --format json`).
    pub fn pids(&self, id: &str) -> Result<Vec<u32>> {
        let argv = vec!["ps".into(), "--format".into(), "json".into(), id.into()];
        let out = self.call("ps", argv, None, None)?;
        serde_json::from_slice(&out).map_err(|e| ShimError::Runtime {
            command: "ps".into(),
            message: format!("unexpected output: {e}"),
        })
    }

    /// The "data" object of `events --stats` (runc's types.Stats).
    pub fn stats(&self, id: &str) -> Result<serde_json::Value> {
        let argv = vec!["events".into(), "--stats".into(), id.into()];
        let out = self.call("events", argv, None, None)?;
        let event: serde_json::Value =
            serde_json::from_slice(&out).map_err(|e| ShimError::Runtime {
                command: "events --stats".into(),
                message: format!("unexpected output: {e}"),
            })?;
        Ok(event.get("data").cloned().unwrap_or_default())
    }

    /// Runs `skiff GLOBALS ARGV`; its output on success, the runtime's
    /// error on failure.
    fn call(
        &self,
        command: &str,
        argv: Vec<OsString>,
        stdio: Option<ProcessStdio>,
        input: Option<&[u8]>,
    ) -> Result<Vec<u8>> {
        check_executable(&self.options.binary)?;
        let log_start = std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0);
        let mut cmd = Command::new(&self.options.binary);
        cmd.arg("--root")
            .arg(&self.options.root)
            .arg("--log")
            .arg(&self.log)
            .args(["--log-format", "json"]);
        if self.options.systemd_cgroup {
            cmd.arg("--systemd-cgroup");
        }
        cmd.args(&argv);
        let output = run(cmd, stdio, input).map_err(|e| ShimError::Runtime {
            command: command.into(),
            message: format!("run {:?}: {e}", self.options.binary),
        })?;
        if output.code == 0 {
            return Ok(output.stdout);
        }
        let message = last_logged_error(&self.log, log_start)
            .or_else(|| {
                let text = String::from_utf8_lossy(&output.stderr).trim().to_string();
                (!text.is_empty()).then_some(text)
            })
            .unwrap_or_else(|| describe_exit(output.code));
        Err(ShimError::Runtime {
            command: command.into(),
            message,
        })
    }
}

/// A missing or non-executable binary is reported here: std's spawn would
/// otherwise wait for the failed child itself, racing our reaper.
fn check_executable(binary: &Path) -> Result<()> {
    match std::fs::metadata(binary) {
        Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Ok(()),
        Ok(_) => Err(ShimError::Runtime {
            command: "exec".into(),
            message: format!("{binary:?} is not an executable file"),
        }),
        Err(e) => Err(ShimError::io("find the skiff binary", binary, e)),
    }
}

fn run(
    mut cmd: Command,
    stdio: Option<ProcessStdio>,
    input: Option<&[u8]>,
) -> std::io::Result<Output> {
    let capture_stdout = stdio.is_none();
    match stdio {
        Some(stdio) => {
            cmd.stdin(stdio.stdin.map_or_else(Stdio::null, Stdio::from));
            cmd.stdout(stdio.stdout.map_or_else(Stdio::null, Stdio::from));
            cmd.stderr(stdio.stderr.map_or_else(Stdio::null, Stdio::from));
        }
        None => {
            cmd.stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
            cmd.stdout(Stdio::piped());
            cmd.stderr(Stdio::piped());
        }
    }
    let exits = monitor_subscribe(Topic::Pid).map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut child = cmd.spawn()?;
    let pid = child.id() as i32;
    if let (Some(mut stdin), Some(input)) = (child.stdin.take(), input) {
        stdin.write_all(input)?;
    }
    let stderr = child.stderr.take().map(|mut pipe| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            buf
        })
    });
    let mut stdout = Vec::new();
    if let (true, Some(mut pipe)) = (capture_stdout, child.stdout.take()) {
        pipe.read_to_end(&mut stdout)?;
    }
    let stderr = stderr.and_then(|t| t.join().ok()).unwrap_or_default();
    let code = loop {
        match exits.rx.recv() {
            Ok(ExitEvent {
                subject: Subject::Pid(p),
                exit_code,
            }) if p == pid => break exit_code,
            Ok(_) => {}
            Err(_) => return Err(std::io::Error::other("the exit monitor closed")),
        }
    };
    drop(child);
    Ok(Output {
        code,
        stdout,
        stderr,
    })
}

/// The message of the last `"level":"error"` line logged since `from`.
fn last_logged_error(log: &Path, from: u64) -> Option<String> {
    let mut file = File::open(log).ok()?;
    file.seek(SeekFrom::Start(from)).ok()?;
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    text.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|entry| entry["level"] == "error")
        .filter_map(|entry| entry["msg"].as_str().map(str::to_owned))
        .next_back()
}

fn describe_exit(code: i32) -> String {
    match code {
        c if c > 128 => format!("killed by signal {}", c - 128),
        c => format!("exit status {c}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_error_since_the_call_began_is_reported() {
        let dir = std::env::temp_dir().join(format!("skiff-shim-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("log.json");
        std::fs::write(&log, "{\"level\":\"error\",\"msg\":\"old\"}\n").unwrap();
        let from = std::fs::metadata(&log).unwrap().len();
        assert_eq!(last_logged_error(&log, from), None);
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        writeln!(f, "{{\"level\":\"warning\",\"msg\":\"w\"}}").unwrap();
        writeln!(f, "{{\"level\":\"error\",\"msg\":\"first\"}}").unwrap();
        writeln!(f, "not json").unwrap();
        writeln!(
            f,
            "{{\"level\":\"error\",\"msg\":\"linux.namespaces[0].type: bad\"}}"
        )
        .unwrap();
        assert_eq!(
            last_logged_error(&log, from).as_deref(),
            Some("linux.namespaces[0].type: bad")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn exits_are_described() {
        assert_eq!(describe_exit(1), "exit status 1");
        assert_eq!(describe_exit(137), "killed by signal 9");
    }
}
