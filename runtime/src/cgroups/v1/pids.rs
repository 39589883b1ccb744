//! cgroup v1 pids controller (OCI config-linux.md "PIDs";
//! kernel admin-guide/cgroup-v1/pids.rst). The same files exist in v2, so
//! the v2 driver uses this module too.

use std::path::Path;

use oci_spec::runtime::LinuxPids;

use crate::cgroups::fs::{read_optional, read_u64_or_zero, write_file, CgroupError};
use crate::cgroups::stats::Pids;

/// Writes pids.max: a positive limit as is, a negative one as "max"; 0
/// leaves the file alone (runc treats 0 as "not set").
pub fn apply(dir: &Path, pids: &LinuxPids) -> Result<(), CgroupError> {
    match pids.limit() {
        0 => Ok(()),
        l if l > 0 => write_file(dir, "pids.max", &l.to_string()),
        _ => write_file(dir, "pids.max", "max"),
    }
}

/// pids.current and pids.max ("max" reported as 0, as runc does).
pub fn stats(dir: &Path) -> Result<Pids, CgroupError> {
    let limit = match read_optional(dir, "pids.max")? {
        Some(s) if s.trim() == "max" => 0,
        Some(_) => read_u64_or_zero(dir, "pids.max")?,
        None => 0,
    };
    Ok(Pids {
        current: read_u64_or_zero(dir, "pids.current")?,
        limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fs::tests::tempdir;
    use oci_spec::runtime::LinuxPidsBuilder;

    #[test]
    fn limit_zero_positive_negative() {
        let d = tempdir();
        apply(
            &d,
            &LinuxPidsBuilder::default().limit(0i64).build().unwrap(),
        )
        .unwrap();
        assert!(!d.join("pids.max").exists());
        std::fs::write(d.join("pids.max"), "max").unwrap();
        apply(
            &d,
            &LinuxPidsBuilder::default().limit(7i64).build().unwrap(),
        )
        .unwrap();
        assert_eq!(std::fs::read_to_string(d.join("pids.max")).unwrap(), "7");
        std::fs::write(d.join("pids.current"), "3\n").unwrap();
        assert_eq!(
            stats(&d).unwrap(),
            Pids {
                current: 3,
                limit: 7
            }
        );
        apply(
            &d,
            &LinuxPidsBuilder::default().limit(-1i64).build().unwrap(),
        )
        .unwrap();
        assert_eq!(std::fs::read_to_string(d.join("pids.max")).unwrap(), "max");
        assert_eq!(stats(&d).unwrap().limit, 0);
        std::fs::remove_dir_all(d).unwrap();
    }
}
