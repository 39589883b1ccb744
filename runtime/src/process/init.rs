//! The container init: one function whose body is the setup list, in the
//! order the OCI runtime spec and the kernel require. It runs in the
//! container's namespaces as (namespaced) root with every capability; the
//! process attributes that take privileges away come last, after `start`.

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};

use super::spawn::InitOptions;
use super::sync::{Message, SyncSocket};
use crate::rootfs::{enter_rootfs, finalize_rootfs, prepare_rootfs, RootfsOptions};
use crate::sys::fork::{clear_cloexec, cloexec_from};
use crate::{hooks, lsm, proc_attrs, rlimits, tty};

/// What the init works from: the options `create` made, and its end of the
/// sync channel.
pub struct InitContext<'a> {
    opts: &'a InitOptions<'a>,
    sock: &'a SyncSocket,
}

impl<'a> InitContext<'a> {
    pub fn new(opts: &'a InitOptions<'a>, sock: &'a SyncSocket) -> Self {
        InitContext { opts, sock }
    }
}

/// Runs the container init to the exec of the user process. Never returns:
/// a failure before `start` is reported over the sync channel, one after it
/// over the exec socket connection.
pub fn container_init(ctx: InitContext<'_>) -> ! {
    let start_conn = match prepare_container(&ctx) {
        Ok(conn) => conn,
        Err(err) => {
            let _ = ctx.sock.send(&Message::Error(format!("{err:#}")));
            std::process::exit(1);
        }
    };
    let (mut conn, ready) = start_conn;
    let err = match exec_process(&ctx, &ready) {
        Ok(never) => match never {},
        Err(err) => err,
    };
    let _ = writeln!(conn, "{err:#}");
    std::process::exit(1)
}

/// Everything up to and including the wait for `start`.
/// What the init has worked out by the time it waits for `start`.
struct ReadyToExec {
    created_state: String,
    exec_path: CString,
    env: Vec<String>,
}

/// Everything up to and including the wait for `start`.
fn prepare_container(ctx: &InitContext<'_>) -> Result<(UnixStream, ReadyToExec)> {
    let spec = ctx.opts.spec;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| anyhow!("config.json has no process"))?;
    let rootfs_opts = RootfsOptions {
        no_pivot: ctx.opts.no_pivot,
        user_ns: has_namespace(spec, LinuxNamespaceType::User),
    };
    // runc resolves relative bind-mount sources against the bundle.
    std::env::set_current_dir(ctx.opts.bundle).with_context(|| {
        format!(
            "chdir to bundle {:?}",
            ctx.opts.bundle.display().to_string()
        )
    })?;
    prepare_rootfs(spec, ctx.opts.rootfs, &rootfs_opts)?;
    let (creating_state, created_state) = run_runtime_hooks(ctx.sock)?; // sync 4
    if let Some(hooks) = spec.hooks() {
        let list = hooks.create_container().as_deref().unwrap_or(&[]);
        hooks::run_hooks("createContainer", list, creating_state.as_bytes())?;
    }
    enter_rootfs(ctx.opts.rootfs, &rootfs_opts)?;
    create_cwd(process)?;
    if process.terminal() == Some(true) {
        let socket = console_socket(ctx)?;
        tty::setup_console(socket, process.console_size().as_ref())?;
    }
    set_uts_names(spec)?;
    if let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) {
        proc_attrs::write_sysctls(sysctl)?;
    }
    // After sysctls: masking /proc/sys would hide what they write to.
    finalize_rootfs(spec, &rootfs_opts)?;
    apply_process_attrs(spec, process)?;
    if ctx.opts.new_keyring {
        join_session_keyring(ctx.opts.id)?;
    }
    change_to_cwd(process)?;
    let env = process_env(process, &ctx.opts.extra_env);
    let exec_path = find_executable(process, &ctx.opts.extra_env)?;
    keep_only_wanted_fds(ctx.opts.preserve_fds)?;
    // From here to execve the init runs the host's skiff binary where a
    // process of a shared pid namespace can see it. Only now, after every
    // /proc/self write above: a non-dumpable task's /proc files belong to
    // the host's root, which breaks those writes in a user namespace.
    super::spawn::hide_runtime_exe()?;
    ctx.sock.send(&Message::Ready)?; // sync 5
    ctx.sock.expect(&Message::Committed)?; // sync 6
    let conn = wait_for_start(&ctx.opts.exec_listener)?;
    Ok((
        conn,
        ReadyToExec {
            created_state,
            exec_path,
            env,
        },
    ))
}

/// The part after `start`: hooks in the container, then everything that
/// takes privileges away with seccomp (privileges.rs), then exec.
fn exec_process(ctx: &InitContext<'_>, ready: &ReadyToExec) -> Result<std::convert::Infallible> {
    let spec = ctx.opts.spec;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| anyhow!("config.json has no process"))?;
    if let Some(hooks) = spec.hooks() {
        let list = hooks.start_container().as_deref().unwrap_or(&[]);
        hooks::run_hooks("startContainer", list, ready.created_state.as_bytes())?;
    }
    // After ready, as runc sets it; seccomp may deny the write later.
    lsm::set_selinux_exec_label(process.selinux_label().as_deref().unwrap_or(""))?;
    super::privileges::drop_privileges(process, ctx.opts.seccomp)?;
    exec_user_process(process, &ready.exec_path, &ready.env)
}

fn run_runtime_hooks(sock: &SyncSocket) -> Result<(String, String)> {
    sock.send(&Message::RuntimeHooks)?;
    match sock.recv()? {
        Some(Message::Proceed {
            creating_state,
            created_state,
        }) => Ok((creating_state, created_state)),
        Some(Message::Error(text)) => bail!("{text}"),
        other => bail!("sync: expected Proceed from the runtime, got {other:?}"),
    }
}

fn console_socket(ctx: &InitContext<'_>) -> Result<OwnedFd> {
    let fd = ctx
        .opts
        .console_socket
        .as_ref()
        .ok_or_else(|| anyhow!("process.terminal is true but no --console-socket was given"))?;
    fd.as_fd()
        .try_clone_to_owned()
        .context("duplicate console socket")
}

/// A keyring of its own, so the container cannot read the host session's
/// keys. Kernels or seccomp profiles that refuse keyctl are not an error,
/// as with runc.
fn join_session_keyring(id: &str) -> Result<()> {
    match crate::sys::keyring::join_session_keyring(&format!("_ses.{id}")) {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::ENOSYS) | Err(nix::errno::Errno::EPERM) => Ok(()),
        Err(e) => Err(anyhow!("join a new session keyring: {e}")),
    }
}

fn has_namespace(spec: &Spec, typ: LinuxNamespaceType) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|list| list.iter().any(|ns| ns.typ() == typ))
}

fn set_uts_names(spec: &Spec) -> Result<()> {
    if let Some(name) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        proc_attrs::set_hostname(name)?;
    }
    if let Some(name) = spec.domainname().as_deref().filter(|h| !h.is_empty()) {
        proc_attrs::set_domainname(name)?;
    }
    Ok(())
}

fn apply_process_attrs(spec: &Spec, process: &Process) -> Result<()> {
    if let Some(personality) = spec.linux().as_ref().and_then(|l| l.personality().as_ref()) {
        proc_attrs::set_personality(personality)?;
    }
    if let Some(adj) = process.oom_score_adj() {
        proc_attrs::set_oom_score_adj(adj)?;
    }
    rlimits::apply_rlimits(process.rlimits().as_deref().unwrap_or(&[]))?;
    if let Some(prio) = process.io_priority() {
        proc_attrs::set_io_priority(prio)?;
    }
    if let Some(sched) = process.scheduler() {
        proc_attrs::set_scheduler(sched)?;
    }
    // Before sync 5, as runc's init does: a host that cannot apply the
    // profile fails `create`, not the later `start`.
    lsm::apply_apparmor_profile(process.apparmor_profile().as_deref().unwrap_or(""))?;
    Ok(())
}

/// runc creates a missing process.cwd inside the root (before the root may
/// become read-only); after pivot_root "/" is the container root, so the
/// path cannot lead out of it.
fn create_cwd(process: &Process) -> Result<()> {
    let cwd = process.cwd();
    if !cwd.exists() {
        std::fs::create_dir_all(cwd)
            .with_context(|| format!("create process.cwd {:?}", cwd.display().to_string()))?;
    }
    Ok(())
}

/// process.env plus what the runtime adds; HOME from the container's
/// /etc/passwd when unset, as runc does ("/" when the user has no entry).
pub(crate) fn process_env(process: &Process, extra_env: &[String]) -> Vec<String> {
    let mut env: Vec<String> = process
        .env()
        .iter()
        .flatten()
        .chain(extra_env)
        .cloned()
        .collect();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        let home = home_of(process.user().uid()).unwrap_or_else(|| "/".into());
        env.push(format!("HOME={home}"));
    }
    env
}

fn home_of(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() >= 6 && fields[2].parse::<u32>().ok() == Some(uid))
            .then(|| fields[5].to_string())
    })
}

/// chdir into process.cwd, inside the new root, and make sure the result is
/// really inside it: a cwd reached through a leaked host fd
/// (`/proc/self/fd/N`, the CVE-2024-21626 class) has no path from "/".
pub(crate) fn change_to_cwd(process: &Process) -> Result<()> {
    let cwd = process.cwd();
    std::env::set_current_dir(cwd)
        .with_context(|| format!("chdir to process.cwd {:?}", cwd.display().to_string()))?;
    let now = nix::unistd::getcwd().map_err(|e| {
        anyhow!(
            "process.cwd {:?} is outside the container root: {e}",
            cwd.display().to_string()
        )
    })?;
    if !now.starts_with("/") {
        bail!(
            "process.cwd {:?} is outside the container root",
            cwd.display().to_string()
        );
    }
    Ok(())
}

/// Resolves args[0] against PATH from process.env, before `Ready`, so that a
/// missing binary fails `create` as it does with runc.
pub(crate) fn find_executable(process: &Process, extra_env: &[String]) -> Result<CString> {
    let args = process.args().as_deref().unwrap_or(&[]);
    let name = args
        .first()
        .ok_or_else(|| anyhow!("process.args is empty"))?;
    let candidate = if name.contains('/') {
        Some(PathBuf::from(name))
    } else {
        let path_var = process
            .env()
            .iter()
            .flatten()
            .chain(extra_env)
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        path_var
            .split(':')
            .map(|dir| Path::new(dir).join(name))
            .find(|p| is_executable(p))
    };
    match candidate {
        Some(path) if is_executable(&path) => {
            CString::new(path.into_os_string().into_encoded_bytes())
                .context("process.args[0] contains a NUL byte")
        }
        _ => bail!("exec {name:?}: executable file not found in $PATH (process.args[0])"),
    }
}

fn is_executable(path: &Path) -> bool {
    nix::unistd::access(path, nix::unistd::AccessFlags::X_OK).is_ok() && path.is_file()
}

/// Everything above the preserved range becomes close-on-exec, and the
/// preserved range loses it.
fn keep_only_wanted_fds(preserve_fds: i32) -> Result<()> {
    let first_closed = 3 + preserve_fds;
    for fd in 3..first_closed {
        clear_cloexec(fd).with_context(|| format!("keep preserved fd {fd}"))?;
    }
    cloexec_from(first_closed).context("mark fds close-on-exec")
}

/// Blocks until `start` connects to the exec socket.
fn wait_for_start(listener: &OwnedFd) -> Result<UnixStream> {
    let listener = UnixListener::from(listener.try_clone().context("dup exec socket")?);
    loop {
        match listener.accept() {
            Ok((mut conn, _)) => {
                // `start` sends one byte; anything else (a stray connect) is ignored.
                let mut byte = [0u8; 1];
                if conn.read_exact(&mut byte).is_ok() {
                    return Ok(conn);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("wait for start on the exec socket"),
        }
    }
}

fn exec_user_process(
    process: &Process,
    exec_path: &CString,
    env: &[String],
) -> Result<std::convert::Infallible> {
    let args: Vec<CString> = process
        .args()
        .iter()
        .flatten()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .context("process.args contains a NUL byte")?;
    let env: Vec<CString> = env
        .iter()
        .map(|e| CString::new(e.as_bytes()))
        .collect::<Result<_, _>>()
        .context("process.env contains a NUL byte")?;
    nix::unistd::execve(exec_path, &args, &env)
        .with_context(|| format!("exec {:?}", exec_path.to_string_lossy()))
}
