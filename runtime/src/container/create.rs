//! `skiff create` (runtime.md "create"): validate the bundle, claim the id,
//! make the cgroup, give birth to the init, record the state. Any failure
//! undoes every step before it: no state dir, cgroup or process is left.

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use crate::cgroups::{cgroup_for, Cgroup};
use crate::process::{spawn_init, InitOptions, InitProcess};
use crate::seccomp::compile_filter;
use crate::spec::{load_spec, rootfs_path, validate_spec, Spec};
use crate::state::{rfc3339_now, write_atomic, ContainerDir, ContainerState, StateRoot};
use crate::{logging, tty};

#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    /// A connected console socket held by our own caller instead of
    /// `console_socket` (a foreground `run` giving the tty to its terminal).
    pub console_peer: Option<Arc<OwnedFd>>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// `--rootless`: skip a cgroup that may not be created; None is "when
    /// not root".
    pub rootless: Option<bool>,
    pub preserve_fds: i32,
}

pub fn create(root: &StateRoot, opts: &CreateOptions) -> Result<InitProcess> {
    let bundle = opts
        .bundle
        .canonicalize()
        .with_context(|| format!("open bundle {:?}", opts.bundle.display().to_string()))?;
    let spec = load_spec(&bundle)?;
    let rootfs = rootfs_path(&spec, &bundle)?;
    validate_spec(&spec, &rootfs)?;
    check_terminal(&spec, opts)?;
    let seccomp = match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        Some(profile) => Some(compile_filter(profile).context("linux.seccomp")?),
        None => None,
    };
    let dir = root.create_container_dir(&opts.id)?;
    let mut cgroup = None;
    let result = (|| {
        let rootless = opts.rootless.unwrap_or(!nix::unistd::geteuid().is_root());
        cgroup = make_cgroup(&spec, &opts.id, rootless)?;
        create_in(
            &dir,
            &spec,
            &bundle,
            &rootfs,
            opts,
            cgroup.as_ref(),
            seccomp.as_ref(),
        )
    })();
    match result {
        Ok(init) => Ok(init),
        Err(err) => {
            if let Some(cgroup) = cgroup {
                if let Err(e) = cgroup.destroy() {
                    logging::log_warn(&format!("remove cgroup of failed container: {e:#}"));
                }
            }
            let _ = dir.remove();
            Err(err)
        }
    }
}

fn check_terminal(spec: &Spec, opts: &CreateOptions) -> Result<()> {
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    match (terminal, &opts.console_socket) {
        (true, None) if opts.console_peer.is_none() => {
            bail!("process.terminal is true but --console-socket was not given")
        }
        (false, Some(_)) => {
            bail!("--console-socket was given but process.terminal is false")
        }
        _ => Ok(()),
    }
}

/// The container's cgroup, made and limited. A runtime that is not root
/// (rootless) and may not create it runs the container without one, with a
/// warning, as runc does; unless the config asks for limits, which would
/// otherwise be silently lost.
fn make_cgroup(spec: &Spec, id: &str, rootless: bool) -> Result<Option<Cgroup>> {
    let linux = spec.linux().as_ref();
    let path = linux.and_then(|l| l.cgroups_path().as_ref());
    let path_str = path.map(|p| p.display().to_string());
    let cgroup = cgroup_for(path_str.as_deref(), id)?;
    let resources = linux.and_then(|l| l.resources().as_ref());
    if let Err(err) = cgroup.create() {
        let denied = format!("{err:#}").contains("Permission denied")
            || format!("{err:#}").contains("Operation not permitted")
            || format!("{err:#}").contains("Read-only file system");
        if !rootless || !denied {
            return Err(err);
        }
        let _ = cgroup.destroy();
        if resources.is_some_and(has_limits) {
            return Err(err.context(
                "rootless: the cgroup is not delegated to this user, so linux.resources cannot be applied",
            ));
        }
        logging::log_warn(&format!(
            "rootless: running without a cgroup (not delegated to this user): {err:#}"
        ));
        return Ok(None);
    }
    if let Some(resources) = resources {
        if let Err(err) = cgroup.apply(resources) {
            let _ = cgroup.destroy();
            return Err(err.context("linux.resources"));
        }
    }
    Ok(Some(cgroup))
}

/// Limits, as opposed to device rules alone (which a user namespace makes
/// moot: its devices are bind mounts of the host's nodes).
fn has_limits(r: &oci_spec::runtime::LinuxResources) -> bool {
    r.memory().is_some()
        || r.cpu().is_some()
        || r.pids().is_some()
        || r.block_io().is_some()
        || r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty())
        || r.network().is_some()
        || r.rdma().as_ref().is_some_and(|m| !m.is_empty())
        || r.unified().as_ref().is_some_and(|m| !m.is_empty())
}

fn create_in(
    dir: &ContainerDir,
    spec: &Spec,
    bundle: &Path,
    rootfs: &Path,
    opts: &CreateOptions,
    cgroup: Option<&Cgroup>,
    seccomp: Option<&crate::seccomp::SeccompFilter>,
) -> Result<InitProcess> {
    let exec_listener = bind_exec_socket(dir)?;
    let terminal = spec.process().as_ref().and_then(|p| p.terminal()) == Some(true);
    let console_socket = match (&opts.console_socket, &opts.console_peer) {
        (Some(path), _) => Some(tty::connect_console_socket(path)?),
        (None, Some(peer)) if terminal => {
            Some(peer.try_clone().context("duplicate the console socket")?)
        }
        _ => None,
    };
    let (listen_fds, extra_env) = listen_fds();
    let mut record =
        |init: InitProcess| record_state(dir, spec, bundle, rootfs, opts, cgroup, init);
    spawn_init(
        InitOptions {
            id: &opts.id,
            bundle,
            spec,
            rootfs,
            no_pivot: opts.no_pivot,
            console_socket,
            preserve_fds: listen_fds + opts.preserve_fds,
            extra_env,
            exec_listener,
            cgroup,
            seccomp,
            new_keyring: !opts.no_new_keyring,
        },
        &mut record,
    )
}

/// Between sync 5 and 6: state.json and the pid file.
fn record_state(
    dir: &ContainerDir,
    spec: &Spec,
    bundle: &Path,
    rootfs: &Path,
    opts: &CreateOptions,
    cgroup: Option<&Cgroup>,
    init: InitProcess,
) -> Result<()> {
    let state = ContainerState {
        id: opts.id.clone(),
        oci_version: spec.version().clone(),
        init_pid: init.pid,
        init_start_time: init.start_time,
        bundle: bundle.to_path_buf(),
        rootfs: rootfs.to_path_buf(),
        created: rfc3339_now(),
        owner: String::new(),
        annotations: spec.annotations().clone().unwrap_or_default(),
        config: spec.clone(),
        cgroup: cgroup
            .map(serde_json::to_value)
            .transpose()
            .context("encode cgroup")?,
    };
    dir.save(&state)?;
    if let Some(pid_file) = &opts.pid_file {
        write_atomic(pid_file, init.pid.to_string().as_bytes(), 0o644)
            .context("write --pid-file")?;
    }
    Ok(())
}

/// Binds `<dir>/exec.sock` through `/proc/self/fd/N/`, so the length of the
/// state root never hits the 108-byte sun_path limit.
fn bind_exec_socket(dir: &ContainerDir) -> Result<OwnedFd> {
    let dir_file = File::open(&dir.path)
        .with_context(|| format!("open state dir {:?}", dir.path.display().to_string()))?;
    let short = format!(
        "/proc/self/fd/{}/{}",
        dir_file.as_raw_fd(),
        crate::state::EXEC_SOCKET
    );
    let listener = UnixListener::bind(&short)
        .with_context(|| format!("bind exec socket in {:?}", dir.path.display().to_string()))?;
    Ok(OwnedFd::from(listener))
}

/// Socket activation passes through as runc does: the fds systemd gave us
/// (LISTEN_FDS, for our pid) become the container's, with LISTEN_PID=1.
fn listen_fds() -> (i32, Vec<String>) {
    let count = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
        .filter(|n| *n > 0);
    let for_us = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .is_none_or(|pid| pid == std::process::id());
    match count {
        Some(n) if for_us => (n, vec![format!("LISTEN_FDS={n}"), "LISTEN_PID=1".into()]),
        _ => (0, Vec::new()),
    }
}
