//! Task stats: the "data" of `skiff events --stats` (runc's types.Stats
//! JSON) as the metrics message containerd decodes for the host's cgroup
//! mode, as its runc shim sends them: `io.containerd.cgroups.v1.Metrics`
//! (containerd/cgroups stats/v1/metrics.proto) where the controllers are
//! cgroup v1 (hybrid hosts included), `io.containerd.cgroups.v2.Metrics`
//! on unified hosts (metrics_v2.rs).

use containerd_shim::protos::cgroups::metrics::{
    BlkIOEntry, BlkIOStat, CPUStat, CPUUsage, HugetlbStat, MemoryEntry, MemoryStat, Metrics,
    PidsStat, Throttle,
};
use containerd_shim::protos::protobuf::well_known_types::any::Any;
use containerd_shim::protos::protobuf::{Message, MessageField};
use serde_json::Value;

use crate::error::{Result, ShimError};

pub const V1_METRICS_TYPE: &str = "io.containerd.cgroups.v1.Metrics";

/// The stats as the Any a StatsResponse carries.
pub fn metrics_any(stats: &Value) -> Result<Any> {
    let (type_url, value) = if unified_host() {
        (
            crate::metrics_v2::V2_METRICS_TYPE,
            crate::metrics_v2::v2_metrics(stats),
        )
    } else {
        let v1 = v1_metrics(stats)
            .write_to_bytes()
            .map_err(|e| ShimError::invalid("metrics", e))?;
        (V1_METRICS_TYPE, v1)
    };
    Ok(Any {
        type_url: type_url.into(),
        value,
        ..Default::default()
    })
}

/// A cgroup v2 only host has cgroup2 itself at /sys/fs/cgroup.
fn unified_host() -> bool {
    std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

fn u(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

pub fn v1_metrics(stats: &Value) -> Metrics {
    Metrics {
        hugetlb: hugetlb(&stats["hugetlb"]),
        pids: MessageField::some(PidsStat {
            current: u(&stats["pids"], "current"),
            limit: u(&stats["pids"], "limit"),
            ..Default::default()
        }),
        cpu: MessageField::some(cpu(&stats["cpu"])),
        memory: MessageField::some(memory(&stats["memory"])),
        blkio: MessageField::some(blkio(&stats["blkio"])),
        ..Default::default()
    }
}

fn hugetlb(by_size: &Value) -> Vec<HugetlbStat> {
    let Some(sizes) = by_size.as_object() else {
        return Vec::new();
    };
    sizes
        .iter()
        .map(|(pagesize, s)| HugetlbStat {
            usage: u(s, "usage"),
            max: u(s, "max"),
            failcnt: u(s, "failcnt"),
            pagesize: pagesize.clone(),
            ..Default::default()
        })
        .collect()
}

fn cpu(cpu: &Value) -> CPUStat {
    let usage = &cpu["usage"];
    let throttling = &cpu["throttling"];
    CPUStat {
        usage: MessageField::some(CPUUsage {
            total: u(usage, "total"),
            kernel: u(usage, "kernel"),
            user: u(usage, "user"),
            per_cpu: usage["percpu"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_u64).collect())
                .unwrap_or_default(),
            ..Default::default()
        }),
        throttling: MessageField::some(Throttle {
            periods: u(throttling, "periods"),
            throttled_periods: u(throttling, "throttledPeriods"),
            throttled_time: u(throttling, "throttledTime"),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn memory_entry(e: &Value) -> MessageField<MemoryEntry> {
    MessageField::some(MemoryEntry {
        limit: u(e, "limit"),
        usage: u(e, "usage"),
        max: u(e, "max"),
        failcnt: u(e, "failcnt"),
        ..Default::default()
    })
}

/// The v1 memory.stat keys come through runc's `raw` map.
fn memory(mem: &Value) -> MemoryStat {
    let raw = &mem["raw"];
    let r = |key: &str| u(raw, key);
    MemoryStat {
        cache: r("cache"),
        rss: r("rss"),
        rss_huge: r("rss_huge"),
        mapped_file: r("mapped_file"),
        dirty: r("dirty"),
        writeback: r("writeback"),
        pg_pg_in: r("pgpgin"),
        pg_pg_out: r("pgpgout"),
        pg_fault: r("pgfault"),
        pg_maj_fault: r("pgmajfault"),
        inactive_anon: r("inactive_anon"),
        active_anon: r("active_anon"),
        inactive_file: r("inactive_file"),
        active_file: r("active_file"),
        unevictable: r("unevictable"),
        hierarchical_memory_limit: r("hierarchical_memory_limit"),
        hierarchical_swap_limit: r("hierarchical_memsw_limit"),
        total_cache: r("total_cache"),
        total_rss: r("total_rss"),
        total_rss_huge: r("total_rss_huge"),
        total_mapped_file: r("total_mapped_file"),
        total_dirty: r("total_dirty"),
        total_writeback: r("total_writeback"),
        total_pg_pg_in: r("total_pgpgin"),
        total_pg_pg_out: r("total_pgpgout"),
        total_pg_fault: r("total_pgfault"),
        total_pg_maj_fault: r("total_pgmajfault"),
        total_inactive_anon: r("total_inactive_anon"),
        total_active_anon: r("total_active_anon"),
        total_inactive_file: r("total_inactive_file"),
        total_active_file: r("total_active_file"),
        total_unevictable: r("total_unevictable"),
        usage: memory_entry(&mem["usage"]),
        swap: memory_entry(&mem["swap"]),
        kernel: memory_entry(&mem["kernel"]),
        kernel_tcp: memory_entry(&mem["kernelTCP"]),
        ..Default::default()
    }
}

fn blkio_entries(entries: &Value) -> Vec<BlkIOEntry> {
    entries
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| BlkIOEntry {
                    op: e["op"].as_str().unwrap_or_default().to_string(),
                    major: u(e, "major"),
                    minor: u(e, "minor"),
                    value: u(e, "value"),
                    ..Default::default()
                })
                .collect()
        })
        .unwrap_or_default()
}

fn blkio(b: &Value) -> BlkIOStat {
    BlkIOStat {
        io_service_bytes_recursive: blkio_entries(&b["ioServiceBytesRecursive"]),
        io_serviced_recursive: blkio_entries(&b["ioServicedRecursive"]),
        io_queued_recursive: blkio_entries(&b["ioQueueRecursive"]),
        io_service_time_recursive: blkio_entries(&b["ioServiceTimeRecursive"]),
        io_wait_time_recursive: blkio_entries(&b["ioWaitTimeRecursive"]),
        io_merged_recursive: blkio_entries(&b["ioMergedRecursive"]),
        io_time_recursive: blkio_entries(&b["ioTimeRecursive"]),
        sectors_recursive: blkio_entries(&b["sectorsRecursive"]),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runc_stats_become_v1_metrics() {
        let stats = serde_json::json!({
            "cpu": {"usage": {"total": 900, "percpu": [400, 500], "kernel": 100, "user": 800},
                    "throttling": {"periods": 3, "throttledPeriods": 2, "throttledTime": 7}},
            "memory": {"cache": 4096, "usage": {"limit": 16777216, "usage": 8192, "max": 9000, "failcnt": 1},
                       "swap": {"limit": 1, "usage": 2}, "kernel": {}, "kernelTCP": {},
                       "raw": {"rss": 12, "total_rss": 13, "pgmajfault": 5, "hierarchical_memsw_limit": 99}},
            "pids": {"current": 2, "limit": 64},
            "blkio": {"ioServiceBytesRecursive": [{"major": 8, "minor": 0, "op": "Read", "value": 10}]},
            "hugetlb": {"2MB": {"usage": 0, "failcnt": 0}}
        });
        let m = v1_metrics(&stats);
        assert_eq!(m.pids.current, 2);
        assert_eq!(m.pids.limit, 64);
        assert_eq!(m.cpu.usage.total, 900);
        assert_eq!(m.cpu.usage.per_cpu, vec![400, 500]);
        assert_eq!(m.cpu.throttling.throttled_periods, 2);
        assert_eq!(m.memory.usage.limit, 16777216);
        assert_eq!(m.memory.usage.failcnt, 1);
        assert_eq!(m.memory.rss, 12);
        assert_eq!(m.memory.total_rss, 13);
        assert_eq!(m.memory.pg_maj_fault, 5);
        assert_eq!(m.memory.hierarchical_swap_limit, 99);
        assert_eq!(m.blkio.io_service_bytes_recursive[0].op, "Read");
        assert_eq!(m.blkio.io_service_bytes_recursive[0].value, 10);
        assert_eq!(m.hugetlb[0].pagesize, "2MB");
        let any = metrics_any(&stats).unwrap();
        if !unified_host() {
            assert_eq!(any.type_url, V1_METRICS_TYPE);
            assert_eq!(Metrics::parse_from_bytes(&any.value).unwrap(), m);
        }
    }
}
