//! `skiff run`: create + start in one process. In the foreground it stays as
//! the container's subreaper, forwards every signal it gets to the init, and
//! exits with the init's status (128+N for a signal), then deletes the
//! container as runc does.

use anyhow::{Context, Result};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::create::{create, CreateOptions};
use super::delete::delete;
use super::start::start;
use crate::state::StateRoot;

pub struct RunOutcome {
    pub exit_code: i32,
}

pub fn run(root: &StateRoot, opts: &CreateOptions, detach: bool) -> Result<RunOutcome> {
    if detach {
        create(root, opts)?;
        start_or_clean_up(root, &opts.id)?;
        return Ok(RunOutcome { exit_code: 0 });
    }
    // Block signals before the fork, so none is lost between the container's
    // birth and the wait loop; stage 1 clears the mask for the container.
    let forwarded = forwarded_signals();
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&forwarded), None)
        .context("block signals for forwarding")?;
    nix::sys::prctl::set_child_subreaper(true).context("become a subreaper")?;
    let init = create(root, opts)?;
    start_or_clean_up(root, &opts.id)?;
    let exit_code = forward_until_exit(init.pid, &forwarded)?;
    delete(root, &opts.id, true)?;
    Ok(RunOutcome { exit_code })
}

fn start_or_clean_up(root: &StateRoot, id: &str) -> Result<()> {
    if let Err(err) = start(root, id) {
        let _ = delete(root, id, true);
        return Err(err);
    }
    Ok(())
}

pub(crate) fn forwarded_signals() -> SigSet {
    let mut set = SigSet::empty();
    for sig in Signal::iterator() {
        if !matches!(sig, Signal::SIGKILL | Signal::SIGSTOP) {
            set.add(sig);
        }
    }
    set
}

/// Waits for the init; every other signal goes to it. Orphans reparented to
/// us (we are the subreaper) are reaped on the way.
pub(crate) fn forward_until_exit(init_pid: i32, signals: &SigSet) -> Result<i32> {
    loop {
        if let Some(code) = reap_children(init_pid)? {
            return Ok(code);
        }
        let sig = signals.wait().context("wait for signals")?;
        if sig != Signal::SIGCHLD {
            let _ = crate::sys::signal::send_signal(init_pid, sig as i32);
        }
    }
}

fn reap_children(init_pid: i32) -> Result<Option<i32>> {
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid.as_raw() == init_pid => return Ok(Some(code)),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid.as_raw() == init_pid => {
                return Ok(Some(128 + sig as i32))
            }
            Ok(WaitStatus::StillAlive) => return Ok(None),
            Ok(_) => continue,
            Err(nix::errno::Errno::ECHILD) => {
                anyhow::bail!(
                    "lost track of the container init (pid {init_pid}): it is not our child"
                )
            }
            Err(e) => return Err(e).context("wait for the container"),
        }
    }
}
