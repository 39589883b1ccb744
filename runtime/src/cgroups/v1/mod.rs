//! The cgroup v1 cgroupfs driver (OCI config-linux.md "Control groups"
//! over kernel admin-guide/cgroup-v1): one directory per hierarchy,
//! controllers applied in runc's subsystem order (cpuset, devices, memory,
//! cpu, pids, blkio, hugetlb, net_cls, net_prio, rdma).

pub mod blkio;
pub mod cpu;
pub mod cpuset;
pub mod devices;
pub mod freezer;
pub mod hugetlb;
pub mod memory;
pub mod net;
pub mod pids;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use super::fs::{create_dir_chain, CgroupError};
use super::stats::Stats;
use super::{is_set, rdma};

/// The hierarchy directories of one v1 cgroup, keyed by controller.
pub struct V1<'a> {
    pub dirs: &'a BTreeMap<String, PathBuf>,
}

impl<'a> V1<'a> {
    /// The directory of `controller`, or an error naming the controller and
    /// the file a resource needed from it.
    pub fn dir(&self, controller: &str, file: &str) -> Result<&'a Path, CgroupError> {
        self.dirs
            .get(controller)
            .map(PathBuf::as_path)
            .ok_or_else(|| CgroupError::Unavailable {
                controller: controller.into(),
                file: file.into(),
                why: "no v1 hierarchy of this controller is mounted".into(),
            })
    }

    /// Every distinct directory (co-mounted controllers share one).
    pub fn unique_dirs(&self) -> Vec<&'a Path> {
        let mut v: Vec<&'a Path> = self.dirs.values().map(PathBuf::as_path).collect();
        v.sort();
        v.dedup();
        v
    }

    /// Creates every hierarchy directory; the cpuset one with cpus/mems
    /// filled from the parent.
    /// Each directory made is appended to `made`.
    pub fn create(&self, made: &mut Vec<PathBuf>) -> Result<(), CgroupError> {
        let cpuset = self.dirs.get("cpuset");
        for d in self.unique_dirs() {
            if Some(&d.to_path_buf()) == cpuset {
                cpuset::create(d, made)?;
            } else {
                create_dir_chain(d, made)?;
            }
        }
        Ok(())
    }

    /// Applies every resource that is set; `hugetlb_v1` is false on a
    /// hybrid host where hugetlb lives in the unified hierarchy (the caller
    /// applies it there).
    pub fn apply(&self, res: &LinuxResources, hugetlb_v1: bool) -> Result<(), CgroupError> {
        if let Some(c) = res.cpu().as_ref().filter(|c| is_set::cpuset(c)) {
            cpuset::apply(self.dir("cpuset", "cpuset.cpus")?, c)?;
        }
        if let Some(rules) = res.devices() {
            let rules = super::devices::container_rules(rules)?;
            devices::apply(self.dir("devices", "devices.allow")?, &rules)?;
        }
        if let Some(m) = res.memory().as_ref().filter(|m| is_set::memory(m)) {
            memory::apply(self.dir("memory", "memory.limit_in_bytes")?, m)?;
        }
        if let Some(c) = res.cpu().as_ref().filter(|c| is_set::cpu(c)) {
            cpu::apply(self.dir("cpu", "cpu.shares")?, c)?;
        }
        if let Some(p) = res.pids().as_ref().filter(|p| p.limit() != 0) {
            pids::apply(self.dir("pids", "pids.max")?, p)?;
        }
        if let Some(io) = res.block_io().as_ref().filter(|io| is_set::block_io(io)) {
            blkio::apply(self.dir("blkio", "blkio.weight")?, io)?;
        }
        if hugetlb_v1 {
            if let Some(h) = res.hugepage_limits().as_ref().filter(|h| !h.is_empty()) {
                hugetlb::apply(self.dir("hugetlb", "hugetlb.<size>.limit_in_bytes")?, h)?;
            }
        }
        if let Some(n) = res.network() {
            if let Some(id) = n.class_id() {
                net::apply_class_id(self.dir("net_cls", "net_cls.classid")?, id)?;
            }
            if let Some(p) = n.priorities().as_ref().filter(|p| !p.is_empty()) {
                net::apply_priorities(self.dir("net_prio", "net_prio.ifpriomap")?, p)?;
            }
        }
        if let Some(r) = res.rdma().as_ref().filter(|r| !r.is_empty()) {
            rdma::apply(self.dir("rdma", "rdma.max")?, r)?;
        }
        Ok(())
    }

    /// The directory whose cgroup.procs lists the container's processes:
    /// any hierarchy works, since every process joins all of them; prefer
    /// the ones runc reads.
    pub fn procs_dir(&self) -> Option<&'a Path> {
        ["devices", "pids", "freezer", "memory", "cpu"]
            .iter()
            .find_map(|c| self.dirs.get(*c))
            .or_else(|| self.dirs.values().next())
            .map(PathBuf::as_path)
    }

    /// runc's v1 stats; controllers that are not mounted leave their part
    /// at its zero value.
    pub fn stats(&self, hugetlb_v1: bool) -> Result<Stats, CgroupError> {
        let get = |c: &str| self.dirs.get(c).map(PathBuf::as_path);
        let mut s = Stats {
            cpu: cpu::stats(get("cpuacct"), get("cpu"))?,
            ..Default::default()
        };
        if let Some(d) = get("cpuset") {
            s.cpuset = cpuset::stats(d)?;
        }
        if let Some(d) = get("memory") {
            s.memory = memory::stats(d)?;
        }
        if let Some(d) = get("pids") {
            s.pids = pids::stats(d)?;
        }
        if let Some(d) = get("blkio") {
            s.blkio = blkio::stats(d)?;
        }
        if hugetlb_v1 {
            if let Some(d) = get("hugetlb") {
                s.hugetlb = hugetlb::stats(d)?;
            }
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fs::tests::tempdir;
    use oci_spec::runtime::{LinuxMemoryBuilder, LinuxNetworkBuilder, LinuxResourcesBuilder};

    #[test]
    fn missing_controller_is_named_only_when_needed() {
        let d = tempdir();
        std::fs::write(d.join("memory.limit_in_bytes"), "0").unwrap();
        let mut dirs = BTreeMap::new();
        dirs.insert("memory".to_string(), d.clone());
        let v1 = V1 { dirs: &dirs };
        // Network present but empty: nothing to do, no error for net_cls.
        let res = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(4096i64)
                    .build()
                    .unwrap(),
            )
            .network(LinuxNetworkBuilder::default().build().unwrap())
            .build()
            .unwrap();
        v1.apply(&res, true).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.join("memory.limit_in_bytes")).unwrap(),
            "4096"
        );
        let res = LinuxResourcesBuilder::default()
            .network(
                LinuxNetworkBuilder::default()
                    .class_id(7u32)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let e = v1.apply(&res, true).unwrap_err().to_string();
        assert_eq!(
            e,
            "net_cls controller is not available (needed for net_cls.classid): no v1 hierarchy of this controller is mounted"
        );
        std::fs::remove_dir_all(d).unwrap();
    }
}
