//! The five capability sets of OCI config.md "Process" (`process.capabilities`:
//! bounding, effective, permitted, inheritable, ambient), applied as runc does:
//! the bounding set is dropped while still root (PR_CAPBSET_DROP needs
//! CAP_SETPCAP), the other sets after the uid change (see `identity`).

use std::collections::HashSet;

use anyhow::Context;
use caps::{CapSet, Capability};
use oci_spec::runtime::{Capabilities, LinuxCapabilities};

use crate::logging::log_debug;
use crate::sys::process::{capset, CapSets};

/// Parses a capability name such as `CAP_SYS_ADMIN` (case-insensitive, the
/// `CAP_` prefix optional, as oci-spec accepts in config.json).
pub fn parse_capability(name: &str) -> anyhow::Result<Capability> {
    let upper = name.trim().to_ascii_uppercase();
    let canonical = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    canonical
        .parse::<Capability>()
        .map_err(|_| anyhow::anyhow!("parse capability {name:?}: unknown capability"))
}

/// Converts an oci-spec set to `caps` values through the canonical name.
fn to_caps(set: Option<&Capabilities>) -> anyhow::Result<HashSet<Capability>> {
    let mut out = HashSet::new();
    for cap in set.into_iter().flatten() {
        let name = serde_json::to_value(cap).context("serialize capability name")?;
        let name = name.as_str().unwrap_or_default();
        out.insert(parse_capability(name)?);
    }
    Ok(out)
}

fn mask(set: &HashSet<Capability>) -> u64 {
    set.iter().fold(0, |m, c| m | c.bitmask())
}

/// Drops from the bounding set every capability the kernel knows that is
/// not in `caps.bounding`. No `capabilities` at all means an empty bounding
/// set, as runc does. Must run before `set_identity`: dropping needs
/// CAP_SETPCAP in the effective set, which the uid change clears.
pub fn drop_bounding_set(caps: Option<&LinuxCapabilities>) -> anyhow::Result<()> {
    let keep = to_caps(caps.and_then(|c| c.bounding().as_ref()))?;
    // thread_all_supported probes the running kernel, so caps newer than the
    // kernel (EINVAL from PR_CAPBSET_DROP) are never attempted.
    for cap in caps::runtime::thread_all_supported() {
        if keep.contains(&cap) {
            continue;
        }
        caps::drop(None, CapSet::Bounding, cap)
            .with_context(|| format!("drop {cap} from the bounding set"))?;
    }
    Ok(())
}

/// Sets effective, permitted and inheritable with one capset(2), then
/// clears the ambient set and raises each ambient capability. Runs after
/// `set_identity` (which keeps the permitted set across the uid change).
/// The kernel raises an ambient capability only if it is in both permitted
/// and inheritable. runc's own default spec lists ambient caps with no
/// inheritable set and runc runs it without complaint, so such caps are
/// skipped (logged at debug level); a raise that fails otherwise is an error.
pub fn apply_capabilities(caps: Option<&LinuxCapabilities>) -> anyhow::Result<()> {
    let set = |f: fn(&LinuxCapabilities) -> &Option<Capabilities>| {
        to_caps(caps.and_then(|c| f(c).as_ref()))
    };
    let effective = set(LinuxCapabilities::effective)?;
    let permitted = set(LinuxCapabilities::permitted)?;
    let inheritable = set(LinuxCapabilities::inheritable)?;
    let ambient = set(LinuxCapabilities::ambient)?;
    let sets = CapSets {
        effective: mask(&effective),
        permitted: mask(&permitted),
        inheritable: mask(&inheritable),
    };
    capset(sets).with_context(|| {
        format!(
            "set capabilities (effective {:?}, permitted {:?}, inheritable {:?})",
            names(&effective),
            names(&permitted),
            names(&inheritable)
        )
    })?;
    caps::clear(None, CapSet::Ambient).context("clear the ambient capability set")?;
    for cap in ambient {
        if !(permitted.contains(&cap) && inheritable.contains(&cap)) {
            log_debug(&format!(
                "ambient capability {cap} not raised: not in both permitted and inheritable"
            ));
            continue;
        }
        caps::raise(None, CapSet::Ambient, cap)
            .with_context(|| format!("raise ambient capability {cap}"))?;
    }
    Ok(())
}

fn names(set: &HashSet<Capability>) -> Vec<String> {
    let mut v: Vec<String> = set.iter().map(|c| c.to_string()).collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::process::run_in_child;
    use oci_spec::runtime::{Capability as OciCap, LinuxCapabilitiesBuilder};

    #[test]
    fn parses_names() {
        assert_eq!(
            parse_capability("CAP_SYS_ADMIN").unwrap(),
            Capability::CAP_SYS_ADMIN
        );
        assert_eq!(
            parse_capability("net_raw").unwrap(),
            Capability::CAP_NET_RAW
        );
        let err = parse_capability("CAP_FLY").unwrap_err().to_string();
        assert!(err.contains("\"CAP_FLY\""), "{err}");
    }

    #[test]
    fn every_oci_capability_maps() {
        let all: Capabilities = caps::all()
            .iter()
            .filter_map(|c| serde_json::from_value::<OciCap>(c.to_string().into()).ok())
            .collect();
        assert!(all.len() >= 40);
        assert_eq!(to_caps(Some(&all)).unwrap().len(), all.len());
    }

    /// Reads a hex capability mask line ("CapEff:") of /proc/thread-self/status.
    fn status_mask(key: &str) -> u64 {
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with(key)).unwrap();
        u64::from_str_radix(line[key.len()..].trim(), 16).unwrap()
    }

    #[test]
    fn applies_all_five_sets_as_non_root() {
        let set = |v: &[OciCap]| v.iter().copied().collect::<Capabilities>();
        let spec = LinuxCapabilitiesBuilder::default()
            .bounding(set(&[OciCap::Kill, OciCap::NetBindService, OciCap::Chown]))
            .permitted(set(&[OciCap::Kill, OciCap::NetBindService]))
            .effective(set(&[OciCap::Kill]))
            .inheritable(set(&[OciCap::NetBindService]))
            .ambient(set(&[OciCap::NetBindService, OciCap::Kill]))
            .build()
            .unwrap();
        let code = run_in_child(|| {
            let user = oci_spec::runtime::UserBuilder::default()
                .uid(1000u32)
                .gid(1000u32)
                .build()
                .unwrap();
            crate::identity::tests::null_stdio();
            drop_bounding_set(Some(&spec)).unwrap();
            crate::identity::set_identity(&user).unwrap();
            apply_capabilities(Some(&spec)).unwrap();
            let kill = Capability::CAP_KILL.bitmask();
            let nbs = Capability::CAP_NET_BIND_SERVICE.bitmask();
            let chown = Capability::CAP_CHOWN.bitmask();
            let checks = [
                status_mask("CapBnd:") == kill | nbs | chown,
                status_mask("CapPrm:") == kill | nbs,
                status_mask("CapEff:") == kill,
                status_mask("CapInh:") == nbs,
                // CAP_KILL is not inheritable, so only NET_BIND_SERVICE rises.
                status_mask("CapAmb:") == nbs,
                nix::unistd::geteuid().as_raw() == 1000,
            ];
            checks
                .iter()
                .position(|ok| !ok)
                .map_or(0, |i| 10 + i as i32)
        })
        .unwrap();
        assert_eq!(code, 0, "check #{} failed", code - 10);
    }

    /// runc runs its own default spec (ambient caps, no inheritable ones)
    /// to CapPrm = CapEff = CapBnd = 0x20000420 and empty CapInh/CapAmb.
    #[test]
    fn default_spec_caps_apply_as_in_runc() {
        let spec = crate::default_spec::default_spec(false).unwrap();
        let caps = spec.process().as_ref().unwrap().capabilities().clone();
        let code = run_in_child(|| {
            drop_bounding_set(caps.as_ref()).unwrap();
            apply_capabilities(caps.as_ref()).unwrap();
            let want = [
                ("CapBnd:", 0x2000_0420),
                ("CapPrm:", 0x2000_0420),
                ("CapEff:", 0x2000_0420),
                ("CapInh:", 0),
                ("CapAmb:", 0),
            ];
            let bad = want.iter().position(|(k, v)| status_mask(k) != *v);
            bad.map_or(0, |i| 10 + i as i32)
        })
        .unwrap();
        assert_eq!(code, 0, "check #{} failed", code - 10);
    }

    #[test]
    fn no_capabilities_means_none() {
        let code = run_in_child(|| {
            drop_bounding_set(None).unwrap();
            apply_capabilities(None).unwrap();
            let all_zero = ["CapBnd:", "CapPrm:", "CapEff:", "CapInh:", "CapAmb:"]
                .iter()
                .all(|k| status_mask(k) == 0);
            i32::from(!all_zero)
        })
        .unwrap();
        assert_eq!(code, 0);
    }
}
