//! Deriving a container's status from what is observable: is the init alive
//! (same pid, same start time), is it still waiting on the exec socket, is
//! its cgroup frozen.

use anyhow::Result;
use serde::Serialize;

use crate::cgroups::Cgroup;
use crate::state::{ContainerDir, ContainerState, StateRoot, Status};

pub fn container_status(dir: &ContainerDir, state: &ContainerState) -> Status {
    if !state.init_alive() {
        return Status::Stopped;
    }
    if dir.exec_socket().exists() {
        return Status::Created;
    }
    if let Some(cgroup) = cgroup_of(state) {
        if cgroup.is_frozen().unwrap_or(false) {
            return Status::Paused;
        }
    }
    Status::Running
}

pub(crate) fn cgroup_of(state: &ContainerState) -> Option<Cgroup> {
    state
        .cgroup
        .as_ref()
        .and_then(|v| serde_json::from_value(v.clone()).ok())
}

/// runc's `state` output, field for field (runc's `containerState`).
#[derive(Debug, Serialize)]
pub struct RuncState {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: Status,
    pub bundle: String,
    pub rootfs: String,
    pub created: String,
    #[serde(skip_serializing_if = "std::collections::HashMap::is_empty")]
    pub annotations: std::collections::HashMap<String, String>,
    pub owner: String,
}

/// `skiff state ID`.
pub fn state_json(root: &StateRoot, id: &str) -> Result<RuncState> {
    let dir = root.open_container_dir(id)?;
    let state = dir.load()?;
    Ok(runc_state(&dir, &state, String::new()))
}

pub(crate) fn runc_state(dir: &ContainerDir, state: &ContainerState, owner: String) -> RuncState {
    let status = container_status(dir, state);
    RuncState {
        oci_version: state.oci_version.clone(),
        id: state.id.clone(),
        pid: if status == Status::Stopped {
            0
        } else {
            state.init_pid
        },
        status,
        bundle: state.bundle.display().to_string(),
        rootfs: state.rootfs.display().to_string(),
        created: state.created.clone(),
        annotations: state.annotations.clone(),
        owner,
    }
}

/// The process a container was created with, as the base for `exec`.
pub fn container_process(root: &StateRoot, id: &str) -> Result<oci_spec::runtime::Process> {
    let dir = root.open_container_dir(id)?;
    let state = dir.load()?;
    state
        .config
        .process()
        .clone()
        .ok_or_else(|| anyhow::anyhow!("container {id:?} has no process in its config"))
}
