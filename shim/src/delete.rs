//! Task Delete: of an exec, forgetting the stopped process; of the init,
//! `skiff delete --force` (which also kills a created container's init and
//! removes its cgroups), the rootfs unmounted, TaskDelete.

use std::time::Duration;

use containerd_shim::api::DeleteResponse;
use containerd_shim::protos::events::task::TaskDelete;

use crate::container::{Container, OUTPUT_DRAIN};
use crate::error::{Result, ShimError};
use crate::process::{Exit, Status};
use crate::rootfs::unmount_rootfs;
use crate::task::Tasks;

/// How long a killed init gets to be reaped before delete records the
/// kill itself.
const EXIT_AFTER_KILL: Duration = Duration::from_secs(2);

pub fn delete_exec(container: &Container, exec_id: &str) -> Result<DeleteResponse> {
    let mut state = container.lock();
    let process = state.process(&container.id, exec_id)?;
    if process.status == Status::Running {
        return Err(ShimError::WrongState {
            action: "delete",
            id: exec_id.into(),
            state: "running",
        });
    }
    let process = state
        .execs
        .remove(exec_id)
        .ok_or_else(|| ShimError::ProcessNotFound {
            id: container.id.clone(),
            exec_id: exec_id.into(),
        })?;
    Ok(DeleteResponse {
        pid: process.pid,
        exit_status: process.exit_status(),
        exited_at: process.exited_at(),
        ..Default::default()
    })
}

pub fn delete_init(tasks: &Tasks, container: &Container) -> Result<DeleteResponse> {
    let id = container.id.as_str();
    let mut state = container.lock();
    if state.init.status == Status::Running && state.pending_init_exit.is_none() {
        return Err(ShimError::WrongState {
            action: "delete",
            id: id.into(),
            state: if state.paused { "paused" } else { "running" },
        });
    }
    container.runtime.delete(id, true)?;
    if state.init.status != Status::Stopped {
        // A created init was just killed: its exit (and TaskExit) comes
        // through the reaper, and must come before TaskDelete.
        state = container.wait_stopped(state, "", Some(EXIT_AFTER_KILL))?;
        if state.init.status != Status::Stopped {
            state.init.set_exited(Exit::now(128 + libc::SIGKILL as u32));
        }
    }
    state.init.io.drain(OUTPUT_DRAIN);
    unmount_rootfs(&container.bundle);
    tasks.remove(id);
    let init = &state.init;
    container.events.send(TaskDelete {
        container_id: id.into(),
        pid: init.pid,
        exit_status: init.exit_status(),
        exited_at: init.exited_at(),
        id: id.into(),
        ..Default::default()
    });
    container.notify();
    Ok(DeleteResponse {
        pid: init.pid,
        exit_status: init.exit_status(),
        exited_at: init.exited_at(),
        ..Default::default()
    })
}
