//! cgroup v1 cpuset controller (OCI config-linux.md "CPU" cpus/mems;
//! kernel admin-guide/cgroup-v1/cpusets.rst).
//!
//! A new v1 cpuset cgroup starts with empty cpuset.cpus and cpuset.mems
//! (unless cgroup.clone_children is set), and the kernel refuses to move a
//! task into it (ENOSPC). runc therefore fills every new level from its
//! parent when it creates the path; so does `create`.

use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxCpu;

use crate::cgroups::fs::{create_dir_chain, read_file, read_u64_or_zero, write_file, CgroupError};
use crate::cgroups::stats::{parse_cpu_list, CpuSet};

/// Creates `dir` and any missing parents, copying cpus and mems down.
/// Each directory made is appended to `made`.
pub fn create(dir: &Path, made: &mut Vec<PathBuf>) -> Result<(), CgroupError> {
    let missing = create_dir_chain(dir, made)?;
    // Shallowest first, so each copies from a parent that is filled.
    for d in &missing {
        copy_from_parent(d)?;
    }
    if missing.is_empty() {
        copy_from_parent(dir)?;
    }
    Ok(())
}

/// Fills empty cpuset.cpus / cpuset.mems of `dir` from its parent.
fn copy_from_parent(dir: &Path) -> Result<(), CgroupError> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    for file in ["cpuset.cpus", "cpuset.mems"] {
        if !dir.join(file).exists() || !parent.join(file).exists() {
            continue;
        }
        if read_file(dir, file)?.trim().is_empty() {
            let v = read_file(parent, file)?;
            let v = v.trim();
            if !v.is_empty() {
                write_file(dir, file, v)?;
            }
        }
    }
    Ok(())
}

/// Writes cpus and mems if set.
pub fn apply(dir: &Path, cpu: &LinuxCpu) -> Result<(), CgroupError> {
    if let Some(c) = cpu.cpus().as_deref().filter(|c| !c.is_empty()) {
        write_file(dir, "cpuset.cpus", c)?;
    }
    if let Some(m) = cpu.mems().as_deref().filter(|m| !m.is_empty()) {
        write_file(dir, "cpuset.mems", m)?;
    }
    Ok(())
}

fn list(dir: &Path, file: &str) -> Result<Vec<u16>, CgroupError> {
    let s = read_file(dir, file)?;
    parse_cpu_list(&s).ok_or_else(|| CgroupError::Parse {
        file: file.into(),
        dir: dir.to_path_buf(),
        content: s.trim().into(),
    })
}

/// runc's cpuset stats.
pub fn stats(dir: &Path) -> Result<CpuSet, CgroupError> {
    let n = |f: &str| read_u64_or_zero(dir, &format!("cpuset.{f}"));
    let relax = read_file(dir, "cpuset.sched_relax_domain_level")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    Ok(CpuSet {
        cpus: list(dir, "cpuset.cpus")?,
        cpu_exclusive: n("cpu_exclusive")?,
        mems: list(dir, "cpuset.mems")?,
        mem_hardwall: n("mem_hardwall")?,
        mem_exclusive: n("mem_exclusive")?,
        memory_migrate: n("memory_migrate")?,
        memory_spread_page: n("memory_spread_page")?,
        memory_spread_slab: n("memory_spread_slab")?,
        memory_pressure: n("memory_pressure")?,
        sched_load_balance: n("sched_load_balance")?,
        sched_relax_domain_level: relax,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fs::tests::tempdir;
    use oci_spec::runtime::LinuxCpuBuilder;

    #[test]
    fn apply_writes_cpus_and_mems() {
        let d = tempdir();
        std::fs::write(d.join("cpuset.cpus"), "").unwrap();
        std::fs::write(d.join("cpuset.mems"), "").unwrap();
        apply(&d, &LinuxCpu::default()).unwrap();
        let c = LinuxCpuBuilder::default()
            .cpus("0-1")
            .mems("0")
            .build()
            .unwrap();
        apply(&d, &c).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.join("cpuset.cpus")).unwrap(),
            "0-1"
        );
        assert_eq!(std::fs::read_to_string(d.join("cpuset.mems")).unwrap(), "0");
        let s = stats(&d).unwrap();
        assert_eq!((s.cpus, s.mems), (vec![0, 1], vec![0]));
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn copy_fills_empty_child_from_parent() {
        let p = tempdir();
        std::fs::write(p.join("cpuset.cpus"), "0-3\n").unwrap();
        std::fs::write(p.join("cpuset.mems"), "0\n").unwrap();
        let c = p.join("child");
        std::fs::create_dir(&c).unwrap();
        std::fs::write(c.join("cpuset.cpus"), "\n").unwrap();
        std::fs::write(c.join("cpuset.mems"), "1\n").unwrap();
        copy_from_parent(&c).unwrap();
        assert_eq!(
            std::fs::read_to_string(c.join("cpuset.cpus")).unwrap(),
            "0-3"
        );
        assert_eq!(
            std::fs::read_to_string(c.join("cpuset.mems")).unwrap(),
            "1\n"
        );
        std::fs::remove_dir_all(p).unwrap();
    }
}
