//! OCI config.md "POSIX-platform Hooks" (`hooks.prestart`, `createRuntime`,
//! `createContainer`, `startContainer`, `poststart`, `poststop`): each hook is
//! executed with exactly its `path`, `args` (args[0] is argv[0], as execve)
//! and `env`, the container's state JSON on stdin, and killed after
//! `timeout` seconds. In which namespaces a hook runs is the caller's choice;
//! this module only runs the list in order and stops at the first failure.

use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use oci_spec::runtime::Hook;

use crate::sys::process::pidfd_open;

/// Runs `hooks` of `phase` (e.g. "prestart") one after another. The first
/// hook that fails to start, exits non-zero or outlives its timeout stops
/// the list; the error names the phase, the hook's index and path, and the
/// exit status or the timeout. Hooks' stdout and stderr are the runtime's
/// stderr, so their output reaches the runtime's log without mixing with
/// any output a caller parses from stdout.
pub fn run_hooks(phase: &str, hooks: &[Hook], state_json: &[u8]) -> anyhow::Result<()> {
    for (i, hook) in hooks.iter().enumerate() {
        run_hook(hook, state_json).with_context(|| {
            format!(
                "run {phase} hook #{i} {:?}",
                hook.path().display().to_string()
            )
        })?;
    }
    Ok(())
}

fn run_hook(hook: &Hook, state_json: &[u8]) -> anyhow::Result<()> {
    let timeout = match hook.timeout() {
        Some(t) if t <= 0 => bail!("invalid timeout {t}: must be greater than zero"),
        Some(t) => Some(Duration::from_secs(t as u64)),
        None => None,
    };
    // An absolute path also keeps Command from searching $PATH.
    if !hook.path().is_absolute() {
        bail!("path is not absolute");
    }
    let mut cmd = Command::new(hook.path());
    if let Some((argv0, rest)) = hook.args().as_deref().and_then(|a| a.split_first()) {
        cmd.arg0(argv0).args(rest);
    }
    cmd.env_clear();
    for kv in hook.env().iter().flatten() {
        // "KEY=VALUE"; an entry without '=' is kept as a name with an empty
        // value rather than dropped, so the hook sees every entry it was given.
        let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
        cmd.env(k, v);
    }
    // Its own process group, so a timeout kills whatever the hook started
    // too (a shell script's children), not only the hook's first process.
    cmd.process_group(0);
    cmd.stdin(Stdio::piped())
        .stdout(runtime_stderr())
        .stderr(runtime_stderr());
    let mut child = cmd.spawn().context("start")?;
    let status = std::thread::scope(|s| {
        // The state goes in from another thread: a hook that never reads
        // stdin must still be waited for (and timed out), not block us on a
        // full pipe.
        let stdin = child.stdin.take();
        let writer = s.spawn(move || write_state(stdin, state_json));
        let status = wait_with_timeout(&mut child, timeout);
        // After the child is gone the write end sees EPIPE, so this returns.
        let written = writer.join().unwrap_or(Ok(()));
        status.and_then(|st| written.map(|()| st))
    })?;
    match status {
        HookExit::Exited(st) if st.success() => Ok(()),
        HookExit::Exited(st) => bail!("{}", describe(st)),
        HookExit::TimedOut(t) => bail!("timed out after {}s, killed", t.as_secs()),
    }
}

/// A copy of the runtime's stderr for a hook's output; /dev/null when the
/// runtime runs without one (a caller may close it), rather than failing.
fn runtime_stderr() -> Stdio {
    io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map_or_else(|_| Stdio::null(), Stdio::from)
}

enum HookExit {
    Exited(ExitStatus),
    TimedOut(Duration),
}

fn write_state(stdin: Option<std::process::ChildStdin>, state: &[u8]) -> anyhow::Result<()> {
    let Some(mut stdin) = stdin else {
        return Ok(());
    };
    match stdin.write_all(state) {
        // A hook may exit without reading its stdin, as with runc.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("write state to stdin"),
    }
}

/// Waits for the child, killing it (SIGKILL) when the timeout passes. The
/// pidfd makes the wait a single poll instead of a sleep loop.
fn wait_with_timeout(child: &mut Child, timeout: Option<Duration>) -> anyhow::Result<HookExit> {
    let Some(timeout) = timeout else {
        return Ok(HookExit::Exited(child.wait().context("wait")?));
    };
    let pidfd = pidfd_open(child.id()).context("pidfd_open")?;
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) if left.is_zero() => {
                let pgid = nix::unistd::Pid::from_raw(-(child.id() as i32));
                nix::sys::signal::kill(pgid, nix::sys::signal::Signal::SIGKILL)
                    .context("kill after timeout")?;
                child.wait().context("wait after kill")?;
                return Ok(HookExit::TimedOut(timeout));
            }
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => return Ok(HookExit::Exited(child.wait().context("wait")?)),
            Err(e) => return Err(e).context("poll pidfd"),
        }
    }
}

fn describe(st: ExitStatus) -> String {
    match (st.code(), st.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        (None, None) => format!("{st}"),
    }
}

#[cfg(test)]
#[path = "hooks_tests.rs"]
mod tests;
