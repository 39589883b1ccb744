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

fn setgroups_denied() -> bool {
    std::fs::read_to_string("/proc/self/setgroups")
        .map(|s| s.trim() == "deny")
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::process::run_in_child;
    use oci_spec::runtime::UserBuilder;

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
    fn empty_groups_clear_the_hosts() {
        let user = UserBuilder::default().uid(0u32).gid(0u32).build().unwrap();
        let code = run_in_child(|| {
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
            set_identity(&user).unwrap();
            let permitted = caps::read(None, caps::CapSet::Permitted).unwrap();
            i32::from(!permitted.contains(&caps::Capability::CAP_SETUID))
        })
        .unwrap();
        assert_eq!(code, 0);
    }
}
