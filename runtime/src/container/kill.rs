//! `skiff kill` (runtime.md "kill"): a signal to the init, or with `--all`
//! to every process in the container's cgroup.

use anyhow::{anyhow, bail, Result};
use nix::sys::signal::Signal;

use super::status::{cgroup_of, container_status};
use crate::state::{StateRoot, Status};

/// Signal names with or without "SIG", numbers, and RTMIN+N / RTMAX-N, as runc takes them.
pub fn parse_signal(text: &str) -> Result<i32> {
    let t = text.trim();
    if let Ok(n) = t.parse::<i32>() {
        if (1..=libc::SIGRTMAX()).contains(&n) {
            return Ok(n);
        }
        bail!("invalid signal {text:?}: no signal has that number");
    }
    let upper = t.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(rt) = parse_realtime(name) {
        return rt.ok_or_else(|| anyhow!("invalid signal {text:?}: out of the real-time range"));
    }
    let full = format!("SIG{name}");
    full.parse::<Signal>()
        .map(|s| s as i32)
        .map_err(|_| anyhow!("invalid signal {text:?}"))
}

fn parse_realtime(name: &str) -> Option<Option<i32>> {
    let (base, rest) = if let Some(rest) = name.strip_prefix("RTMIN") {
        (libc::SIGRTMIN(), rest)
    } else if let Some(rest) = name.strip_prefix("RTMAX") {
        (libc::SIGRTMAX(), rest)
    } else {
        return None;
    };
    let offset = if rest.is_empty() {
        0
    } else {
        match rest.parse::<i32>() {
            Ok(n) => n,
            Err(_) => return Some(None),
        }
    };
    let n = base + offset;
    Some(
        (libc::SIGRTMIN()..=libc::SIGRTMAX())
            .contains(&n)
            .then_some(n),
    )
}

pub fn kill(root: &StateRoot, id: &str, signal: i32, all: bool) -> Result<()> {
    let dir = root.open_container_dir(id)?;
    let state = dir.load()?;
    if container_status(&dir, &state) == Status::Stopped {
        bail!("cannot kill container {id:?}: container not running");
    }
    if all {
        if let Some(cgroup) = cgroup_of(&state) {
            return cgroup.kill_all(signal);
        }
    }
    crate::sys::signal::send_signal(state.init_pid, signal).map_err(|e| {
        anyhow!(
            "send signal {signal} to container {id:?} (pid {}): {e}",
            state.init_pid
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_signals_as_runc_does() {
        assert_eq!(parse_signal("KILL").ok(), Some(9));
        assert_eq!(parse_signal("SIGTERM").ok(), Some(15));
        assert_eq!(parse_signal("sigusr1").ok(), Some(10));
        assert_eq!(parse_signal("9").ok(), Some(9));
        assert_eq!(parse_signal("RTMIN+1").ok(), Some(libc::SIGRTMIN() + 1));
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("0").is_err());
        assert!(parse_signal("99").is_err());
    }
}
