//! Control groups (OCI runtime spec config-linux.md "Control groups" and
//! every resource in "linux.resources") over the cgroupfs drivers `v1` and
//! `v2`, on v1, v2 and hybrid hosts.
//!
//! On a hybrid host every controller v1 binds is used through v1; the
//! unified hierarchy gets a companion directory that the container's
//! processes also join (as runc does), and is used only for what v1 lacks
//! there (hugetlb when v1 does not mount it, `unified` key/values).
//!
//! A `Cgroup` is resolved once (`cgroup_for`) and serialised into the
//! container's state, so later commands act on the same directories
//! without detecting anything again.

#![forbid(unsafe_code)]

pub mod convert;
pub mod devices;
pub mod fs;
pub mod hugetlb;
pub mod mountinfo;
pub mod path;
pub mod rdma;
pub mod stats;
pub mod v1;
pub mod v2;

mod lifecycle;
#[cfg(test)]
mod tests_root;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

pub use fs::CgroupError;
pub use mountinfo::CgroupLayout;

/// Which cgroup layout this host mounts, from /proc/self/mountinfo.
pub fn detect_layout() -> Result<CgroupLayout> {
    mountinfo::layout_of(&mountinfo::read_mounts()?)
}

/// Resolves `linux.cgroupsPath` for a container as runc's cgroupfs driver
/// does (see `path`): absolute under every hierarchy root, relative under
/// the runtime's own cgroup, absent as the container id, relative.
pub fn cgroup_for(cgroups_path: Option<&str>, container_id: &str) -> Result<Cgroup> {
    let mounts = mountinfo::read_mounts()?;
    let own = mountinfo::read_own_cgroups()?;
    path::resolve(&mounts, &own, cgroups_path, container_id)
}

/// One container's cgroup: its directory in every hierarchy.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Cgroup {
    layout: CgroupLayout,
    /// v1 controller ("memory", "name=systemd") to directory; co-mounted
    /// controllers share one directory.
    v1: BTreeMap<String, PathBuf>,
    /// The cgroup2 directory: the cgroup itself on V2, the companion
    /// directory on Hybrid.
    unified: Option<PathBuf>,
    /// The root of the unified hierarchy (where controllers get enabled).
    unified_root: Option<PathBuf>,
}

impl Cgroup {
    pub(crate) fn from_parts(
        layout: CgroupLayout,
        v1: BTreeMap<String, PathBuf>,
        unified: Option<(PathBuf, PathBuf)>,
    ) -> Self {
        let (unified, unified_root) = match unified {
            Some((d, r)) => (Some(d), Some(r)),
            None => (None, None),
        };
        Self {
            layout,
            v1,
            unified,
            unified_root,
        }
    }

    pub fn layout(&self) -> CgroupLayout {
        self.layout
    }

    /// The directory of a v1 controller, if this cgroup has one.
    pub fn v1_dir(&self, controller: &str) -> Option<&Path> {
        self.v1.get(controller).map(PathBuf::as_path)
    }

    /// The cgroup2 directory (the cgroup on V2, the companion on Hybrid).
    pub fn unified_dir(&self) -> Option<&Path> {
        self.unified.as_deref()
    }

    /// Every directory of this cgroup, each once.
    pub fn dirs(&self) -> Vec<&Path> {
        let mut v = self.v1().unique_dirs();
        v.extend(self.unified_dir());
        v
    }

    fn v1(&self) -> v1::V1<'_> {
        v1::V1 { dirs: &self.v1 }
    }

    fn v2(&self) -> Result<v2::V2<'_>> {
        match (&self.unified, &self.unified_root) {
            (Some(dir), Some(root)) => Ok(v2::V2 { dir, root }),
            _ => bail!("cgroup has no cgroup2 directory (layout {:?})", self.layout),
        }
    }

    /// v1 binds hugetlb (otherwise a hybrid host has it in the unified one).
    fn hugetlb_v1(&self) -> bool {
        self.v1.contains_key("hugetlb")
    }

    /// Creates the cgroup in every hierarchy (cpuset filled from the parent).
    /// On failure the directories it made (parents included) are removed
    /// again, so a failed `create` leaves no cgroup behind; directories that
    /// were there before are left alone.
    pub fn create(&self) -> Result<()> {
        let mut made = Vec::new();
        let result = self.create_dirs(&mut made);
        if result.is_err() {
            // Deepest first; rmdir alone, so a dir that got sub-cgroups or
            // processes meanwhile stays.
            for d in made.iter().rev() {
                let _ = std::fs::remove_dir(d);
            }
        }
        result
    }

    fn create_dirs(&self, made: &mut Vec<PathBuf>) -> Result<()> {
        match self.layout {
            CgroupLayout::V2 => self.v2()?.create(made)?,
            CgroupLayout::V1 => self.v1().create(made)?,
            CgroupLayout::Hybrid => {
                self.v1().create(made)?;
                // The companion directory is a convenience on hybrid hosts
                // (hugetlb, unified keys), never a reason to fail a
                // container that does not use it.
                if let Ok(v2) = self.v2() {
                    let _ = v2.create(made);
                }
            }
        }
        Ok(())
    }

    /// Applies every resource that is set; an unset resource touches nothing.
    ///
    /// `devices`, when present, is the whole device policy: deny all, the
    /// given rules in order, then runc's default allowed devices (see
    /// `devices`); absent, the cgroup's device policy is left as it is
    /// (what `update` wants). Errors name the controller, the file and the
    /// value.
    pub fn apply(&self, res: &LinuxResources) -> Result<()> {
        let unified_keys = res.unified().as_ref().filter(|u| !u.is_empty());
        match self.layout {
            CgroupLayout::V2 => self.v2()?.apply(res)?,
            CgroupLayout::V1 => {
                if let Some(u) = unified_keys {
                    let mut keys: Vec<_> = u.keys().cloned().collect();
                    keys.sort();
                    bail!(
                        "apply linux.resources.unified {keys:?}: this host has only cgroup v1 hierarchies"
                    );
                }
                self.v1().apply(res, true)?;
            }
            CgroupLayout::Hybrid => {
                self.v1().apply(res, self.hugetlb_v1())?;
                let limits = res.hugepage_limits().as_ref().filter(|h| !h.is_empty());
                if let (Some(h), false) = (limits, self.hugetlb_v1()) {
                    let dir = self.unified_dir_for("hugetlb", "hugetlb.<size>.max")?;
                    v2::hugetlb::apply(dir, h)?;
                }
                if let Some(u) = unified_keys {
                    let dir = self.unified_dir_for("unified", "linux.resources.unified")?;
                    v2::unified::apply(dir, u)?;
                }
            }
        }
        Ok(())
    }

    /// The existing cgroup2 directory, or an error naming what needed it.
    fn unified_dir_for(&self, controller: &str, file: &str) -> Result<&Path, CgroupError> {
        match self.unified_dir() {
            Some(d) if d.is_dir() => Ok(d),
            _ => Err(CgroupError::Unavailable {
                controller: controller.into(),
                file: file.into(),
                why: "the container has no directory in a cgroup2 hierarchy".into(),
            }),
        }
    }

    /// Runc's `events --stats` "data" object.
    pub fn stats(&self) -> Result<serde_json::Value> {
        let s = match self.layout {
            CgroupLayout::V2 => self.v2()?.stats()?,
            CgroupLayout::V1 => self.v1().stats(true)?,
            CgroupLayout::Hybrid => {
                let mut s = self.v1().stats(self.hugetlb_v1())?;
                if !self.hugetlb_v1() {
                    if let Some(d) = self.unified_dir().filter(|d| d.is_dir()) {
                        s.hugetlb = v2::hugetlb::stats(d)?;
                    }
                }
                s
            }
        };
        serde_json::to_value(s).context("encode cgroup stats")
    }

    /// How many times the kernel's OOM killer killed a task of this cgroup.
    pub fn oom_kill_count(&self) -> Result<u64> {
        Ok(match self.layout {
            CgroupLayout::V2 => v2::memory::oom_kill_count(self.v2()?.dir)?,
            _ => {
                let dir = self.v1().dir("memory", "memory.oom_control")?;
                v1::memory::oom_kill_count(dir)?
            }
        })
    }
}

/// Whether a resource section asks for anything: a present but empty
/// section must not even look for its controller.
pub(crate) mod is_set {
    use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory};

    pub fn memory(m: &LinuxMemory) -> bool {
        m.limit().is_some()
            || m.reservation().is_some()
            || m.swap().is_some()
            || m.kernel().is_some()
            || m.kernel_tcp().is_some()
            || m.swappiness().is_some()
            || m.disable_oom_killer().is_some()
            || m.use_hierarchy().is_some()
    }

    pub fn cpu(c: &LinuxCpu) -> bool {
        c.shares().is_some()
            || c.quota().is_some()
            || c.period().is_some()
            || c.burst().is_some()
            || c.realtime_runtime().is_some()
            || c.realtime_period().is_some()
            || c.idle().is_some()
    }

    pub fn cpuset(c: &LinuxCpu) -> bool {
        c.cpus().as_ref().is_some_and(|s| !s.is_empty())
            || c.mems().as_ref().is_some_and(|s| !s.is_empty())
    }

    pub fn block_io(b: &LinuxBlockIo) -> bool {
        let any = |v: &Option<Vec<_>>| v.as_ref().is_some_and(|v: &Vec<_>| !v.is_empty());
        b.weight().is_some()
            || b.leaf_weight().is_some()
            || b.weight_device().as_ref().is_some_and(|v| !v.is_empty())
            || any(b.throttle_read_bps_device())
            || any(b.throttle_write_bps_device())
            || any(b.throttle_read_iops_device())
            || any(b.throttle_write_iops_device())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fs::tests::tempdir;
    use oci_spec::runtime::{LinuxRdmaBuilder, LinuxResourcesBuilder};
    use std::collections::HashMap;

    fn unified_res(key: &str, value: &str) -> LinuxResources {
        let mut u = HashMap::new();
        u.insert(key.to_string(), value.to_string());
        LinuxResourcesBuilder::default().unified(u).build().unwrap()
    }

    #[test]
    fn failed_create_removes_what_it_made() {
        let root = tempdir();
        let pre = root.join("pre");
        std::fs::create_dir(&pre).unwrap();
        std::fs::write(pre.join("z-file"), "").unwrap();
        let mut v1 = BTreeMap::new();
        // Dirs are made in path order: "a-new/.." is made, then the one
        // under a file fails.
        v1.insert("a".to_string(), pre.join("a-new/deeper/c1"));
        v1.insert("b".to_string(), pre.join("z-file/c1"));
        let cg = Cgroup::from_parts(CgroupLayout::V1, v1, None);
        assert!(cg.create().is_err());
        assert!(!pre.join("a-new").exists(), "made parents are removed too");
        assert!(pre.join("z-file").exists(), "what was there stays");
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn unified_keys_on_v1_are_refused_by_name() {
        let d = tempdir();
        let mut v1 = BTreeMap::new();
        v1.insert("memory".to_string(), d.clone());
        let cg = Cgroup::from_parts(CgroupLayout::V1, v1, None);
        let e = format!(
            "{:#}",
            cg.apply(&unified_res("memory.high", "1")).unwrap_err()
        );
        assert_eq!(
            e,
            "apply linux.resources.unified [\"memory.high\"]: this host has only cgroup v1 hierarchies"
        );
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn hybrid_sends_unified_keys_to_the_companion_dir() {
        let root = tempdir();
        let v1dir = root.join("v1");
        let udir = root.join("unified");
        std::fs::create_dir_all(&v1dir).unwrap();
        std::fs::create_dir_all(&udir).unwrap();
        std::fs::write(udir.join("hugetlb.2MB.max"), "max").unwrap();
        let mut v1 = BTreeMap::new();
        v1.insert("memory".to_string(), v1dir.clone());
        let cg = Cgroup::from_parts(CgroupLayout::Hybrid, v1, Some((udir.clone(), root.clone())));
        cg.apply(&unified_res("hugetlb.2MB.max", "4194304"))
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(udir.join("hugetlb.2MB.max")).unwrap(),
            "4194304"
        );
        // rdma is not mounted in v1 here: named controller and file.
        let mut rdma = HashMap::new();
        rdma.insert(
            "mlx4_0".to_string(),
            LinuxRdmaBuilder::default()
                .hca_handles(2u32)
                .build()
                .unwrap(),
        );
        let res = LinuxResourcesBuilder::default().rdma(rdma).build().unwrap();
        let e = format!("{:#}", cg.apply(&res).unwrap_err());
        assert!(
            e.starts_with("rdma controller is not available (needed for rdma.max)"),
            "{e}"
        );
        std::fs::remove_dir_all(root).unwrap();
    }
}
