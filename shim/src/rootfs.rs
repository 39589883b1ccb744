//! The task's root filesystem: the mounts containerd sends with Create
//! (its snapshotter's overlay, or a bind mount), mounted at BUNDLE/rootfs
//! with the option words of containerd's mount package, and unmounted at
//! delete.

use std::path::{Path, PathBuf};

use containerd_shim::protos::types::mount::Mount;
use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::error::{Result, ShimError};

/// containerd's option words that are mount flags; `clear` ones unset it.
const FLAG_WORDS: &[(&str, bool, MsFlags)] = &[
    ("async", true, MsFlags::MS_SYNCHRONOUS),
    ("atime", true, MsFlags::MS_NOATIME),
    ("bind", false, MsFlags::MS_BIND),
    ("defaults", false, MsFlags::empty()),
    ("dev", true, MsFlags::MS_NODEV),
    ("diratime", true, MsFlags::MS_NODIRATIME),
    ("dirsync", false, MsFlags::MS_DIRSYNC),
    ("exec", true, MsFlags::MS_NOEXEC),
    ("mand", false, MsFlags::MS_MANDLOCK),
    ("noatime", false, MsFlags::MS_NOATIME),
    ("nodev", false, MsFlags::MS_NODEV),
    ("nodiratime", false, MsFlags::MS_NODIRATIME),
    ("noexec", false, MsFlags::MS_NOEXEC),
    ("nomand", true, MsFlags::MS_MANDLOCK),
    ("norelatime", true, MsFlags::MS_RELATIME),
    ("nostrictatime", true, MsFlags::MS_STRICTATIME),
    ("nosuid", false, MsFlags::MS_NOSUID),
    ("rbind", false, MsFlags::MS_BIND.union(MsFlags::MS_REC)),
    ("relatime", false, MsFlags::MS_RELATIME),
    ("remount", false, MsFlags::MS_REMOUNT),
    ("ro", false, MsFlags::MS_RDONLY),
    ("rw", true, MsFlags::MS_RDONLY),
    ("strictatime", false, MsFlags::MS_STRICTATIME),
    ("suid", true, MsFlags::MS_NOSUID),
    ("sync", false, MsFlags::MS_SYNCHRONOUS),
];

/// mount(2) takes one page of data; the shim keeps some room as
/// containerd does.
const MAX_MOUNT_DATA: usize = 4096 - 512;

pub fn rootfs_dir(bundle: &Path) -> PathBuf {
    bundle.join("rootfs")
}

/// Mounts `mounts` in order at BUNDLE/rootfs. On failure, what was
/// mounted is unmounted again.
pub fn mount_rootfs(bundle: &Path, mounts: &[Mount]) -> Result<()> {
    if mounts.is_empty() {
        return Ok(());
    }
    let target = rootfs_dir(bundle);
    std::fs::create_dir_all(&target).map_err(|e| ShimError::io("create", &target, e))?;
    for m in mounts {
        if let Err(e) = mount_one(m, &target) {
            unmount_rootfs(bundle);
            return Err(e);
        }
    }
    Ok(())
}

fn mount_one(m: &Mount, target: &Path) -> Result<()> {
    let (flags, data) = parse_options(&m.options);
    let fail = |e: std::io::Error| {
        ShimError::io(
            "mount the rootfs",
            target,
            std::io::Error::new(e.kind(), format!("{} {}: {e}", m.type_, m.source)),
        )
    };
    if m.type_ == "overlay" && data.len() > MAX_MOUNT_DATA {
        // Too many layers for one page: one fsconfig call per lower dir.
        let options: Vec<String> = split_overlay_options(&data);
        crate::sys::mount_overlay_fsconfig(&options, target).map_err(fail)?;
        if !flags.is_empty() {
            mount(
                None::<&str>,
                target,
                None::<&str>,
                flags | MsFlags::MS_REMOUNT,
                None::<&str>,
            )
            .map_err(|e| fail(e.into()))?;
        }
        return Ok(());
    }
    let propagation =
        MsFlags::MS_SHARED | MsFlags::MS_PRIVATE | MsFlags::MS_SLAVE | MsFlags::MS_UNBINDABLE;
    let fstype = (!m.type_.is_empty() && m.type_ != "bind").then_some(m.type_.as_str());
    let data_arg = (!data.is_empty()).then_some(data.as_str());
    mount(
        Some(m.source.as_str()),
        target,
        fstype,
        flags - propagation,
        data_arg,
    )
    .map_err(|e| fail(e.into()))?;
    // A bind mount ignores MS_RDONLY until remounted.
    if flags.contains(MsFlags::MS_BIND) && flags.contains(MsFlags::MS_RDONLY) {
        let remount = (flags - propagation) | MsFlags::MS_REMOUNT;
        mount(None::<&str>, target, None::<&str>, remount, None::<&str>)
            .map_err(|e| fail(e.into()))?;
    }
    Ok(())
}

/// Flags and the data string of containerd's option words.
fn parse_options(options: &[String]) -> (MsFlags, String) {
    let mut flags = MsFlags::empty();
    let mut data = Vec::new();
    for option in options {
        match FLAG_WORDS.iter().find(|(word, _, _)| word == option) {
            Some((_, true, f)) => flags.remove(*f),
            Some((_, false, f)) => flags.insert(*f),
            None => data.push(option.as_str()),
        }
    }
    (flags, data.join(","))
}

/// `lowerdir=a:b:c` as `lowerdir+=a`, `lowerdir+=b`, ... (Linux 6.8+);
/// the rest unchanged.
fn split_overlay_options(data: &str) -> Vec<String> {
    data.split(',')
        .flat_map(|opt| match opt.strip_prefix("lowerdir=") {
            Some(dirs) => dirs.split(':').map(|d| format!("lowerdir+={d}")).collect(),
            None => vec![opt.to_string()],
        })
        .collect()
}

/// Unmounts everything stacked on BUNDLE/rootfs; best effort, as cleanup
/// must go on.
pub fn unmount_rootfs(bundle: &Path) {
    let target = rootfs_dir(bundle);
    for _ in 0..16 {
        if umount2(&target, MntFlags::empty()).is_err()
            && umount2(&target, MntFlags::MNT_DETACH).is_err()
        {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_words_become_flags_and_data() {
        let words: Vec<String> = ["rbind", "ro", "nosuid", "index=off", "rw", "userxattr"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (flags, data) = parse_options(&words);
        assert_eq!(
            flags,
            MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_NOSUID
        );
        assert_eq!(data, "index=off,userxattr");
    }

    #[test]
    fn long_lowerdirs_split_per_layer() {
        let opts = split_overlay_options("index=off,lowerdir=/a:/b,upperdir=/u,workdir=/w");
        assert_eq!(
            opts,
            vec![
                "index=off",
                "lowerdir+=/a",
                "lowerdir+=/b",
                "upperdir=/u",
                "workdir=/w"
            ]
        );
    }
}
