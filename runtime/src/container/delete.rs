//! `skiff delete` (runtime.md "delete"): kill what is left (with --force, or
//! a container that never started), remove the cgroup, run poststop hooks,
//! and remove the state.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use super::status::{cgroup_of, container_status};
use crate::hooks::run_hooks;
use crate::logging;
use crate::state::{oci_state_json, ContainerState, StateRoot, Status};

pub fn delete(root: &StateRoot, id: &str, force: bool) -> Result<()> {
    let dir = root.open_container_dir(id)?;
    let state = dir.load()?;
    let status = container_status(&dir, &state);
    match status {
        Status::Stopped | Status::Created => {}
        Status::Running | Status::Paused | Status::Creating if !force => {
            bail!("cannot delete container {id:?} that is not stopped: {status}")
        }
        _ => {}
    }
    let cgroup = cgroup_of(&state);
    if status != Status::Stopped {
        if let Some(cgroup) = &cgroup {
            // A frozen container cannot die; thaw it after the kill is queued.
            let _ = cgroup.kill_all(libc::SIGKILL);
        }
        let _ = crate::sys::signal::send_signal(state.init_pid, libc::SIGKILL);
        wait_for_exit(&state, Duration::from_secs(10))?;
    }
    if let Some(cgroup) = &cgroup {
        cgroup.destroy()?;
    }
    run_poststop_hooks(id, &state);
    dir.remove()
}

fn wait_for_exit(state: &ContainerState, limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_micros(200);
    while state.init_alive() {
        if Instant::now() > deadline {
            bail!(
                "container {:?} (pid {}) did not die within {:?} of SIGKILL",
                state.id,
                state.init_pid,
                limit
            );
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
    Ok(())
}

/// runtime.md: a failing poststop hook is logged as a warning and the
/// delete goes on.
fn run_poststop_hooks(id: &str, state: &ContainerState) {
    let Some(hooks) = state.config.hooks() else {
        return;
    };
    let list = hooks.poststop().as_deref().unwrap_or(&[]);
    if list.is_empty() {
        return;
    }
    let json = oci_state_json(&state.config, id, Status::Stopped, 0, &state.bundle);
    if let Err(err) = run_hooks("poststop", list, json.as_bytes()) {
        logging::log_warn(&format!("{err:#}"));
    }
}
