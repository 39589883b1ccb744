//! cgroup v1 hugetlb controller (OCI config-linux.md "Huge page limits";
//! kernel admin-guide/cgroup-v1/hugetlb.rst).

use std::collections::BTreeMap;
use std::path::Path;

use oci_spec::runtime::LinuxHugepageLimit;

use crate::cgroups::fs::{read_u64_or_zero, write_file, CgroupError};
use crate::cgroups::hugetlb::{check_size, page_sizes};
use crate::cgroups::stats::Hugetlb;

/// Writes each limit, and its reservation twin where the kernel has one
/// (so a reserved-but-unfaulted page cannot dodge the limit).
pub fn apply(dir: &Path, limits: &[LinuxHugepageLimit]) -> Result<(), CgroupError> {
    let sizes = page_sizes();
    for l in limits {
        check_size(l.page_size(), &sizes)?;
        let v = l.limit().to_string();
        write_file(
            dir,
            &format!("hugetlb.{}.limit_in_bytes", l.page_size()),
            &v,
        )?;
        let rsvd = format!("hugetlb.{}.rsvd.limit_in_bytes", l.page_size());
        if dir.join(&rsvd).exists() {
            write_file(dir, &rsvd, &v)?;
        }
    }
    Ok(())
}

/// Usage, peak and failcnt per page size.
pub fn stats(dir: &Path) -> Result<BTreeMap<String, Hugetlb>, CgroupError> {
    let mut out = BTreeMap::new();
    for size in page_sizes() {
        let f = |name: &str| read_u64_or_zero(dir, &format!("hugetlb.{size}.{name}"));
        let h = Hugetlb {
            usage: f("usage_in_bytes")?,
            max: f("max_usage_in_bytes")?,
            failcnt: f("failcnt")?,
        };
        out.insert(size, h);
    }
    Ok(out)
}
