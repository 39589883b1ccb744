//! Exec: containerd adds a process (TaskExecAdded), then starts it, which
//! is `skiff exec --detach --process FILE --pid-file FILE` (plus a console
//! socket for a terminal) and TaskExecStarted.

use containerd_shim::api::ExecProcessRequest;
use containerd_shim::protos::events::task::{TaskExecAdded, TaskExecStarted};

use crate::console::ConsoleSocket;
use crate::container::Container;
use crate::create::{read_pid_file, MASTER_TIMEOUT};
use crate::error::{Result, ShimError};
use crate::process::{Process, Status};
use crate::runtime::{ExecArgs, ProcessStdio};
use crate::stdio::{ProcessIo, StdioPaths};
use crate::task::Tasks;

pub fn add_exec(container: &Container, req: &ExecProcessRequest) -> Result<()> {
    let exec_id = req.exec_id.as_str();
    if exec_id.is_empty() || exec_id.contains('/') {
        return Err(ShimError::invalid(
            "exec id",
            format!("{exec_id:?} is not a valid id"),
        ));
    }
    let spec = req
        .spec
        .as_ref()
        .map(|any| any.value.clone())
        .ok_or_else(|| ShimError::invalid("exec", "no process spec"))?;
    serde_json::from_slice::<serde_json::Value>(&spec)
        .map_err(|e| ShimError::invalid(format!("process spec of exec {exec_id:?}"), e))?;
    let mut state = container.lock();
    if state.init.status == Status::Stopped {
        return Err(ShimError::WrongState {
            action: "exec in",
            id: container.id.clone(),
            state: "stopped",
        });
    }
    if state.execs.contains_key(exec_id) {
        return Err(ShimError::ExecExists {
            id: container.id.clone(),
            exec_id: exec_id.into(),
        });
    }
    let stdio = StdioPaths {
        stdin: req.stdin.clone(),
        stdout: req.stdout.clone(),
        stderr: req.stderr.clone(),
        terminal: req.terminal,
        container_id: container.id.clone(),
        ..Default::default()
    };
    let mut process = Process::new(exec_id, stdio);
    process.spec = Some(spec);
    state.execs.insert(exec_id.into(), process);
    container.events.send(TaskExecAdded {
        container_id: container.id.clone(),
        exec_id: exec_id.into(),
        ..Default::default()
    });
    Ok(())
}

pub fn start_exec(tasks: &Tasks, container: &Container, exec_id: &str) -> Result<u32> {
    let id = container.id.as_str();
    let mut state = container.lock();
    let process = state.process_mut(id, exec_id)?;
    if process.status != Status::Created {
        return Err(ShimError::WrongState {
            action: "start",
            id: exec_id.into(),
            state: process.status.name(),
        });
    }
    let spec_file = container.bundle.join(format!("{exec_id}.process.json"));
    let spec = process.spec.take().unwrap_or_default();
    std::fs::write(&spec_file, &spec).map_err(|e| ShimError::io("write", &spec_file, e))?;
    process.spec_file = Some(spec_file.clone());
    let pid_file = container.bundle.join(format!("{exec_id}.pid"));
    let mut stdio = process.stdio.clone();
    stdio.namespace = tasks.namespace.clone();
    let console = stdio.terminal.then(ConsoleSocket::new).transpose()?;
    let (io, fds) = match console {
        Some(_) => (ProcessIo::default(), ProcessStdio::default()),
        None => ProcessIo::without_terminal(&stdio, container.config.root_owner)?,
    };
    let started = container.runtime.exec(ExecArgs {
        id,
        process_file: &spec_file,
        pid_file: &pid_file,
        console_socket: console.as_ref().map(ConsoleSocket::path),
        stdio: fds,
    });
    let pid = started.and_then(|()| {
        let io = match &console {
            Some(socket) => {
                ProcessIo::with_terminal(&stdio, socket.receive_master(MASTER_TIMEOUT)?)?
            }
            None => io,
        };
        let pid = read_pid_file(&pid_file);
        let _ = std::fs::remove_file(&pid_file);
        Ok((pid?, io))
    });
    let (pid, io) = match pid {
        Ok(started) => started,
        Err(err) => {
            // A process that never started is stopped, so it can be deleted.
            process.set_exited(crate::process::Exit::now(255));
            container.notify();
            return Err(err);
        }
    };
    process.pid = pid;
    process.io = io;
    process.status = Status::Running;
    container.events.send(TaskExecStarted {
        container_id: id.into(),
        exec_id: exec_id.into(),
        pid,
        ..Default::default()
    });
    drop(state);
    if let Some(code) = tasks.unclaimed.claim(pid as i32) {
        container.handle_exit(pid, code);
    }
    Ok(pid)
}
