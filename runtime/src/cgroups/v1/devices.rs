//! cgroup v1 devices controller (OCI config-linux.md "Allowed Device List";
//! kernel admin-guide/cgroup-v1/devices.rst). As runc: deny everything
//! first, then replay the rules in order, so the result does not depend on
//! what the cgroup allowed before (an update starts from scratch too).

use std::path::Path;

use oci_spec::runtime::LinuxDeviceCgroup;

use crate::cgroups::devices::rule_text;
use crate::cgroups::fs::{write_file, CgroupError};

pub fn apply(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<(), CgroupError> {
    // Validate every rule before the first write: a bad rule must not leave
    // the cgroup denied-all and half configured.
    let texts = rules.iter().map(rule_text).collect::<Result<Vec<_>, _>>()?;
    write_file(dir, "devices.deny", "a")?;
    for (rule, text) in rules.iter().zip(texts) {
        let file = if rule.allow() {
            "devices.allow"
        } else {
            "devices.deny"
        };
        write_file(dir, file, &text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fs::tests::tempdir;
    use oci_spec::runtime::{LinuxDeviceCgroupBuilder, LinuxDeviceType};

    #[test]
    fn denies_all_then_writes_rules() {
        let d = tempdir();
        std::fs::write(d.join("devices.deny"), "").unwrap();
        std::fs::write(d.join("devices.allow"), "").unwrap();
        let allow = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::C)
            .major(1i64)
            .minor(5i64)
            .access("rwm")
            .build()
            .unwrap();
        apply(&d, &[allow]).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.join("devices.deny")).unwrap(),
            "a"
        );
        assert_eq!(
            std::fs::read_to_string(d.join("devices.allow")).unwrap(),
            "c 1:5 rwm"
        );
        std::fs::remove_dir_all(d).unwrap();
    }
}
