//! The config fields that depend on what the host has: SELinux
//! (`process.selinuxLabel`) and Intel RDT (`linux.intelRdt`), checked as
//! runc's validator (libcontainer/configs/validate) checks them, so a bundle
//! runc refuses on a host is refused by skiff too, and one runc runs (with
//! the field ignored) runs. AppArmor and `linux.mountLabel` need no check
//! here: runc applies them and lets the kernel refuse (see `lsm` and
//! `rootfs::mount`).

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use super::SpecError;

/// What the host offers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostSupport {
    /// selinuxfs is mounted (go-selinux's GetEnabled).
    pub selinux: bool,
    /// Where resctrl is mounted, if it is.
    pub resctrl: Option<PathBuf>,
}

impl HostSupport {
    pub fn detect() -> HostSupport {
        HostSupport {
            selinux: crate::lsm::selinux_enabled(),
            resctrl: resctrl_mount(),
        }
    }

    /// Intel RDT cache allocation (runc's IsCATEnabled).
    fn rdt_cat(&self) -> bool {
        self.resctrl
            .as_deref()
            .is_some_and(|m| m.join("info/L3").is_dir())
    }

    /// Intel RDT memory bandwidth allocation (runc's IsMBAEnabled).
    fn rdt_mba(&self) -> bool {
        self.resctrl
            .as_deref()
            .is_some_and(|m| m.join("info/MB").is_dir())
    }
}

fn resctrl_mount() -> Option<PathBuf> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    table.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        if right.split(' ').next()? != "resctrl" {
            return None;
        }
        left.split(' ').nth(4).map(PathBuf::from)
    })
}

/// `host` is asked only when the spec has a field that depends on it, so a
/// plain `create` reads neither selinuxfs nor the mount table.
pub fn validate_host_support(
    spec: &Spec,
    host: impl FnOnce() -> HostSupport,
) -> Result<(), SpecError> {
    let label_set = spec
        .process()
        .as_ref()
        .and_then(|p| p.selinux_label().as_deref())
        .is_some_and(|l| !l.is_empty());
    let rdt = spec.linux().as_ref().and_then(|l| l.intel_rdt().as_ref());
    if !label_set && rdt.is_none() {
        return Ok(());
    }
    let host = host();
    if label_set && !host.selinux {
        return Err(SpecError::invalid(
            "process.selinuxLabel",
            "is set, but SELinux is disabled or not supported on this host",
        ));
    }
    let Some(rdt) = rdt else {
        return Ok(());
    };
    let clos = rdt.clos_id().as_deref().unwrap_or("");
    if clos == "." || clos == ".." || clos.contains('/') {
        return Err(SpecError::invalid(
            "linux.intelRdt.closID",
            format!("{clos:?} is not a resctrl group name"),
        ));
    }
    let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
    if set(rdt.l3_cache_schema()) && !host.rdt_cat() {
        return Err(SpecError::invalid(
            "linux.intelRdt.l3CacheSchema",
            "is set, but Intel RDT cache allocation (CAT) is not enabled on this host",
        ));
    }
    if set(rdt.mem_bw_schema()) && !host.rdt_mba() {
        return Err(SpecError::invalid(
            "linux.intelRdt.memBwSchema",
            "is set, but Intel RDT memory bandwidth allocation (MBA) is not enabled on this host",
        ));
    }
    // Without resctrl runc ignores the rest (closID, enableCMT, enableMBM);
    // with it runc would make the group, which skiff does not implement:
    // refuse rather than run the container outside what it asked for.
    let asks = !clos.is_empty()
        || set(rdt.l3_cache_schema())
        || set(rdt.mem_bw_schema())
        || rdt.enable_cmt() == &Some(true)
        || rdt.enable_mbm() == &Some(true);
    if let (Some(mount), true) = (host.resctrl.as_deref(), asks) {
        return Err(SpecError::invalid(
            "linux.intelRdt",
            format!(
                "resctrl is mounted at {:?}, but skiff does not implement Intel RDT",
                display(mount)
            ),
        ));
    }
    Ok(())
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(process_extra: &str, linux_extra: &str) -> Spec {
        let json = format!(
            r#"{{"ociVersion":"1.0.2","root":{{"path":"rootfs"}},
            "process":{{"user":{{"uid":0,"gid":0}},"args":["sh"],"cwd":"/"{process_extra}}},
            "linux":{{"namespaces":[{{"type":"mount"}}]{linux_extra}}}}}"#
        );
        serde_json::from_str(&json).expect("test JSON parses")
    }

    fn field_of(r: Result<(), SpecError>) -> String {
        match r {
            Err(SpecError::Invalid { field, .. }) => field,
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn selinux_label_needs_selinux() {
        let s = spec(r#","selinuxLabel":"system_u:system_r:container_t:s0""#, "");
        let off = HostSupport::default();
        assert_eq!(
            field_of(validate_host_support(&s, || off.clone())),
            "process.selinuxLabel"
        );
        let on = HostSupport {
            selinux: true,
            ..Default::default()
        };
        assert!(validate_host_support(&s, || on.clone()).is_ok());
        let empty = spec(r#","selinuxLabel":"""#, "");
        assert!(
            validate_host_support(&empty, || off.clone()).is_ok(),
            "an empty label is no label"
        );
    }

    #[test]
    fn intel_rdt_follows_runc_without_resctrl() {
        let off = HostSupport::default();
        for ok in [
            r#","intelRdt":{}"#,
            r#","intelRdt":{"closID":"g1","enableCMT":true}"#,
        ] {
            assert!(
                validate_host_support(&spec("", ok), || off.clone()).is_ok(),
                "{ok}"
            );
        }
        for (json, field) in [
            (r#","intelRdt":{"closID":"a/b"}"#, "linux.intelRdt.closID"),
            (r#","intelRdt":{"closID":".."}"#, "linux.intelRdt.closID"),
            (
                r#","intelRdt":{"l3CacheSchema":"L3:0=ff"}"#,
                "linux.intelRdt.l3CacheSchema",
            ),
            (
                r#","intelRdt":{"memBwSchema":"MB:0=70"}"#,
                "linux.intelRdt.memBwSchema",
            ),
        ] {
            assert_eq!(
                field_of(validate_host_support(&spec("", json), || off.clone())),
                field
            );
        }
    }

    #[test]
    fn intel_rdt_is_refused_where_resctrl_would_apply_it() {
        let dir = std::env::temp_dir().join(format!("skiff-resctrl-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("info/L3")).unwrap();
        let host = HostSupport {
            selinux: false,
            resctrl: Some(dir.clone()),
        };
        let cat = spec("", r#","intelRdt":{"l3CacheSchema":"L3:0=ff"}"#);
        assert_eq!(
            field_of(validate_host_support(&cat, || host.clone())),
            "linux.intelRdt"
        );
        let mba = spec("", r#","intelRdt":{"memBwSchema":"MB:0=70"}"#);
        assert_eq!(
            field_of(validate_host_support(&mba, || host.clone())),
            "linux.intelRdt.memBwSchema",
            "no info/MB: MBA is not enabled"
        );
        assert!(validate_host_support(&spec("", r#","intelRdt":{}"#), || host.clone()).is_ok());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
