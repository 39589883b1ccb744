//! "Nothing left behind": after a delete, or a create that failed, there is
//! no state dir for the id, no mount mentioning the bundle in the host's
//! mount table, no live process rooted in (or working in) the rootfs, and
//! no cgroup directory named after the id.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::bundle::Bundle;
use crate::runtime::Runtime;

/// Mount points at or below `dir` in /proc/self/mountinfo, in table order.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let dir = dir.to_string_lossy();
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    table
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|mp| under(mp, &dir))
        .map(String::from)
        .collect()
}

/// Lines of /proc/self/mountinfo that mention `dir` (as root or mount point).
pub fn mountinfo_mentions(dir: &Path) -> Vec<String> {
    let dir = dir.to_string_lossy();
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    table
        .lines()
        .filter(|l| l.split(' ').take(5).any(|field| under(field, &dir)))
        .map(String::from)
        .collect()
}

/// `path` is `dir` or inside it (`/tmp/b-1` is not inside `/tmp/b`).
fn under(path: &str, dir: &str) -> bool {
    path.strip_prefix(dir)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// A process exists and is not a zombie.
pub fn pid_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // The state letter follows the `(comm)` field, which may hold spaces.
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, r)| r.trim_start().chars().next());
            !matches!(state, Some('Z') | Some('X') | None)
        }
        Err(_) => false,
    }
}

/// Wait up to `timeout` for `pid` to die; true if it did.
pub fn wait_pid_gone(pid: i32, timeout: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if !pid_alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    !pid_alive(pid)
}

/// Live processes whose root or cwd is `dir` (same device and inode, which
/// survives pivot_root and bind-mounting the rootfs onto itself).
pub fn processes_in(dir: &Path) -> Vec<i32> {
    let Ok(want) = std::fs::metadata(dir) else {
        return Vec::new();
    };
    let key = (want.dev(), want.ino());
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == std::process::id() as i32 {
            continue;
        }
        let hit = ["root", "cwd"].iter().any(|l| {
            std::fs::metadata(format!("/proc/{pid}/{l}"))
                .map(|m| (m.dev(), m.ino()) == key)
                .unwrap_or(false)
        });
        if hit && pid_alive(pid) {
            found.push(pid);
        }
    }
    found
}

/// Cgroup directories named `id` in any hierarchy under /sys/fs/cgroup, up
/// to a few levels deep (runc uses `/<id>`, runtimes may nest it under a
/// parent of their own or under the caller's cgroup).
pub fn cgroups_named(id: &str) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut level: Vec<std::path::PathBuf> = std::fs::read_dir("/sys/fs/cgroup")
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    for _ in 0..5 {
        let mut next = Vec::new();
        for dir in &level {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for e in entries.flatten() {
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    if e.file_name() == id {
                        found.push(e.path());
                    }
                    next.push(e.path());
                }
            }
        }
        level = next;
    }
    found
}

/// One mounted cgroup hierarchy: where it is mounted, which cgroup is its
/// root (field 4 of mountinfo), and whether it is the unified (cgroup2) one.
struct Hierarchy {
    mount_point: String,
    root: String,
    unified: bool,
    /// Super options of a v1 mount (`rw,cpu,cpuacct`, `rw,name=systemd`).
    options: Vec<String>,
}

fn cgroup_hierarchies() -> Vec<Hierarchy> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    table
        .lines()
        .filter_map(|l| {
            let fields: Vec<&str> = l.split(' ').collect();
            let dash = fields.iter().position(|f| *f == "-")?;
            let fstype = *fields.get(dash + 1)?;
            if fstype != "cgroup" && fstype != "cgroup2" {
                return None;
            }
            Some(Hierarchy {
                mount_point: fields.get(4)?.to_string(),
                root: fields.get(3)?.to_string(),
                unified: fstype == "cgroup2",
                options: fields
                    .get(dash + 3)
                    .map(|o| o.split(',').map(String::from).collect())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// This process's cgroup in `h`, from /proc/self/cgroup (runtimes the tests
/// start inherit it, so a relative cgroupsPath lands under it).
fn own_cgroup_in(h: &Hierarchy) -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    text.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        let matches = if h.unified {
            ctrls.is_empty()
        } else {
            !ctrls.is_empty() && ctrls.split(',').all(|c| h.options.iter().any(|o| o == c))
        };
        matches.then(|| path.to_string())
    })
}

/// `linux.cgroupsPath` of the bundle's config.json, if it sets one.
fn configured_cgroups_path(bundle: &Bundle) -> Option<String> {
    let text = std::fs::read_to_string(bundle.config_path()).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.pointer("/linux/cgroupsPath")?
        .as_str()
        .filter(|p| !p.is_empty())
        .map(String::from)
}

/// Every directory the cgroup of `id` may have, in every v1 hierarchy and
/// the unified one: `linux.cgroupsPath` (absent: the id, relative) resolved
/// as runc and skiff resolve it (absolute under each hierarchy's root,
/// relative under the caller's cgroup, or its parent on the unified
/// hierarchy of a pure v2 host), plus any directory named `id`. Only the
/// ones that exist are returned.
pub fn cgroup_dirs_of(id: &str, bundle: &Bundle) -> Vec<std::path::PathBuf> {
    let configured = configured_cgroups_path(bundle);
    let path = configured.as_deref().unwrap_or(id);
    let inner = path.trim_start_matches('/');
    let mut candidates = Vec::new();
    if !inner.is_empty() && !inner.split('/').any(|c| c == "..") {
        for h in cgroup_hierarchies() {
            let mut bases = Vec::new();
            if path.starts_with('/') {
                bases.push(h.root.clone());
            } else if let Some(own) = own_cgroup_in(&h) {
                if h.unified {
                    if let Some(parent) = Path::new(&own).parent() {
                        bases.push(parent.to_string_lossy().into_owned());
                    }
                }
                bases.push(own);
            }
            for base in bases {
                let Some(rel) = base.strip_prefix(h.root.trim_end_matches('/')) else {
                    continue;
                };
                let mut dir = std::path::PathBuf::from(&h.mount_point);
                for c in rel.split('/').chain(inner.split('/')) {
                    if !c.is_empty() {
                        dir.push(c);
                    }
                }
                candidates.push(dir);
            }
        }
    }
    candidates.extend(cgroups_named(id));
    candidates.retain(|d| d.is_dir());
    candidates.sort();
    candidates.dedup();
    candidates
}

/// Assert `id` left nothing behind: no state dir, no host mount mentioning
/// the bundle, no process in its rootfs, `pid` (if known) dead, and no
/// cgroup directory in any hierarchy.
#[track_caller]
pub fn assert_clean(rt: &Runtime, id: &str, bundle: &Bundle, pid: Option<i32>) {
    let dir = rt.state_dir(id);
    assert!(
        !dir.exists(),
        "state dir {} of {id:?} is left behind",
        dir.display()
    );
    let mounts = mountinfo_mentions(bundle.path());
    assert!(
        mounts.is_empty(),
        "mounts of {id:?} are left behind: {mounts:#?}"
    );
    if let Some(pid) = pid {
        assert!(
            wait_pid_gone(pid, Duration::from_secs(5)),
            "pid {pid} of {id:?} still alive"
        );
    }
    let start = Instant::now();
    let mut procs = processes_in(&bundle.rootfs());
    while !procs.is_empty() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
        procs = processes_in(&bundle.rootfs());
    }
    assert!(
        procs.is_empty(),
        "processes of {id:?} are left behind: {procs:?}"
    );
    let cgroups = cgroup_dirs_of(id, bundle);
    assert!(
        cgroups.is_empty(),
        "cgroups of {id:?} are left behind: {cgroups:#?}"
    );
}
