//! The parent's half of the handshake, and stage 1: the forked child that
//! moves into the container's namespaces and hands over the init.

use std::os::fd::OwnedFd;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{setresgid, setresuid, Gid, Pid, Uid};
use oci_spec::runtime::Spec;

use super::init::{container_init, InitContext};
use super::namespaces::{write_id_maps, write_time_offsets, NamespacePlan};
use super::sync::{sync_pair, Message, SyncSocket};
use crate::cgroups::Cgroup;
use crate::hooks::run_hooks;
use crate::seccomp::SeccompFilter;
use crate::state::{oci_state_json, process_start_time, Status};
use crate::sys::fork::{fork_process, Forked};

/// Everything `create` decided before the init is born.
pub struct InitOptions<'a> {
    pub id: &'a str,
    pub bundle: &'a Path,
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub no_pivot: bool,
    pub console_socket: Option<OwnedFd>,
    /// Extra fds after stdio that the process keeps (LISTEN_FDS + --preserve-fds).
    pub preserve_fds: i32,
    /// Added to process.env (LISTEN_FDS, LISTEN_PID).
    pub extra_env: Vec<String>,
    /// The listening socket `start` connects to.
    pub exec_listener: OwnedFd,
    pub cgroup: Option<&'a Cgroup>,
    pub seccomp: Option<&'a SeccompFilter>,
    /// Give the container its own session keyring (runc's default; off with --no-new-keyring).
    pub new_keyring: bool,
}

/// The init as the parent sees it once it waits for `start`.
#[derive(Debug, Clone, Copy)]
pub struct InitProcess {
    pub pid: i32,
    pub start_time: u64,
}

/// Forks the container's processes and drives them to sync 6. `commit`
/// records the state between sync 5 and 6. On error every process it made
/// is killed; the caller removes the cgroup and state dir.
pub fn spawn_init(
    opts: InitOptions<'_>,
    commit: &mut dyn FnMut(InitProcess) -> Result<()>,
) -> Result<InitProcess> {
    let linux = opts
        .spec
        .linux()
        .as_ref()
        .ok_or_else(|| anyhow!("config.json has no linux section"))?;
    let plan = NamespacePlan::from_spec(linux)?;
    let (parent_sock, child_sock) = sync_pair()?;
    let stage1 = match fork_process().context("fork the container's first process")? {
        Forked::Child => {
            drop(parent_sock);
            stage1_main(&opts, &plan, child_sock)
        }
        Forked::Parent(pid) => pid,
    };
    drop(child_sock);
    let mut init_pid = None;
    let result = drive_handshake(&opts, &parent_sock, stage1, &mut init_pid).and_then(|init| {
        commit(init)?;
        parent_sock.send(&Message::Committed)?; // sync 6
        Ok(init)
    });
    if result.is_err() {
        for pid in [Some(stage1.as_raw()), init_pid].into_iter().flatten() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
    // Stage 1 exits after sync 3 (or is the init); reap it if it is gone.
    if init_pid != Some(stage1.as_raw()) || result.is_err() {
        let _ = waitpid(stage1, None);
    }
    result
}

fn drive_handshake(
    opts: &InitOptions<'_>,
    sock: &SyncSocket,
    stage1: Pid,
    init_pid: &mut Option<i32>,
) -> Result<InitProcess> {
    let linux = opts
        .spec
        .linux()
        .as_ref()
        .ok_or_else(|| anyhow!("no linux section"))?;
    // sync 1
    if let Some(cgroup) = opts.cgroup {
        cgroup.add_process(stage1.as_raw())?;
    }
    sock.send(&Message::Continue)?;
    loop {
        let msg = sock.recv()?.ok_or_else(|| {
            anyhow!("container init exited before it was ready (no error was reported)")
        })?;
        match msg {
            // sync 2
            Message::MapIds => {
                write_id_maps(stage1.as_raw(), linux)?;
                sock.send(&Message::IdsMapped)?;
            }
            // sync 3
            Message::InitPid(pid) => *init_pid = Some(pid),
            // sync 4
            Message::RuntimeHooks => {
                // Stage 1 and the init share the socket: the init can get
                // here before stage 1's InitPid, which is then next in line.
                if init_pid.is_none() {
                    match sock.recv()? {
                        Some(Message::InitPid(pid)) => *init_pid = Some(pid),
                        Some(Message::Error(text)) => bail!("{text}"),
                        other => bail!("sync: expected InitPid from stage 1, got {other:?}"),
                    }
                }
                let pid =
                    init_pid.ok_or_else(|| anyhow!("sync: hooks requested before InitPid"))?;
                let creating =
                    oci_state_json(opts.spec, opts.id, Status::Creating, pid, opts.bundle);
                if let Some(hooks) = opts.spec.hooks() {
                    #[allow(deprecated)]
                    run_hooks(
                        "prestart",
                        hooks.prestart().as_deref().unwrap_or(&[]),
                        creating.as_bytes(),
                    )?;
                    run_hooks(
                        "createRuntime",
                        hooks.create_runtime().as_deref().unwrap_or(&[]),
                        creating.as_bytes(),
                    )?;
                }
                let created = oci_state_json(opts.spec, opts.id, Status::Created, pid, opts.bundle);
                sock.send(&Message::Proceed {
                    creating_state: creating,
                    created_state: created,
                })?;
            }
            // sync 5
            Message::Ready => {
                let pid = init_pid.ok_or_else(|| anyhow!("sync: Ready before InitPid"))?;
                let start_time = process_start_time(pid)
                    .ok_or_else(|| anyhow!("container init (pid {pid}) died after setup"))?;
                return Ok(InitProcess { pid, start_time });
            }
            Message::Error(text) => bail!("{text}"),
            other => bail!("sync: unexpected message {other:?} from the container"),
        }
    }
}

/// Stage 1: the first forked child. Never returns.
fn stage1_main(opts: &InitOptions<'_>, plan: &NamespacePlan, sock: SyncSocket) -> ! {
    let code = match stage1_steps(opts, plan, &sock) {
        Ok(()) => 0,
        Err(err) => {
            let _ = sock.send(&Message::Error(format!("{err:#}")));
            1
        }
    };
    std::process::exit(code)
}

fn stage1_steps(opts: &InitOptions<'_>, plan: &NamespacePlan, sock: &SyncSocket) -> Result<()> {
    // `run` blocks signals to forward them; the container starts with none blocked.
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .context("reset signal mask")?;
    crate::sys::signal::restore_default_sigpipe();
    sock.expect(&Message::Continue)?; // sync 1
    plan.join_namespaces()?;
    if plan.new_user {
        plan.unshare_user()?;
        sock.send(&Message::MapIds)?; // sync 2
        sock.expect(&Message::IdsMapped)?;
        setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
            .context("become gid 0 in the new user namespace")?;
        setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
            .context("become uid 0 in the new user namespace")?;
    }
    plan.unshare_rest()?;
    if plan.create.contains(super::namespaces::clone_flag(
        oci_spec::runtime::LinuxNamespaceType::Time,
    )) {
        if let Some(linux) = opts.spec.linux() {
            write_time_offsets(linux)?;
        }
    }
    if !plan.fork_init {
        sock.send(&Message::InitPid(std::process::id() as i32))?; // sync 3
        container_init(InitContext::new(opts, sock));
    }
    match fork_process().context("fork the container init")? {
        Forked::Child => container_init(InitContext::new(opts, sock)),
        Forked::Parent(pid) => {
            sock.send(&Message::InitPid(pid.as_raw()))?; // sync 3
            Ok(())
        }
    }
}

/// Until it execs the container's program, a process of ours is the runtime
/// binary: non-dumpable, nothing in the container can resolve or open its
/// /proc/PID/exe (CVE-2019-5736) without CAP_SYS_PTRACE over us. execve makes
/// the program dumpable again, as usual.
pub(crate) fn hide_runtime_exe() -> Result<()> {
    nix::sys::prctl::set_dumpable(false).context("make the runtime process non-dumpable")
}
