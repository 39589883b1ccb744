//! cgroup v1 net_cls and net_prio controllers (OCI config-linux.md
//! "Network"; kernel admin-guide/cgroup-v1/net_cls.rst, net_prio.rst).
//! cgroup v2 has neither.

use std::path::Path;

use crate::cgroups::fs::{write_file, CgroupError};
use oci_spec::runtime::LinuxInterfacePriority;

/// net_cls.classid.
pub fn apply_class_id(dir: &Path, class_id: u32) -> Result<(), CgroupError> {
    write_file(dir, "net_cls.classid", &class_id.to_string())
}

/// One "IFNAME PRIO" write to net_prio.ifpriomap per interface.
pub fn apply_priorities(dir: &Path, prios: &[LinuxInterfacePriority]) -> Result<(), CgroupError> {
    for p in prios {
        write_file(
            dir,
            "net_prio.ifpriomap",
            &format!("{} {}", p.name(), p.priority()),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fs::tests::tempdir;
    use oci_spec::runtime::LinuxInterfacePriorityBuilder;

    #[test]
    fn writes_class_and_priorities() {
        let d = tempdir();
        std::fs::write(d.join("net_cls.classid"), "0").unwrap();
        std::fs::write(d.join("net_prio.ifpriomap"), "").unwrap();
        apply_class_id(&d, 0x100001).unwrap();
        let p = LinuxInterfacePriorityBuilder::default()
            .name("eth0")
            .priority(5u32)
            .build()
            .unwrap();
        apply_priorities(&d, &[p]).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.join("net_cls.classid")).unwrap(),
            "1048577"
        );
        assert_eq!(
            std::fs::read_to_string(d.join("net_prio.ifpriomap")).unwrap(),
            "eth0 5"
        );
        std::fs::remove_dir_all(d).unwrap();
    }
}
