//! Where the cgroup hierarchies are and where this process sits in them:
//! cgroup and cgroup2 entries of /proc/self/mountinfo (proc(5)) and the
//! lines of /proc/self/cgroup (cgroups(7)). The layout (v1, v2, hybrid) is
//! read from the mounts, never assumed from /sys/fs/cgroup.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// How the host mounts cgroups.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CgroupLayout {
    /// Only cgroup v1 hierarchies.
    V1,
    /// Only the unified (cgroup2) hierarchy.
    V2,
    /// v1 hierarchies plus a cgroup2 mount (usually /sys/fs/cgroup/unified)
    /// that holds whatever controllers v1 does not bind.
    Hybrid,
}

/// One mounted cgroup hierarchy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgroupMount {
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// The cgroup path of the mount's root (not "/" inside a cgroup namespace
    /// or for a bind mount of a sub-cgroup).
    pub root: String,
    /// v1: the controllers bound to it ("cpu", "cpuacct", "name=systemd");
    /// empty for cgroup2.
    pub controllers: Vec<String>,
    /// True for cgroup2.
    pub unified: bool,
}

/// v1 super options that are flags, not controllers.
const V1_FLAGS: &[&str] = &[
    "rw",
    "ro",
    "noprefix",
    "xattr",
    "clone_children",
    "cpuset_v2_mode",
];

/// Undoes mountinfo's octal escapes ("\040" for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            if let Ok(v) = u8::try_from(v) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The cgroup and cgroup2 mounts in a mountinfo text, first mount of each
/// hierarchy only (later ones are bind mounts of the same hierarchy).
pub fn parse_mountinfo(text: &str) -> Result<Vec<CgroupMount>> {
    let mut mounts: Vec<CgroupMount> = Vec::new();
    for line in text.lines() {
        // id parent maj:min root mount_point options [optional...] - fstype source super_options
        let (left, right) = line
            .split_once(" - ")
            .with_context(|| format!("parse mountinfo line {line:?}: no \" - \" separator"))?;
        let left: Vec<&str> = left.split(' ').collect();
        let right: Vec<&str> = right.split(' ').collect();
        if left.len() < 6 || right.len() < 3 {
            bail!("parse mountinfo line {line:?}: too few fields");
        }
        let unified = match right[0] {
            "cgroup2" => true,
            "cgroup" => false,
            _ => continue,
        };
        let controllers: Vec<String> = if unified {
            Vec::new()
        } else {
            right[2]
                .split(',')
                .filter(|o| !V1_FLAGS.contains(o) && !o.starts_with("release_agent="))
                .map(str::to_string)
                .collect()
        };
        let dup = mounts
            .iter()
            .any(|m| m.unified == unified && (unified || m.controllers == controllers));
        if dup {
            continue;
        }
        mounts.push(CgroupMount {
            mount_point: PathBuf::from(unescape(left[4])),
            root: unescape(left[3]),
            controllers,
            unified,
        });
    }
    Ok(mounts)
}

/// The layout the mounts make.
pub fn layout_of(mounts: &[CgroupMount]) -> Result<CgroupLayout> {
    // A named-only v1 hierarchy (name=systemd kept for old tools) binds no
    // controller: beside a cgroup2 mount the host is still pure v2.
    let v1 = mounts
        .iter()
        .any(|m| !m.unified && m.controllers.iter().any(|c| !c.starts_with("name=")));
    let v2 = mounts.iter().any(|m| m.unified);
    Ok(match (v1, v2) {
        (true, true) => CgroupLayout::Hybrid,
        (true, false) => CgroupLayout::V1,
        (false, true) => CgroupLayout::V2,
        (false, false) => {
            bail!("detect cgroup layout: no cgroup or cgroup2 mount in /proc/self/mountinfo")
        }
    })
}

/// This process's cgroup per hierarchy, from /proc/self/cgroup: keyed by
/// each v1 controller ("cpu", "name=systemd") and by "" for cgroup2.
pub fn parse_proc_cgroup(text: &str) -> Result<BTreeMap<String, String>> {
    let mut own = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let mut it = line.splitn(3, ':');
        let (Some(_id), Some(ctrls), Some(path)) = (it.next(), it.next(), it.next()) else {
            bail!("parse /proc/self/cgroup line {line:?}: want ID:CONTROLLERS:PATH");
        };
        if ctrls.is_empty() {
            own.insert(String::new(), path.to_string());
        } else {
            for c in ctrls.split(',') {
                own.insert(c.to_string(), path.to_string());
            }
        }
    }
    Ok(own)
}

/// Reads and parses /proc/self/mountinfo.
pub fn read_mounts() -> Result<Vec<CgroupMount>> {
    let text =
        std::fs::read_to_string("/proc/self/mountinfo").context("read \"/proc/self/mountinfo\"")?;
    parse_mountinfo(&text)
}

/// Reads and parses /proc/self/cgroup.
pub fn read_own_cgroups() -> Result<BTreeMap<String, String>> {
    let text =
        std::fs::read_to_string("/proc/self/cgroup").context("read \"/proc/self/cgroup\"")?;
    parse_proc_cgroup(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
99 23 0:32 /docker/abc /mnt/my\\040mem rw - cgroup cgroup rw,memory
";

    #[test]
    fn parses_hybrid_mounts() {
        let m = parse_mountinfo(HYBRID).unwrap();
        assert_eq!(m.len(), 4, "tmpfs skipped, memory bind mount deduplicated");
        assert_eq!(m[0].controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(
            m[0].mount_point,
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")
        );
        assert_eq!(m[2].controllers, vec!["name=systemd"]);
        assert!(m[3].unified);
        assert_eq!(layout_of(&m).unwrap(), CgroupLayout::Hybrid);
    }

    #[test]
    fn detects_v1_and_v2() {
        let v2 = "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            layout_of(&parse_mountinfo(v2).unwrap()).unwrap(),
            CgroupLayout::V2
        );
        let v2_named = "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n\
                        40 30 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n";
        assert_eq!(
            layout_of(&parse_mountinfo(v2_named).unwrap()).unwrap(),
            CgroupLayout::V2
        );
        let v1 = "35 31 0:32 / /cg/memory rw - cgroup cgroup rw,memory\n";
        assert_eq!(
            layout_of(&parse_mountinfo(v1).unwrap()).unwrap(),
            CgroupLayout::V1
        );
        assert!(layout_of(&[]).is_err());
    }

    #[test]
    fn unescapes_mount_points_and_keeps_root() {
        let t = "99 23 0:32 /docker/abc /mnt/my\\040mem rw - cgroup cgroup rw,memory\n";
        let m = parse_mountinfo(t).unwrap();
        assert_eq!(m[0].mount_point, PathBuf::from("/mnt/my mem"));
        assert_eq!(m[0].root, "/docker/abc");
    }

    #[test]
    fn parses_proc_cgroup() {
        let own = parse_proc_cgroup("4:memory:/a/b\n2:cpu,cpuacct:/\n1:name=systemd:/s\n0::/u\n")
            .unwrap();
        assert_eq!(own["memory"], "/a/b");
        assert_eq!(own["cpuacct"], "/");
        assert_eq!(own["name=systemd"], "/s");
        assert_eq!(own[""], "/u");
        assert!(parse_proc_cgroup("garbage\n").is_err());
    }
}
