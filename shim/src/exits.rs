//! Exit dispatch. containerd-shim's reaper reaps every child of the shim
//! (a subreaper: the container's init and exec'd processes are reparented
//! to it when skiff exits) and announces each exit on its monitor; one
//! thread here gives each exit to the process it belongs to.
//!
//! A process can exit before the shim has read its pid from the pid file.
//! Such an exit waits in `Unclaimed` until the pid is registered. Both
//! sides take the entry out under one lock, so exactly one of them
//! handles it:
//! - the dispatcher: no owner → record → look for an owner again;
//! - a registration: set the pid → claim.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use containerd_shim::monitor::{monitor_subscribe, ExitEvent, Subject, Topic};
use log::warn;

use crate::task::Tasks;

/// Exits are claimed within milliseconds of the runtime call that made
/// the process; older entries are exits of processes nobody will claim
/// (skiff's own calls, hooks' children reparented to us).
const UNCLAIMED_TTL: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct Unclaimed {
    exits: Mutex<VecDeque<(i32, i32, Instant)>>,
}

impl Unclaimed {
    fn record(&self, pid: i32, code: i32) {
        if let Ok(mut exits) = self.exits.lock() {
            let now = Instant::now();
            exits.retain(|&(_, _, at)| now.duration_since(at) < UNCLAIMED_TTL);
            exits.push_back((pid, code, now));
        }
    }

    /// Takes the exit of `pid`, if one is waiting.
    pub fn claim(&self, pid: i32) -> Option<i32> {
        let mut exits = self.exits.lock().ok()?;
        let i = exits.iter().position(|&(p, _, _)| p == pid)?;
        exits.remove(i).map(|(_, code, _)| code)
    }
}

/// Starts the dispatcher. The subscription is taken before any process is
/// made, so no exit is missed.
pub fn start_dispatcher(tasks: Arc<Tasks>) {
    let subscription = match monitor_subscribe(Topic::Pid) {
        Ok(s) => s,
        Err(e) => {
            warn!("subscribe to exits: {e}; task exits will not be reported");
            return;
        }
    };
    let dispatch = move || {
        for event in subscription.rx.iter() {
            let ExitEvent {
                subject: Subject::Pid(pid),
                exit_code,
            } = event
            else {
                continue;
            };
            if tasks.handle_exit(pid, exit_code) {
                continue;
            }
            tasks.unclaimed.record(pid, exit_code);
            if tasks.owns_pid(pid) {
                if let Some(code) = tasks.unclaimed.claim(pid) {
                    tasks.handle_exit(pid, code);
                }
            }
        }
    };
    if let Err(e) = std::thread::Builder::new()
        .name("exits".into())
        .spawn(dispatch)
    {
        warn!("start the exit thread: {e}; task exits will not be reported");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exit_is_claimed_once() {
        let u = Unclaimed::default();
        u.record(42, 3);
        u.record(43, 0);
        assert_eq!(u.claim(42), Some(3));
        assert_eq!(u.claim(42), None);
        assert_eq!(u.claim(43), Some(0));
        assert_eq!(u.claim(7), None);
    }
}
