//! cgroup v2 cpu and cpuset controllers (OCI config-linux.md "CPU";
//! kernel admin-guide/cgroup-v2.rst "CPU", "Cpuset"). Shares become
//! cpu.weight by runc's formula; quota and period share cpu.max.

use std::path::Path;

use oci_spec::runtime::LinuxCpu;

use crate::cgroups::convert::cpu_shares_to_weight;
use crate::cgroups::fs::{read_keyed_or_zero, write_file, CgroupError};
use crate::cgroups::stats::{Cpu, CpuUsage, Throttling};

pub fn apply(dir: &Path, cpu: &LinuxCpu) -> Result<(), CgroupError> {
    // v2 has no per-cgroup realtime budget; refusing is better than
    // silently running without the reservation the config asked for.
    if cpu.realtime_runtime().unwrap_or(0) != 0 || cpu.realtime_period().unwrap_or(0) != 0 {
        return Err(CgroupError::Unavailable {
            controller: "cpu".into(),
            file: "cpu.rt_runtime_us".into(),
            why: "cgroup v2 has no realtime scheduling budget (realtimeRuntime, realtimePeriod)"
                .into(),
        });
    }
    if let Some(idle) = cpu.idle() {
        write_file(dir, "cpu.idle", &idle.to_string())?;
    }
    if let Some(w) = cpu.shares().map(cpu_shares_to_weight).filter(|w| *w != 0) {
        write_file(dir, "cpu.weight", &w.to_string())?;
    }
    let quota = cpu.quota().unwrap_or(0);
    let period = cpu.period().unwrap_or(0);
    // Burst must fit under the quota, so it goes after cpu.max; runc does
    // the same.
    if quota != 0 || period != 0 {
        let mut v = if quota > 0 {
            quota.to_string()
        } else {
            "max".to_string()
        };
        if period != 0 {
            v.push_str(&format!(" {period}"));
        }
        write_file(dir, "cpu.max", &v)?;
    }
    if let Some(b) = cpu.burst() {
        write_file(dir, "cpu.max.burst", &b.to_string())?;
    }
    if let Some(c) = cpu.cpus().as_deref().filter(|c| !c.is_empty()) {
        write_file(dir, "cpuset.cpus", c)?;
    }
    if let Some(m) = cpu.mems().as_deref().filter(|m| !m.is_empty()) {
        write_file(dir, "cpuset.mems", m)?;
    }
    Ok(())
}

/// cpu.stat in microseconds, reported in nanoseconds as runc does.
pub fn stats(dir: &Path) -> Result<Cpu, CgroupError> {
    let k = |key: &str| read_keyed_or_zero(dir, "cpu.stat", key);
    Ok(Cpu {
        usage: CpuUsage {
            total: k("usage_usec")?.saturating_mul(1000),
            user: k("user_usec")?.saturating_mul(1000),
            kernel: k("system_usec")?.saturating_mul(1000),
            ..Default::default()
        },
        throttling: Throttling {
            periods: k("nr_periods")?,
            throttled_periods: k("nr_throttled")?,
            throttled_time: k("throttled_usec")?.saturating_mul(1000),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fs::tests::tempdir;
    use oci_spec::runtime::LinuxCpuBuilder;

    #[test]
    fn converts_cpu_fields() {
        let d = tempdir();
        for f in [
            "cpu.weight",
            "cpu.max",
            "cpu.max.burst",
            "cpu.idle",
            "cpuset.cpus",
        ] {
            std::fs::write(d.join(f), "").unwrap();
        }
        let get = |f: &str| std::fs::read_to_string(d.join(f)).unwrap();
        let c = LinuxCpuBuilder::default()
            .shares(1024u64)
            .quota(50000i64)
            .period(100000u64)
            .burst(10u64)
            .cpus("0")
            .build()
            .unwrap();
        apply(&d, &c).unwrap();
        assert_eq!(get("cpu.weight"), "39");
        assert_eq!(get("cpu.max"), "50000 100000");
        assert_eq!(get("cpu.max.burst"), "10");
        assert_eq!(get("cpuset.cpus"), "0");
        apply(
            &d,
            &LinuxCpuBuilder::default().quota(-1i64).build().unwrap(),
        )
        .unwrap();
        assert_eq!(get("cpu.max"), "max");
        let rt = LinuxCpuBuilder::default()
            .realtime_runtime(100i64)
            .build()
            .unwrap();
        assert!(apply(&d, &rt)
            .unwrap_err()
            .to_string()
            .contains("cpu.rt_runtime_us"));
        std::fs::write(d.join("cpu.stat"), "usage_usec 3\nuser_usec 2\nsystem_usec 1\nnr_periods 5\nnr_throttled 1\nthrottled_usec 7\n").unwrap();
        let s = stats(&d).unwrap();
        assert_eq!(
            (s.usage.total, s.usage.user, s.usage.kernel),
            (3000, 2000, 1000)
        );
        assert_eq!(s.throttling.throttled_time, 7000);
        std::fs::remove_dir_all(d).unwrap();
    }
}
