//! cgroup v2 io controller (OCI config-linux.md "Block IO";
//! kernel admin-guide/cgroup-v2.rst "IO"). With BFQ the v1 weight range
//! carries over to io.bfq.weight unchanged; otherwise it is converted to
//! io.weight's range, as runc does. v2 has no leaf weights: runc ignores
//! leafWeight there, and so does skiff.

use std::path::Path;

use oci_spec::runtime::{LinuxBlockIo, LinuxThrottleDevice};

use crate::cgroups::convert::blkio_weight_to_io_weight;
use crate::cgroups::fs::{read_optional, write_file, CgroupError};
use crate::cgroups::stats::{Blkio, BlkioEntry};

pub fn apply(dir: &Path, io: &LinuxBlockIo) -> Result<(), CgroupError> {
    let bfq = dir.join("io.bfq.weight").exists();
    if let Some(w) = io.weight().filter(|w| *w != 0) {
        if bfq {
            write_file(dir, "io.bfq.weight", &w.to_string())?;
        } else {
            let v = blkio_weight_to_io_weight(u64::from(w));
            write_file(dir, "io.weight", &v.to_string())?;
        }
    }
    // Per-device weights exist only with BFQ; without it the missing file
    // is reported by the write.
    for wd in io.weight_device().iter().flatten() {
        if let Some(w) = wd.weight() {
            write_file(
                dir,
                "io.bfq.weight",
                &format!("{}:{} {w}", wd.major(), wd.minor()),
            )?;
        }
    }
    let throttles: [(&Option<Vec<LinuxThrottleDevice>>, &str); 4] = [
        (io.throttle_read_bps_device(), "rbps"),
        (io.throttle_write_bps_device(), "wbps"),
        (io.throttle_read_iops_device(), "riops"),
        (io.throttle_write_iops_device(), "wiops"),
    ];
    for (devs, key) in throttles {
        for t in devs.iter().flatten() {
            write_file(
                dir,
                "io.max",
                &format!("{}:{} {key}={}", t.major(), t.minor(), t.rate()),
            )?;
        }
    }
    Ok(())
}

/// io.stat ("MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=.. ...") as runc maps
/// it onto the v1 shape.
pub fn stats(dir: &Path) -> Result<Blkio, CgroupError> {
    let mut out = Blkio::default();
    let Some(s) = read_optional(dir, "io.stat")? else {
        return Ok(out);
    };
    let bad = |l: &str| CgroupError::Parse {
        file: "io.stat".into(),
        dir: dir.to_path_buf(),
        content: l.into(),
    };
    for line in s.lines().filter(|l| !l.trim().is_empty()) {
        let mut it = line.split_whitespace();
        let dev = it.next().ok_or_else(|| bad(line))?;
        let (ma, mi) = dev.split_once(':').ok_or_else(|| bad(line))?;
        let (major, minor) = (
            ma.parse().map_err(|_| bad(line))?,
            mi.parse().map_err(|_| bad(line))?,
        );
        for kv in it {
            let (k, v) = kv.split_once('=').ok_or_else(|| bad(line))?;
            let value = v.parse().map_err(|_| bad(line))?;
            let e = |op: &str| BlkioEntry {
                major,
                minor,
                op: op.into(),
                value,
            };
            match k {
                "rbytes" => out.io_service_bytes_recursive.push(e("Read")),
                "wbytes" => out.io_service_bytes_recursive.push(e("Write")),
                "rios" => out.io_serviced_recursive.push(e("Read")),
                "wios" => out.io_serviced_recursive.push(e("Write")),
                _ => {}
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fs::tests::tempdir;
    use oci_spec::runtime::{LinuxBlockIoBuilder, LinuxThrottleDeviceBuilder};

    #[test]
    fn weight_converts_without_bfq_and_throttles_use_io_max() {
        let d = tempdir();
        std::fs::write(d.join("io.weight"), "").unwrap();
        std::fs::write(d.join("io.max"), "").unwrap();
        let t = LinuxThrottleDeviceBuilder::default()
            .major(8i64)
            .minor(0i64)
            .rate(100u64)
            .build()
            .unwrap();
        let io = LinuxBlockIoBuilder::default()
            .weight(500u16)
            .throttle_write_iops_device(vec![t])
            .build()
            .unwrap();
        apply(&d, &io).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.join("io.weight")).unwrap(),
            "4950"
        );
        assert_eq!(
            std::fs::read_to_string(d.join("io.max")).unwrap(),
            "8:0 wiops=100"
        );
        std::fs::write(
            d.join("io.stat"),
            "8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n",
        )
        .unwrap();
        let s = stats(&d).unwrap();
        assert_eq!(
            s.io_service_bytes_recursive[1],
            BlkioEntry {
                major: 8,
                minor: 0,
                op: "Write".into(),
                value: 20
            }
        );
        assert_eq!(s.io_serviced_recursive.len(), 2);
        std::fs::remove_dir_all(d).unwrap();
    }
}
