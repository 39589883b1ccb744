//! `skiff features`: the runtime-spec "features" document
//! (runtime-spec features.md, and runc's `runc features` output shape), which
//! containerd and the shim read to learn what this runtime supports. It
//! lists only what skiff implements.

use serde_json::{json, Value};

/// The newest runtime-spec version skiff implements (process.scheduler and
/// process.ioPriority are 1.2 fields); written as `ociVersion` by `spec`.
pub const OCI_VERSION_MAX: &str = "1.2.1";
/// The oldest config.json version skiff accepts.
pub const OCI_VERSION_MIN: &str = "1.0.0";

/// Hook phases `hooks::run_hooks` is called with, in lifecycle order.
pub const HOOKS: &[&str] = &[
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// Mount options skiff's rootfs code understands: the mount(2) flags and
/// propagation keywords, as runc lists them (runc's own `tmpcopyup`
/// extension is not implemented and so not listed).
pub const MOUNT_OPTIONS: &[&str] = &[
    "acl",
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "iversion",
    "lazytime",
    "loud",
    "mand",
    "noacl",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "noiversion",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "nosymfollow",
    "private",
    "ratime",
    "rbind",
    "rdev",
    "rdiratime",
    "relatime",
    "remount",
    "rexec",
    "rnoatime",
    "rnodev",
    "rnodiratime",
    "rnoexec",
    "rnorelatime",
    "rnostrictatime",
    "rnosuid",
    "rnosymfollow",
    "ro",
    "rprivate",
    "rrelatime",
    "rro",
    "rrw",
    "rshared",
    "rslave",
    "rstrictatime",
    "rsuid",
    "rsymfollow",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "symfollow",
    "sync",
    "unbindable",
];

/// The features document. Seccomp lists what seccompiler can express:
/// no SCMP_ACT_NOTIFY (no user-notification support) and its three target
/// architectures.
pub fn features() -> Value {
    let mut caps: Vec<caps::Capability> = caps::all().into_iter().collect();
    caps.sort_by_key(|c| c.index());
    let caps: Vec<String> = caps.iter().map(|c| c.to_string()).collect();
    json!({
        "ociVersionMin": OCI_VERSION_MIN,
        "ociVersionMax": OCI_VERSION_MAX,
        "hooks": HOOKS,
        "mountOptions": MOUNT_OPTIONS,
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
            "capabilities": caps,
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false},
            "seccomp": {
                "enabled": true,
                "actions": [
                    "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",
                    "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
                    "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"
                ],
                "operators": [
                    "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE",
                    "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"
                ],
                "archs": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_RISCV64", "SCMP_ARCH_X86_64"]
            },
            // What skiff can apply (lsm.rs), as runc reports it, whatever
            // the host has.
            "apparmor": {"enabled": true},
            "selinux": {"enabled": true},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": false}}
        },
        "annotations": {
            "io.github.skiff.version": env!("CARGO_PKG_VERSION")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn parses_as_the_spec_features_type() {
        let f: oci_spec::runtime::Features = serde_json::from_value(features()).unwrap();
        assert_eq!(f.oci_version_max(), OCI_VERSION_MAX);
        let linux = f.linux().as_ref().unwrap();
        assert_eq!(linux.namespaces().as_ref().unwrap().len(), 7);
        let actions = linux
            .seccomp()
            .as_ref()
            .unwrap()
            .actions()
            .as_ref()
            .unwrap();
        assert!(!actions.contains(&oci_spec::runtime::LinuxSeccompAction::ScmpActNotify));
    }

    #[test]
    fn every_listed_capability_parses() {
        let v = features();
        let caps = v["linux"]["capabilities"].as_array().unwrap();
        assert!(caps.len() >= 41);
        for c in caps {
            crate::capabilities::parse_capability(c.as_str().unwrap()).unwrap();
        }
    }

    /// Same keys as `runc features` at every object level runc has, so
    /// consumers that read runc's document find each field where they expect.
    #[test]
    fn shape_matches_runc_features() {
        let out = match Command::new("runc").arg("features").output() {
            Ok(o) if o.status.success() => o,
            Ok(o) => panic!("runc features: {}", String::from_utf8_lossy(&o.stderr)),
            Err(_) => {
                eprintln!(
                    "SKIPPED: runc is not installed, cannot compare `skiff features` with it"
                );
                return;
            }
        };
        let runc: Value = serde_json::from_slice(&out.stdout).unwrap();
        let ours = features();
        for key in ["ociVersionMin", "hooks", "mountOptions", "annotations"] {
            assert!(ours.get(key).is_some(), "{key}");
        }
        for key in runc["linux"].as_object().unwrap().keys() {
            assert!(ours["linux"].get(key).is_some(), "linux.{key}");
        }
        for key in runc["linux"]["cgroup"].as_object().unwrap().keys() {
            assert!(
                ours["linux"]["cgroup"][key].is_boolean(),
                "linux.cgroup.{key}"
            );
        }
        assert_eq!(ours["hooks"], runc["hooks"]);
        assert_eq!(ours["linux"]["namespaces"], runc["linux"]["namespaces"]);
        // runc lists what libseccomp knows; ours must be a subset of it.
        let runc_ops = runc["linux"]["seccomp"]["operators"].as_array().unwrap();
        for op in ours["linux"]["seccomp"]["operators"].as_array().unwrap() {
            assert!(runc_ops.contains(op), "{op}");
        }
    }
}
