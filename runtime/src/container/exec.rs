//! `skiff exec`: run another process in a running container (runc's exec).

use std::os::fd::AsFd;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use nix::sys::signal::SigmaskHow;
use oci_spec::runtime::{Capability, LinuxNamespaceType, Process, Spec};

use super::run::{forward_until_exit, forwarded_signals};
use super::status::{cgroup_of, container_status};
use super::tty_proxy::{console_pair, take_master, TtyProxy};
use crate::process::exec::{spawn_exec, ExecSpawn};
use crate::seccomp::compile_filter;
use crate::state::{write_atomic, StateRoot, Status};
use crate::sys::process::get_window_size;
use crate::sys::sealed_exe;
use crate::tty;

#[derive(Debug, Clone)]
pub struct ExecOptions {
    pub id: String,
    pub process: Process,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub detach: bool,
    pub preserve_fds: i32,
    pub ignore_paused: bool,
}

/// Returns the exit code of the process (0 when detached).
pub fn exec(root: &StateRoot, opts: &ExecOptions) -> Result<i32> {
    let dir = root.open_container_dir(&opts.id)?;
    let state = dir.load()?;
    let id = &opts.id;
    match container_status(&dir, &state) {
        Status::Running | Status::Created => {}
        Status::Paused if opts.ignore_paused => {}
        Status::Paused => bail!("cannot exec in container {id:?}: it is paused"),
        other => bail!("cannot exec in container {id:?}: it is {other}"),
    }
    if can_ptrace_runtime(&state.config, &opts.process) && !sealed_exe::running_sealed() {
        // Before any fd, lock or output of ours exists: the sealed copy
        // starts this command over.
        drop(dir);
        let err = sealed_exe::reexec_sealed();
        return Err(err).context("exec: re-run the runtime from a sealed copy of its binary");
    }
    let terminal = opts.process.terminal() == Some(true);
    match (terminal, opts.console_socket.is_some()) {
        (false, true) => bail!("exec: --console-socket needs --tty"),
        (true, false) if opts.detach => {
            bail!("exec: --tty with --detach needs --console-socket to receive the terminal")
        }
        _ => {}
    }
    let seccomp = match state
        .config
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
    {
        Some(profile) => Some(compile_filter(profile).context("linux.seccomp")?),
        None => None,
    };
    // Without --console-socket a foreground --tty gets our terminal.
    let own_console = match (terminal, &opts.console_socket) {
        (true, None) => Some(console_pair()?),
        _ => None,
    };
    let console_socket = match (&opts.console_socket, &own_console) {
        (Some(path), _) => Some(tty::connect_console_socket(path)?),
        (None, Some(pair)) => Some(
            pair.theirs
                .try_clone()
                .context("duplicate the console socket")?,
        ),
        (None, None) => None,
    };
    let namespaces = state
        .config
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default()
        .iter()
        .map(|ns| ns.typ())
        .collect();
    let cgroup = cgroup_of(&state);
    let process = match &own_console {
        Some(_) => with_our_terminal_size(&opts.process),
        None => opts.process.clone(),
    };
    let forwarded = forwarded_signals();
    if !opts.detach {
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&forwarded), None)
            .context("block signals for forwarding")?;
        nix::sys::prctl::set_child_subreaper(true).context("become a subreaper")?;
    }
    drop(dir);
    let pid = spawn_exec(ExecSpawn {
        init_pid: state.init_pid,
        namespaces,
        process: &process,
        cgroup: cgroup.as_ref(),
        seccomp: seccomp.as_ref(),
        console_socket,
        preserve_fds: opts.preserve_fds,
    })?;
    if let Some(pid_file) = &opts.pid_file {
        write_atomic(pid_file, pid.to_string().as_bytes(), 0o644).context("write --pid-file")?;
    }
    if opts.detach {
        return Ok(0);
    }
    let tty = match &own_console {
        Some(pair) => take_master(&pair.ours)?.map(TtyProxy::start).transpose()?,
        None => None,
    };
    drop(own_console);
    let on_winch = || {
        if let Some(tty) = &tty {
            tty.resize();
        }
    };
    let code = forward_until_exit(pid, &forwarded, tty.is_some().then_some(&on_winch))?;
    if let Some(tty) = tty {
        tty.drain();
    }
    Ok(code)
}

/// Whether a process in the container could hold CAP_SYS_PTRACE over the
/// exec process while it still runs our binary: then non-dumpable does not
/// keep it from opening our /proc/PID/exe (CVE-2019-5736), and the exec runs
/// from a sealed copy. Any capability set counts (a file capability or a
/// setuid binary gains what the bounding set allows). In a user namespace
/// of its own the container's CAP_SYS_PTRACE does not reach our mm, which
/// belongs to the host's user namespace, so non-dumpable is enough there.
fn can_ptrace_runtime(config: &Spec, process: &Process) -> bool {
    let own_user_ns = config
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|list| {
            list.iter()
                .any(|ns| ns.typ() == LinuxNamespaceType::User && ns.path().is_none())
        });
    if own_user_ns {
        return false;
    }
    [config.process().as_ref(), Some(process)]
        .into_iter()
        .flatten()
        .filter_map(|p| p.capabilities().as_ref())
        .any(|c| {
            [
                c.bounding(),
                c.effective(),
                c.permitted(),
                c.inheritable(),
                c.ambient(),
            ]
            .into_iter()
            .flatten()
            .any(|set| set.contains(&Capability::SysPtrace))
        })
}

/// The exec'd process runs as soon as it is spawned, before our proxy could
/// resize its pty, so it gets our terminal's size as its consoleSize (a
/// 0x0 pty makes `stty size` fail and full-screen programs misdraw).
fn with_our_terminal_size(process: &Process) -> Process {
    let mut process = process.clone();
    if process.console_size().is_none() {
        if let Ok(size) = get_window_size(std::io::stdin().as_fd()) {
            if size.ws_row > 0 && size.ws_col > 0 {
                let console = oci_spec::runtime::BoxBuilder::default()
                    .height(u64::from(size.ws_row))
                    .width(u64::from(size.ws_col))
                    .build();
                process.set_console_size(console.ok());
            }
        }
    }
    process
}

/// Parses `CAP_X` names for `exec --cap`.
pub fn parse_capabilities(names: &[String]) -> Result<Vec<Capability>> {
    names
        .iter()
        .map(|n| {
            let full = if n.to_ascii_uppercase().starts_with("CAP_") {
                n.to_ascii_uppercase()
            } else {
                format!("CAP_{}", n.to_ascii_uppercase())
            };
            serde_json::from_value(serde_json::Value::String(full))
                .with_context(|| format!("unknown capability {n:?}"))
        })
        .collect()
}
