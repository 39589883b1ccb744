//! `skiff spec [--rootless]`: the starter config.json, field for field what
//! `runc spec [--rootless]` writes (runc's libcontainer/specconv Example and
//! ToRootless), except `ociVersion`, which is the spec version skiff
//! implements (`features::OCI_VERSION_MAX`) rather than runc's.

use anyhow::Context;
use oci_spec::runtime::Spec;
use serde_json::{json, Value};

use crate::features::OCI_VERSION_MAX;

/// The default spec; `rootless` adapts it as runc's ToRootless does for an
/// unprivileged caller: a user namespace mapping container root to the
/// caller's euid/egid, no network namespace and no resources (an
/// unprivileged user owns neither), /sys bind-mounted (sysfs cannot be
/// mounted without owning a network namespace), and no `gid=5` on devpts
/// (gid 5 is not mapped).
pub fn default_spec(rootless: bool) -> anyhow::Result<Spec> {
    let mut v = example();
    if rootless {
        to_rootless(&mut v);
    }
    serde_json::from_value(v).context("build default spec")
}

fn example() -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": OCI_VERSION_MAX,
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": caps,
                "effective": caps,
                "permitted": caps,
                "ambient": caps
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                {"type": "uts"}, {"type": "mount"}
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

fn to_rootless(v: &mut Value) {
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    let linux = &mut v["linux"];
    if let Some(obj) = linux.as_object_mut() {
        obj.remove("resources");
    }
    linux["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}]);
    linux["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}]);
    if let Some(ns) = linux["namespaces"].as_array_mut() {
        ns.retain(|n| n["type"] != "network");
        ns.push(json!({"type": "user"}));
    }
    for m in v["mounts"].as_array_mut().into_iter().flatten() {
        if m["destination"] == "/sys" {
            *m = json!({"destination": "/sys", "type": "none", "source": "/sys",
                        "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
        } else if let Some(opts) = m["options"].as_array_mut() {
            opts.retain(|o| !o.as_str().is_some_and(|s| s.starts_with("gid=")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// `runc spec` output in a fresh dir, or None (with a visible message)
    /// when runc is not installed.
    fn runc_spec(rootless: bool) -> Option<Value> {
        let dir =
            std::env::temp_dir().join(format!("skiff-spec-{rootless}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut cmd = Command::new("runc");
        cmd.arg("spec").current_dir(&dir);
        if rootless {
            cmd.arg("--rootless");
        }
        let out = match cmd.output() {
            Ok(o) => o,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                eprintln!("SKIPPED: runc is not installed, cannot compare `skiff spec` with it");
                let _ = std::fs::remove_dir_all(&dir);
                return None;
            }
            Err(e) => panic!("run runc spec: {e}"),
        };
        let text = std::fs::read_to_string(dir.join("config.json"));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            out.status.success(),
            "runc spec: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(serde_json::from_str(&text.unwrap()).unwrap())
    }

    fn compare(rootless: bool) {
        let Some(mut runc) = runc_spec(rootless) else {
            return;
        };
        let mut ours = serde_json::to_value(default_spec(rootless).unwrap()).unwrap();
        // Capability sets are sets (oci-spec holds them in a HashSet), so
        // their order is not part of the comparison.
        for v in [&mut runc, &mut ours] {
            for caps in v["process"]["capabilities"]
                .as_object_mut()
                .unwrap()
                .values_mut()
            {
                caps.as_array_mut()
                    .unwrap()
                    .sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            }
        }
        // The one deliberate difference: the spec version each runtime implements.
        assert_eq!(ours["ociVersion"], OCI_VERSION_MAX);
        runc["ociVersion"] = Value::Null;
        ours["ociVersion"] = Value::Null;
        assert_eq!(
            ours,
            runc,
            "skiff:\n{}\nrunc:\n{}",
            serde_json::to_string_pretty(&ours).unwrap(),
            serde_json::to_string_pretty(&runc).unwrap()
        );
    }

    #[test]
    fn equals_runc_spec() {
        compare(false);
    }

    #[test]
    fn equals_runc_spec_rootless() {
        compare(true);
    }

    #[test]
    fn rootless_maps_the_caller() {
        let spec = default_spec(true).unwrap();
        let linux = spec.linux().as_ref().unwrap();
        let uid = linux.uid_mappings().as_ref().unwrap();
        assert_eq!(uid[0].host_id(), nix::unistd::geteuid().as_raw());
        assert_eq!(uid[0].size(), 1);
        assert!(linux.resources().is_none());
    }
}
