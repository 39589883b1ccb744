//! `skiff run`: create + start in one process. In the foreground it stays as
//! the container's subreaper, forwards every signal it gets to the init, and
//! exits with the init's status (128+N for a signal), then deletes the
//! container as runc does (unless `--keep`). A process with a terminal and
//! no `--console-socket` gets ours (tty_proxy.rs).

use anyhow::{Context, Result};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::create::{create, CreateOptions};
use super::delete::delete;
use super::start::start;
use super::tty_proxy::{console_pair, take_master, TtyProxy};
use crate::state::StateRoot;

pub struct RunOutcome {
    pub exit_code: i32,
}

pub struct RunOptions {
    pub detach: bool,
    /// Keep the stopped container instead of deleting it (runc's `--keep`).
    pub keep: bool,
}

pub fn run(root: &StateRoot, opts: &CreateOptions, run_opts: &RunOptions) -> Result<RunOutcome> {
    if run_opts.detach {
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
    let mut opts = opts.clone();
    let console = match opts.console_socket {
        None => Some(console_pair()?),
        Some(_) => None,
    };
    opts.console_peer = console.as_ref().map(|c| c.theirs.clone());
    let init = create(root, &opts)?;
    let tty = match console.as_ref().map(|c| take_master(&c.ours)).transpose() {
        Ok(master) => master.flatten().map(TtyProxy::start).transpose(),
        Err(e) => Err(e),
    };
    let tty = match tty {
        Ok(tty) => tty,
        Err(err) => {
            let _ = delete(root, &opts.id, true);
            return Err(err);
        }
    };
    drop(console);
    start_or_clean_up(root, &opts.id)?;
    let on_winch = || {
        if let Some(tty) = &tty {
            tty.resize();
        }
    };
    let exit_code = forward_until_exit(init.pid, &forwarded, tty.is_some().then_some(&on_winch))?;
    if let Some(tty) = tty {
        tty.drain();
    }
    if !run_opts.keep {
        delete(root, &opts.id, true)?;
    }
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
/// us (we are the subreaper) are reaped on the way. With our terminal given
/// to the container, SIGWINCH resizes its pty instead (`on_winch`).
pub(crate) fn forward_until_exit(
    init_pid: i32,
    signals: &SigSet,
    on_winch: Option<&dyn Fn()>,
) -> Result<i32> {
    loop {
        if let Some(code) = reap_children(init_pid)? {
            return Ok(code);
        }
        let sig = signals.wait().context("wait for signals")?;
        if let (Signal::SIGWINCH, Some(resize)) = (sig, on_winch) {
            resize();
        } else if sig != Signal::SIGCHLD {
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
