//! `User` of the image config (OCI image spec, config.md: `user`, `uid`, `user:group`,
//! `uid:gid`, ...) resolved through the image's own /etc/passwd and /etc/group, read
//! inside the rootfs with RESOLVE_IN_ROOT so an image symlink cannot point elsewhere.

use std::io::Read;
use std::os::fd::AsFd;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::unpack::sys;

/// The process identity for config.json.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct User {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub home: String,
}

/// Reads `path` inside `rootfs`; a missing file is empty (many images lack /etc/group).
fn read_in_root(rootfs: &Path, path: &str) -> Result<String> {
    let root = sys::open_dir(rootfs).with_context(|| format!("open {rootfs:?}"))?;
    match sys::open_in_root(root.as_fd(), Path::new(path)) {
        Ok(mut f) => {
            let mut s = String::new();
            f.read_to_string(&mut s)
                .with_context(|| format!("read {path} in {rootfs:?}"))?;
            Ok(s)
        }
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(String::new()),
        Err(e) => Err(e).with_context(|| format!("open {path} in {rootfs:?}")),
    }
}

/// `name:x:uid:gid:gecos:home:shell` lines.
fn passwd_entries(text: &str) -> impl Iterator<Item = (&str, u32, u32, &str)> {
    text.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 7 || l.starts_with('#') {
            return None;
        }
        Some((f[0], f[2].parse().ok()?, f[3].parse().ok()?, f[5]))
    })
}

/// `name:x:gid:member,member` lines.
fn group_entries(text: &str) -> impl Iterator<Item = (&str, u32, Vec<&str>)> {
    text.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 4 || l.starts_with('#') {
            return None;
        }
        let members = f[3].split(',').filter(|m| !m.is_empty()).collect();
        Some((f[0], f[2].parse().ok()?, members))
    })
}

/// Resolves `spec` (empty = root) the way docker does: a numeric uid needs no passwd
/// entry, a name must have one; the group defaults to the passwd entry's; supplementary
/// groups are those of /etc/group listing the user's name.
pub(crate) fn resolve_user(rootfs: &Path, spec: &str) -> Result<User> {
    let passwd = read_in_root(rootfs, "/etc/passwd")?;
    let group = read_in_root(rootfs, "/etc/group")?;
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user_part = if user_part.is_empty() { "0" } else { user_part };
    let found = passwd_entries(&passwd)
        .find(|(name, uid, _, _)| *name == user_part || user_part.parse() == Ok(*uid));
    let (name, uid, mut gid, home) = match (found, user_part.parse::<u32>()) {
        (Some((name, uid, gid, home)), _) => (Some(name), uid, gid, home.to_string()),
        (None, Ok(uid)) => (None, uid, 0, "/".to_string()),
        (None, Err(_)) => {
            bail!("resolve user {spec:?}: no user {user_part:?} in the image's /etc/passwd")
        }
    };
    if let Some(g) = group_part {
        gid = match group_entries(&group).find(|(n, id, _)| *n == g || g.parse() == Ok(*id)) {
            Some((_, id, _)) => id,
            None => g.parse().map_err(|_| {
                anyhow::anyhow!("resolve user {spec:?}: no group {g:?} in the image's /etc/group")
            })?,
        };
    }
    let mut additional_gids = Vec::new();
    if group_part.is_none() {
        if let Some(name) = name {
            for (_, id, members) in group_entries(&group) {
                if members.contains(&name) && id != gid && !additional_gids.contains(&id) {
                    additional_gids.push(id);
                }
            }
        }
    }
    Ok(User {
        uid,
        gid,
        additional_gids,
        home,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::tests::TempDir;

    #[test]
    fn resolves_names_ids_and_groups() {
        let tmp = TempDir::new("user");
        let etc = tmp.0.join("etc");
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::write(
            etc.join("passwd"),
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            etc.join("group"),
            "root:x:0:\napp:x:1000:\nwheel:x:10:app,root\naudio:x:29:app\n",
        )
        .unwrap();
        let u = resolve_user(&tmp.0, "app").unwrap();
        assert_eq!(
            (u.uid, u.gid, u.additional_gids.clone(), u.home.as_str()),
            (1000, 1000, vec![10, 29], "/home/app")
        );
        let u = resolve_user(&tmp.0, "app:wheel").unwrap();
        assert_eq!((u.uid, u.gid, u.additional_gids.len()), (1000, 10, 0));
        let u = resolve_user(&tmp.0, "4242:4343").unwrap();
        assert_eq!((u.uid, u.gid), (4242, 4343));
        let u = resolve_user(&tmp.0, "").unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (0, 0, "/root"));
        assert!(resolve_user(&tmp.0, "nobody").is_err());
        assert!(resolve_user(&tmp.0, "app:nogroup").is_err());
    }

    #[test]
    fn reads_passwd_inside_the_root() {
        // /etc/passwd an absolute symlink to the host's: resolved inside the rootfs.
        let tmp = TempDir::new("user-link");
        std::fs::create_dir_all(tmp.0.join("etc")).unwrap();
        std::fs::create_dir_all(tmp.0.join("real")).unwrap();
        std::fs::write(tmp.0.join("real/passwd"), "app:x:7:7::/:/bin/sh\n").unwrap();
        std::os::unix::fs::symlink("/real/passwd", tmp.0.join("etc/passwd")).unwrap();
        assert_eq!(resolve_user(&tmp.0, "app").unwrap().uid, 7);
        assert!(
            resolve_user(&tmp.0, "root").is_err(),
            "read the host's /etc/passwd"
        );
    }
}
