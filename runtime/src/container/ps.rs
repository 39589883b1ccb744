//! `skiff ps`: the container's processes, as pids (json) or as the host's
//! `ps` output filtered to them (table), like runc.

use anyhow::{anyhow, bail, Context, Result};

use super::status::{cgroup_of, container_status};
use crate::state::{StateRoot, Status};

/// Pids of every process in the container's cgroup.
pub fn container_pids(root: &StateRoot, id: &str) -> Result<Vec<i32>> {
    let dir = root.open_container_dir(id)?;
    let state = dir.load()?;
    if container_status(&dir, &state) == Status::Stopped {
        bail!("cannot list processes of container {id:?}: container not running");
    }
    let cgroup = cgroup_of(&state).ok_or_else(|| anyhow!("container {id:?} has no cgroup"))?;
    let mut pids = cgroup.pids()?;
    pids.sort_unstable();
    Ok(pids)
}

/// Runs `ps ARGS` and keeps the header and the lines of `pids`.
pub fn ps_table(pids: &[i32], ps_args: &[String]) -> Result<String> {
    let args: Vec<String> = if ps_args.is_empty() {
        vec!["-ef".into()]
    } else {
        ps_args.to_vec()
    };
    let output = std::process::Command::new("ps")
        .args(&args)
        .output()
        .context("run ps")?;
    if !output.status.success() {
        bail!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    let header = lines.next().ok_or_else(|| anyhow!("ps printed nothing"))?;
    let pid_col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| anyhow!("ps output has no PID column (ps {})", args.join(" ")))?;
    let mut out = format!("{header}\n");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(pid_col)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}
