//! One task: the container's init and its exec'd processes, under one
//! lock, and what happens when one of them exits.
//!
//! Events about a process are queued while its container's lock is held,
//! so they reach containerd in the order the changes happened. The init's
//! exit is held back until the running execs have exited, as containerd's
//! runc shim does: containerd tears the task down at the init's exit.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use containerd_shim::protos::events::task::TaskExit;
use log::warn;

use crate::error::{Result, ShimError};
use crate::events::EventQueue;
use crate::process::{Exit, Process, Status};
use crate::runtime::Skiff;

/// How long an exit waits for the terminal output to reach the client.
pub const OUTPUT_DRAIN: Duration = Duration::from_secs(2);

pub struct Container {
    pub id: String,
    pub bundle: PathBuf,
    pub runtime: Skiff,
    pub config: BundleConfig,
    pub events: Arc<EventQueue>,
    state: Mutex<State>,
    changed: Condvar,
    /// The memory cgroup's OOM watch, once the init has one.
    oom: OnceLock<Arc<crate::oom::Watch>>,
}

pub struct State {
    pub init: Process,
    pub execs: HashMap<String, Process>,
    pub paused: bool,
    /// The init's exit while execs still run.
    pub pending_init_exit: Option<Exit>,
}

impl State {
    pub fn process(&self, id: &str, exec_id: &str) -> Result<&Process> {
        if exec_id.is_empty() {
            return Ok(&self.init);
        }
        self.execs
            .get(exec_id)
            .ok_or_else(|| ShimError::ProcessNotFound {
                id: id.into(),
                exec_id: exec_id.into(),
            })
    }

    pub fn process_mut(&mut self, id: &str, exec_id: &str) -> Result<&mut Process> {
        if exec_id.is_empty() {
            return Ok(&mut self.init);
        }
        self.execs
            .get_mut(exec_id)
            .ok_or_else(|| ShimError::ProcessNotFound {
                id: id.into(),
                exec_id: exec_id.into(),
            })
    }

    fn running_execs(&self) -> usize {
        self.execs
            .values()
            .filter(|p| p.status == Status::Running)
            .count()
    }
}

/// What the shim needs from the bundle's config.json.
#[derive(Debug, Clone, Default)]
pub struct BundleConfig {
    /// Whether the container has a pid namespace of its own: without one,
    /// its processes outlive the init and are killed when it exits.
    pub own_pid_namespace: bool,
    /// The host uid and gid of the container's root (user namespaces), who
    /// must be able to reopen its stdio.
    pub root_owner: Option<(u32, u32)>,
}

impl BundleConfig {
    pub fn read(bundle: &Path) -> Result<BundleConfig> {
        let path = bundle.join("config.json");
        let text = std::fs::read(&path).map_err(|e| ShimError::io("read", &path, e))?;
        let spec: serde_json::Value = serde_json::from_slice(&text)
            .map_err(|e| ShimError::invalid(path.display().to_string(), e))?;
        let linux = &spec["linux"];
        let own_pid_namespace = linux["namespaces"].as_array().is_some_and(|nss| {
            nss.iter()
                .any(|ns| ns["type"] == "pid" && ns["path"].as_str().unwrap_or_default().is_empty())
        });
        let host_id_of_root = |maps: &serde_json::Value| {
            maps.as_array()?.iter().find_map(|m| {
                (m["containerID"].as_u64()? == 0)
                    .then(|| m["hostID"].as_u64().and_then(|h| u32::try_from(h).ok()))?
            })
        };
        let root_owner = match (
            host_id_of_root(&linux["uidMappings"]),
            host_id_of_root(&linux["gidMappings"]),
        ) {
            (Some(uid), Some(gid)) => Some((uid, gid)),
            _ => None,
        };
        Ok(BundleConfig {
            own_pid_namespace,
            root_owner,
        })
    }
}

impl Container {
    pub fn new(
        id: &str,
        bundle: &Path,
        runtime: Skiff,
        config: BundleConfig,
        events: Arc<EventQueue>,
        init: Process,
    ) -> Self {
        Container {
            id: id.to_string(),
            bundle: bundle.to_path_buf(),
            runtime,
            config,
            events,
            state: Mutex::new(State {
                init,
                execs: HashMap::new(),
                paused: false,
                pending_init_exit: None,
            }),
            changed: Condvar::new(),
            oom: OnceLock::new(),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Blocks until `exec_id` (empty: the init) has stopped, or `timeout`.
    pub fn wait_stopped<'a>(
        &self,
        mut state: MutexGuard<'a, State>,
        exec_id: &str,
        timeout: Option<Duration>,
    ) -> Result<MutexGuard<'a, State>> {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        loop {
            if state.process(&self.id, exec_id)?.status == Status::Stopped {
                return Ok(state);
            }
            state = match deadline {
                None => self.changed.wait(state).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        return Ok(state);
                    }
                    self.changed
                        .wait_timeout(state, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }

    /// Whether `pid` is one of this container's live processes.
    pub fn owns_pid(&self, pid: u32) -> bool {
        let state = self.lock();
        live_process_id(&state, pid).is_some()
    }

    /// Records the exit of `pid` if it is one of ours; false otherwise.
    pub fn handle_exit(&self, pid: u32, code: i32) -> bool {
        let exit = Exit::now(code as u32);
        let mut state = self.lock();
        let Some(exec_id) = live_process_id(&state, pid) else {
            return false;
        };
        // Let a terminal's last output reach the client before the exit
        // is visible; not under the lock, which Wait and State take.
        let drain = state
            .process_mut(&self.id, &exec_id)
            .ok()
            .and_then(|p| p.io.drain_handle());
        drop(state);
        if let Some(done) = drain {
            let _ = done.recv_timeout(OUTPUT_DRAIN);
        }
        if exec_id.is_empty() && !self.config.own_pid_namespace {
            // Without a pid namespace the kernel leaves the rest running.
            if let Err(e) = self.runtime.kill(&self.id, libc::SIGKILL as u32, true) {
                warn!(
                    "container {:?}: kill the processes left after init: {e}",
                    self.id
                );
            }
        }
        let mut state = self.lock();
        if exec_id.is_empty() {
            if state.running_execs() > 0 {
                state.pending_init_exit = Some(exit);
            } else {
                self.finish_init_exit(&mut state, exit);
            }
        } else if let Some(process) = state.execs.get_mut(&exec_id) {
            process.set_exited(exit);
            self.send_exit(process);
            if state.running_execs() == 0 {
                if let Some(init_exit) = state.pending_init_exit.take() {
                    self.finish_init_exit(&mut state, init_exit);
                }
            }
        }
        self.changed.notify_all();
        true
    }

    /// Attach the OOM watch of the init's memory cgroup.
    pub fn set_oom_watch(&self, watch: Arc<crate::oom::Watch>) {
        let _ = self.oom.set(watch);
    }

    fn finish_init_exit(&self, state: &mut State, exit: Exit) {
        state.init.set_exited(exit);
        // An OOM kill ends the init before its notification may have been
        // forwarded: announce it first, as containerd expects the OOM
        // before the exit it caused.
        if let Some(watch) = self.oom.get() {
            watch.forward_pending();
        }
        self.send_exit(&state.init);
    }

    fn send_exit(&self, process: &Process) {
        self.events.send(TaskExit {
            container_id: self.id.clone(),
            id: process.id.clone(),
            pid: process.pid,
            exit_status: process.exit_status(),
            exited_at: process.exited_at(),
            ..Default::default()
        });
    }

    pub fn notify(&self) {
        self.changed.notify_all();
    }
}

/// The exec id of the live process with `pid` ("" for the init).
fn live_process_id(state: &State, pid: u32) -> Option<String> {
    if pid == 0 {
        return None;
    }
    if state.init.pid == pid
        && state.init.status != Status::Stopped
        && state.pending_init_exit.is_none()
    {
        return Some(String::new());
    }
    state
        .execs
        .iter()
        .find(|(_, p)| p.pid == pid && p.status == Status::Running)
        .map(|(id, _)| id.clone())
}
