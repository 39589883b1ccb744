//! The cgroup v2 cgroupfs driver (OCI config-linux.md "Control groups"
//! over kernel admin-guide/cgroup-v2.rst): one directory in the unified
//! hierarchy, v1-shaped values converted as runc converts them.

pub mod cpu;
pub mod devices;
pub mod freezer;
pub mod hugetlb;
pub mod io;
pub mod memory;
pub mod unified;

use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use super::fs::{create_dir_chain, read_optional, write_file, CgroupError};
use super::stats::Stats;
use super::{is_set, rdma, v1};

/// One cgroup v2 directory and the root of its hierarchy.
pub struct V2<'a> {
    pub dir: &'a Path,
    pub root: &'a Path,
}

impl V2<'_> {
    /// Creates the directory, then enables in every ancestor's
    /// cgroup.subtree_control the controllers it offers, so the new cgroup
    /// gets its interface files. Refusals are ignored, as runc ignores
    /// them: a controller that cannot be enabled (delegation, a busy
    /// ancestor) shows up as a missing file when a resource needs it.
    /// Each directory made is appended to `made`.
    pub fn create(&self, made: &mut Vec<PathBuf>) -> Result<(), CgroupError> {
        create_dir_chain(self.dir, made)?;
        let Ok(rel) = self.dir.strip_prefix(self.root) else {
            return Ok(());
        };
        let mut cur = self.root.to_path_buf();
        for comp in rel.components() {
            let offered = read_optional(&cur, "cgroup.controllers")?.unwrap_or_default();
            let enabled = read_optional(&cur, "cgroup.subtree_control")?.unwrap_or_default();
            for c in offered.split_whitespace() {
                if !enabled.split_whitespace().any(|e| e == c) {
                    let _ = write_file(&cur, "cgroup.subtree_control", &format!("+{c}"));
                }
            }
            cur.push(comp);
        }
        Ok(())
    }

    /// Applies every resource that is set, unified key/values last.
    pub fn apply(&self, res: &LinuxResources) -> Result<(), CgroupError> {
        let dir = self.dir;
        if let Some(c) = res
            .cpu()
            .as_ref()
            .filter(|c| is_set::cpu(c) || is_set::cpuset(c))
        {
            cpu::apply(dir, c)?;
        }
        if let Some(m) = res.memory().as_ref().filter(|m| is_set::memory(m)) {
            memory::apply(dir, m)?;
        }
        if let Some(p) = res.pids().as_ref().filter(|p| p.limit() != 0) {
            v1::pids::apply(dir, p)?;
        }
        if let Some(b) = res.block_io().as_ref().filter(|b| is_set::block_io(b)) {
            io::apply(dir, b)?;
        }
        if let Some(h) = res.hugepage_limits().as_ref().filter(|h| !h.is_empty()) {
            hugetlb::apply(dir, h)?;
        }
        if let Some(r) = res.rdma().as_ref().filter(|r| !r.is_empty()) {
            rdma::apply(dir, r)?;
        }
        if let Some(rules) = res.devices() {
            devices::apply(dir, &super::devices::container_rules(rules)?)?;
        }
        if let Some(n) = res.network() {
            if n.class_id().is_some() || n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
                return Err(CgroupError::Unavailable {
                    controller: "net_cls/net_prio".into(),
                    file: "net_cls.classid".into(),
                    why: "cgroup v2 has no network controllers (linux.resources.network)".into(),
                });
            }
        }
        if let Some(u) = res.unified().as_ref().filter(|u| !u.is_empty()) {
            unified::apply(dir, u)?;
        }
        Ok(())
    }

    pub fn stats(&self) -> Result<Stats, CgroupError> {
        Ok(Stats {
            cpu: cpu::stats(self.dir)?,
            memory: memory::stats(self.dir)?,
            pids: v1::pids::stats(self.dir)?,
            blkio: io::stats(self.dir)?,
            hugetlb: hugetlb::stats(self.dir)?,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fs::tests::tempdir;
    use oci_spec::runtime::{LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResourcesBuilder};

    #[test]
    fn applies_over_a_fake_dir() {
        let root = tempdir();
        let dir = root.join("c");
        std::fs::write(root.join("cgroup.controllers"), "memory pids\n").unwrap();
        std::fs::write(root.join("cgroup.subtree_control"), "").unwrap();
        let v2 = V2 {
            dir: &dir,
            root: &root,
        };
        v2.create(&mut Vec::new()).unwrap();
        // A plain file keeps only the last write; the kernel would merge.
        assert_eq!(
            std::fs::read_to_string(root.join("cgroup.subtree_control")).unwrap(),
            "+pids"
        );
        for f in ["memory.max", "memory.swap.max", "pids.max"] {
            std::fs::write(dir.join(f), "max").unwrap();
        }
        let res = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(1 << 20)
                    .swap(2 << 20)
                    .build()
                    .unwrap(),
            )
            .pids(LinuxPidsBuilder::default().limit(10i64).build().unwrap())
            .build()
            .unwrap();
        v2.apply(&res).unwrap();
        let get = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
        assert_eq!(get("memory.max"), "1048576");
        assert_eq!(get("memory.swap.max"), "1048576");
        assert_eq!(get("pids.max"), "10");
        std::fs::remove_dir_all(root).unwrap();
    }
}
