//! Task Create and the init's Start, in the order containerd's runc shim
//! does them: options, rootfs mounts, stdio, `skiff create`, the pty
//! master, the pid; TaskCreate; OOM watch. A failed create undoes every
//! step, so containerd's cleanup finds nothing left.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use containerd_shim::api::{CreateTaskRequest, CreateTaskResponse};
use containerd_shim::protos::events::task::{TaskCreate, TaskIO, TaskOOM, TaskStart};

use crate::console::ConsoleSocket;
use crate::container::{BundleConfig, Container};
use crate::error::{Result, ShimError};
use crate::options::RuntimeOptions;
use crate::process::{Process, Status};
use crate::rootfs::{mount_rootfs, unmount_rootfs};
use crate::runtime::{CreateArgs, ProcessStdio, Skiff};
use crate::stdio::{ProcessIo, StdioPaths};
use crate::task::Tasks;

/// skiff sends the pty master before `create` returns; this bounds a
/// runtime that returned without sending it.
pub const MASTER_TIMEOUT: Duration = Duration::from_secs(5);

pub fn create(tasks: &Tasks, req: &CreateTaskRequest) -> Result<CreateTaskResponse> {
    let id = req.id.as_str();
    validate_id(id)?;
    if tasks.find(id).is_some() {
        return Err(ShimError::ContainerExists(id.into()));
    }
    if !req.checkpoint.is_empty() {
        return Err(ShimError::Unsupported("restoring a checkpoint"));
    }
    let bundle = Path::new(&req.bundle);
    let options = RuntimeOptions::from_task(req.options.as_ref(), &tasks.namespace)?;
    options.save(bundle)?;
    let runtime = Skiff::new(options, bundle);
    let config = BundleConfig::read(bundle)?;
    mount_rootfs(bundle, &req.rootfs)?;
    let stdio = StdioPaths {
        stdin: req.stdin.clone(),
        stdout: req.stdout.clone(),
        stderr: req.stderr.clone(),
        terminal: req.terminal,
        container_id: id.into(),
        namespace: tasks.namespace.clone(),
    };
    let init = match create_init(id, bundle, &runtime, &config, stdio) {
        Ok(init) => init,
        Err(err) => {
            // Whatever skiff left (a crash mid-create), and our mounts.
            let _ = runtime.delete(id, true);
            unmount_rootfs(bundle);
            return Err(err);
        }
    };
    let pid = init.pid;
    let container = Arc::new(Container::new(
        id,
        bundle,
        runtime,
        config,
        tasks.events.clone(),
        init,
    ));
    {
        // Registered and announced under its lock: an exit of the init
        // that the dispatcher sees now is handled after TaskCreate.
        let _state = container.lock();
        tasks.insert(container.clone());
        tasks.events.send(TaskCreate {
            container_id: id.into(),
            bundle: req.bundle.clone(),
            rootfs: req.rootfs.clone(),
            io: Some(TaskIO {
                stdin: req.stdin.clone(),
                stdout: req.stdout.clone(),
                stderr: req.stderr.clone(),
                terminal: req.terminal,
                ..Default::default()
            })
            .into(),
            pid,
            ..Default::default()
        });
    }
    if let Some(code) = tasks.unclaimed.claim(pid as i32) {
        container.handle_exit(pid, code);
    }
    let events = tasks.events.clone();
    let oom_id = id.to_string();
    let watch = crate::oom::watch_or_warn(id, pid, move || {
        events.send(TaskOOM {
            container_id: oom_id.clone(),
            ..Default::default()
        })
    });
    if let Some(watch) = watch {
        container.set_oom_watch(watch);
    }
    Ok(CreateTaskResponse {
        pid,
        ..Default::default()
    })
}

fn create_init(
    id: &str,
    bundle: &Path,
    runtime: &Skiff,
    config: &BundleConfig,
    stdio: StdioPaths,
) -> Result<Process> {
    let console = stdio.terminal.then(ConsoleSocket::new).transpose()?;
    let (io, fds) = match console {
        Some(_) => (ProcessIo::default(), ProcessStdio::default()),
        None => ProcessIo::without_terminal(&stdio, config.root_owner)?,
    };
    let pid_file = bundle.join("init.pid");
    runtime.create(CreateArgs {
        id,
        bundle,
        pid_file: &pid_file,
        console_socket: console.as_ref().map(ConsoleSocket::path),
        stdio: fds,
    })?;
    let io = match &console {
        Some(socket) => ProcessIo::with_terminal(&stdio, socket.receive_master(MASTER_TIMEOUT)?)?,
        None => io,
    };
    let mut init = Process::new(id, stdio);
    init.pid = read_pid_file(&pid_file)?;
    init.io = io;
    Ok(init)
}

/// Start of the init: `skiff start`, then TaskStart, under the lock so
/// that the init's exit is announced after it.
pub fn start_init(container: &Container) -> Result<u32> {
    let mut state = container.lock();
    match state.init.status {
        Status::Created => {}
        other => {
            return Err(ShimError::WrongState {
                action: "start",
                id: container.id.clone(),
                state: other.name(),
            })
        }
    }
    container.runtime.start(&container.id)?;
    state.init.status = Status::Running;
    let pid = state.init.pid;
    container.events.send(TaskStart {
        container_id: container.id.clone(),
        pid,
        ..Default::default()
    });
    Ok(pid)
}

pub fn read_pid_file(path: &Path) -> Result<u32> {
    let text =
        std::fs::read_to_string(path).map_err(|e| ShimError::io("read the pid file", path, e))?;
    text.trim()
        .parse()
        .ok()
        .filter(|&pid: &u32| pid > 0)
        .ok_or_else(|| {
            ShimError::invalid(path.display().to_string(), format!("not a pid: {text:?}"))
        })
}

/// containerd's ids are path elements of the state dir and bundle.
fn validate_id(id: &str) -> Result<()> {
    if id.is_empty() || id.contains('/') || id == "." || id == ".." {
        return Err(ShimError::invalid(
            "task id",
            format!("{id:?} is not a valid id"),
        ));
    }
    Ok(())
}
