//! cgroup v1 devices controller (OCI config-linux.md "Allowed Device List";
//! kernel admin-guide/cgroup-v1/devices.rst). As runc: deny everything
//! first, then replay the rules in order, so the result does not depend on
//! what the cgroup allowed before (an update starts from scratch too).

use std::path::Path;

use crate::cgroups::devices::DeviceRule;
use crate::cgroups::fs::{write_file, CgroupError};

/// `rules` are already validated (see `devices::container_rules`), so no
/// bad rule can leave the cgroup denied-all and half configured.
pub fn apply(dir: &Path, rules: &[DeviceRule]) -> Result<(), CgroupError> {
    write_file(dir, "devices.deny", "a")?;
    for rule in rules {
        let file = if rule.allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        write_file(dir, file, &rule.text())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fs::tests::tempdir;

    #[test]
    fn denies_all_then_writes_rules() {
        let d = tempdir();
        std::fs::write(d.join("devices.deny"), "").unwrap();
        std::fs::write(d.join("devices.allow"), "").unwrap();
        let allow = DeviceRule {
            allow: true,
            typ: 'c',
            major: Some(1),
            minor: Some(5),
            access: "rwm".into(),
        };
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
