//! `skiff events`: runc's event stream, field for field, since containerd
//! parses it: `{"type":"stats","id":…,"data":{…}}` every interval and
//! `{"type":"oom","id":…}` when the kernel OOM-kills in the container.

use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use serde_json::json;

use super::status::{cgroup_of, container_status};
use crate::state::{StateRoot, Status};

/// One stats event (`events --stats`).
pub fn stats_event(root: &StateRoot, id: &str) -> Result<serde_json::Value> {
    let dir = root.open_container_dir(id)?;
    let state = dir.load()?;
    if container_status(&dir, &state) == Status::Stopped {
        anyhow::bail!("cannot get stats of container {id:?}: container not running");
    }
    let cgroup = cgroup_of(&state).ok_or_else(|| anyhow!("container {id:?} has no cgroup"))?;
    Ok(json!({"type": "stats", "id": id, "data": cgroup.stats()?}))
}

/// Streams events to `emit` until the container stops. OOM kills are
/// polled often (every 100 ms); stats go out every `interval`.
pub fn stream_events(
    root: &StateRoot,
    id: &str,
    interval: Duration,
    emit: &mut dyn FnMut(&serde_json::Value) -> Result<()>,
) -> Result<()> {
    let (cgroup, state) = {
        let dir = root.open_container_dir(id)?;
        let state = dir.load()?;
        let cgroup = cgroup_of(&state).ok_or_else(|| anyhow!("container {id:?} has no cgroup"))?;
        (cgroup, state)
    };
    let mut ooms = cgroup.oom_kill_count().unwrap_or(0);
    let mut next_stats = Instant::now() + interval;
    while state.init_alive() || !cgroup.pids().unwrap_or_default().is_empty() {
        let now_ooms = cgroup.oom_kill_count().unwrap_or(ooms);
        if now_ooms > ooms {
            ooms = now_ooms;
            emit(&json!({"type": "oom", "id": id}))?;
        }
        if Instant::now() >= next_stats {
            next_stats += interval;
            if let Ok(data) = cgroup.stats() {
                emit(&json!({"type": "stats", "id": id, "data": data}))?;
            }
        }
        std::thread::sleep(Duration::from_millis(100).min(interval));
    }
    // One last look: an OOM kill is often what ended the container.
    if cgroup.oom_kill_count().unwrap_or(ooms) > ooms {
        emit(&json!({"type": "oom", "id": id}))?;
    }
    Ok(())
}
