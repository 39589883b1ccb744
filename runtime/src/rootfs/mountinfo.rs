//! `/proc/<pid>/mountinfo` (proc(5)) and `/proc/<pid>/cgroup` parsing: the
//! host's cgroup hierarchies for cgroup mounts and the propagation of the
//! mount holding the rootfs.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// One line of mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountInfo {
    /// Root of the mount within its filesystem (field 4).
    pub root: PathBuf,
    pub mount_point: PathBuf,
    /// Optional fields such as `shared:1`, `master:2`.
    pub optional: Vec<String>,
    pub fstype: String,
    pub super_options: Vec<String>,
}

impl MountInfo {
    pub fn is_shared(&self) -> bool {
        self.optional.iter().any(|o| o.starts_with("shared:"))
    }
}

/// The calling thread's mounts (thread-self: a thread may have unshared its
/// mount namespace, as the root tests do).
pub(crate) fn read_mountinfo() -> anyhow::Result<Vec<MountInfo>> {
    let path = "/proc/thread-self/mountinfo";
    let text = std::fs::read_to_string(path).with_context(|| format!("read {path:?}"))?;
    Ok(parse_mountinfo(&text))
}

pub(crate) fn parse_mountinfo(text: &str) -> Vec<MountInfo> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<MountInfo> {
    let mut fields = line.split(' ');
    let root = unescape(fields.nth(3)?);
    let mount_point = unescape(fields.next()?);
    let _mount_options = fields.next()?;
    let mut optional = Vec::new();
    for f in fields.by_ref() {
        if f == "-" {
            break;
        }
        optional.push(f.to_string());
    }
    let fstype = fields.next()?.to_string();
    let _source = fields.next()?;
    let super_options = fields.next()?.split(',').map(str::to_string).collect();
    Some(MountInfo {
        root: root.into(),
        mount_point: mount_point.into(),
        optional,
        fstype,
        super_options,
    })
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mount that holds `path` (the longest mount point prefix, last wins).
pub(crate) fn mount_of<'a>(mounts: &'a [MountInfo], path: &Path) -> Option<&'a MountInfo> {
    mounts
        .iter()
        .filter(|m| path.starts_with(&m.mount_point))
        .max_by_key(|m| m.mount_point.as_os_str().len())
}

/// One line of /proc/<pid>/cgroup: `id:controllers:path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CgroupEntry {
    /// Controllers (`cpu`, `cpuacct`, `name=systemd`); empty for cgroup v2.
    pub controllers: Vec<String>,
    pub path: PathBuf,
}

pub(crate) fn read_self_cgroup() -> anyhow::Result<Vec<CgroupEntry>> {
    let path = "/proc/thread-self/cgroup";
    let text = std::fs::read_to_string(path).with_context(|| format!("read {path:?}"))?;
    Ok(parse_cgroup(&text))
}

pub(crate) fn parse_cgroup(text: &str) -> Vec<CgroupEntry> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let _id = parts.next()?;
            let controllers = parts.next()?;
            let path = parts.next()?;
            let controllers = controllers
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect();
            Some(CgroupEntry {
                controllers,
                path: path.into(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro
30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate
33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid master:3 - cgroup cgroup rw,cpu,cpuacct
40 22 0:40 /sub /mnt/with\\040space rw - tmpfs none rw
";

    #[test]
    fn parses_fields_and_optional_tags() {
        let m = parse_mountinfo(SAMPLE);
        assert_eq!(m.len(), 5);
        assert!(m[0].is_shared());
        assert_eq!(m[2].fstype, "cgroup2");
        assert_eq!(m[3].super_options, ["rw", "cpu", "cpuacct"]);
        assert_eq!(m[3].optional, ["master:3"]);
        assert!(!m[3].is_shared());
        assert_eq!(m[4].mount_point, Path::new("/mnt/with space"));
        assert_eq!(m[4].root, Path::new("/sub"));
    }

    #[test]
    fn mount_of_picks_longest_prefix() {
        let m = parse_mountinfo(SAMPLE);
        let got = mount_of(&m, Path::new("/sys/fs/cgroup/cpu,cpuacct/x")).unwrap();
        assert_eq!(got.fstype, "cgroup");
        assert_eq!(
            mount_of(&m, Path::new("/home/x")).unwrap().mount_point,
            Path::new("/")
        );
        // A component prefix only: "/sys/fs/cgroupx" is not under "/sys/fs/cgroup".
        assert_eq!(
            mount_of(&m, Path::new("/sys/fs/cgroupx"))
                .unwrap()
                .mount_point,
            Path::new("/")
        );
    }

    #[test]
    fn parses_proc_cgroup() {
        let c = parse_cgroup("12:cpu,cpuacct:/a/b\n1:name=systemd:/\n0::/c:d\n");
        assert_eq!(c[0].controllers, ["cpu", "cpuacct"]);
        assert_eq!(c[0].path, Path::new("/a/b"));
        assert_eq!(c[1].controllers, ["name=systemd"]);
        assert!(c[2].controllers.is_empty());
        assert_eq!(c[2].path, Path::new("/c:d"));
    }
}
