//! OCI bundles for tests (runtime-spec "Filesystem Bundle"): a temp dir with
//! a busybox-static rootfs and a config.json the test edits as JSON.
//!
//! The base config is `runc spec`'s, except `terminal: false`, a writable
//! root (tests write into it; the root tests set `readonly` themselves) and
//! the args the test gives.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{json, Value};

use crate::tempdir::TempDir;

/// Host busybox-static copied into every rootfs.
pub const BUSYBOX: &str = "/bin/busybox";

/// A bundle directory: `config.json` plus `rootfs/`.
pub struct Bundle {
    dir: TempDir,
    /// `None` after [`Bundle::write_raw_config`]: the file is the test's.
    config: Option<Value>,
}

impl Bundle {
    /// A bundle whose process runs `args` (resolved in the rootfs PATH).
    pub fn new(args: &[&str]) -> Bundle {
        let dir = TempDir::new("skt-bundle");
        make_rootfs(&dir.path().join("rootfs"));
        let mut config = base_config();
        config["process"]["args"] = json!(args);
        let b = Bundle {
            dir,
            config: Some(config),
        };
        b.save();
        b
    }

    /// A bundle running `sh -c script`.
    pub fn sh(script: &str) -> Bundle {
        Bundle::new(&["sh", "-c", script])
    }

    /// A bundle whose process waits for [`Bundle::release`], then runs
    /// `script`: lets a test look at a running container without racing it.
    pub fn gated(script: &str) -> Bundle {
        Bundle::sh(&format!(
            "while [ ! -e /tmp/.go ]; do usleep 20000; done; {script}"
        ))
    }

    /// Let a [`Bundle::gated`] process go on (works while the rootfs is the
    /// bundle's own directory, i.e. /tmp is not a mount).
    pub fn release(&self) {
        let p = self.rootfs().join("tmp/.go");
        std::fs::write(&p, "").unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn rootfs(&self) -> PathBuf {
        self.path().join("rootfs")
    }

    pub fn config_path(&self) -> PathBuf {
        self.path().join("config.json")
    }

    /// A fresh host directory inside the bundle dir (outside the rootfs),
    /// for bind sources and hook markers; removed with the bundle.
    pub fn host_dir(&self, name: &str) -> PathBuf {
        let p = self.path().join(name);
        std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
        p
    }

    /// The config as JSON, to edit in place; call [`Bundle::save`] after
    /// (the [`crate::Runtime`] commands save before they run).
    pub fn config(&mut self) -> &mut Value {
        self.config.get_or_insert_with(base_config)
    }

    /// Set the value at a JSON pointer (`/process/cwd`), creating objects
    /// on the way.
    pub fn set(&mut self, pointer: &str, value: Value) -> &mut Self {
        let slot = pointer_mut(self.config(), pointer);
        *slot = value;
        self
    }

    /// Remove the value at a JSON pointer (object key or array index).
    pub fn remove(&mut self, pointer: &str) -> &mut Self {
        let (parent, last) = pointer.rsplit_once('/').unwrap_or(("", pointer));
        match pointer_mut(self.config(), parent) {
            Value::Object(m) => {
                m.remove(last);
            }
            Value::Array(a) => {
                if let Ok(i) = last.parse::<usize>() {
                    if i < a.len() {
                        a.remove(i);
                    }
                }
            }
            _ => {}
        }
        self
    }

    /// Append to the array at a JSON pointer, creating it if missing.
    pub fn push(&mut self, pointer: &str, value: Value) -> &mut Self {
        let slot = pointer_mut(self.config(), pointer);
        if !slot.is_array() {
            *slot = json!([]);
        }
        if let Value::Array(a) = slot {
            a.push(value);
        }
        self
    }

    /// Add `{type, path?}` to linux.namespaces (replacing one of that type).
    pub fn namespace(&mut self, kind: &str, path: Option<&str>) -> &mut Self {
        self.remove_namespace(kind);
        let mut ns = json!({ "type": kind });
        if let Some(p) = path {
            ns["path"] = json!(p);
        }
        self.push("/linux/namespaces", ns)
    }

    pub fn remove_namespace(&mut self, kind: &str) -> &mut Self {
        if let Some(Value::Array(a)) = self.config().pointer_mut("/linux/namespaces") {
            a.retain(|n| n["type"] != kind);
        }
        self
    }

    /// Set the bounding, effective, permitted and inheritable sets (and
    /// clear ambient) to `caps`.
    pub fn caps(&mut self, caps: &[&str]) -> &mut Self {
        let c = json!(caps);
        self.set(
            "/process/capabilities",
            json!({ "bounding": c, "effective": c, "permitted": c, "inheritable": c }),
        )
    }

    pub fn mount(&mut self, mount: Value) -> &mut Self {
        self.push("/mounts", mount)
    }

    /// Replace config.json with arbitrary text; later saves leave it alone.
    pub fn write_raw_config(&mut self, text: &str) {
        self.config = None;
        let p = self.config_path();
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    }

    /// Write the edited config to config.json.
    pub fn save(&self) {
        if let Some(c) = &self.config {
            let p = self.config_path();
            let text = serde_json::to_string_pretty(c).unwrap_or_default();
            std::fs::write(&p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        }
    }
}

/// Walk (and create) a JSON pointer; array indices must already exist.
fn pointer_mut<'a>(mut v: &'a mut Value, pointer: &str) -> &'a mut Value {
    for token in pointer.split('/').skip(1) {
        if v.is_null() {
            *v = json!({});
        }
        v = match v {
            Value::Object(m) => m.entry(token.to_string()).or_insert(Value::Null),
            Value::Array(a) => {
                let i: usize = token
                    .parse()
                    .unwrap_or_else(|_| panic!("bad index {token:?}"));
                &mut a[i]
            }
            other => panic!("pointer {pointer:?} walks through a scalar {other}"),
        };
    }
    v
}

fn applets() -> &'static [String] {
    static LIST: OnceLock<Vec<String>> = OnceLock::new();
    LIST.get_or_init(|| {
        let out = std::process::Command::new(BUSYBOX)
            .arg("--list")
            .output()
            .unwrap_or_else(|e| panic!("run {BUSYBOX} --list (install busybox-static): {e}"));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty() && !l.contains('/'))
            .map(String::from)
            .collect()
    })
}

/// rootfs: /bin/busybox plus a symlink per applet, and the usual empty dirs.
fn make_rootfs(root: &Path) {
    let bin = root.join("bin");
    for d in [
        "bin", "proc", "sys", "dev", "tmp", "etc", "root", "mnt", "run", "var",
    ] {
        let p = root.join(d);
        std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
    }
    std::fs::copy(BUSYBOX, bin.join("busybox"))
        .unwrap_or_else(|e| panic!("copy {BUSYBOX} (install busybox-static): {e}"));
    for a in applets() {
        let _ = symlink("busybox", bin.join(a));
    }
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").ok();
    std::fs::write(root.join("etc/group"), "root:x:0:\n").ok();
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(root.join("tmp"), std::fs::Permissions::from_mode(0o1777));
}

/// `runc spec` (runc 1.1), with `terminal: false` and a writable root.
pub fn base_config() -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps, "ambient": caps
            },
            "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }],
            "noNewPrivileges": true
        },
        "root": { "path": "rootfs", "readonly": false },
        "hostname": "skiff-test",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
              "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs",
              "options": ["nosuid", "noexec", "nodev", "ro"] },
            { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
              "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }
        ],
        "linux": {
            "resources": { "devices": [{ "allow": false, "access": "rwm" }] },
            "namespaces": [
                { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
                { "type": "uts" }, { "type": "mount" }
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}
