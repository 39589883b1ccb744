//! What the container lifecycle does with its cgroup besides limits:
//! joining processes, listing them, pause/resume through the freezer,
//! `kill --all`, and removal at `delete` (OCI runtime.md "Lifecycle",
//! runc's `pause`, `resume`, `kill --all`, `ps`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::fs::{read_file, write_file, CgroupError};
use super::{v1, v2, Cgroup, CgroupLayout};

/// Which freezer a cgroup uses.
enum Freezer<'a> {
    V1(&'a Path),
    V2(&'a Path),
}

impl Cgroup {
    /// Moves `pid` into the cgroup in every hierarchy.
    pub fn add_process(&self, pid: i32) -> Result<()> {
        self.add_process_v1(pid)?;
        if let Some(d) = self.unified_birth_dir() {
            write_file(d, "cgroup.procs", &pid.to_string())?;
        }
        Ok(())
    }

    /// Moves `pid` into the v1 hierarchies only: for a process that was
    /// born in `unified_birth_dir` (clone3 with CLONE_INTO_CGROUP).
    pub fn add_process_v1(&self, pid: i32) -> Result<()> {
        let pid_text = pid.to_string();
        for d in self.v1().unique_dirs() {
            write_file(d, "cgroup.procs", &pid_text)?;
        }
        Ok(())
    }

    /// The cgroup2 directory the container's processes join: the cgroup
    /// itself on V2, the companion directory on Hybrid if it exists (its
    /// creation is best effort, see `create`), none on V1. A new process
    /// can be born there with CLONE_INTO_CGROUP.
    pub fn unified_birth_dir(&self) -> Option<&Path> {
        let d = self.unified_dir()?;
        match self.layout {
            CgroupLayout::V2 => Some(d),
            CgroupLayout::Hybrid if d.is_dir() => Some(d),
            _ => None,
        }
    }

    /// Every process in the cgroup and its sub-cgroups (what `ps` and
    /// `kill --all` act on, like runc's GetAllPids).
    pub fn pids(&self) -> Result<Vec<i32>> {
        let dir = match self.layout {
            CgroupLayout::V2 => self.unified_dir(),
            _ => self.v1().procs_dir(),
        };
        let Some(dir) = dir else {
            bail!("list cgroup processes: the cgroup has no directory")
        };
        let mut out = Vec::new();
        collect_pids(dir, &mut out)?;
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    fn freezer(&self) -> Result<Freezer<'_>, CgroupError> {
        if let Some(d) = self.v1_dir("freezer") {
            return Ok(Freezer::V1(d));
        }
        match self.unified_dir() {
            Some(d) if d.join("cgroup.freeze").exists() => Ok(Freezer::V2(d)),
            _ => Err(CgroupError::Unavailable {
                controller: "freezer".into(),
                file: "freezer.state".into(),
                why: "no v1 freezer hierarchy and no cgroup.freeze".into(),
            }),
        }
    }

    /// Freezes every task and waits until the kernel says they are frozen.
    pub fn freeze(&self) -> Result<()> {
        match self.freezer()? {
            Freezer::V1(d) => v1::freezer::freeze(d)?,
            Freezer::V2(d) => v2::freezer::freeze(d)?,
        }
        Ok(())
    }

    /// Thaws every task.
    pub fn thaw(&self) -> Result<()> {
        match self.freezer()? {
            Freezer::V1(d) => v1::freezer::thaw(d)?,
            Freezer::V2(d) => v2::freezer::thaw(d)?,
        }
        Ok(())
    }

    pub fn is_frozen(&self) -> Result<bool> {
        Ok(match self.freezer()? {
            Freezer::V1(d) => v1::freezer::is_frozen(d)?,
            Freezer::V2(d) => v2::freezer::is_frozen(d)?,
        })
    }

    /// Sends `signal` to every process. SIGKILL on v2 uses cgroup.kill,
    /// which the kernel applies atomically, forks included; otherwise the
    /// cgroup is frozen while the signals go out, so nothing forks past
    /// the list (runc's signalAllProcesses).
    pub fn kill_all(&self, signal: i32) -> Result<()> {
        let sig =
            Signal::try_from(signal).with_context(|| format!("kill cgroup: signal {signal}"))?;
        if sig == Signal::SIGKILL && self.layout == CgroupLayout::V2 {
            if let Some(d) = self
                .unified_dir()
                .filter(|d| d.join("cgroup.kill").exists())
            {
                write_file(d, "cgroup.kill", "1")?;
                return Ok(());
            }
        }
        let has_freezer = self.freezer().is_ok();
        if has_freezer {
            // A freeze that times out (a task stuck in the kernel) must not
            // stop the signals; the thaw below undoes a partial freeze.
            let _ = self.freeze();
        }
        let result = self.signal_each(sig);
        if has_freezer {
            // Thaw even when a signal failed: frozen tasks cannot die.
            self.thaw()?;
        }
        result
    }

    fn signal_each(&self, sig: Signal) -> Result<()> {
        for pid in self.pids()? {
            match kill(Pid::from_raw(pid), sig) {
                Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
                Err(e) => bail!("kill process {pid} with {sig}: {}", e.desc()),
            }
        }
        Ok(())
    }

    /// Kills what is left, then removes every directory, sub-cgroups first.
    /// EBUSY (tasks still exiting) is retried a few times; directories that
    /// are already gone are fine, so `delete` can run twice.
    pub fn destroy(&self) -> Result<()> {
        if self.dirs().iter().any(|d| d.exists()) && !self.pids().unwrap_or_default().is_empty() {
            self.kill_all(libc::SIGKILL)?;
        }
        let mut first_err = None;
        for d in self.dirs() {
            if let Err(e) = remove_tree(d) {
                first_err.get_or_insert(e);
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

fn collect_pids(dir: &Path, out: &mut Vec<i32>) -> Result<()> {
    let text = match read_file(dir, "cgroup.procs") {
        Ok(t) => t,
        Err(e) if e.os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    for l in text.lines().filter(|l| !l.is_empty()) {
        out.push(l.trim().parse().map_err(|_| CgroupError::Parse {
            file: "cgroup.procs".into(),
            dir: dir.to_path_buf(),
            content: l.into(),
        })?);
    }
    for sub in sub_dirs(dir)? {
        collect_pids(&sub, out)?;
    }
    Ok(())
}

fn sub_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("list sub-cgroups of {dir:?}")),
    };
    let mut out = Vec::new();
    for e in rd {
        let e = e.with_context(|| format!("list sub-cgroups of {dir:?}"))?;
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.push(e.path());
        }
    }
    Ok(out)
}

/// rmdir `dir` after its sub-cgroups. cgroupfs directories are removed
/// with rmdir alone: their interface files go with them.
fn remove_tree(dir: &Path) -> Result<()> {
    for sub in sub_dirs(dir)? {
        remove_tree(&sub)?;
    }
    let mut delay = Duration::from_millis(10);
    let mut attempt = 0;
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && attempt < 6 => {
                attempt += 1;
                std::thread::sleep(delay);
                delay *= 2;
            }
            Err(e) => return Err(e).with_context(|| format!("remove cgroup {dir:?}")),
        }
    }
}
