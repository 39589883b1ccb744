//! rdma controller (OCI config-linux.md "RDMA"; kernel
//! admin-guide/cgroup-v1/rdma.rst): rdma.max has the same format in v1 and
//! v2, so both drivers use this module.

use std::collections::HashMap;
use std::path::Path;

use oci_spec::runtime::LinuxRdma;

use crate::cgroups::fs::{write_file, CgroupError};

/// One "DEV hca_handle=N hca_object=M" write per device, in name order so
/// the result does not depend on map order.
pub fn apply(dir: &Path, rdma: &HashMap<String, LinuxRdma>) -> Result<(), CgroupError> {
    let mut devs: Vec<_> = rdma.iter().collect();
    devs.sort_by(|a, b| a.0.cmp(b.0));
    for (dev, l) in devs {
        let mut line = dev.clone();
        if let Some(h) = l.hca_handles() {
            line.push_str(&format!(" hca_handle={h}"));
        }
        if let Some(o) = l.hca_objects() {
            line.push_str(&format!(" hca_object={o}"));
        }
        if line != *dev {
            write_file(dir, "rdma.max", &line)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fs::tests::tempdir;
    use oci_spec::runtime::LinuxRdmaBuilder;

    #[test]
    fn formats_rdma_max() {
        let d = tempdir();
        std::fs::write(d.join("rdma.max"), "").unwrap();
        let mut m = HashMap::new();
        m.insert(
            "mlx5_1".to_string(),
            LinuxRdmaBuilder::default()
                .hca_handles(3u32)
                .hca_objects(10u32)
                .build()
                .unwrap(),
        );
        apply(&d, &m).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.join("rdma.max")).unwrap(),
            "mlx5_1 hca_handle=3 hca_object=10"
        );
        std::fs::remove_dir_all(d).unwrap();
    }
}
