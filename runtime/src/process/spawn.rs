//! The parent's half of the handshake, and stage 1: the forked child that
//! moves into the container's namespaces and hands over the init.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use nix::errno::Errno;
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{setresgid, setresuid, Gid, Pid, Uid};
use oci_spec::runtime::Spec;

use super::init::{container_init, InitContext};
use super::namespaces::{write_id_maps, write_time_offsets, NamespacePlan};
use super::sync::{sync_pair, Message, SyncSocket};
use crate::cgroups::Cgroup;
use crate::hooks::run_hooks;
use crate::logging;
use crate::seccomp::SeccompFilter;
use crate::state::{oci_state_json, process_start_time, Status};
use crate::sys::fork::{fork_into_cgroup, fork_process, Forked};

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
    let (forked, birth) = fork_stage1(opts.cgroup)?;
    let stage1 = match forked {
        Forked::Child => {
            drop(parent_sock);
            stage1_main(&opts, &plan, child_sock)
        }
        Forked::Parent(pid) => pid,
    };
    drop(child_sock);
    let mut init_pid = None;
    let result =
        drive_handshake(&opts, &parent_sock, stage1, birth, &mut init_pid).and_then(|init| {
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

/// Where stage 1 was born.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Birth {
    /// In the container's cgroup2 directory (clone3 with CLONE_INTO_CGROUP):
    /// only the v1 hierarchies are left to join.
    InUnifiedCgroup,
    /// In the runtime's own cgroups (fork): every hierarchy is left to join.
    Forked,
}

/// Stage 1 is born into the container's cgroup2 directory where the kernel
/// allows it (clone3 with CLONE_INTO_CGROUP, Linux 5.7), so its v2
/// membership, which the init and the user process inherit, holds from its
/// first instruction and no cgroup.procs write can race with it. A kernel
/// or seccomp profile without it falls back to fork and attach at sync 1.
fn fork_stage1(cgroup: Option<&Cgroup>) -> Result<(Forked, Birth)> {
    let fork = || {
        fork_process()
            .context("fork the container's first process")
            .map(|f| (f, Birth::Forked))
    };
    let Some(dir) = cgroup.and_then(Cgroup::unified_birth_dir) else {
        return fork();
    };
    let fd = match open_cgroup_dir(dir) {
        Ok(fd) => fd,
        Err(e) => {
            // sync 1's cgroup.procs write reports the real problem.
            logging::log_debug(&format!("open cgroup {dir:?} for CLONE_INTO_CGROUP: {e}"));
            return fork();
        }
    };
    match fork_into_cgroup(fd.as_fd()) {
        Ok(Forked::Child) => Ok((Forked::Child, Birth::InUnifiedCgroup)),
        Ok(Forked::Parent(pid)) => {
            logging::log_debug(&format!(
                "container process {pid} born in cgroup {dir:?} (clone3 CLONE_INTO_CGROUP)"
            ));
            Ok((Forked::Parent(pid), Birth::InUnifiedCgroup))
        }
        Err(errno) if clone_into_cgroup_unsupported(errno) => {
            logging::log_debug(&format!(
                "clone3 CLONE_INTO_CGROUP into {dir:?}: {}; forking and attaching instead",
                errno.desc()
            ));
            fork()
        }
        Err(errno) => Err(anyhow!(
            "clone the container's first process into cgroup {:?}: {}",
            dir.display().to_string(),
            errno.desc()
        )),
    }
}

/// The clone3 errors that mean "this kernel, or this sandbox, cannot do
/// CLONE_INTO_CGROUP" rather than "this cgroup refuses the process":
/// ENOSYS (no clone3, or a seccomp filter that hides it, as Docker's and
/// containerd's default profiles do), E2BIG and EINVAL (a kernel older than
/// 5.7 that does not know the larger clone_args or the flag), EOPNOTSUPP,
/// and EPERM (older seccomp profiles deny unknown syscalls with it; a real
/// permission problem shows again at the cgroup.procs write). Anything else
/// (EBUSY for a cgroup with controllers enabled for its children, ENOENT
/// for a removed cgroup) would fail the fallback's write too, so it is
/// reported as it is.
fn clone_into_cgroup_unsupported(errno: Errno) -> bool {
    matches!(
        errno,
        Errno::ENOSYS | Errno::E2BIG | Errno::EINVAL | Errno::EOPNOTSUPP | Errno::EPERM
    )
}

/// An fd for a cgroup2 directory (CLONE_INTO_CGROUP takes one).
fn open_cgroup_dir(dir: &Path) -> std::io::Result<OwnedFd> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(dir)?;
    Ok(OwnedFd::from(f))
}

fn drive_handshake(
    opts: &InitOptions<'_>,
    sock: &SyncSocket,
    stage1: Pid,
    birth: Birth,
    init_pid: &mut Option<i32>,
) -> Result<InitProcess> {
    let linux = opts
        .spec
        .linux()
        .as_ref()
        .ok_or_else(|| anyhow!("no linux section"))?;
    // sync 1: stage 1 waits for Continue, so it is in every hierarchy
    // before it does anything.
    if let Some(cgroup) = opts.cgroup {
        match birth {
            Birth::InUnifiedCgroup => cgroup.add_process_v1(stage1.as_raw())?,
            Birth::Forked => cgroup.add_process(stage1.as_raw())?,
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use crate::cgroups::CgroupLayout;

    #[test]
    fn clone3_falls_back_only_where_the_kernel_lacks_it() {
        for e in [
            Errno::ENOSYS,
            Errno::E2BIG,
            Errno::EINVAL,
            Errno::EOPNOTSUPP,
            Errno::EPERM,
        ] {
            assert!(clone_into_cgroup_unsupported(e), "{e} falls back to fork");
        }
        for e in [
            Errno::EBUSY,
            Errno::ENOENT,
            Errno::EACCES,
            Errno::EAGAIN,
            Errno::ENOMEM,
        ] {
            assert!(!clone_into_cgroup_unsupported(e), "{e} is reported");
        }
    }

    #[test]
    fn only_a_cgroup2_directory_is_a_birth_place() {
        let base = std::env::temp_dir().join(format!("skiff-birth-{}", std::process::id()));
        let existing = base.join("unified/c1");
        std::fs::create_dir_all(&existing).unwrap();
        let missing = base.join("unified/none");
        let v1: BTreeMap<String, std::path::PathBuf> =
            [("memory".to_string(), base.join("memory/c1"))].into();
        let unified = |d: &Path| Some((d.to_path_buf(), base.join("unified")));

        let v2 = Cgroup::from_parts(CgroupLayout::V2, BTreeMap::new(), unified(&missing));
        assert_eq!(
            v2.unified_birth_dir(),
            Some(missing.as_path()),
            "v2: the cgroup itself"
        );
        let hybrid = Cgroup::from_parts(CgroupLayout::Hybrid, v1.clone(), unified(&existing));
        assert_eq!(hybrid.unified_birth_dir(), Some(existing.as_path()));
        let hybrid_none = Cgroup::from_parts(CgroupLayout::Hybrid, v1.clone(), unified(&missing));
        assert_eq!(
            hybrid_none.unified_birth_dir(),
            None,
            "companion dir not made"
        );
        let v1_only = Cgroup::from_parts(CgroupLayout::V1, v1, None);
        assert_eq!(v1_only.unified_birth_dir(), None);
        std::fs::remove_dir_all(base).unwrap();
    }
}
