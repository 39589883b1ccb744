//! `skiff pause` / `skiff resume`: freeze and thaw the container's cgroup
//! (v1 freezer, v2 cgroup.freeze). A failed freeze is undone, so a
//! container is never left half-frozen.

use anyhow::{anyhow, bail, Result};

use super::status::{cgroup_of, container_status};
use crate::state::{StateRoot, Status};

pub fn pause(root: &StateRoot, id: &str) -> Result<()> {
    let dir = root.open_container_dir(id)?;
    let state = dir.load()?;
    match container_status(&dir, &state) {
        Status::Running => {}
        Status::Paused => bail!("cannot pause container {id:?}: it is already paused"),
        other => bail!("cannot pause container {id:?}: it is {other}, not running"),
    }
    let cgroup =
        cgroup_of(&state).ok_or_else(|| anyhow!("container {id:?} has no cgroup to freeze"))?;
    if let Err(err) = cgroup.freeze() {
        let _ = cgroup.thaw();
        return Err(err.context(format!("pause container {id:?}")));
    }
    Ok(())
}

pub fn resume(root: &StateRoot, id: &str) -> Result<()> {
    let dir = root.open_container_dir(id)?;
    let state = dir.load()?;
    match container_status(&dir, &state) {
        Status::Paused => {}
        other => bail!("cannot resume container {id:?}: it is {other}, not paused"),
    }
    let cgroup =
        cgroup_of(&state).ok_or_else(|| anyhow!("container {id:?} has no cgroup to thaw"))?;
    cgroup.thaw()
}
