//! config.json from the image config (OCI image spec, config.md "Properties" and
//! conversion.md) plus the runtime defaults containerd and docker give every container
//! (OCI runtime spec, config.md and config-linux.md): namespaces, standard mounts,
//! capabilities, masked and read-only paths, a device cgroup and seccomp.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use super::options::{parse_volume, read_env_file, BundleOptions};
use super::user::User;
use super::{init, seccomp};
use crate::unpack::image::ContainerConfig;

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const STOP_SIGNAL: &str = "org.opencontainers.image.stopSignal";

/// Docker's default capability set.
const DEFAULT_CAPS: &[&str] = &[
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

const ALL_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// What the spec is built from besides the options.
pub(crate) struct SpecInput<'a> {
    pub image: &'a ContainerConfig,
    pub user: &'a User,
    pub hostname: &'a str,
    pub bundle: &'a Path,
    /// Anonymous volumes of the image: (container path, bundle-local source).
    pub anon_volumes: &'a [(String, PathBuf)],
}

pub(crate) fn process_args(image: &ContainerConfig, opts: &BundleOptions) -> Result<Vec<String>> {
    let entrypoint = match &opts.entrypoint {
        Some(e) => e.clone(),
        None => image.entrypoint.clone().unwrap_or_default(),
    };
    // docker: a new entrypoint drops the image's Cmd.
    let cmd = if !opts.args.is_empty() {
        opts.args.clone()
    } else if opts.entrypoint.is_some() {
        Vec::new()
    } else {
        image.cmd.clone().unwrap_or_default()
    };
    let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if args.is_empty() {
        bail!("build process args: the image has no Entrypoint or Cmd and none was given");
    }
    Ok(args)
}

fn set_env(env: &mut Vec<String>, kv: String) {
    let key = kv.split('=').next().unwrap_or("").to_string();
    env.retain(|e| e.split('=').next() != Some(key.as_str()));
    env.push(kv);
}

pub(crate) fn process_env(
    image: &ContainerConfig,
    opts: &BundleOptions,
    user: &User,
    hostname: &str,
) -> Result<Vec<String>> {
    let mut env: Vec<String> = Vec::new();
    set_env(&mut env, DEFAULT_PATH.to_string());
    set_env(&mut env, format!("HOSTNAME={hostname}"));
    for e in image.env.iter().flatten() {
        set_env(&mut env, e.clone());
    }
    let mut given = Vec::new();
    for f in &opts.env_file {
        given.extend(read_env_file(f)?);
    }
    given.extend(opts.env.iter().cloned());
    for e in given {
        if e.is_empty() || e.starts_with('=') {
            bail!("parse env {e:?}: expected KEY=VALUE or KEY");
        }
        if e.contains('=') {
            set_env(&mut env, e);
        } else if let Ok(v) = std::env::var(&e) {
            set_env(&mut env, format!("{e}={v}"));
        }
    }
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", user.home));
    }
    Ok(env)
}

fn cap_name(c: &str) -> Result<String> {
    let up = c.trim().to_ascii_uppercase();
    let name = if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    };
    if name != "CAP_ALL" && !ALL_CAPS.contains(&name.as_str()) {
        bail!("parse capability {c:?}: unknown");
    }
    Ok(name)
}

pub(crate) fn capabilities(opts: &BundleOptions) -> Result<Vec<String>> {
    let add = opts
        .cap_add
        .iter()
        .map(|c| cap_name(c))
        .collect::<Result<Vec<_>>>()?;
    let drop = opts
        .cap_drop
        .iter()
        .map(|c| cap_name(c))
        .collect::<Result<Vec<_>>>()?;
    let mut caps: Vec<String> = if drop.iter().any(|c| c == "CAP_ALL") {
        Vec::new()
    } else {
        DEFAULT_CAPS
            .iter()
            .map(|c| c.to_string())
            .filter(|c| !drop.contains(c))
            .collect()
    };
    for c in add {
        if c == "CAP_ALL" {
            caps = ALL_CAPS.iter().map(|c| c.to_string()).collect();
        } else if !caps.contains(&c) {
            caps.push(c);
        }
    }
    Ok(caps)
}

fn standard_mounts() -> Vec<Value> {
    vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}),
    ]
}

/// Volumes, anonymous volumes and tmpfs mounts, parents before children.
fn user_mounts(input: &SpecInput, opts: &BundleOptions) -> Result<Vec<Value>> {
    let mut mounts: Vec<(String, Value)> = Vec::new();
    for v in &opts.volumes {
        let v = parse_volume(v)?;
        let mut options = vec!["rbind", "rprivate"];
        if v.read_only {
            options.push("ro");
        }
        mounts.push((
            v.dest.clone(),
            json!({"destination": v.dest, "type": "bind", "source": v.source, "options": options}),
        ));
    }
    for (dest, src) in input.anon_volumes {
        if !mounts.iter().any(|(d, _)| d == dest) {
            mounts.push((dest.clone(), json!({"destination": dest, "type": "bind", "source": src, "options": ["rbind", "rprivate"]})));
        }
    }
    for t in &opts.tmpfs {
        let (dest, extra) = t.split_once(':').unwrap_or((t.as_str(), ""));
        if !dest.starts_with('/') {
            bail!("parse tmpfs {t:?}: the destination must be an absolute path");
        }
        let mut options = vec!["nosuid", "nodev", "noexec"];
        options.extend(extra.split(',').filter(|o| !o.is_empty()));
        // docker's default; without it runc copies the mode of the directory below.
        if !options.iter().any(|o| o.starts_with("mode=")) {
            options.push("mode=1777");
        }
        mounts.push((
            dest.to_string(),
            json!({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": options}),
        ));
    }
    mounts.sort_by_key(|(d, _)| Path::new(d).components().count());
    Ok(mounts.into_iter().map(|(_, m)| m).collect())
}

fn namespaces(opts: &BundleOptions) -> Result<Vec<Value>> {
    let mut ns = vec![
        json!({"type": "pid"}),
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
        json!({"type": "cgroup"}),
    ];
    match opts.net.as_deref() {
        None | Some("none") => ns.push(json!({"type": "network"})),
        Some("host") => {}
        Some(p) if p.starts_with('/') => ns.push(json!({"type": "network", "path": p})),
        Some(other) => bail!("parse --net {other:?}: expected none, host or a namespace path"),
    }
    Ok(ns)
}

fn resources(opts: &BundleOptions) -> Result<Value> {
    let mut r = json!({"devices": [{"allow": false, "access": "rwm"}]});
    if let Some(m) = opts.memory {
        r["memory"] = json!({"limit": m});
    }
    if let Some(c) = opts.cpus {
        if c.is_nan() || c <= 0.0 {
            bail!("parse --cpus {c}: must be positive");
        }
        r["cpu"] = json!({"quota": (c * 100_000.0) as i64, "period": 100_000});
    }
    if let Some(p) = opts.pids_limit {
        r["pids"] = json!({"limit": p});
    }
    Ok(r)
}

pub(crate) fn build_spec(input: &SpecInput, opts: &BundleOptions) -> Result<Value> {
    let image = input.image;
    let cwd = opts
        .workdir
        .clone()
        .or_else(|| image.working_dir.clone())
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| "/".into());
    if !cwd.starts_with('/') {
        bail!("build config.json: working directory {cwd:?} is not absolute");
    }
    let caps = capabilities(opts)?;
    let mut mounts = standard_mounts();
    mounts.extend(init::init_mounts(input.bundle, opts.read_only));
    mounts.extend(user_mounts(input, opts)?);
    let mut annotations = BTreeMap::new();
    if let Some(sig) = image.stop_signal.as_ref().filter(|s| !s.is_empty()) {
        annotations.insert(STOP_SIGNAL.to_string(), sig.clone());
    }
    let user = input.user;
    Ok(json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": user.uid, "gid": user.gid, "additionalGids": user.additional_gids},
            "args": process_args(image, opts)?,
            "env": process_env(image, opts, user, input.hostname)?,
            "cwd": cwd,
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "noNewPrivileges": false,
        },
        "root": {"path": "rootfs", "readonly": opts.read_only},
        "hostname": input.hostname,
        "mounts": mounts,
        "annotations": annotations,
        "linux": {
            "namespaces": namespaces(opts)?,
            "resources": resources(opts)?,
            "maskedPaths": MASKED_PATHS,
            "readonlyPaths": READONLY_PATHS,
            "seccomp": seccomp::default_profile(&caps),
        },
    }))
}

/// Writes `config.json` atomically (temp + rename).
pub(crate) fn write_spec(bundle: &Path, spec: &Value) -> Result<()> {
    let tmp = bundle.join(".config.json.tmp");
    let path = bundle.join("config.json");
    let bytes = serde_json::to_vec_pretty(spec).context("serialize config.json")?;
    std::fs::write(&tmp, bytes).with_context(|| format!("write {tmp:?}"))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("rename {tmp:?} to {path:?}"))
}
