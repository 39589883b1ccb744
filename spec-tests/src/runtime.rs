//! The runtime under test, driven through its runc-compatible command line
//! (runc's `create/start/run/state/kill/delete/list`). Each [`Runtime`] owns a
//! private `--root`, so tests run in parallel without seeing each other, and
//! force-deletes every container it made when dropped, even after a panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bundle::Bundle;
use crate::tempdir::{unique_name, TempDir};

/// Which program `SKIFF_RUNTIME` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuntimeKind {
    Skiff,
    /// runc, the behaviour reference: skiff-only wording and features skip.
    Runc,
}

pub fn kind() -> RuntimeKind {
    match std::env::var("SKIFF_TEST_RUNTIME_KIND").as_deref() {
        Ok("runc") => RuntimeKind::Runc,
        _ => RuntimeKind::Skiff,
    }
}

pub fn is_runc() -> bool {
    kind() == RuntimeKind::Runc
}

pub fn is_skiff() -> bool {
    kind() == RuntimeKind::Skiff
}

/// `SKIFF_RUNTIME`, or the workspace's release build of `skiff`.
pub fn runtime_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("SKIFF_RUNTIME") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/skiff");
    assert!(
        p.exists(),
        "runtime binary {} missing: run `make build` or set SKIFF_RUNTIME",
        p.display()
    );
    p
}

/// Default limit for one runtime command.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// What one command did.
#[derive(Debug, Clone)]
pub struct Out {
    /// The command line, for messages.
    pub cmd: String,
    /// Exit code; 128+N when killed by signal N; -1 on timeout.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn ok(&self) -> bool {
        self.code == 0
    }

    /// Panic with the whole output unless the command exited 0.
    #[track_caller]
    pub fn expect_ok(&self) -> &Self {
        assert!(self.ok(), "command failed: {self}");
        self
    }

    /// Panic unless the command failed (non-zero, not a timeout).
    #[track_caller]
    pub fn expect_fail(&self) -> &Self {
        assert!(self.code > 0, "command should have failed: {self}");
        self
    }

    /// The last non-empty line of stderr: where runc and skiff put the error.
    pub fn last_err_line(&self) -> &str {
        self.stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self}"))
    }
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` exited {}\n--- stdout\n{}--- stderr\n{}",
            self.cmd, self.code, self.stdout, self.stderr
        )
    }
}

/// One test's view of the runtime: a private state root and the ids it made.
pub struct Runtime {
    bin: PathBuf,
    root: TempDir,
    io: TempDir,
    ids: Mutex<Vec<String>>,
    /// (pid, start time) pairs: a pid is killed only while it is still the
    /// same process, never a later reuse of the number.
    pids: Mutex<Vec<(i32, u64)>>,
}

impl Default for Runtime {
    fn default() -> Self {
        Self::new()
    }
}

impl Runtime {
    pub fn new() -> Runtime {
        Runtime {
            bin: runtime_bin(),
            root: TempDir::new("skt-root"),
            io: TempDir::new("skt-io"),
            ids: Mutex::new(Vec::new()),
            pids: Mutex::new(Vec::new()),
        }
    }

    /// The same, with another runtime binary (a private copy under attack).
    pub fn with_bin(bin: &Path) -> Runtime {
        let mut rt = Runtime::new();
        rt.bin = bin.to_path_buf();
        rt
    }

    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// The private `--root` state directory.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Where the runtime keeps the state of `id` (both runc and skiff).
    pub fn state_dir(&self, id: &str) -> PathBuf {
        self.root().join(id)
    }

    /// A new unique container id, force-deleted when `self` drops.
    pub fn id(&self, tag: &str) -> String {
        let id = unique_name(&format!("skt-{tag}"));
        self.track_id(&id);
        id
    }

    /// Force-delete `id` on drop too (ids the test spelled itself).
    pub fn track_id(&self, id: &str) {
        if let Ok(mut ids) = self.ids.lock() {
            ids.push(id.to_string());
        }
    }

    /// SIGKILL `pid` on drop if it is still alive (and still the same
    /// process). `state` tracks every container pid it sees.
    pub fn track_pid(&self, pid: i32) {
        let Some(start) = start_time(pid) else {
            return;
        };
        if let Ok(mut pids) = self.pids.lock() {
            if !pids.contains(&(pid, start)) {
                pids.push((pid, start));
            }
        }
    }

    /// `skiff --root ROOT ARGS...`, not yet run.
    pub fn cmd<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(self.root());
        c.args(args);
        c
    }

    /// Run `skiff --root ROOT ARGS...` with the default timeout.
    pub fn exec<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Out {
        self.output(self.cmd(args), TIMEOUT)
    }

    /// Run any command, stdout/stderr to files (a detached container keeps
    /// its stdio open, so pipes would never reach EOF), killed at `timeout`.
    pub fn output(&self, mut cmd: Command, timeout: Duration) -> Out {
        let name = unique_name("io");
        let out_p = self.io.path().join(format!("{name}.out"));
        let err_p = self.io.path().join(format!("{name}.err"));
        let desc = format!("{cmd:?}").replace('"', "");
        let open = |p: &Path| {
            std::fs::File::create(p).unwrap_or_else(|e| panic!("create {}: {e}", p.display()))
        };
        cmd.stdin(Stdio::null())
            .stdout(open(&out_p))
            .stderr(open(&err_p));
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {desc}: {e}"));
        let start = Instant::now();
        let code = loop {
            match child.try_wait() {
                Ok(Some(st)) => {
                    use std::os::unix::process::ExitStatusExt;
                    break st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0));
                }
                Ok(None) if start.elapsed() < timeout => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break -1;
                }
            }
        };
        let read =
            |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
        Out {
            cmd: desc,
            code,
            stdout: read(&out_p),
            stderr: read(&err_p),
        }
    }

    pub fn create(&self, b: &Bundle, id: &str) -> Out {
        b.save();
        self.exec(&["create", "--bundle", &b.path().to_string_lossy(), id])
    }

    pub fn start(&self, id: &str) -> Out {
        self.exec(&["start", id])
    }

    /// Foreground `run`: the container's stdout/stderr and exit code.
    pub fn run(&self, b: &Bundle, id: &str) -> Out {
        b.save();
        self.exec(&["run", "--bundle", &b.path().to_string_lossy(), id])
    }

    pub fn run_detached(&self, b: &Bundle, id: &str) -> Out {
        b.save();
        self.exec(&["run", "-d", "--bundle", &b.path().to_string_lossy(), id])
    }

    /// Run `b` in the foreground under a fresh id and return its stdout,
    /// panicking unless it exited 0.
    #[track_caller]
    pub fn run_ok(&self, b: &Bundle) -> String {
        let id = self.id("run");
        let out = self.run(b, &id);
        out.expect_ok();
        // Captured by the test harness: shown (with stderr) only on failure.
        eprintln!("{out}");
        out.stdout
    }

    pub fn state_out(&self, id: &str) -> Out {
        self.exec(&["state", id])
    }

    /// `state ID` parsed; panics if the command fails.
    #[track_caller]
    pub fn state(&self, id: &str) -> Value {
        let out = self.state_out(id);
        out.expect_ok();
        let st = out.json();
        if let Some(pid) = st["pid"].as_i64().filter(|p| *p > 1) {
            self.track_pid(pid as i32);
        }
        st
    }

    pub fn kill(&self, id: &str, sig: &str) -> Out {
        self.exec(&["kill", id, sig])
    }

    pub fn delete(&self, id: &str) -> Out {
        self.exec(&["delete", id])
    }

    pub fn delete_force(&self, id: &str) -> Out {
        self.exec(&["delete", "--force", id])
    }

    /// Poll `state` until `status` is `want`; false after `timeout`.
    pub fn wait_status(&self, id: &str, want: &str, timeout: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            let out = self.state_out(id);
            let st: Option<Value> = serde_json::from_str(&out.stdout).ok();
            if out.ok() && st.is_some_and(|st| st["status"] == want) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let ids = self.ids.lock().map(|v| v.clone()).unwrap_or_default();
        for id in ids {
            if self.state_dir(&id).exists() {
                let _ = self.output(
                    self.cmd(&["delete", "--force", &id]),
                    Duration::from_secs(20),
                );
            }
        }
        let pids = self.pids.lock().map(|v| v.clone()).unwrap_or_default();
        for (pid, start) in pids {
            if pid > 1 && start_time(pid) == Some(start) && crate::leaks::pid_alive(pid) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        // A runtime that failed half-way may leave its cgroups behind (the
        // test has already said so); our ids are unique to this process, so
        // removing empty dirs with that name only undoes what we caused.
        let ids = self.ids.lock().map(|v| v.clone()).unwrap_or_default();
        for id in ids.iter().filter(|id| id.starts_with("skt-")) {
            let mut dirs = crate::leaks::cgroups_named(id);
            dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
            for d in dirs {
                // Killed processes leave the cgroup a moment after SIGKILL.
                for _ in 0..50 {
                    if std::fs::remove_dir(&d).is_ok() || !d.exists() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }
}

/// Field 22 of /proc/PID/stat: when the process started, in clock ticks.
fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    rest.split_whitespace().nth(19)?.parse().ok()
}
