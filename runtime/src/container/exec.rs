//! `skiff exec`: run another process in a running container (runc's exec).

use std::os::fd::AsFd;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use nix::sys::signal::SigmaskHow;
use oci_spec::runtime::{Capability, Process};

use super::run::{forward_until_exit, forwarded_signals};
use super::status::{cgroup_of, container_status};
use super::tty_proxy::{console_pair, take_master, TtyProxy};
use crate::process::exec::{spawn_exec, ExecSpawn};
use crate::seccomp::compile_filter;
use crate::state::{write_atomic, StateRoot, Status};
use crate::sys::process::get_window_size;
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
