//! Device cgroup rules (OCI config-linux.md "Allowed Device List") in the
//! kernel's "TYPE MAJOR:MINOR ACCESS" form (admin-guide/cgroup-v1/devices.rst).

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::cgroups::fs::CgroupError;

/// The rule text for devices.allow / devices.deny. "u" (unbuffered char)
/// is a char device to the kernel; absent major/minor are wildcards.
pub fn rule_text(rule: &LinuxDeviceCgroup) -> Result<String, CgroupError> {
    let typ = match rule.typ().unwrap_or(LinuxDeviceType::A) {
        LinuxDeviceType::A => 'a',
        LinuxDeviceType::B => 'b',
        LinuxDeviceType::C | LinuxDeviceType::U => 'c',
        LinuxDeviceType::P => {
            return Err(CgroupError::Invalid {
                field: "linux.resources.devices[].type".into(),
                value: "p".into(),
                why: "FIFOs are not device nodes and have no device cgroup rule".into(),
            })
        }
    };
    let num = |n: Option<i64>| {
        n.filter(|n| *n >= 0)
            .map_or("*".to_string(), |n| n.to_string())
    };
    let access = rule.access().clone().unwrap_or_else(|| "rwm".to_string());
    if access.is_empty() || !access.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
        return Err(CgroupError::Invalid {
            field: "linux.resources.devices[].access".into(),
            value: access,
            why: "want a combination of r, w and m".into(),
        });
    }
    Ok(format!(
        "{typ} {}:{} {access}",
        num(rule.major()),
        num(rule.minor())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceCgroupBuilder;

    #[test]
    fn formats_rules() {
        let r = LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .unwrap();
        assert_eq!(rule_text(&r).unwrap(), "a *:* rwm");
        let r = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::C)
            .major(1i64)
            .minor(3i64)
            .access("rw")
            .build()
            .unwrap();
        assert_eq!(rule_text(&r).unwrap(), "c 1:3 rw");
        let r = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::B)
            .major(8i64)
            .build()
            .unwrap();
        assert_eq!(rule_text(&r).unwrap(), "b 8:* rwm");
        let bad = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .access("rx")
            .build()
            .unwrap();
        assert!(rule_text(&bad).unwrap_err().to_string().contains("\"rx\""));
    }
}
