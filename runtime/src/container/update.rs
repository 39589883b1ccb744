//! `skiff update`: change a running container's cgroup resources and
//! remember them in its state.

use anyhow::{anyhow, bail, Result};
use oci_spec::runtime::LinuxResources;

use super::status::{cgroup_of, container_status};
use crate::state::{StateRoot, Status};

pub fn update(root: &StateRoot, id: &str, resources: &LinuxResources) -> Result<()> {
    let dir = root.open_container_dir(id)?;
    let mut state = dir.load()?;
    if container_status(&dir, &state) == Status::Stopped {
        bail!("cannot update container {id:?}: container not running");
    }
    let cgroup = cgroup_of(&state).ok_or_else(|| anyhow!("container {id:?} has no cgroup"))?;
    // runc applies the merged set: a swap limit on v2 needs the memory
    // limit that was set at create time.
    let current = state
        .config
        .linux()
        .as_ref()
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    let merged = merge_resources(current, resources);
    cgroup.apply(&merged)?;
    if let Some(linux) = state.config.linux_mut() {
        linux.set_resources(Some(merged));
    }
    dir.save(&state)
}

/// Fields set in `new` replace those in `old`, section by section.
fn merge_resources(mut old: LinuxResources, new: &LinuxResources) -> LinuxResources {
    if new.memory().is_some() {
        old.set_memory(*new.memory());
    }
    if new.cpu().is_some() {
        old.set_cpu(new.cpu().clone());
    }
    if new.pids().is_some() {
        old.set_pids(*new.pids());
    }
    if new.block_io().is_some() {
        old.set_block_io(new.block_io().clone());
    }
    if new.hugepage_limits().is_some() {
        old.set_hugepage_limits(new.hugepage_limits().clone());
    }
    if new.network().is_some() {
        old.set_network(new.network().clone());
    }
    if new.unified().is_some() {
        old.set_unified(new.unified().clone());
    }
    old
}
