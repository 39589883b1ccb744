//! Checks that need more than deserialisation: the cross-field rules of
//! config.md and config-linux.md, and runc's extra rules where containerd and
//! podman rely on them. Runs before anything is created, so a refused bundle
//! leaves nothing behind.

use std::collections::HashSet;
use std::path::Path;

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use super::SpecError;

/// Validates everything `create` needs. `rootfs` is the resolved root path.
pub fn validate_spec(spec: &Spec, rootfs: &Path) -> Result<(), SpecError> {
    validate_version(spec)?;
    validate_root(rootfs)?;
    validate_process(spec)?;
    validate_hooks(spec)?;
    validate_mounts(spec)?;
    validate_linux(spec)?;
    super::host::validate_host_support(spec, super::host::HostSupport::detect)?;
    Ok(())
}

fn validate_version(spec: &Spec) -> Result<(), SpecError> {
    let version = spec.version();
    if version.is_empty() {
        return Err(SpecError::invalid("ociVersion", "missing"));
    }
    if !version.starts_with("1.") {
        return Err(SpecError::invalid(
            "ociVersion",
            format!("{version:?} is not a 1.x version this runtime supports"),
        ));
    }
    Ok(())
}

fn validate_root(rootfs: &Path) -> Result<(), SpecError> {
    if !rootfs.is_dir() {
        return Err(SpecError::invalid(
            "root.path",
            format!("{:?} is not a directory", rootfs.display().to_string()),
        ));
    }
    Ok(())
}

fn validate_process(spec: &Spec) -> Result<(), SpecError> {
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| SpecError::invalid("process", "missing (required to create a container)"))?;
    match process.args() {
        Some(args) if !args.is_empty() && !args[0].is_empty() => {}
        _ => return Err(SpecError::invalid("process.args", "must not be empty")),
    }
    if !process.cwd().is_absolute() {
        return Err(SpecError::invalid(
            "process.cwd",
            format!(
                "{:?} is not an absolute path",
                process.cwd().display().to_string()
            ),
        ));
    }
    for (i, entry) in process.env().iter().flatten().enumerate() {
        if !entry.contains('=') {
            return Err(SpecError::invalid(
                format!("process.env[{i}]"),
                format!("{entry:?} is not of the form KEY=VALUE"),
            ));
        }
    }
    let mut seen = Vec::new();
    for (i, rlimit) in process.rlimits().iter().flatten().enumerate() {
        if seen.contains(&rlimit.typ()) {
            return Err(SpecError::invalid(
                format!("process.rlimits[{i}].type"),
                format!("{:?} is given twice", rlimit.typ()),
            ));
        }
        seen.push(rlimit.typ());
        if rlimit.soft() > rlimit.hard() {
            return Err(SpecError::invalid(
                format!("process.rlimits[{i}]"),
                format!(
                    "soft limit {} exceeds hard limit {}",
                    rlimit.soft(),
                    rlimit.hard()
                ),
            ));
        }
    }
    if let Some(adj) = process.oom_score_adj() {
        if !(-1000..=1000).contains(&adj) {
            return Err(SpecError::invalid(
                "process.oomScoreAdj",
                format!("{adj} is outside -1000..1000"),
            ));
        }
    }
    if let Some(size) = process.console_size() {
        if process.terminal() != Some(true) {
            let _ = size;
            return Err(SpecError::invalid(
                "process.consoleSize",
                "set without process.terminal",
            ));
        }
    }
    Ok(())
}

fn validate_hooks(spec: &Spec) -> Result<(), SpecError> {
    let Some(hooks) = spec.hooks() else {
        return Ok(());
    };
    #[allow(deprecated)]
    let phases = [
        ("prestart", hooks.prestart()),
        ("createRuntime", hooks.create_runtime()),
        ("createContainer", hooks.create_container()),
        ("startContainer", hooks.start_container()),
        ("poststart", hooks.poststart()),
        ("poststop", hooks.poststop()),
    ];
    for (phase, list) in phases {
        for (i, hook) in list.iter().flatten().enumerate() {
            if !hook.path().is_absolute() {
                return Err(SpecError::invalid(
                    format!("hooks.{phase}[{i}].path"),
                    format!(
                        "{:?} is not an absolute path",
                        hook.path().display().to_string()
                    ),
                ));
            }
            if hook.timeout() == Some(0) || hook.timeout().is_some_and(|t| t < 0) {
                return Err(SpecError::invalid(
                    format!("hooks.{phase}[{i}].timeout"),
                    "must be a positive number of seconds",
                ));
            }
        }
    }
    Ok(())
}

fn validate_mounts(spec: &Spec) -> Result<(), SpecError> {
    for (i, mount) in spec.mounts().iter().flatten().enumerate() {
        let dest = mount.destination();
        if dest.as_os_str().is_empty() {
            return Err(SpecError::invalid(
                format!("mounts[{i}].destination"),
                "is empty",
            ));
        }
        if !dest.is_absolute() {
            return Err(SpecError::invalid(
                format!("mounts[{i}].destination"),
                format!("{:?} is not an absolute path", dest.display().to_string()),
            ));
        }
        if mount.typ().as_deref() == Some("bind")
            || mount
                .options()
                .iter()
                .flatten()
                .any(|o| o == "bind" || o == "rbind")
        {
            match mount.source() {
                Some(src) if !src.as_os_str().is_empty() => {}
                _ => {
                    return Err(SpecError::invalid(
                        format!("mounts[{i}].source"),
                        "a bind mount needs a source",
                    ))
                }
            }
        }
    }
    Ok(())
}

fn validate_linux(spec: &Spec) -> Result<(), SpecError> {
    let linux = spec
        .linux()
        .as_ref()
        .ok_or_else(|| SpecError::invalid("linux", "missing (required for Linux containers)"))?;
    let namespaces = linux.namespaces().clone().unwrap_or_default();
    let mut seen = HashSet::new();
    for (i, ns) in namespaces.iter().enumerate() {
        if !seen.insert(ns.typ()) {
            return Err(SpecError::invalid(
                format!("linux.namespaces[{i}].type"),
                format!("namespace {:?} is given twice", ns.typ().to_string()),
            ));
        }
        if let Some(path) = ns.path() {
            if !path.is_absolute() {
                return Err(SpecError::invalid(
                    format!("linux.namespaces[{i}].path"),
                    format!("{:?} is not an absolute path", path.display().to_string()),
                ));
            }
        }
    }
    let has = |typ: LinuxNamespaceType| namespaces.iter().any(|ns| ns.typ() == typ);
    let has_new = |typ: LinuxNamespaceType| {
        namespaces
            .iter()
            .any(|ns| ns.typ() == typ && ns.path().is_none())
    };
    if !has(LinuxNamespaceType::Mount) {
        return Err(SpecError::invalid(
            "linux.namespaces",
            "a mount namespace is required to set up the root filesystem",
        ));
    }
    let mappings = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
        || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
    if mappings && !has(LinuxNamespaceType::User) {
        return Err(SpecError::invalid(
            "linux.uidMappings",
            "set without a user namespace in linux.namespaces",
        ));
    }
    if has_new(LinuxNamespaceType::User) {
        if linux.uid_mappings().as_ref().is_none_or(|m| m.is_empty()) {
            return Err(SpecError::invalid(
                "linux.uidMappings",
                "a new user namespace needs uidMappings",
            ));
        }
        if linux.gid_mappings().as_ref().is_none_or(|m| m.is_empty()) {
            return Err(SpecError::invalid(
                "linux.gidMappings",
                "a new user namespace needs gidMappings",
            ));
        }
    }
    if spec.hostname().as_ref().is_some_and(|h| !h.is_empty()) && !has(LinuxNamespaceType::Uts) {
        return Err(SpecError::invalid(
            "hostname",
            "set without a UTS namespace in linux.namespaces",
        ));
    }
    if spec.domainname().as_ref().is_some_and(|h| !h.is_empty()) && !has(LinuxNamespaceType::Uts) {
        return Err(SpecError::invalid(
            "domainname",
            "set without a UTS namespace in linux.namespaces",
        ));
    }
    if linux.time_offsets().as_ref().is_some_and(|t| !t.is_empty())
        && !has_new(LinuxNamespaceType::Time)
    {
        return Err(SpecError::invalid(
            "linux.timeOffsets",
            "set without a new time namespace in linux.namespaces",
        ));
    }
    for (key, _) in linux.sysctl().iter().flatten() {
        validate_sysctl(key, &has)?;
    }
    for (i, dev) in linux.devices().iter().flatten().enumerate() {
        if !dev.path().is_absolute() {
            return Err(SpecError::invalid(
                format!("linux.devices[{i}].path"),
                format!(
                    "{:?} is not an absolute path",
                    dev.path().display().to_string()
                ),
            ));
        }
    }
    for (field, list) in [
        ("linux.maskedPaths", linux.masked_paths()),
        ("linux.readonlyPaths", linux.readonly_paths()),
    ] {
        for (i, p) in list.iter().flatten().enumerate() {
            if !p.starts_with('/') {
                return Err(SpecError::invalid(
                    format!("{field}[{i}]"),
                    format!("{p:?} is not an absolute path"),
                ));
            }
        }
    }
    Ok(())
}

/// runc's rule: a sysctl may be set only when the namespace that scopes it is
/// the container's own; otherwise the write would change the host.
fn validate_sysctl(key: &str, has: &dyn Fn(LinuxNamespaceType) -> bool) -> Result<(), SpecError> {
    let field = format!("linux.sysctl.{key:?}");
    if key.contains("..") || key.contains('/') && key.split('/').any(|c| c == "..") {
        return Err(SpecError::invalid(field, "the key must not contain \"..\""));
    }
    let ipc = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let needs = if ipc.contains(&key) || key.starts_with("fs.mqueue.") {
        LinuxNamespaceType::Ipc
    } else if key.starts_with("net.") {
        LinuxNamespaceType::Network
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        LinuxNamespaceType::Uts
    } else {
        return Err(SpecError::invalid(
            field,
            "is not namespaced: setting it would change the host",
        ));
    };
    if !has(needs) {
        return Err(SpecError::invalid(
            field,
            format!("needs a {} namespace in linux.namespaces", needs),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_from(json: &str) -> Spec {
        serde_json::from_str(json).expect("test JSON parses")
    }

    const BASE: &str = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
        "process":{"user":{"uid":0,"gid":0},"args":["sh"],"cwd":"/"},
        "linux":{"namespaces":[{"type":"mount"},{"type":"pid"}]}}"#;

    fn check(json: &str) -> Result<(), SpecError> {
        let dir = std::env::temp_dir();
        validate_spec(&spec_from(json), &dir)
    }

    #[test]
    fn accepts_a_minimal_bundle() {
        check(BASE).expect("minimal spec is valid");
    }

    #[test]
    fn names_the_field_of_each_problem() {
        let cases = [
            (BASE.replace("1.0.2", "2.0.0"), "ociVersion"),
            (BASE.replace(r#"["sh"]"#, "[]"), "process.args"),
            (
                BASE.replace(r#""cwd":"/""#, r#""cwd":"tmp""#),
                "process.cwd",
            ),
            (BASE.replace(r#"{"type":"mount"},"#, ""), "linux.namespaces"),
            (
                BASE.replace(r#"{"type":"pid"}"#, r#"{"type":"pid"},{"type":"pid"}"#),
                "linux.namespaces[2].type",
            ),
            (
                BASE.replace(
                    r#""namespaces""#,
                    r#""uidMappings":[{"containerID":0,"hostID":1000,"size":1}],"namespaces""#,
                ),
                "linux.uidMappings",
            ),
            (
                BASE.replace(r#""root""#, r#""hostname":"x","root""#),
                "hostname",
            ),
            (
                BASE.replace(
                    r#""namespaces""#,
                    r#""sysctl":{"net.ipv4.ip_forward":"1"},"namespaces""#,
                ),
                "linux.sysctl",
            ),
            (
                BASE.replace(
                    r#""namespaces""#,
                    r#""sysctl":{"vm.swappiness":"1"},"namespaces""#,
                ),
                "linux.sysctl",
            ),
            (
                BASE.replace(
                    r#""root""#,
                    r#""mounts":[{"destination":"proc","type":"proc"}],"root""#,
                ),
                "mounts[0].destination",
            ),
            (
                BASE.replace(
                    r#""root""#,
                    r#""hooks":{"prestart":[{"path":"hook"}]},"root""#,
                ),
                "hooks.prestart[0].path",
            ),
        ];
        for (json, field) in cases {
            let err = check(&json).expect_err(field).to_string();
            assert!(err.contains(field), "error {err:?} should name {field}");
        }
    }

    #[test]
    fn parse_errors_carry_the_json_path() {
        let dir = tempdir();
        std::fs::write(
            dir.join("config.json"),
            BASE.replace(r#"{"type":"pid"}"#, r#"{"type":"bogus"}"#),
        )
        .expect("write config");
        let err = super::super::load_spec(&dir)
            .expect_err("bogus namespace")
            .to_string();
        assert!(err.contains("linux.namespaces[1].type"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }

    fn tempdir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "skiff-spec-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).expect("mkdir temp");
        dir
    }
}
