//! cgroup v1 cpu and cpuacct controllers (OCI config-linux.md "CPU";
//! kernel scheduler/sched-design-CFS.rst, sched-rt-group.rst, cgroup-v1/cpuacct.rst).

use std::path::Path;

use oci_spec::runtime::LinuxCpu;

use crate::cgroups::fs::{
    parse_flat_keyed, parse_u64, read_file, read_keyed_or_zero, read_optional, read_u64_or_zero,
    write_file, CgroupError,
};
use crate::cgroups::stats::{Cpu, CpuUsage, Throttling};

/// Applies the cpu-controller fields that are set (cpus and mems belong to
/// the cpuset controller).
pub fn apply(dir: &Path, cpu: &LinuxCpu) -> Result<(), CgroupError> {
    // Realtime: period before runtime, as runc, so a runtime that only fits
    // the new period is accepted.
    if let Some(p) = cpu.realtime_period().filter(|p| *p != 0) {
        write_file(dir, "cpu.rt_period_us", &p.to_string())?;
    }
    if let Some(r) = cpu.realtime_runtime().filter(|r| *r != 0) {
        write_file(dir, "cpu.rt_runtime_us", &r.to_string())?;
    }
    if let Some(shares) = cpu.shares().filter(|s| *s != 0) {
        write_shares(dir, shares)?;
    }
    let quota = cpu.quota().unwrap_or(0);
    let mut retry_period = None;
    if let Some(p) = cpu.period().filter(|p| *p != 0) {
        match write_file(dir, "cpu.cfs_period_us", &p.to_string()) {
            Ok(()) => {}
            // A smaller period can be refused (EINVAL) while the old quota
            // would exceed the parent's bandwidth; it fits once the new
            // quota is in, so retry after it (runc does the same).
            Err(e) if e.os_error() == Some(libc::EINVAL) && quota != 0 => retry_period = Some(p),
            Err(e) => return Err(e),
        }
    }
    if quota != 0 {
        write_file(dir, "cpu.cfs_quota_us", &quota.to_string())?;
        if let Some(p) = retry_period {
            write_file(dir, "cpu.cfs_period_us", &p.to_string())?;
        }
    }
    if let Some(b) = cpu.burst() {
        write_file(dir, "cpu.cfs_burst_us", &b.to_string())?;
    }
    if let Some(idle) = cpu.idle() {
        write_file(dir, "cpu.idle", &idle.to_string())?;
    }
    Ok(())
}

/// The kernel clamps cpu.shares to [2, 262144] silently; read it back and
/// say so, as runc does, rather than run with a different value.
fn write_shares(dir: &Path, shares: u64) -> Result<(), CgroupError> {
    write_file(dir, "cpu.shares", &shares.to_string())?;
    let got = parse_u64(dir, "cpu.shares", &read_file(dir, "cpu.shares")?)?;
    if got != shares {
        let bound = if shares > got { "maximum" } else { "minimum" };
        return Err(CgroupError::Invalid {
            field: "linux.resources.cpu.shares".into(),
            value: shares.to_string(),
            why: format!("the {bound} allowed cpu-shares is {got}"),
        });
    }
    Ok(())
}

fn per_cpu(dir: &Path, file: &str) -> Result<Vec<u64>, CgroupError> {
    let Some(s) = read_optional(dir, file)? else {
        return Ok(Vec::new());
    };
    s.split_whitespace()
        .map(|v| parse_u64(dir, file, v))
        .collect()
}

/// USER_HZ: cpuacct.stat counts in clock ticks, which Linux fixes at 100
/// for user space on every architecture.
const CLOCK_TICKS: u64 = 100;

/// Usage from cpuacct, throttling from cpu (either dir may be absent).
pub fn stats(cpuacct: Option<&Path>, cpu: Option<&Path>) -> Result<Cpu, CgroupError> {
    let mut out = Cpu::default();
    if let Some(d) = cpuacct {
        let mut usage = CpuUsage {
            total: read_u64_or_zero(d, "cpuacct.usage")?,
            percpu: per_cpu(d, "cpuacct.usage_percpu")?,
            percpu_kernel: per_cpu(d, "cpuacct.usage_percpu_sys")?,
            percpu_user: per_cpu(d, "cpuacct.usage_percpu_user")?,
            ..Default::default()
        };
        if let Some(s) = read_optional(d, "cpuacct.stat")? {
            for (k, v) in parse_flat_keyed(d, "cpuacct.stat", &s)? {
                let ns = v.saturating_mul(1_000_000_000) / CLOCK_TICKS;
                match k.as_str() {
                    "user" => usage.user = ns,
                    "system" => usage.kernel = ns,
                    _ => {}
                }
            }
        }
        out.usage = usage;
    }
    if let Some(d) = cpu {
        out.throttling = Throttling {
            periods: read_keyed_or_zero(d, "cpu.stat", "nr_periods")?,
            throttled_periods: read_keyed_or_zero(d, "cpu.stat", "nr_throttled")?,
            throttled_time: read_keyed_or_zero(d, "cpu.stat", "throttled_time")?,
        };
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fs::tests::tempdir;
    use oci_spec::runtime::LinuxCpuBuilder;

    fn fake(files: &[&str]) -> std::path::PathBuf {
        let d = tempdir();
        for f in files {
            std::fs::write(d.join(f), "0").unwrap();
        }
        d
    }
    fn get(d: &Path, f: &str) -> String {
        std::fs::read_to_string(d.join(f)).unwrap()
    }

    #[test]
    fn writes_every_cpu_field() {
        let d = fake(&[
            "cpu.shares",
            "cpu.cfs_quota_us",
            "cpu.cfs_period_us",
            "cpu.cfs_burst_us",
            "cpu.rt_period_us",
            "cpu.rt_runtime_us",
            "cpu.idle",
        ]);
        let c = LinuxCpuBuilder::default()
            .shares(512u64)
            .quota(-1i64)
            .period(100000u64)
            .burst(1000u64)
            .realtime_period(1000000u64)
            .realtime_runtime(950000i64)
            .idle(1i64)
            .build()
            .unwrap();
        apply(&d, &c).unwrap();
        assert_eq!(get(&d, "cpu.shares"), "512");
        assert_eq!(get(&d, "cpu.cfs_quota_us"), "-1");
        assert_eq!(get(&d, "cpu.cfs_period_us"), "100000");
        assert_eq!(get(&d, "cpu.cfs_burst_us"), "1000");
        assert_eq!(get(&d, "cpu.rt_period_us"), "1000000");
        assert_eq!(get(&d, "cpu.rt_runtime_us"), "950000");
        assert_eq!(get(&d, "cpu.idle"), "1");
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn unset_touches_nothing_and_missing_file_is_named() {
        let d = tempdir();
        apply(&d, &LinuxCpu::default()).unwrap();
        let c = LinuxCpuBuilder::default().burst(5u64).build().unwrap();
        let e = apply(&d, &c).unwrap_err().to_string();
        assert!(
            e.contains("cpu.cfs_burst_us") && e.contains("No such file"),
            "{e}"
        );
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn stats_convert_ticks_to_nanoseconds() {
        let d = tempdir();
        std::fs::write(d.join("cpuacct.usage"), "5000\n").unwrap();
        std::fs::write(d.join("cpuacct.usage_percpu"), "2000 3000 \n").unwrap();
        std::fs::write(d.join("cpuacct.stat"), "user 2\nsystem 1\n").unwrap();
        std::fs::write(
            d.join("cpu.stat"),
            "nr_periods 4\nnr_throttled 1\nthrottled_time 77\n",
        )
        .unwrap();
        let s = stats(Some(&d), Some(&d)).unwrap();
        assert_eq!(s.usage.total, 5000);
        assert_eq!(s.usage.percpu, vec![2000, 3000]);
        assert_eq!(s.usage.user, 20_000_000);
        assert_eq!(s.usage.kernel, 10_000_000);
        assert_eq!(s.throttling.throttled_time, 77);
        std::fs::remove_dir_all(d).unwrap();
    }
}
