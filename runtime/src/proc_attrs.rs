//! Small per-process attributes, each one call in the container's init:
//! config.md "Hostname", "Domainname", "Process" (oomScoreAdj, ioPriority,
//! scheduler, noNewPrivileges) and config-linux.md "Sysctl", "Personality".
//!
//! Writes into procfs start from an fd of /proc verified to be the root of
//! a procfs instance (fstatfs == PROC_SUPER_MAGIC and inode PROC_ROOT_INO)
//! and go through openat2 with RESOLVE_BENEATH | RESOLVE_NO_XDEV (and
//! RESOLVE_NO_SYMLINKS where the path has no /proc/self), so symlinks or
//! bind mounts over /proc files in the container (the CVE-2025-52881 class)
//! cannot redirect the write to another file: crossing any mount fails.

use std::collections::HashMap;
use std::os::fd::OwnedFd;

use anyhow::{bail, Context};
use nix::fcntl::{open, openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;
use nix::sys::statfs::{fstatfs, PROC_SUPER_MAGIC};
use oci_spec::runtime::{
    IOPriorityClass, LinuxIOPriority, LinuxPersonality, LinuxPersonalityDomain, LinuxSchedulerFlag,
    LinuxSchedulerPolicy, Scheduler,
};

use crate::sys::process::{ioprio_set, personality, sched_setattr, setdomainname, SchedAttr};

pub fn set_hostname(name: &str) -> anyhow::Result<()> {
    nix::unistd::sethostname(name).with_context(|| format!("set hostname {name:?}"))
}

pub fn set_domainname(name: &str) -> anyhow::Result<()> {
    setdomainname(name).with_context(|| format!("set domainname {name:?}"))
}

/// Writes each sysctl to /proc/sys. Call inside the container after
/// pivot_root (its /proc must be mounted) and before readonlyPaths and
/// maskedPaths mount over /proc/sys (with a mount there, RESOLVE_NO_XDEV
/// refuses the path, by design).
pub fn write_sysctls(sysctl: &HashMap<String, String>) -> anyhow::Result<()> {
    if sysctl.is_empty() {
        return Ok(());
    }
    let proc = open_procfs_root()?;
    // Sorted so that a failure is reproducible and names the same key.
    let mut keys: Vec<&String> = sysctl.keys().collect();
    keys.sort();
    for key in keys {
        let value = &sysctl[key];
        let rel = format!("sys/{}", sysctl_path(key)?);
        write_procfs_file(&proc, &rel, value.as_bytes())
            .with_context(|| format!("write sysctl {key:?} = {value:?}"))?;
    }
    Ok(())
}

/// The path below /proc/sys for a sysctl key, as sysctl(8) reads keys: with
/// a '/' in it the key is already a path (so dots stay, as in interface
/// names like `net/ipv4/conf/eth0.100/forwarding`), otherwise dots separate.
fn sysctl_path(key: &str) -> anyhow::Result<String> {
    let path = if key.contains('/') {
        key.to_string()
    } else {
        key.replace('.', "/")
    };
    let bad = path.is_empty()
        || path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == ".." || c.contains('\0'));
    if bad {
        bail!("write sysctl {key:?}: invalid key (empty, \".\" or \"..\" component, or absolute)");
    }
    Ok(path)
}

/// oomScoreAdj: written to /proc/self/oom_score_adj through verified procfs.
pub fn set_oom_score_adj(value: i32) -> anyhow::Result<()> {
    if !(-1000..=1000).contains(&value) {
        bail!("set oom_score_adj {value}: out of range [-1000, 1000]");
    }
    write_proc_self("oom_score_adj", value.to_string().as_bytes())
        .with_context(|| format!("set oom_score_adj {value}"))
}

/// Writes `data` to /proc/self/`file` through the verified procfs root:
/// whatever the mount namespace (the container's, or one a config joins)
/// has mounted over /proc or its files, the write reaches procfs or fails.
pub fn write_proc_self(file: &str, data: &[u8]) -> anyhow::Result<()> {
    write_proc_of("self", file, data)
}

/// As [`write_proc_self`], for the calling thread's /proc/thread-self/`file`
/// (per-thread attributes such as the SELinux exec label).
pub fn write_proc_thread_self(file: &str, data: &[u8]) -> anyhow::Result<()> {
    write_proc_of("thread-self", file, data)
}

fn write_proc_of(link: &str, file: &str, data: &[u8]) -> anyhow::Result<()> {
    let proc = open_procfs_root()?;
    // "self" and "thread-self" are ordinary relative symlinks to "<pid>" and
    // "<pid>/task/<tid>" (not magic links), so RESOLVE_BENEATH alone follows
    // them safely; NO_XDEV still refuses anything mounted over the file.
    let how = OpenHow::new()
        .flags(OFlag::O_WRONLY | OFlag::O_CLOEXEC)
        .resolve(
            ResolveFlag::RESOLVE_BENEATH
                | ResolveFlag::RESOLVE_NO_MAGICLINKS
                | ResolveFlag::RESOLVE_NO_XDEV,
        );
    let rel = format!("{link}/{file}");
    let fd = openat2(&proc, rel.as_str(), how)
        .and_then(verify_procfs)
        .with_context(|| format!("open \"/proc/{rel}\""))?;
    nix::unistd::write(&fd, data).with_context(|| format!("write \"/proc/{rel}\""))?;
    Ok(())
}

/// PROC_ROOT_INO: the root directory of every procfs instance.
const PROC_ROOT_INO: u64 = 1;

fn open_procfs_root() -> anyhow::Result<OwnedFd> {
    let fd = open(
        "/proc",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .context("open \"/proc\"")?;
    let fd = verify_procfs(fd).context("open \"/proc\": not procfs")?;
    let ino = nix::sys::stat::fstat(&fd)
        .context("fstat \"/proc\"")?
        .st_ino;
    if ino != PROC_ROOT_INO {
        bail!("open \"/proc\": not the root of a procfs mount (inode {ino})");
    }
    Ok(fd)
}

fn verify_procfs(fd: OwnedFd) -> nix::Result<OwnedFd> {
    if fstatfs(&fd)?.filesystem_type() != PROC_SUPER_MAGIC {
        return Err(nix::errno::Errno::EXDEV);
    }
    Ok(fd)
}

fn write_procfs_file(dir: &OwnedFd, rel: &str, data: &[u8]) -> anyhow::Result<()> {
    let how = OpenHow::new()
        .flags(OFlag::O_WRONLY | OFlag::O_CLOEXEC)
        .resolve(
            ResolveFlag::RESOLVE_BENEATH
                | ResolveFlag::RESOLVE_NO_SYMLINKS
                | ResolveFlag::RESOLVE_NO_XDEV,
        );
    let fd = openat2(dir, rel, how)
        .and_then(verify_procfs)
        .with_context(|| format!("open {rel:?}"))?;
    nix::unistd::write(&fd, data).context("write")?;
    Ok(())
}

/// ioPriority: ioprio_set(IOPRIO_WHO_PROCESS, 0, class|priority).
pub fn set_io_priority(prio: &LinuxIOPriority) -> anyhow::Result<()> {
    let class = match prio.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    let level = prio.priority();
    if !(0..=7).contains(&level) {
        bail!(
            "set io priority {} {level}: priority out of range [0, 7]",
            prio.class()
        );
    }
    ioprio_set(class, level as u32)
        .with_context(|| format!("set io priority {} {level}", prio.class()))
}

/// scheduler: one sched_setattr(2) with every field of the spec object.
pub fn set_scheduler(sched: &Scheduler) -> anyhow::Result<()> {
    let policy = match sched.policy() {
        LinuxSchedulerPolicy::SchedOther => 0,
        LinuxSchedulerPolicy::SchedFifo => 1,
        LinuxSchedulerPolicy::SchedRr => 2,
        LinuxSchedulerPolicy::SchedBatch => 3,
        LinuxSchedulerPolicy::SchedIso => 4,
        LinuxSchedulerPolicy::SchedIdle => 5,
        LinuxSchedulerPolicy::SchedDeadline => 6,
    };
    let flags = sched.flags().iter().flatten().fold(0u64, |acc, f| {
        acc | match f {
            LinuxSchedulerFlag::SchedResetOnFork => 0x01,
            LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
            LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
            LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
            LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
            LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
        }
    });
    let priority = sched.priority().unwrap_or(0);
    let attr = SchedAttr {
        policy,
        flags,
        nice: sched.nice().unwrap_or(0),
        priority: u32::try_from(priority).with_context(|| {
            format!(
                "set scheduler {}: negative priority {priority}",
                sched.policy()
            )
        })?,
        runtime: sched.runtime().unwrap_or(0),
        deadline: sched.deadline().unwrap_or(0),
        period: sched.period().unwrap_or(0),
    };
    sched_setattr(attr).with_context(|| format!("set scheduler {} ({attr:?})", sched.policy()))
}

/// personality: the execution domain. The spec defines no flags yet, so
/// any flag is an error rather than silently ignored.
pub fn set_personality(p: &LinuxPersonality) -> anyhow::Result<()> {
    const PER_LINUX: u64 = 0x0000;
    const PER_LINUX32: u64 = 0x0008;
    if let Some(flags) = p.flags().as_ref().filter(|f| !f.is_empty()) {
        bail!(
            "set personality {}: unsupported flags {flags:?}",
            p.domain()
        );
    }
    let persona = match p.domain() {
        LinuxPersonalityDomain::PerLinux => PER_LINUX,
        LinuxPersonalityDomain::PerLinux32 => PER_LINUX32,
    };
    personality(persona).with_context(|| format!("set personality {}", p.domain()))?;
    Ok(())
}

/// noNewPrivileges: PR_SET_NO_NEW_PRIVS. Must come before seccomp is loaded
/// (an unprivileged seccomp filter requires it) and is kept across execve.
pub fn set_no_new_privs() -> anyhow::Result<()> {
    nix::sys::prctl::set_no_new_privs().context("set PR_SET_NO_NEW_PRIVS")
}

#[cfg(test)]
#[path = "proc_attrs_tests.rs"]
mod tests;
