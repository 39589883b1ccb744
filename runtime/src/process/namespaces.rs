//! Namespaces (config-linux.md "Namespaces"): which to join by `path`, which
//! to create, and in which order. Joining comes first, while the host paths
//! still resolve; then the user namespace, so that every namespace created
//! after it is owned by it; pid and time apply to children only, which is why
//! the init is forked after the unshare when either is set.

use std::fs::File;
use std::os::fd::AsFd;

use anyhow::{Context, Result};
use nix::sched::{setns, unshare, CloneFlags};
use oci_spec::runtime::{Linux, LinuxIdMapping, LinuxNamespaceType};

/// The namespace work of one container, derived once from the spec.
pub struct NamespacePlan {
    /// Namespaces joined by path: type and opened file.
    pub join: Vec<(LinuxNamespaceType, File)>,
    /// New namespaces other than user, as clone flags.
    pub create: CloneFlags,
    pub new_user: bool,
    /// The init must be a child of the process that unshared: new or joined
    /// pid namespace, or a new time namespace.
    pub fork_init: bool,
}

pub fn clone_flag(typ: LinuxNamespaceType) -> CloneFlags {
    match typ {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

impl NamespacePlan {
    /// Opens every `path` now, in the runtime's own view, so a later setns
    /// into a mount namespace cannot change what the next path means.
    pub fn from_spec(linux: &Linux) -> Result<Self> {
        let mut plan = NamespacePlan {
            join: Vec::new(),
            create: CloneFlags::empty(),
            new_user: false,
            fork_init: false,
        };
        for (i, ns) in linux.namespaces().iter().flatten().enumerate() {
            let typ = ns.typ();
            match ns.path() {
                Some(path) => {
                    let file = File::open(path).with_context(|| {
                        format!(
                            "open linux.namespaces[{i}].path {:?}",
                            path.display().to_string()
                        )
                    })?;
                    plan.join.push((typ, file));
                    if typ == LinuxNamespaceType::Pid {
                        plan.fork_init = true;
                    }
                }
                None if typ == LinuxNamespaceType::User => plan.new_user = true,
                None => {
                    plan.create |= clone_flag(typ);
                    if matches!(typ, LinuxNamespaceType::Pid | LinuxNamespaceType::Time) {
                        plan.fork_init = true;
                    }
                }
            }
        }
        Ok(plan)
    }

    /// setns into every namespace given by path. A namespace owned by a
    /// joined user namespace needs that user namespace's capabilities, so
    /// what fails with EPERM is retried after the user namespace is joined.
    pub fn join_namespaces(&self) -> Result<()> {
        let mut retry = Vec::new();
        let mut user = None;
        for (typ, file) in &self.join {
            if *typ == LinuxNamespaceType::User {
                user = Some(file);
                continue;
            }
            match setns(file.as_fd(), clone_flag(*typ)) {
                Ok(()) => {}
                Err(nix::errno::Errno::EPERM) if self.has_join(LinuxNamespaceType::User) => {
                    retry.push((typ, file))
                }
                Err(e) => return Err(e).with_context(|| format!("join {} namespace", typ)),
            }
        }
        if let Some(file) = user {
            setns(file.as_fd(), CloneFlags::CLONE_NEWUSER).context("join user namespace")?;
        }
        for (typ, file) in retry {
            setns(file.as_fd(), clone_flag(*typ))
                .with_context(|| format!("join {} namespace", typ))?;
        }
        Ok(())
    }

    fn has_join(&self, typ: LinuxNamespaceType) -> bool {
        self.join.iter().any(|(t, _)| *t == typ)
    }

    /// Creates the new user namespace (step one of two: the parent writes the
    /// id maps before the caller goes on).
    pub fn unshare_user(&self) -> Result<()> {
        unshare(CloneFlags::CLONE_NEWUSER).context("create user namespace")
    }

    /// Creates every other new namespace at once.
    pub fn unshare_rest(&self) -> Result<()> {
        if self.create.is_empty() {
            return Ok(());
        }
        unshare(self.create)
            .with_context(|| format!("create namespaces ({})", describe_flags(self.create)))
    }
}

fn describe_flags(flags: CloneFlags) -> String {
    let all = [
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Cgroup,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Network,
        LinuxNamespaceType::Time,
    ];
    all.iter()
        .filter(|t| flags.contains(clone_flag(**t)))
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes `/proc/self/timens_offsets`; must happen after unshare(CLONE_NEWTIME)
/// and before any process enters the namespace (time_namespaces(7)).
pub fn write_time_offsets(linux: &Linux) -> Result<()> {
    let Some(offsets) = linux.time_offsets() else {
        return Ok(());
    };
    let mut text = String::new();
    for (clock, offset) in offsets {
        text.push_str(&format!(
            "{clock} {} {}\n",
            offset.secs().unwrap_or(0),
            offset.nanosecs().unwrap_or(0)
        ));
    }
    // After a join of another mount namespace, /proc is whatever that
    // namespace mounted there (the CVE-2025-52881 class).
    crate::proc_attrs::write_proc_self("timens_offsets", text.as_bytes())
        .context("write linux.timeOffsets")
}

/// The parent writes a child's uid_map and gid_map (user_namespaces(7)).
/// Root writes them directly. An unprivileged runtime (rootless) may write
/// only a map of its own id, and for gid_map only after denying setgroups;
/// anything wider goes through the setuid helpers newuidmap/newgidmap
/// (Debian's uidmap package), which check the ranges in /etc/subuid and
/// /etc/subgid, as runc does.
pub fn write_id_maps(pid: i32, linux: &Linux) -> Result<()> {
    let uids = linux.uid_mappings().as_deref().unwrap_or(&[]);
    let gids = linux.gid_mappings().as_deref().unwrap_or(&[]);
    let euid = nix::unistd::geteuid();
    if euid.is_root() {
        write_map(pid, "uid_map", uids)?;
        return write_map(pid, "gid_map", gids);
    }
    let only_self = |maps: &[LinuxIdMapping], id: u32| {
        maps.len() == 1 && maps[0].host_id() == id && maps[0].size() == 1
    };
    if only_self(uids, euid.as_raw()) {
        write_map(pid, "uid_map", uids)?;
    } else {
        run_map_helper("newuidmap", pid, uids)?;
    }
    if only_self(gids, nix::unistd::getegid().as_raw()) {
        let path = format!("/proc/{pid}/setgroups");
        std::fs::write(&path, "deny").with_context(|| format!("write \"deny\" to {path}"))?;
        write_map(pid, "gid_map", gids)
    } else {
        run_map_helper("newgidmap", pid, gids)
    }
}

fn run_map_helper(helper: &str, pid: i32, mappings: &[LinuxIdMapping]) -> Result<()> {
    let mut cmd = std::process::Command::new(helper);
    cmd.arg(pid.to_string());
    for m in mappings {
        cmd.args([
            m.container_id().to_string(),
            m.host_id().to_string(),
            m.size().to_string(),
        ]);
    }
    let out = cmd.output().with_context(|| {
        format!("run {helper} for a rootless user namespace (install the uidmap package)")
    })?;
    if !out.status.success() {
        anyhow::bail!(
            "{helper} {pid}: {} (are the ranges in /etc/subuid and /etc/subgid?)",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn write_map(pid: i32, file: &str, mappings: &[LinuxIdMapping]) -> Result<()> {
    let text: String = mappings
        .iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect();
    let path = format!("/proc/{pid}/{file}");
    std::fs::write(&path, &text).with_context(|| format!("write {:?} to {path}", text.trim_end()))
}
