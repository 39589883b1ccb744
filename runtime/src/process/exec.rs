//! How an exec'd process is born (runc's `exec`): fork, join every namespace
//! of the container's init through /proc/PID/ns, enter its cgroup, fork
//! again when a pid namespace is joined (setns into a pid namespace only
//! applies to children), then the same privilege-dropping tail as the init.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use nix::sched::setns;
use nix::sys::signal::{SigSet, SigmaskHow};
use nix::sys::wait::waitpid;
use oci_spec::runtime::{LinuxNamespaceType, Process};

use super::namespaces::clone_flag;
use super::sync::{sync_pair, Message, SyncSocket};
use crate::cgroups::Cgroup;
use crate::seccomp::SeccompFilter;
use crate::sys::fork::{clear_cloexec, cloexec_from, fork_process, Forked};
use crate::{lsm, rlimits, tty};

pub struct ExecSpawn<'a> {
    pub init_pid: i32,
    pub namespaces: Vec<LinuxNamespaceType>,
    pub process: &'a Process,
    pub cgroup: Option<&'a Cgroup>,
    pub seccomp: Option<&'a SeccompFilter>,
    pub console_socket: Option<OwnedFd>,
    pub preserve_fds: i32,
}

/// Returns the exec'd process's pid once it has exec'd (or the error that
/// stopped it).
pub fn spawn_exec(req: ExecSpawn<'_>) -> Result<i32> {
    let joins = open_namespaces(req.init_pid, &req.namespaces)?;
    let (parent_sock, child_sock) = sync_pair()?;
    let first = match fork_process().context("fork the exec process")? {
        Forked::Child => {
            drop(parent_sock);
            exec_child_main(&req, &joins, child_sock)
        }
        Forked::Parent(pid) => pid,
    };
    drop(child_sock);
    let result = (|| {
        if let Some(cgroup) = req.cgroup {
            cgroup.add_process(first.as_raw())?;
        }
        parent_sock.send(&Message::Continue)?;
        let mut pid = None;
        loop {
            match parent_sock.recv()? {
                Some(Message::InitPid(p)) => pid = Some(p),
                Some(Message::Error(text)) => bail!("{text}"),
                Some(other) => bail!("sync: unexpected {other:?} from the exec process"),
                // The socket is close-on-exec: EOF after the pid means exec succeeded.
                None => return pid.ok_or_else(|| anyhow!("exec process died before it started")),
            }
        }
    })();
    if result.is_err() {
        let _ = crate::sys::signal::send_signal(first.as_raw(), libc::SIGKILL);
    }
    if result.as_ref().ok() != Some(&first.as_raw()) {
        let _ = waitpid(first, None);
    }
    result
}

fn open_namespaces(
    pid: i32,
    types: &[LinuxNamespaceType],
) -> Result<Vec<(LinuxNamespaceType, File)>> {
    let mut out = Vec::new();
    // The user namespace first: it owns the others.
    let mut ordered: Vec<_> = types.to_vec();
    ordered.sort_by_key(|t| *t != LinuxNamespaceType::User);
    for typ in ordered {
        let name = match typ {
            LinuxNamespaceType::Mount => "mnt",
            LinuxNamespaceType::Network => "net",
            other => match other {
                LinuxNamespaceType::Cgroup => "cgroup",
                LinuxNamespaceType::Uts => "uts",
                LinuxNamespaceType::Ipc => "ipc",
                LinuxNamespaceType::User => "user",
                LinuxNamespaceType::Pid => "pid",
                _ => "time",
            },
        };
        let path = PathBuf::from(format!("/proc/{pid}/ns/{name}"));
        let file = File::open(&path).with_context(|| {
            format!(
                "open {:?} of the container init",
                path.display().to_string()
            )
        })?;
        out.push((typ, file));
    }
    Ok(out)
}

fn exec_child_main(
    req: &ExecSpawn<'_>,
    joins: &[(LinuxNamespaceType, File)],
    sock: SyncSocket,
) -> ! {
    let err = match exec_child_steps(req, joins, &sock) {
        Ok(()) => std::process::exit(0),
        Err(err) => err,
    };
    let _ = sock.send(&Message::Error(format!("{err:#}")));
    std::process::exit(1)
}

fn exec_child_steps(
    req: &ExecSpawn<'_>,
    joins: &[(LinuxNamespaceType, File)],
    sock: &SyncSocket,
) -> Result<()> {
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .context("reset signal mask")?;
    crate::sys::signal::restore_default_sigpipe();
    super::spawn::hide_runtime_exe()?;
    sock.expect(&Message::Continue)?;
    for (typ, file) in joins {
        // Joining our own namespace again is EINVAL for some types; skip it.
        setns(file.as_fd(), clone_flag(*typ))
            .or_else(|e| {
                if same_namespace(file, *typ) {
                    Ok(())
                } else {
                    Err(e)
                }
            })
            .with_context(|| format!("join the container's {typ} namespace"))?;
    }
    let joined_pid = joins.iter().any(|(t, _)| *t == LinuxNamespaceType::Pid);
    if joined_pid {
        match fork_process().context("fork into the container's pid namespace")? {
            Forked::Parent(pid) => {
                sock.send(&Message::InitPid(pid.as_raw()))?;
                return Ok(());
            }
            Forked::Child => {}
        }
    } else {
        sock.send(&Message::InitPid(std::process::id() as i32))?;
    }
    let err = match exec_in_container(req) {
        Ok(never) => match never {},
        Err(err) => err,
    };
    let _ = sock.send(&Message::Error(format!("{err:#}")));
    std::process::exit(1)
}

fn same_namespace(file: &File, typ: LinuxNamespaceType) -> bool {
    use std::os::unix::fs::MetadataExt;
    let name = match typ {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::User => "user",
        _ => return false,
    };
    let ours = std::fs::metadata(format!("/proc/self/ns/{name}"));
    match (file.metadata(), ours) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    }
}

fn exec_in_container(req: &ExecSpawn<'_>) -> Result<std::convert::Infallible> {
    let process = req.process;
    if process.terminal() == Some(true) {
        let socket = req
            .console_socket
            .as_ref()
            .ok_or_else(|| anyhow!("--tty needs --console-socket"))?
            .try_clone()
            .context("duplicate console socket")?;
        tty::setup_exec_console(socket, process.console_size().as_ref())?;
    }
    rlimits::apply_rlimits(process.rlimits().as_deref().unwrap_or(&[]))?;
    // The caller may leak a host directory fd (CVE-2024-21626): checked as
    // for the init.
    super::init::change_to_cwd(process)?;
    let exec_path = super::init::find_executable(process, &[])?;
    for fd in 3..3 + req.preserve_fds {
        clear_cloexec(fd).with_context(|| format!("keep preserved fd {fd}"))?;
    }
    cloexec_from(3 + req.preserve_fds).context("mark fds close-on-exec")?;
    lsm::apply_apparmor_profile(process.apparmor_profile().as_deref().unwrap_or(""))?;
    lsm::set_selinux_exec_label(process.selinux_label().as_deref().unwrap_or(""))?;
    super::privileges::drop_privileges(process, req.seccomp)?;
    let args: Vec<CString> = process
        .args()
        .iter()
        .flatten()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .context("process.args contains a NUL byte")?;
    let env: Vec<CString> = super::init::process_env(process, &[])
        .iter()
        .map(|e| CString::new(e.as_bytes()))
        .collect::<Result<_, _>>()
        .context("process.env contains a NUL byte")?;
    nix::unistd::execve(&exec_path, &args, &env)
        .with_context(|| format!("exec {:?}", exec_path.to_string_lossy()))
}
