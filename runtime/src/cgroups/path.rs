//! `linux.cgroupsPath` (OCI config-linux.md "Cgroups path") resolved the way
//! runc's cgroupfs drivers resolve it:
//! - absolute: the same path under the root of every hierarchy;
//! - relative: under the runtime's own cgroup in each hierarchy (on pure v2,
//!   runc uses the *parent* of its own cgroup, because its own cgroup has
//!   processes and so cannot delegate controllers; we do the same);
//! - absent: runc's default, the container id as a relative path.
//!
//! runc silently clamps ".." at the root; skiff refuses a path that climbs
//! out of the hierarchy instead, because a config that names a cgroup
//! outside its own place is a mistake, not something to reinterpret.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::mountinfo::{layout_of, CgroupLayout, CgroupMount};
use super::Cgroup;

/// A cleaned cgroupsPath: whether it was absolute, and its components.
#[derive(Debug, PartialEq, Eq)]
pub struct CleanPath {
    pub absolute: bool,
    pub parts: Vec<String>,
}

impl CleanPath {
    fn joined(&self) -> String {
        self.parts.join("/")
    }
}

/// Lexically cleans `path` ("." and empty components dropped, ".." pops)
/// and refuses any ".." that would leave the starting point.
pub fn clean(path: &str) -> Result<CleanPath> {
    let mut parts: Vec<String> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    bail!("resolve cgroupsPath {path:?}: \"..\" leaves the cgroup hierarchy");
                }
            }
            c => parts.push(c.to_string()),
        }
    }
    Ok(CleanPath {
        absolute: path.starts_with('/'),
        parts,
    })
}

/// `mount_point` + (`cgroup` relative to the mount's root) + `inner`.
fn under_mount(m: &CgroupMount, cgroup: &str, inner: &str) -> Result<PathBuf> {
    let root = m.root.trim_end_matches('/');
    let rel = cgroup.strip_prefix(root).with_context(|| {
        format!(
            "resolve cgroup {cgroup:?} in {:?}: it is outside the mount's root {:?}",
            m.mount_point, m.root
        )
    })?;
    let mut p = m.mount_point.clone();
    for c in rel
        .split('/')
        .chain(inner.split('/'))
        .filter(|c| !c.is_empty())
    {
        p.push(c);
    }
    Ok(p)
}

/// Resolves `cgroups_path` (or the default for `container_id`) against the
/// given mounts and this process's own cgroups.
pub fn resolve(
    mounts: &[CgroupMount],
    own: &BTreeMap<String, String>,
    cgroups_path: Option<&str>,
    container_id: &str,
) -> Result<Cgroup> {
    let layout = layout_of(mounts)?;
    let cleaned = match cgroups_path.filter(|p| !p.is_empty()) {
        Some(p) => clean(p)?,
        None => clean(container_id)
            .with_context(|| format!("default cgroupsPath for container {container_id:?}"))?,
    };
    if cleaned.parts.is_empty() && !cleaned.absolute {
        bail!("resolve cgroupsPath {cgroups_path:?}: names no cgroup");
    }
    if cleaned.parts.is_empty() {
        bail!("resolve cgroupsPath {cgroups_path:?}: the hierarchy root cannot be a container's cgroup");
    }
    let inner = cleaned.joined();
    let own_of = |key: &str| -> Result<String> {
        own.get(key).cloned().with_context(|| {
            let name = if key.is_empty() { "cgroup2" } else { key };
            format!("resolve relative cgroupsPath {inner:?}: no {name} line in /proc/self/cgroup")
        })
    };

    let mut v1 = BTreeMap::new();
    let mut unified = None;
    for m in mounts {
        if m.unified {
            if layout == CgroupLayout::V1 {
                continue;
            }
            let dir = if cleaned.absolute {
                under_mount(m, "/", &inner)?
            } else {
                let mut base = own_of("")?;
                if layout == CgroupLayout::V2 {
                    base = Path::new(&base)
                        .parent()
                        .map_or("/".to_string(), |p| p.to_string_lossy().into_owned());
                }
                under_mount(m, &base, &inner)?
            };
            unified = Some((dir, m.mount_point.clone()));
        } else {
            // On a pure v2 host a leftover named v1 hierarchy is not ours.
            if layout == CgroupLayout::V2 {
                continue;
            }
            let Some(first) = m.controllers.first() else {
                continue;
            };
            let dir = if cleaned.absolute {
                under_mount(m, "/", &inner)?
            } else {
                under_mount(m, &own_of(first)?, &inner)?
            };
            for c in &m.controllers {
                v1.insert(c.clone(), dir.clone());
            }
        }
    }
    Ok(Cgroup::from_parts(layout, v1, unified))
}

#[cfg(test)]
mod tests {
    use super::super::mountinfo::{parse_mountinfo, parse_proc_cgroup};
    use super::*;

    const HYBRID: &str = "\
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
";
    const OWN: &str = "4:memory:/process_api/x\n2:cpu,cpuacct:/\n0::/u/me\n";

    fn hybrid(path: Option<&str>, id: &str) -> Result<Cgroup> {
        let m = parse_mountinfo(HYBRID).unwrap();
        resolve(&m, &parse_proc_cgroup(OWN).unwrap(), path, id)
    }

    #[test]
    fn clean_refuses_escapes_only() {
        assert_eq!(clean("/a/./b//c/../d").unwrap().parts, vec!["a", "b", "d"]);
        assert!(clean("a/../b").unwrap().parts == vec!["b"]);
        assert!(clean("/../etc").is_err());
        assert!(clean("a/../../b").is_err());
        assert!(!clean("a/b").unwrap().absolute);
    }

    #[test]
    fn absolute_path_is_under_every_root() {
        let cg = hybrid(Some("/skiff/c1"), "c1").unwrap();
        assert_eq!(cg.layout(), CgroupLayout::Hybrid);
        assert_eq!(
            cg.v1_dir("memory").unwrap(),
            Path::new("/sys/fs/cgroup/memory/skiff/c1")
        );
        assert_eq!(
            cg.v1_dir("cpuacct").unwrap(),
            Path::new("/sys/fs/cgroup/cpu,cpuacct/skiff/c1")
        );
        assert_eq!(
            cg.unified_dir().unwrap(),
            Path::new("/sys/fs/cgroup/unified/skiff/c1")
        );
    }

    #[test]
    fn relative_and_default_paths_follow_own_cgroup() {
        let cg = hybrid(Some("pod/c1"), "c1").unwrap();
        assert_eq!(
            cg.v1_dir("memory").unwrap(),
            Path::new("/sys/fs/cgroup/memory/process_api/x/pod/c1")
        );
        assert_eq!(
            cg.v1_dir("cpu").unwrap(),
            Path::new("/sys/fs/cgroup/cpu,cpuacct/pod/c1")
        );
        assert_eq!(
            cg.unified_dir().unwrap(),
            Path::new("/sys/fs/cgroup/unified/u/me/pod/c1")
        );
        let d = hybrid(None, "abc").unwrap();
        assert_eq!(
            d.v1_dir("memory").unwrap(),
            Path::new("/sys/fs/cgroup/memory/process_api/x/abc")
        );
    }

    #[test]
    fn pure_v2_relative_uses_parent_of_own_cgroup() {
        let m = parse_mountinfo(
            "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n\
             40 30 0:37 / /run/systemd-v1 rw - cgroup cgroup rw,name=systemd\n",
        )
        .unwrap();
        let own = parse_proc_cgroup("0::/user.slice/session-1.scope\n").unwrap();
        let cg = resolve(&m, &own, Some("c1"), "c1").unwrap();
        assert_eq!(cg.layout(), CgroupLayout::V2);
        assert!(
            cg.v1_dir("name=systemd").is_none(),
            "named v1 hierarchy ignored on v2"
        );
        assert_eq!(
            cg.unified_dir().unwrap(),
            Path::new("/sys/fs/cgroup/user.slice/c1")
        );
        let abs = resolve(&m, &own, Some("/a/b"), "c1").unwrap();
        assert_eq!(abs.unified_dir().unwrap(), Path::new("/sys/fs/cgroup/a/b"));
        assert!(abs.v1_dir("memory").is_none());
    }

    #[test]
    fn mount_root_is_stripped_and_escapes_rejected() {
        let m = parse_mountinfo(
            "35 31 0:32 /docker/x /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
        )
        .unwrap();
        let own = parse_proc_cgroup("4:memory:/docker/x/init\n").unwrap();
        let cg = resolve(&m, &own, Some("c"), "c").unwrap();
        assert_eq!(
            cg.v1_dir("memory").unwrap(),
            Path::new("/sys/fs/cgroup/memory/init/c")
        );
        assert!(resolve(&m, &own, Some("../../c"), "c").is_err());
        assert!(resolve(&m, &own, Some("/"), "c").is_err());
        assert!(resolve(&m, &own, None, "../x").is_err());
    }
}
