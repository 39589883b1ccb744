//! A config.json mount of type `cgroup` (OCI runtime spec config-linux.md
//! "Control groups": the container sees its cgroups), done as runc does.
//! cgroup v1 (and the hybrid layout): a tmpfs at the destination holding one
//! directory per host hierarchy, each the container's own cgroup bind-mounted
//! from the host, or with a cgroup namespace a fresh `cgroup` mount of that
//! controller set; co-mounted controllers get symlinks (`cpu` ->
//! `cpu,cpuacct`); the hybrid `unified` cgroup2 tree likewise. Pure cgroup v2:
//! cgroup2 mounted directly. Callers must already be in the container's cgroups.

use std::path::{Path, PathBuf};

use anyhow::Context;
use nix::errno::Errno;
use nix::mount::MsFlags;
use nix::unistd::symlinkat;

use super::mount::{bind_mount, describe, is_errno, mount_fs, remount_bind, MountContext};
use super::mountinfo::{read_mountinfo, read_self_cgroup, CgroupEntry, MountInfo};
use super::options::MountOptions;
use super::resolve::Root;
use super::SysError;

pub(crate) fn mount_cgroup(
    root: &Root,
    dest: &Path,
    opts: &MountOptions,
    ctx: MountContext<'_>,
) -> anyhow::Result<()> {
    let mounts = read_mountinfo()?;
    let own = read_self_cgroup()?;
    if mounts.iter().any(|m| m.fstype == "cgroup") {
        mount_v1(root, dest, opts, ctx, &mounts, &own)
    } else {
        mount_v2(root, dest, opts, ctx, &mounts, &own)
    }
}

/// A hierarchy to show in the container: its name under the destination, the
/// host mount and the container's cgroup path in it.
struct Hierarchy<'a> {
    name: String,
    mount: &'a MountInfo,
    cgroup_path: PathBuf,
}

fn mount_v1(
    root: &Root,
    dest: &Path,
    opts: &MountOptions,
    ctx: MountContext<'_>,
    mounts: &[MountInfo],
    own: &[CgroupEntry],
) -> anyhow::Result<()> {
    // The tmpfs stays writable until the hierarchy dirs and symlinks exist.
    let mut tmpfs = opts.clone();
    tmpfs.flags.remove(MsFlags::MS_RDONLY);
    tmpfs.flags.remove(MsFlags::MS_BIND | MsFlags::MS_REC);
    tmpfs.data = vec!["mode=755".to_string()];
    tmpfs.propagation.clear();
    tmpfs.rec_attr = None;
    mount_fs(root, Path::new("tmpfs"), "tmpfs", dest, &tmpfs)?;

    let mut sub = opts.clone();
    sub.data.clear();
    for h in hierarchies(mounts, own) {
        let sub_dest = dest.join(&h.name);
        if ctx.cgroup_ns {
            // The container's cgroup namespace makes its own cgroup the root.
            let (fstype, data) = if h.mount.fstype == "cgroup2" {
                ("cgroup2", Vec::new())
            } else {
                let mut c = controllers_of(h.mount);
                if c.iter().all(|c| c.starts_with("name=")) {
                    // A named hierarchy without controllers (name=systemd).
                    c.insert(0, "none".to_string());
                }
                ("cgroup", c)
            };
            sub.data = data;
            sub.flags.remove(MsFlags::MS_BIND | MsFlags::MS_REC);
            mount_fs(root, Path::new(fstype), fstype, &sub_dest, &sub)?;
        } else {
            let source = host_dir(h.mount, &h.cgroup_path);
            sub.flags.insert(MsFlags::MS_BIND | MsFlags::MS_REC);
            bind_mount(root, &source, &sub_dest, &sub)?;
        }
        link_comounted(root, dest, &h.name)?;
    }
    if opts.flags.contains(MsFlags::MS_RDONLY) {
        let what = || describe("tmpfs", dest, root);
        let fd = root.resolve(dest).map_err(SysError).with_context(what)?;
        let flags = (opts.flags & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC))
            | MsFlags::MS_RDONLY;
        remount_bind(&fd, flags).with_context(|| format!("{}: remount read-only", what()))?;
    }
    Ok(())
}

/// The v1 hierarchies (and the hybrid cgroup2 tree) under the host's cgroup
/// root, each paired with this process's cgroup in it.
fn hierarchies<'a>(mounts: &'a [MountInfo], own: &[CgroupEntry]) -> Vec<Hierarchy<'a>> {
    let mut out = Vec::new();
    for m in mounts
        .iter()
        .filter(|m| m.fstype == "cgroup" || m.fstype == "cgroup2")
    {
        let Some(name) = m.mount_point.file_name() else {
            continue;
        };
        let entry = if m.fstype == "cgroup2" {
            own.iter().find(|e| e.controllers.is_empty())
        } else {
            let ctrls = controllers_of(m);
            own.iter().find(|e| {
                !e.controllers.is_empty() && e.controllers.iter().all(|c| ctrls.contains(c))
            })
        };
        let Some(entry) = entry else { continue };
        // The same hierarchy mounted twice shows up twice; keep the first.
        if out
            .iter()
            .any(|h: &Hierarchy<'_>| h.name == name.to_string_lossy())
        {
            continue;
        }
        out.push(Hierarchy {
            name: name.to_string_lossy().into_owned(),
            mount: m,
            cgroup_path: entry.path.clone(),
        });
    }
    out
}

/// The controllers (and `name=...`) in a cgroup v1 mount's super options.
fn controllers_of(m: &MountInfo) -> Vec<String> {
    const NOT_CONTROLLERS: &[&str] = &[
        "rw",
        "ro",
        "xattr",
        "noprefix",
        "clone_children",
        "cpuset_v2_mode",
    ];
    m.super_options
        .iter()
        .filter(|o| !NOT_CONTROLLERS.contains(&o.as_str()) && !o.starts_with("release_agent="))
        .cloned()
        .collect()
}

/// The host directory of `cgroup_path` in the hierarchy mounted at `m`.
fn host_dir(m: &MountInfo, cgroup_path: &Path) -> PathBuf {
    let rel = cgroup_path.strip_prefix(&m.root).unwrap_or(cgroup_path);
    let rel = rel.strip_prefix("/").unwrap_or(rel);
    m.mount_point.join(rel)
}

/// `cpu -> cpu,cpuacct` and `cpuacct -> cpu,cpuacct`, as on the host.
fn link_comounted(root: &Root, dest: &Path, name: &str) -> anyhow::Result<()> {
    if !name.contains(',') {
        return Ok(());
    }
    let dir = root
        .resolve(dest)
        .map_err(SysError)
        .with_context(|| format!("open {dest:?} (in root {:?})", root.path()))?;
    for part in name.split(',').filter(|p| !p.starts_with("name=")) {
        match symlinkat(name, &dir, part) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => {
                return Err(SysError(e)).with_context(|| {
                    format!(
                        "symlink {:?} -> {name:?} (in root {:?})",
                        dest.join(part),
                        root.path()
                    )
                })
            }
        }
    }
    Ok(())
}

fn mount_v2(
    root: &Root,
    dest: &Path,
    opts: &MountOptions,
    ctx: MountContext<'_>,
    mounts: &[MountInfo],
    own: &[CgroupEntry],
) -> anyhow::Result<()> {
    let mut fresh = opts.clone();
    fresh.flags.remove(MsFlags::MS_BIND | MsFlags::MS_REC);
    fresh.data.clear();
    let err = match mount_fs(root, Path::new("cgroup2"), "cgroup2", dest, &fresh) {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    // Without a cgroup namespace an unprivileged mount is refused (EPERM);
    // runc then binds the container's own cgroup dir instead.
    let refused = is_errno(&err, Errno::EPERM) || is_errno(&err, Errno::EBUSY);
    if !refused || ctx.cgroup_ns {
        return Err(err);
    }
    let host = mounts
        .iter()
        .find(|m| m.fstype == "cgroup2")
        .context("no cgroup2 mount on the host")?;
    let path = own
        .iter()
        .find(|e| e.controllers.is_empty())
        .map(|e| e.path.clone())
        .unwrap_or_else(|| "/".into());
    let mut bind = opts.clone();
    bind.flags.insert(MsFlags::MS_BIND | MsFlags::MS_REC);
    bind.data.clear();
    bind_mount(root, &host_dir(host, &path), dest, &bind)
}

#[cfg(test)]
mod tests {
    use super::super::mountinfo::{parse_cgroup, parse_mountinfo};
    use super::*;

    #[test]
    fn pairs_hierarchies_with_own_cgroups() {
        let mounts = parse_mountinfo(
            "30 22 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs ro,mode=755\n\
             31 30 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n\
             32 30 0:28 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n\
             33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
             34 30 0:30 /outer /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
        );
        let own =
            parse_cgroup("4:memory:/outer/c1\n3:cpu,cpuacct:/c1\n1:name=systemd:/c1\n0::/c1\n");
        let hs = hierarchies(&mounts, &own);
        let names: Vec<&str> = hs.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["unified", "systemd", "cpu,cpuacct", "memory"]);
        assert_eq!(
            host_dir(hs[2].mount, &hs[2].cgroup_path),
            Path::new("/sys/fs/cgroup/cpu,cpuacct/c1")
        );
        // The mount's root is "/outer": the bind source is relative to it.
        assert_eq!(
            host_dir(hs[3].mount, &hs[3].cgroup_path),
            Path::new("/sys/fs/cgroup/memory/c1")
        );
        assert_eq!(controllers_of(hs[1].mount), ["name=systemd"]);
        assert_eq!(controllers_of(hs[2].mount), ["cpu", "cpuacct"]);
    }
}
