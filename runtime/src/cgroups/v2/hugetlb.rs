//! cgroup v2 hugetlb controller (OCI config-linux.md "Huge page limits";
//! kernel admin-guide/cgroup-v2.rst "HugeTLB"). On a hybrid host this is
//! the one controller skiff uses from the unified hierarchy when v1 does
//! not bind it.

use std::collections::BTreeMap;
use std::path::Path;

use oci_spec::runtime::LinuxHugepageLimit;

use crate::cgroups::fs::{
    num_or_max, read_keyed_or_zero, read_u64_or_zero, write_file, CgroupError,
};
use crate::cgroups::hugetlb::{check_size, page_sizes};
use crate::cgroups::stats::Hugetlb;

pub fn apply(dir: &Path, limits: &[LinuxHugepageLimit]) -> Result<(), CgroupError> {
    let sizes = page_sizes();
    for l in limits {
        check_size(l.page_size(), &sizes)?;
        let v = num_or_max(l.limit());
        write_file(dir, &format!("hugetlb.{}.max", l.page_size()), &v)?;
        let rsvd = format!("hugetlb.{}.rsvd.max", l.page_size());
        if dir.join(&rsvd).exists() {
            write_file(dir, &rsvd, &v)?;
        }
    }
    Ok(())
}

pub fn stats(dir: &Path) -> Result<BTreeMap<String, Hugetlb>, CgroupError> {
    let mut out = BTreeMap::new();
    for size in page_sizes() {
        let h = Hugetlb {
            usage: read_u64_or_zero(dir, &format!("hugetlb.{size}.current"))?,
            max: 0,
            failcnt: read_keyed_or_zero(dir, &format!("hugetlb.{size}.events"), "max")?,
        };
        out.insert(size, h);
    }
    Ok(out)
}
