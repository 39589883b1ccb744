//! cgroup v1 blkio controller (OCI config-linux.md "Block IO";
//! kernel admin-guide/cgroup-v1/blkio-controller.rst). Weights go to the
//! BFQ files when the kernel has them (CFQ is gone since 5.0), like runc.

use std::path::Path;

use oci_spec::runtime::{LinuxBlockIo, LinuxThrottleDevice};

use crate::cgroups::fs::{read_optional, write_file, CgroupError};
use crate::cgroups::stats::{Blkio, BlkioEntry};

/// Applies weight, leaf weight, per-device weights and throttles that are set.
pub fn apply(dir: &Path, io: &LinuxBlockIo) -> Result<(), CgroupError> {
    let bfq = dir.join("blkio.bfq.weight").exists();
    let (weight_file, weight_dev_file) = if bfq {
        ("blkio.bfq.weight", "blkio.bfq.weight_device")
    } else {
        ("blkio.weight", "blkio.weight_device")
    };
    if let Some(w) = io.weight().filter(|w| *w != 0) {
        write_file(dir, weight_file, &w.to_string())?;
    }
    if let Some(w) = io.leaf_weight().filter(|w| *w != 0) {
        write_file(dir, "blkio.leaf_weight", &w.to_string())?;
    }
    for wd in io.weight_device().iter().flatten() {
        let dev = format!("{}:{}", wd.major(), wd.minor());
        if let Some(w) = wd.weight() {
            write_file(dir, weight_dev_file, &format!("{dev} {w}"))?;
        }
        if let Some(w) = wd.leaf_weight() {
            write_file(dir, "blkio.leaf_weight_device", &format!("{dev} {w}"))?;
        }
    }
    let throttles: [(&Option<Vec<LinuxThrottleDevice>>, &str); 4] = [
        (
            io.throttle_read_bps_device(),
            "blkio.throttle.read_bps_device",
        ),
        (
            io.throttle_write_bps_device(),
            "blkio.throttle.write_bps_device",
        ),
        (
            io.throttle_read_iops_device(),
            "blkio.throttle.read_iops_device",
        ),
        (
            io.throttle_write_iops_device(),
            "blkio.throttle.write_iops_device",
        ),
    ];
    for (devs, file) in throttles {
        for t in devs.iter().flatten() {
            write_file(
                dir,
                file,
                &format!("{}:{} {}", t.major(), t.minor(), t.rate()),
            )?;
        }
    }
    Ok(())
}

/// Parses a v1 blkio stat file: "MAJ:MIN OP VALUE" or "MAJ:MIN VALUE" lines
/// and a trailing "Total N" that runc skips.
fn entries(dir: &Path, file: &str) -> Result<Vec<BlkioEntry>, CgroupError> {
    let Some(s) = read_optional(dir, file)? else {
        return Ok(Vec::new());
    };
    let bad = |l: &str| CgroupError::Parse {
        file: file.into(),
        dir: dir.to_path_buf(),
        content: l.into(),
    };
    let mut out = Vec::new();
    for line in s.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.first() == Some(&"Total") {
            continue;
        }
        let (dev, op, value) = match f.as_slice() {
            [dev, op, v] => (*dev, op.to_string(), *v),
            [dev, v] => (*dev, String::new(), *v),
            _ => return Err(bad(line)),
        };
        let (ma, mi) = dev.split_once(':').ok_or_else(|| bad(line))?;
        out.push(BlkioEntry {
            major: ma.parse().map_err(|_| bad(line))?,
            minor: mi.parse().map_err(|_| bad(line))?,
            op,
            value: value.parse().map_err(|_| bad(line))?,
        });
    }
    Ok(out)
}

/// runc's order of sources: CFQ files, else BFQ, else the throttle layer.
pub fn stats(dir: &Path) -> Result<Blkio, CgroupError> {
    let prefix = if dir.join("blkio.io_service_bytes_recursive").exists() {
        "blkio."
    } else if dir.join("blkio.bfq.io_service_bytes_recursive").exists() {
        "blkio.bfq."
    } else {
        "blkio.throttle."
    };
    let e = |name: &str| entries(dir, &format!("{prefix}{name}"));
    Ok(Blkio {
        io_service_bytes_recursive: e("io_service_bytes_recursive")?,
        io_serviced_recursive: e("io_serviced_recursive")?,
        io_queued_recursive: e("io_queued_recursive")?,
        io_service_time_recursive: e("io_service_time_recursive")?,
        io_wait_time_recursive: e("io_wait_time_recursive")?,
        io_merged_recursive: e("io_merged_recursive")?,
        io_time_recursive: e("time_recursive")?,
        sectors_recursive: e("sectors_recursive")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fs::tests::tempdir;
    use oci_spec::runtime::{
        LinuxBlockIoBuilder, LinuxThrottleDeviceBuilder, LinuxWeightDeviceBuilder,
    };

    #[test]
    fn weights_prefer_bfq_and_throttles_per_device() {
        let d = tempdir();
        for f in [
            "blkio.bfq.weight",
            "blkio.bfq.weight_device",
            "blkio.throttle.read_bps_device",
        ] {
            std::fs::write(d.join(f), "").unwrap();
        }
        let io = LinuxBlockIoBuilder::default()
            .weight(300u16)
            .weight_device(vec![LinuxWeightDeviceBuilder::default()
                .major(8i64)
                .minor(0i64)
                .weight(200u16)
                .build()
                .unwrap()])
            .throttle_read_bps_device(vec![LinuxThrottleDeviceBuilder::default()
                .major(8i64)
                .minor(16i64)
                .rate(1024u64)
                .build()
                .unwrap()])
            .build()
            .unwrap();
        apply(&d, &io).unwrap();
        let get = |f: &str| std::fs::read_to_string(d.join(f)).unwrap();
        assert_eq!(get("blkio.bfq.weight"), "300");
        assert_eq!(get("blkio.bfq.weight_device"), "8:0 200");
        assert_eq!(get("blkio.throttle.read_bps_device"), "8:16 1024");
        let leaf = LinuxBlockIoBuilder::default()
            .leaf_weight(10u16)
            .build()
            .unwrap();
        let e = apply(&d, &leaf).unwrap_err().to_string();
        assert!(
            e.contains("blkio.leaf_weight") && e.contains("No such file"),
            "{e}"
        );
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn stats_parse_bfq_files() {
        let d = tempdir();
        std::fs::write(
            d.join("blkio.bfq.io_service_bytes_recursive"),
            "8:0 Read 4096\n8:0 Write 0\nTotal 4096\n",
        )
        .unwrap();
        let s = stats(&d).unwrap();
        assert_eq!(s.io_service_bytes_recursive.len(), 2);
        assert_eq!(
            s.io_service_bytes_recursive[0],
            BlkioEntry {
                major: 8,
                minor: 0,
                op: "Read".into(),
                value: 4096
            }
        );
        std::fs::write(d.join("blkio.bfq.io_service_bytes_recursive"), "8:0 Read\n").unwrap();
        assert!(stats(&d).is_err());
        std::fs::remove_dir_all(d).unwrap();
    }
}
