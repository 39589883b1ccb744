//! OOM events for a container's memory cgroup, read as containerd's runc
//! shim reads them (containerd/cgroups' epoller): on cgroup v1 an eventfd
//! registered for memory.oom_control through cgroup.event_control (the
//! kernel signals it on every OOM, and once more when the cgroup goes); on
//! cgroup v2 inotify on memory.events, whose `oom_kill` count rises. Each
//! watch lives on its own thread and ends when the cgroup is removed.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use log::{debug, warn};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use crate::error::{Result, ShimError};

/// Where the memory controller of `pid` lives.
#[derive(Debug, PartialEq)]
enum MemoryCgroup {
    V1(PathBuf),
    V2(PathBuf),
}

/// The OOM notifications of one memory cgroup not yet announced, and how to
/// announce one. The watch thread forwards them as they come; the init's
/// exit forwards what is still pending before its TaskExit, so the OOM kill
/// that ended the init is announced before the exit it caused, whichever
/// thread the scheduler runs first.
pub struct Watch {
    pending: Mutex<Pending>,
    on_oom: Box<dyn Fn() + Send + Sync>,
}

enum Pending {
    /// The eventfd registered for memory.oom_control (non-blocking, so the
    /// exit path can drain it without waiting).
    V1 { efd: EventFd, control: PathBuf },
    /// memory.events and the `oom_kill` count already announced.
    V2 { events: PathBuf, seen: u64 },
}

impl Watch {
    /// Announce what the kernel reported since the last call. Returns false
    /// once the cgroup is gone, and the watch with it.
    pub fn forward_pending(&self) -> bool {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        match &mut *pending {
            Pending::V1 { efd, control } => match efd.read() {
                // One event per read, as containerd's runc shim sends them;
                // the kernel notifies when the OOM begins, before its kill
                // is counted, so the count cannot gate it. The kernel also
                // notifies once when the cgroup is removed.
                Ok(_) if !control.exists() => false,
                Ok(_) => {
                    (self.on_oom)();
                    true
                }
                Err(nix::errno::Errno::EAGAIN) => true,
                Err(_) => false,
            },
            Pending::V2 { events, seen } => {
                let now = oom_kills(events);
                if now > *seen {
                    (self.on_oom)();
                }
                *seen = now;
                true
            }
        }
    }
}

/// Calls `on_oom` for each OOM in the memory cgroup of `pid`, from a thread
/// of its own. A process without a memory cgroup (none delegated) has
/// nothing to watch.
pub fn watch(pid: u32, on_oom: impl Fn() + Send + Sync + 'static) -> Result<Option<Arc<Watch>>> {
    let cgroup_file = format!("/proc/{pid}/cgroup");
    let membership = std::fs::read_to_string(&cgroup_file)
        .map_err(|e| ShimError::io("read", &cgroup_file, e))?;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| ShimError::io("read", "/proc/self/mountinfo", e))?;
    let Some(cgroup) = memory_cgroup(&membership, &mountinfo) else {
        debug!("process {pid} has no memory cgroup: no OOM events");
        return Ok(None);
    };
    let spawn = |f: Box<dyn FnOnce() + Send>| {
        std::thread::Builder::new()
            .name("oom".into())
            .spawn(f)
            .map(drop)
            .map_err(|e| ShimError::os("start the OOM watch thread", e))
    };
    let on_oom = Box::new(on_oom);
    match cgroup {
        MemoryCgroup::V1(dir) => {
            let efd = register_v1(&dir)?;
            // The thread waits on a duplicate, outside the lock the exit path takes.
            let ready = efd
                .as_fd()
                .try_clone_to_owned()
                .map_err(|e| ShimError::os("dup the OOM eventfd", e))?;
            let watch = Arc::new(Watch {
                pending: Mutex::new(Pending::V1 {
                    efd,
                    control: dir.join("memory.oom_control"),
                }),
                on_oom,
            });
            let thread_watch = watch.clone();
            spawn(Box::new(move || loop {
                let mut fds = [PollFd::new(ready.as_fd(), PollFlags::POLLIN)];
                match poll(&mut fds, PollTimeout::NONE) {
                    Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                    Err(_) => break,
                }
                if !thread_watch.forward_pending() {
                    break;
                }
            }))?;
            Ok(Some(watch))
        }
        MemoryCgroup::V2(dir) => {
            let events = dir.join("memory.events");
            let inotify = Inotify::init(InitFlags::IN_CLOEXEC)
                .map_err(|e| ShimError::os("inotify_init", e))?;
            inotify
                .add_watch(&events, AddWatchFlags::IN_MODIFY)
                .map_err(|e| ShimError::io("watch", &events, e.into()))?;
            let seen = oom_kills(&events);
            let watch = Arc::new(Watch {
                pending: Mutex::new(Pending::V2 { events, seen }),
                on_oom,
            });
            let thread_watch = watch.clone();
            spawn(Box::new(move || {
                while let Ok(batch) = inotify.read_events() {
                    if batch
                        .iter()
                        .any(|e| e.mask.contains(AddWatchFlags::IN_IGNORED))
                    {
                        break;
                    }
                    thread_watch.forward_pending();
                }
            }))?;
            Ok(Some(watch))
        }
    }
}

/// cgroup v1's notification API: "<eventfd> <fd of memory.oom_control>"
/// written to cgroup.event_control.
fn register_v1(dir: &Path) -> Result<EventFd> {
    let efd = EventFd::from_value_and_flags(0, EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
        .map_err(|e| ShimError::os("eventfd", e))?;
    let control = dir.join("memory.oom_control");
    let oom_control = File::open(&control).map_err(|e| ShimError::io("open", &control, e))?;
    let registration = format!("{} {}", efd.as_raw_fd(), oom_control.as_raw_fd());
    let event_control = dir.join("cgroup.event_control");
    std::fs::write(&event_control, registration)
        .map_err(|e| ShimError::io("register for OOM events in", &event_control, e))?;
    Ok(efd)
}

/// The `oom_kill` count of cgroup v2's memory.events.
fn oom_kills(file: &Path) -> u64 {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// The memory cgroup directory from /proc/PID/cgroup and mountinfo: the v1
/// memory hierarchy when there is one (hybrid hosts keep memory in v1),
/// else the unified hierarchy if its memory controller is on there.
fn memory_cgroup(membership: &str, mountinfo: &str) -> Option<MemoryCgroup> {
    let mut v2_path = None;
    for line in membership.lines() {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        if controllers.split(',').any(|c| c == "memory") {
            let (root, mountpoint) = cgroup_mount(mountinfo, |fstype, opts| {
                fstype == "cgroup" && opts.split(',').any(|o| o == "memory")
            })?;
            return Some(MemoryCgroup::V1(join_cgroup(&mountpoint, &root, path)));
        }
        if controllers.is_empty() {
            v2_path = Some(path.to_string());
        }
    }
    let path = v2_path?;
    let (root, mountpoint) = cgroup_mount(mountinfo, |fstype, _| fstype == "cgroup2")?;
    let dir = join_cgroup(&mountpoint, &root, &path);
    dir.join("memory.events")
        .exists()
        .then_some(MemoryCgroup::V2(dir))
}

/// (root, mount point) of the first cgroup mount `matches` accepts.
fn cgroup_mount(
    mountinfo: &str,
    matches: impl Fn(&str, &str) -> bool,
) -> Option<(String, PathBuf)> {
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let left: Vec<&str> = left.split(' ').collect();
        let right: Vec<&str> = right.split(' ').collect();
        let (fstype, super_opts) = (*right.first()?, *right.get(2)?);
        if !matches(fstype, super_opts) {
            return None;
        }
        Some((left.get(3)?.to_string(), PathBuf::from(left.get(4)?)))
    })
}

fn join_cgroup(mountpoint: &Path, root: &str, path: &str) -> PathBuf {
    let relative = path
        .strip_prefix(root)
        .unwrap_or(path)
        .trim_start_matches('/');
    if relative.is_empty() {
        return mountpoint.to_path_buf();
    }
    mountpoint.join(relative)
}

/// Logs instead of failing the task: containerd's runc shim also runs a
/// container whose OOM watch could not be set up.
pub fn watch_or_warn(
    id: &str,
    pid: u32,
    on_oom: impl Fn() + Send + Sync + 'static,
) -> Option<Arc<Watch>> {
    watch(pid, on_oom).unwrap_or_else(|e| {
        warn!("container {id:?}: no OOM events: {e}");
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID_MOUNTS: &str = "\
30 25 0:26 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
31 25 0:27 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
32 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
";

    #[test]
    fn hybrid_hosts_watch_the_v1_memory_hierarchy() {
        let membership = "12:cpu,cpuacct:/default/box\n5:memory:/default/box\n0::/default/box\n";
        assert_eq!(
            memory_cgroup(membership, HYBRID_MOUNTS),
            Some(MemoryCgroup::V1(PathBuf::from(
                "/sys/fs/cgroup/memory/default/box"
            )))
        );
    }

    #[test]
    fn a_nested_mount_root_is_stripped() {
        let mounts = "31 25 0:27 /outer /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        assert_eq!(
            memory_cgroup("5:memory:/outer/inner\n", mounts),
            Some(MemoryCgroup::V1(PathBuf::from(
                "/sys/fs/cgroup/memory/inner"
            )))
        );
    }

    #[test]
    fn no_memory_controller_means_no_watch() {
        let mounts = "30 25 0:26 / /nonexistent-cgroup2 rw - cgroup2 cgroup2 rw\n";
        assert_eq!(memory_cgroup("0::/box\n", mounts), None);
    }

    /// A watch whose announcements are counted.
    fn counted(pending: Pending) -> (Watch, Arc<std::sync::atomic::AtomicUsize>) {
        let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let c = count.clone();
        let on_oom = Box::new(move || {
            c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
        let watch = Watch {
            pending: Mutex::new(pending),
            on_oom,
        };
        (watch, count)
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("skiff-shim-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_v1_notification_is_announced_once_by_whoever_drains_it_first() {
        let dir = scratch("oom-v1");
        let control = dir.join("memory.oom_control");
        std::fs::write(&control, "oom_kill_disable 0\n").unwrap();
        let efd = EventFd::from_value_and_flags(0, EfdFlags::EFD_NONBLOCK).unwrap();
        let signal = efd.as_fd().try_clone_to_owned().unwrap();
        let (watch, count) = counted(Pending::V1 {
            efd,
            control: control.clone(),
        });
        let kernel_notifies = || nix::unistd::write(&signal, &1u64.to_ne_bytes()).unwrap();
        // Nothing reported yet: the exit path must not wait or announce.
        assert!(watch.forward_pending());
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 0);
        kernel_notifies();
        // The exit path drains it, the thread then finds nothing more.
        assert!(watch.forward_pending());
        assert!(watch.forward_pending());
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1);
        // The cgroup's removal notifies too; that ends the watch unannounced.
        std::fs::remove_dir_all(&dir).unwrap();
        kernel_notifies();
        assert!(!watch.forward_pending());
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn a_v2_oom_kill_is_announced_once_by_whoever_sees_it_first() {
        let dir = scratch("oom-v2");
        let events = dir.join("memory.events");
        std::fs::write(&events, "oom 0\noom_kill 0\n").unwrap();
        let (watch, count) = counted(Pending::V2 {
            events: events.clone(),
            seen: 0,
        });
        assert!(watch.forward_pending());
        std::fs::write(&events, "oom 1\noom_kill 1\n").unwrap();
        assert!(watch.forward_pending());
        assert!(watch.forward_pending());
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn oom_kill_counts_are_read_from_memory_events() {
        let dir = std::env::temp_dir().join(format!("skiff-shim-oom-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let events = dir.join("memory.events");
        std::fs::write(&events, "low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\n").unwrap();
        assert_eq!(oom_kills(&events), 2);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(oom_kills(&events), 0);
    }
}
