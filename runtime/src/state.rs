//! The state directory (`--root`, default `/run/skiff`): one directory per
//! container holding `state.json` (written atomically: temp file + rename) and
//! a `lock` file whose flock serialises every operation on one id. The
//! creation of the directory itself is the uniqueness check for an id: of two
//! concurrent `create`s, exactly one `mkdir` succeeds.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use nix::fcntl::{Flock, FlockArg};
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};

/// The socket the init waits on between `create` and `start`; its presence
/// is what makes a live container "created" rather than "running".
pub const EXEC_SOCKET: &str = "exec.sock";
const STATE_FILE: &str = "state.json";
const LOCK_FILE: &str = "lock";

/// What skiff remembers about one container between commands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerState {
    pub id: String,
    pub oci_version: String,
    /// The init's pid in the runtime's pid namespace; 0 before it exists.
    pub init_pid: i32,
    /// The init's start time (field 22 of /proc/PID/stat), so a recycled pid
    /// is never mistaken for the container.
    pub init_start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    pub annotations: HashMap<String, String>,
    /// The config the container was created with: later commands (hooks on
    /// `start` and `delete`, `exec`) must not depend on the bundle still being there.
    pub config: Spec,
    /// Driver-specific cgroup description, opaque to this module.
    #[serde(default)]
    pub cgroup: Option<serde_json::Value>,
}

/// The OCI "status" of a container (runtime.md "State"), plus runc's "paused".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// runc's id rule: letters, digits and `_+-.`, and not `.` or `..`, so an id
/// can never name a path outside the state root.
pub fn validate_id(id: &str) -> Result<()> {
    let ok_chars = id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if id.is_empty() || !ok_chars || id == "." || id == ".." || id.len() > 1024 {
        bail!("invalid container id {id:?}: use letters, digits and _+-. only");
    }
    Ok(())
}

/// The state root and the per-container directories in it.
#[derive(Debug, Clone)]
pub struct StateRoot {
    root: PathBuf,
}

/// One container's directory, held under its flock for as long as this lives.
#[derive(Debug)]
pub struct ContainerDir {
    pub path: PathBuf,
    pub id: String,
    _lock: Flock<File>,
}

impl StateRoot {
    pub fn new(root: &Path) -> Self {
        StateRoot {
            root: root.to_path_buf(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Makes the directory for a new container; fails if the id is taken.
    pub fn create_container_dir(&self, id: &str) -> Result<ContainerDir> {
        validate_id(id)?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(&self.root)
            .with_context(|| format!("create state root {:?}", self.root.display().to_string()))?;
        let path = self.root.join(id);
        if path.exists() && !remove_if_abandoned(&self.root, &path) {
            bail!("container {id:?} already exists");
        }
        // The directory is made and locked under a name no id can have, then
        // renamed into place without replacing anything: a concurrent create
        // never sees it unlocked and without state, so never takes it for
        // an abandoned one.
        let staging = self.root.join(staging_name(id));
        fs::DirBuilder::new()
            .mode(0o711)
            .create(&staging)
            .with_context(|| format!("create state dir {:?}", staging.display().to_string()))?;
        let lock = match lock_dir(&staging) {
            Ok(lock) => lock,
            Err(err) => {
                let _ = fs::remove_dir_all(&staging);
                return Err(err);
            }
        };
        match rename_noreplace(&staging, &path) {
            Ok(()) => Ok(ContainerDir {
                path,
                id: id.to_string(),
                _lock: lock,
            }),
            Err(err) => {
                let _ = fs::remove_dir_all(&staging);
                if err == nix::errno::Errno::EEXIST {
                    bail!("container {id:?} already exists");
                }
                Err(err)
                    .with_context(|| format!("create state dir {:?}", path.display().to_string()))
            }
        }
    }

    /// Opens and locks an existing container's directory.
    pub fn open_container_dir(&self, id: &str) -> Result<ContainerDir> {
        validate_id(id)?;
        let path = self.root.join(id);
        let lock =
            lock_dir(&path).map_err(|_| anyhow::anyhow!("container {id:?} does not exist"))?;
        // The container may have been deleted while we waited for the lock.
        if !path.join(STATE_FILE).exists() {
            bail!("container {id:?} does not exist");
        }
        Ok(ContainerDir {
            path,
            id: id.to_string(),
            _lock: lock,
        })
    }

    /// Ids of every container with a state file, sorted.
    pub fn list_ids(&self) -> Result<Vec<String>> {
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("read state root {:?}", self.root.display().to_string())
                })
            }
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join(STATE_FILE).exists())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        ids.sort();
        Ok(ids)
    }
}

/// A directory without state.json whose lock nobody holds is what a
/// `create` killed half-way leaves; it must not block the id forever.
/// A dir without state.json whose lock nobody holds was left by a create
/// that died. It is renamed away while locked (so a create racing us cannot
/// lose its fresh dir to our removal) and then removed.
fn remove_if_abandoned(root: &Path, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    if path.join(STATE_FILE).exists() {
        return false;
    }
    let Ok(file) = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(path.join(LOCK_FILE))
    else {
        return false;
    };
    let Ok(lock) = Flock::lock(file, FlockArg::LockExclusiveNonblock) else {
        return false;
    };
    // Still the lock file of the dir at `path`, not of one removed meanwhile?
    let same = match (lock.metadata(), fs::metadata(path.join(LOCK_FILE))) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    };
    if !same || path.join(STATE_FILE).exists() {
        return false;
    }
    let doomed = root.join(staging_name("abandoned"));
    if fs::rename(path, &doomed).is_err() {
        return false;
    }
    let _ = fs::remove_dir_all(&doomed);
    true
}

/// Names with a `@`, which ids cannot contain (validate_id).
fn staging_name(id: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(".{id}@{}.{nanos}", std::process::id())
}

fn rename_noreplace(from: &Path, to: &Path) -> nix::Result<()> {
    use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};
    renameat2(AT_FDCWD, from, AT_FDCWD, to, RenameFlags::RENAME_NOREPLACE)
}

fn lock_dir(path: &Path) -> Result<Flock<File>> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .mode(0o600)
        .open(path.join(LOCK_FILE))
        .with_context(|| format!("open lock in {:?}", path.display().to_string()))?;
    Flock::lock(file, FlockArg::LockExclusive)
        .map_err(|(_, errno)| anyhow::anyhow!("lock {:?}: {errno}", path.display().to_string()))
}

impl ContainerDir {
    pub fn exec_socket(&self) -> PathBuf {
        self.path.join(EXEC_SOCKET)
    }

    pub fn load(&self) -> Result<ContainerState> {
        let path = self.path.join(STATE_FILE);
        let data =
            fs::read(&path).with_context(|| format!("read {:?}", path.display().to_string()))?;
        serde_json::from_slice(&data)
            .with_context(|| format!("parse {:?}", path.display().to_string()))
    }

    /// Replaces state.json atomically, so a crash leaves the old or the new
    /// state and never a torn file.
    pub fn save(&self, state: &ContainerState) -> Result<()> {
        let data = serde_json::to_vec(state).context("encode state")?;
        write_atomic(&self.path.join(STATE_FILE), &data, 0o600)
    }

    /// Removes the directory; the lock goes with it.
    pub fn remove(self) -> Result<()> {
        fs::remove_dir_all(&self.path)
            .with_context(|| format!("remove state dir {:?}", self.path.display().to_string()))
    }
}

/// Writes `data` to `path` through a temp file in the same dir + rename.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(mode)
            .custom_flags(libc::O_CLOEXEC)
            .open(&tmp)?;
        file.write_all(data)?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("write {:?}", path.display().to_string()))
}

/// Start time of a live, non-zombie process, or None if it is gone.
pub fn process_start_time(pid: i32) -> Option<u64> {
    if pid <= 0 {
        return None;
    }
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parens: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    if matches!(fields.first(), Some(&"Z") | Some(&"X")) {
        return None;
    }
    fields.get(19)?.parse().ok()
}

impl ContainerState {
    /// Whether the recorded init is still this container's init.
    pub fn init_alive(&self) -> bool {
        process_start_time(self.init_pid) == Some(self.init_start_time) && self.init_start_time != 0
    }
}

/// RFC 3339 UTC time with nanoseconds, as Go's time.RFC3339Nano prints it
/// (runc's `created` field).
pub fn rfc3339_now() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(now.as_secs() as i64, now.subsec_nanos())
}

pub fn rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let frac = if nanos == 0 {
        String::new()
    } else {
        let s = format!(".{nanos:09}");
        s.trim_end_matches('0').to_string()
    };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{frac}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's days → civil date algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The OCI state document (runtime.md "State") that hooks read on stdin.
pub fn oci_state_json(spec: &Spec, id: &str, status: Status, pid: i32, bundle: &Path) -> String {
    let mut state = serde_json::json!({
        "ociVersion": spec.version(),
        "id": id,
        "status": status,
        "bundle": bundle,
    });
    if pid > 0 {
        state["pid"] = pid.into();
    }
    if let Some(annotations) = spec.annotations() {
        state["annotations"] = serde_json::json!(annotations);
    }
    state.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_like_go() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(1_700_000_000, 120_000_000),
            "2023-11-14T22:13:20.12Z"
        );
        assert_eq!(rfc3339(951_782_400, 1), "2000-02-29T00:00:00.000000001Z");
    }

    #[test]
    fn refuses_ids_that_name_paths() {
        for bad in ["", ".", "..", "a/b", "../x", "a b", "x\n"] {
            assert!(validate_id(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["a", "abc-123_x.y+z", "0123456789abcdef"] {
            validate_id(good).expect(good);
        }
    }

    #[test]
    fn one_of_two_creates_wins() {
        let root = std::env::temp_dir().join(format!("skiff-state-test-{}", std::process::id()));
        let state = StateRoot::new(&root);
        let first = state.create_container_dir("c1").expect("first create");
        let second = state.create_container_dir("c1").expect_err("second create");
        assert!(second.to_string().contains("already exists"), "{second}");
        first.remove().expect("remove");
        fs::remove_dir_all(&root).ok();
    }

    #[test]
    fn racing_creates_of_one_id_have_exactly_one_winner() {
        let root = std::env::temp_dir().join(format!("skiff-state-race-{}", std::process::id()));
        let state = StateRoot::new(&root);
        for round in 0..50 {
            let barrier = std::sync::Barrier::new(4);
            let dirs: Vec<_> = std::thread::scope(|s| {
                let hs: Vec<_> = (0..4)
                    .map(|_| {
                        s.spawn(|| {
                            barrier.wait();
                            state.create_container_dir("c1")
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let winners: Vec<_> = dirs.into_iter().filter_map(Result::ok).collect();
            assert_eq!(winners.len(), 1, "round {round}");
            for w in winners {
                w.remove().expect("remove");
            }
        }
        fs::remove_dir_all(&root).ok();
    }

    #[test]
    fn reclaims_a_dir_left_by_a_dead_create() {
        let root = std::env::temp_dir().join(format!("skiff-state-left-{}", std::process::id()));
        let state = StateRoot::new(&root);
        fs::create_dir_all(root.join("c1")).unwrap();
        fs::write(root.join("c1").join(LOCK_FILE), "").unwrap();
        let dir = state.create_container_dir("c1").expect("reclaim");
        dir.remove().expect("remove");
        assert_eq!(
            fs::read_dir(&root).unwrap().count(),
            0,
            "no staging dir left"
        );
        fs::remove_dir_all(&root).ok();
    }

    #[test]
    fn own_process_has_a_start_time() {
        assert!(process_start_time(std::process::id() as i32).is_some());
        assert!(process_start_time(0).is_none());
    }
}
