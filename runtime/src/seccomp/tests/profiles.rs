//! Docker/podman default profiles (the moby "archMap/includes/excludes"
//! format) converted to the OCI `linux.seccomp` object for an amd64 host, as
//! moby's `profiles/seccomp` and containers/common's `pkg/seccomp` do: keep
//! the native arch and its sub-architectures, keep an entry when its
//! `includes` (arches, caps) are met and its `excludes` are not. `minKernel`
//! is ignored: the oldest one in either profile is 4.8 and tests need 5.x.

use oci_spec::runtime::LinuxSeccomp;
use serde_json::{json, Value};

use crate::seccomp::parse_profile;

pub(super) const PODMAN_PROFILE: &str = include_str!("../testdata/podman-default.json");
pub(super) const DOCKER_PROFILE: &str = include_str!("../testdata/docker-default.json");

/// containers.conf `default_capabilities`.
pub(super) const PODMAN_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];
/// moby's default capability set.
pub(super) const DOCKER_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

pub(super) fn to_oci(profile: &str, caps: &[&str]) -> LinuxSeccomp {
    let v: Value = serde_json::from_str(profile).expect("test profile is JSON");
    let mut arches = Vec::new();
    for m in v["archMap"].as_array().into_iter().flatten() {
        if m["architecture"] == "SCMP_ARCH_X86_64" {
            arches.push(m["architecture"].clone());
            arches.extend(
                m["subArchitectures"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
        }
    }
    let mut syscalls = Vec::new();
    for s in v["syscalls"].as_array().into_iter().flatten() {
        let (inc, exc) = (&s["includes"], &s["excludes"]);
        if strings(&exc["arches"]).contains(&"amd64")
            || strings(&exc["caps"]).iter().any(|c| caps.contains(c))
        {
            continue;
        }
        let inc_arches = strings(&inc["arches"]);
        if !inc_arches.is_empty() && !inc_arches.contains(&"amd64") {
            continue;
        }
        if !strings(&inc["caps"]).iter().all(|c| caps.contains(c)) {
            continue;
        }
        let mut entry = json!({"names": s["names"], "action": s["action"]});
        if !s["errnoRet"].is_null() {
            entry["errnoRet"] = s["errnoRet"].clone();
        }
        if s["args"].as_array().is_some_and(|a| !a.is_empty()) {
            entry["args"] = s["args"].clone();
        }
        syscalls.push(entry);
    }
    let mut oci =
        json!({"defaultAction": v["defaultAction"], "architectures": arches, "syscalls": syscalls});
    if !v["defaultErrnoRet"].is_null() {
        oci["defaultErrnoRet"] = v["defaultErrnoRet"].clone();
    }
    match parse_profile(&oci.to_string()) {
        Ok(profile) => profile,
        Err(err) => panic!("converted profile does not parse: {err:#}"),
    }
}
