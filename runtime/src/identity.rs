//! The process identity of OCI config.md "Process" → "user" (POSIX
//! platforms): uid, gid, additionalGids and umask. The order is runc's:
//! supplementary groups, then gid, then uid (after the uid change the
//! process may no longer be allowed to change groups).

use anyhow::Context;
use nix::sys::stat::Mode;
use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};
use oci_spec::runtime::User;

/// Switches the calling process to `user`. Call after the rootfs is set up
/// and after `capabilities::drop_bounding_set`, before
/// `capabilities::apply_capabilities`: PR_SET_KEEPCAPS is set around the uid
/// change so the permitted set survives it, and apply_capabilities then
/// restores the effective set that the kernel clears on leaving uid 0.
pub fn set_identity(user: &User) -> anyhow::Result<()> {
    set_supplementary_groups(user)?;
    chown_stdio(user.uid())?;
    let gid = Gid::from_raw(user.gid());
    setresgid(gid, gid, gid).with_context(|| format!("setresgid to {gid}"))?;
    nix::sys::prctl::set_keepcaps(true).context("set PR_SET_KEEPCAPS")?;
    let uid = Uid::from_raw(user.uid());
    setresuid(uid, uid, uid).with_context(|| format!("setresuid to {uid}"))?;
    // The flag did its job; leaving it set would let a later setuid in the
    // container keep capabilities the container's user did not ask for.
    nix::sys::prctl::set_keepcaps(false).context("clear PR_SET_KEEPCAPS")?;
    if let Some(umask) = user.umask() {
        // umask(2) takes only the permission bits; higher bits are ignored by
        // the kernel too, so this truncation is what it would do.
        nix::sys::stat::umask(Mode::from_bits_truncate(umask & 0o777));
    }
    Ok(())
}

/// setgroups(additionalGids). An empty list is still set, so the host's
/// supplementary groups never leak into the container. In a user namespace
/// whose /proc/self/setgroups says "deny" (rootless), setgroups(2) would fail
/// with EPERM: skip it, as runc does, unless groups were asked for.
fn set_supplementary_groups(user: &User) -> anyhow::Result<()> {
    let gids: Vec<Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| Gid::from_raw(*g))
        .collect();
    if setgroups_denied() {
        if !gids.is_empty() {
            anyhow::bail!(
                "set additional gids {:?}: /proc/self/setgroups is \"deny\" in this user namespace",
                user.additional_gids().as_deref().unwrap_or_default()
            );
        }
        return Ok(());
    }
    setgroups(&gids).with_context(|| {
        format!(
            "setgroups to {:?}",
            user.additional_gids().as_deref().unwrap_or_default()
        )
    })
}

/// Gives the container's user its stdio (the console above all: the pty
/// slave was opened as root), as runc's fixStdioPermissions does: fds that
/// are /dev/null or already the user's are left alone, only the owner
/// changes (devpts may have chosen the group), and EINVAL, EPERM and EROFS
/// (an unmapped owner, a read-only /dev) mean "leave it", not failure.
/// Runs before the uid change, while CAP_CHOWN is still effective.
///
/// The null device is recognised by its number (1:3) too: a root without a
/// `/dev/null` must not make the host's node change hands.
fn chown_stdio(uid: u32) -> anyhow::Result<()> {
    use nix::errno::Errno;
    use nix::sys::stat::{major, minor, SFlag};
    use std::os::fd::AsFd;
    let null_rdev = nix::sys::stat::stat("/dev/null").ok().map(|s| s.st_rdev);
    let is_null = |st: &nix::sys::stat::FileStat| {
        let char_dev = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFCHR;
        null_rdev == Some(st.st_rdev)
            || (char_dev && (major(st.st_rdev), minor(st.st_rdev)) == (1, 3))
    };
    let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    for (n, fd) in [stdin.as_fd(), stdout.as_fd(), stderr.as_fd()]
        .into_iter()
        .enumerate()
    {
        let Ok(st) = nix::sys::stat::fstat(fd) else {
            continue; // a closed stdio fd: nothing to give
        };
        if st.st_uid == uid || is_null(&st) {
            continue;
        }
        match nix::unistd::fchown(fd, Some(Uid::from_raw(uid)), None) {
            Ok(()) | Err(Errno::EINVAL | Errno::EPERM | Errno::EROFS) => {}
            Err(e) => return Err(e).with_context(|| format!("chown stdio fd {n} to uid {uid}")),
        }
    }
    Ok(())
}

fn setgroups_denied() -> bool {
    std::fs::read_to_string("/proc/self/setgroups")
        .map(|s| s.trim() == "deny")
        .unwrap_or(false)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::sys::process::run_in_child;
    use oci_spec::runtime::UserBuilder;

    /// set_identity chowns stdio; in a test child that would be the test
    /// runner's pipes or the developer's terminal, so point it at /dev/null.
    pub(crate) fn null_stdio() {
        let null = std::fs::File::options()
            .read(true)
            .write(true)
            .open("/dev/null")
            .unwrap();
        nix::unistd::dup2_stdin(&null).unwrap();
        nix::unistd::dup2_stdout(&null).unwrap();
        nix::unistd::dup2_stderr(&null).unwrap();
    }

    fn verdict(checks: &[bool]) -> i32 {
        checks
            .iter()
            .position(|ok| !ok)
            .map_or(0, |i| 10 + i as i32)
    }

    fn status_field(key: &str) -> String {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with(key)).unwrap();
        line[key.len()..]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn sets_uid_gid_groups_umask() {
        let user = UserBuilder::default()
            .uid(1234u32)
            .gid(2345u32)
            .additional_gids(vec![11u32, 22])
            .umask(0o027u32)
            .build()
            .unwrap();
        let code = run_in_child(|| {
            null_stdio();
            set_identity(&user).unwrap();
            let old = nix::sys::stat::umask(Mode::from_bits_truncate(0));
            let checks = [
                status_field("Uid:") == "1234 1234 1234 1234",
                status_field("Gid:") == "2345 2345 2345 2345",
                status_field("Groups:") == "11 22",
                old.bits() == 0o027,
                !nix::sys::prctl::get_keepcaps().unwrap(),
            ];
            checks
                .iter()
                .position(|ok| !ok)
                .map_or(0, |i| 10 + i as i32)
        })
        .unwrap();
        assert_eq!(code, 0, "check #{} failed", code - 10);
    }

    #[test]
    fn gives_stdio_to_the_user_but_not_dev_null() {
        let user = UserBuilder::default()
            .uid(4321u32)
            .gid(4321u32)
            .build()
            .unwrap();
        let code = run_in_child(|| {
            null_stdio();
            let (r, w) = nix::unistd::pipe().unwrap();
            nix::unistd::dup2_stdout(&w).unwrap();
            set_identity(&user).unwrap();
            let pipe_uid = nix::sys::stat::fstat(&r).unwrap().st_uid;
            let null_uid =
                std::fs::metadata("/dev/null").map(|m| std::os::unix::fs::MetadataExt::uid(&m));
            verdict(&[pipe_uid == 4321, null_uid.ok() == Some(0)])
        })
        .unwrap();
        assert_eq!(code, 0, "check #{} failed", code - 10);
    }

    #[test]
    fn leaves_the_null_device_alone_in_a_root_without_dev_null() {
        // A private 1:3 node stands in for the host's /dev/null, and an empty
        // root makes stat("/dev/null") fail as in a rootfs without /dev.
        let dir = std::env::temp_dir().join(format!("skiff-identity-null-{}", std::process::id()));
        let root = dir.join("root");
        std::fs::create_dir_all(&root).unwrap();
        let node = dir.join("null");
        nix::sys::stat::mknod(
            &node,
            nix::sys::stat::SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            nix::sys::stat::makedev(1, 3),
        )
        .unwrap();
        let user = UserBuilder::default()
            .uid(4321u32)
            .gid(4321u32)
            .build()
            .unwrap();
        let code = run_in_child(|| {
            let null = std::fs::File::options()
                .read(true)
                .write(true)
                .open(&node)
                .unwrap();
            for dup in [
                nix::unistd::dup2_stdin,
                nix::unistd::dup2_stdout,
                nix::unistd::dup2_stderr,
            ] {
                dup(&null).unwrap();
            }
            nix::unistd::chroot(&root).unwrap();
            set_identity(&user).unwrap();
            0
        })
        .unwrap();
        let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&node).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(code, 0);
        assert_eq!(owner, 0, "the null device was chowned");
    }

    #[test]
    fn empty_groups_clear_the_hosts() {
        let user = UserBuilder::default().uid(0u32).gid(0u32).build().unwrap();
        let code = run_in_child(|| {
            null_stdio();
            setgroups(&[Gid::from_raw(7)]).unwrap();
            set_identity(&user).unwrap();
            i32::from(!status_field("Groups:").is_empty())
        })
        .unwrap();
        assert_eq!(code, 0);
    }

    #[test]
    fn keeps_permitted_caps_across_uid_change() {
        let user = UserBuilder::default()
            .uid(1000u32)
            .gid(1000u32)
            .build()
            .unwrap();
        let code = run_in_child(|| {
            null_stdio();
            set_identity(&user).unwrap();
            let permitted = caps::read(None, caps::CapSet::Permitted).unwrap();
            i32::from(!permitted.contains(&caps::Capability::CAP_SETUID))
        })
        .unwrap();
        assert_eq!(code, 0);
    }
}
