//! Device cgroup rules (OCI config-linux.md "Allowed Device List"), shared
//! by the v1 devices files ("TYPE MAJOR:MINOR ACCESS", kernel
//! admin-guide/cgroup-v1/devices.rst) and the v2 eBPF device program.
//!
//! The rule list always starts from "deny everything" and later rules win,
//! the v1 semantics runc keeps on both versions. runc also appends a fixed
//! set of allowed devices to every container's list (its
//! `specconv.AllowedDevices`: mknod of anything, /dev/null, zero, full,
//! random, urandom, tty, ptmx and the pty slaves); skiff appends the same,
//! so a config that only says "deny all" behaves as under runc.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::cgroups::fs::CgroupError;

/// One rule, validated: type 'a', 'b' or 'c'; None is a wildcard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRule {
    pub allow: bool,
    pub typ: char,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// Some of "rwm", in that order.
    pub access: String,
}

impl DeviceRule {
    /// The rule text for devices.allow / devices.deny.
    pub fn text(&self) -> String {
        let num = |n: Option<u32>| n.map_or("*".to_string(), |n| n.to_string());
        format!(
            "{} {}:{} {}",
            self.typ,
            num(self.major),
            num(self.minor),
            self.access
        )
    }

    /// Matches every device and every access: nothing before it matters.
    pub fn is_catch_all(&self) -> bool {
        self.typ == 'a' && self.major.is_none() && self.minor.is_none() && self.access == "rwm"
    }
}

fn invalid(field: &str, value: &str, why: &str) -> CgroupError {
    CgroupError::Invalid {
        field: format!("linux.resources.devices[].{field}"),
        value: value.into(),
        why: why.into(),
    }
}

/// Validates one OCI rule. "u" (unbuffered char) is a char device to the
/// kernel; absent or negative major/minor are wildcards; absent access is
/// "rwm".
pub fn parse_rule(rule: &LinuxDeviceCgroup) -> Result<DeviceRule, CgroupError> {
    let typ = match rule.typ().unwrap_or(LinuxDeviceType::A) {
        LinuxDeviceType::A => 'a',
        LinuxDeviceType::B => 'b',
        LinuxDeviceType::C | LinuxDeviceType::U => 'c',
        LinuxDeviceType::P => {
            return Err(invalid(
                "type",
                "p",
                "FIFOs are not device nodes and have no device cgroup rule",
            ))
        }
    };
    let num = |field: &str, n: Option<i64>| -> Result<Option<u32>, CgroupError> {
        match n {
            None => Ok(None),
            Some(n) if n < 0 => Ok(None),
            Some(n) => u32::try_from(n)
                .map(Some)
                .map_err(|_| invalid(field, &n.to_string(), "out of range")),
        }
    };
    let given = rule.access().clone().unwrap_or_else(|| "rwm".to_string());
    if given.is_empty() || !given.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
        return Err(invalid(
            "access",
            &given,
            "want a combination of r, w and m",
        ));
    }
    let access: String = ['r', 'w', 'm']
        .iter()
        .filter(|c| given.contains(**c))
        .collect();
    Ok(DeviceRule {
        allow: rule.allow(),
        typ,
        major: num("major", rule.major())?,
        minor: num("minor", rule.minor())?,
        access,
    })
}

/// runc's always-allowed devices, appended after the config's rules.
pub fn runc_default_rules() -> Vec<DeviceRule> {
    let r = |typ, major, minor, access: &str| DeviceRule {
        allow: true,
        typ,
        major,
        minor,
        access: access.into(),
    };
    vec![
        r('c', None, None, "m"),
        r('b', None, None, "m"),
        r('c', Some(1), Some(3), "rwm"), // /dev/null
        r('c', Some(1), Some(8), "rwm"), // /dev/random
        r('c', Some(1), Some(7), "rwm"), // /dev/full
        r('c', Some(5), Some(0), "rwm"), // /dev/tty
        r('c', Some(1), Some(5), "rwm"), // /dev/zero
        r('c', Some(1), Some(9), "rwm"), // /dev/urandom
        r('c', Some(136), None, "rwm"),  // /dev/pts/*
        r('c', Some(5), Some(2), "rwm"), // /dev/ptmx
    ]
}

/// The config's rules, validated, followed by runc's defaults.
pub fn container_rules(rules: &[LinuxDeviceCgroup]) -> Result<Vec<DeviceRule>, CgroupError> {
    let mut out = rules
        .iter()
        .map(parse_rule)
        .collect::<Result<Vec<_>, _>>()?;
    out.extend(runc_default_rules());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceCgroupBuilder;

    #[test]
    fn parses_and_formats_rules() {
        let r = LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .unwrap();
        let p = parse_rule(&r).unwrap();
        assert_eq!(p.text(), "a *:* rwm");
        assert!(p.is_catch_all());
        let r = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::U)
            .major(1i64)
            .minor(3i64)
            .access("wr")
            .build()
            .unwrap();
        assert_eq!(parse_rule(&r).unwrap().text(), "c 1:3 rw");
        let r = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::B)
            .major(8i64)
            .build()
            .unwrap();
        assert_eq!(parse_rule(&r).unwrap().text(), "b 8:* rwm");
        let bad = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .access("rx")
            .build()
            .unwrap();
        assert!(parse_rule(&bad).unwrap_err().to_string().contains("\"rx\""));
        let fifo = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::P)
            .build()
            .unwrap();
        assert!(parse_rule(&fifo).is_err());
    }

    #[test]
    fn defaults_follow_the_config_rules() {
        let deny = LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .unwrap();
        let rules = container_rules(&[deny]).unwrap();
        assert_eq!(rules[0].text(), "a *:* rwm");
        assert_eq!(rules.len(), 1 + runc_default_rules().len());
        assert!(rules.iter().any(|r| r.text() == "c 1:3 rwm"));
    }
}
