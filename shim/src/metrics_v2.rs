//! Task stats on cgroup v2 hosts: runc's types.Stats JSON as containerd's
//! `io.containerd.cgroups.v2.Metrics` (containerd/cgroups
//! cgroup2/stats/metrics.proto). containerd-shim-protos 0.10 does not
//! generate that message, so it is written here field by field; the
//! numbers below are the proto's.

use serde_json::Value;

pub const V2_METRICS_TYPE: &str = "io.containerd.cgroups.v2.Metrics";

/// A protobuf message being written: varint and length-delimited fields.
#[derive(Default)]
struct Writer(Vec<u8>);

impl Writer {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn key(&mut self, field: u32, wire_type: u8) {
        self.varint(u64::from(field) << 3 | u64::from(wire_type));
    }

    /// proto3 leaves zero scalars out.
    fn uint(&mut self, field: u32, v: u64) {
        if v != 0 {
            self.key(field, 0);
            self.varint(v);
        }
    }

    fn bytes(&mut self, field: u32, v: &[u8]) {
        self.key(field, 2);
        self.varint(v.len() as u64);
        self.0.extend_from_slice(v);
    }

    fn message(&mut self, field: u32, m: Writer) {
        self.bytes(field, &m.0);
    }
}

fn u(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

pub fn v2_metrics(stats: &Value) -> Vec<u8> {
    let mut metrics = Writer::default();
    let mut pids = Writer::default();
    pids.uint(1, u(&stats["pids"], "current"));
    pids.uint(2, u(&stats["pids"], "limit"));
    metrics.message(1, pids);
    metrics.message(2, cpu(&stats["cpu"]));
    metrics.message(4, memory(&stats["memory"]));
    metrics.message(6, io(&stats["blkio"]));
    if let Some(sizes) = stats["hugetlb"].as_object() {
        for (pagesize, s) in sizes {
            let mut h = Writer::default();
            h.uint(1, u(s, "usage"));
            h.uint(2, u(s, "max"));
            h.bytes(3, pagesize.as_bytes());
            h.uint(4, u(s, "failcnt"));
            metrics.message(7, h);
        }
    }
    metrics.0
}

/// runc reports nanoseconds; cgroup v2 and its metrics count microseconds.
fn cpu(cpu: &Value) -> Writer {
    let (usage, throttling) = (&cpu["usage"], &cpu["throttling"]);
    let mut w = Writer::default();
    w.uint(1, u(usage, "total") / 1000);
    w.uint(2, u(usage, "user") / 1000);
    w.uint(3, u(usage, "kernel") / 1000);
    w.uint(4, u(throttling, "periods"));
    w.uint(5, u(throttling, "throttledPeriods"));
    w.uint(6, u(throttling, "throttledTime") / 1000);
    w
}

/// memory.stat keys of cgroup v2, in the proto's field order.
const MEMORY_STAT_FIELDS: [&str; 31] = [
    "anon",
    "file",
    "kernel_stack",
    "slab",
    "sock",
    "shmem",
    "file_mapped",
    "file_dirty",
    "file_writeback",
    "anon_thp",
    "inactive_anon",
    "active_anon",
    "inactive_file",
    "active_file",
    "unevictable",
    "slab_reclaimable",
    "slab_unreclaimable",
    "pgfault",
    "pgmajfault",
    "workingset_refault",
    "workingset_activate",
    "workingset_nodereclaim",
    "pgrefill",
    "pgscan",
    "pgsteal",
    "pgactivate",
    "pgdeactivate",
    "pglazyfree",
    "pglazyfreed",
    "thp_fault_alloc",
    "thp_collapse_alloc",
];

fn memory(mem: &Value) -> Writer {
    let raw = &mem["raw"];
    let mut w = Writer::default();
    for (i, key) in MEMORY_STAT_FIELDS.iter().enumerate() {
        // Newer kernels split workingset_* into _anon and _file.
        let value = match u(raw, key) {
            0 => u(raw, &format!("{key}_anon")) + u(raw, &format!("{key}_file")),
            v => v,
        };
        w.uint(i as u32 + 1, value);
    }
    w.uint(32, u(&mem["usage"], "usage"));
    w.uint(33, u(&mem["usage"], "limit"));
    w.uint(34, u(&mem["swap"], "usage"));
    w.uint(35, u(&mem["swap"], "limit"));
    w.uint(36, u(&mem["usage"], "max"));
    w.uint(37, u(&mem["swap"], "max"));
    w
}

/// runc's per-device Read/Write entries become one IOEntry per device.
fn io(blkio: &Value) -> Writer {
    let mut devices: Vec<((u64, u64), [u64; 4])> = Vec::new();
    let mut add = |list: &Value, read_slot: usize| {
        for e in list.as_array().into_iter().flatten() {
            let slot = match e["op"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_lowercase()
                .as_str()
            {
                "read" => read_slot,
                "write" => read_slot + 1,
                _ => continue,
            };
            let dev = (u(e, "major"), u(e, "minor"));
            let i = match devices.iter().position(|(d, _)| *d == dev) {
                Some(i) => i,
                None => {
                    devices.push((dev, [0; 4]));
                    devices.len() - 1
                }
            };
            devices[i].1[slot] += u(e, "value");
        }
    };
    add(&blkio["ioServiceBytesRecursive"], 0);
    add(&blkio["ioServicedRecursive"], 2);
    let mut w = Writer::default();
    for ((major, minor), [rbytes, wbytes, rios, wios]) in devices {
        let mut e = Writer::default();
        e.uint(1, major);
        e.uint(2, minor);
        e.uint(3, rbytes);
        e.uint(4, wbytes);
        e.uint(5, rios);
        e.uint(6, wios);
        w.message(1, e);
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (field, varint value or bytes) of one message level.
    fn fields(mut b: &[u8]) -> Vec<(u64, Result<u64, Vec<u8>>)> {
        fn varint(b: &mut &[u8]) -> u64 {
            let mut v = 0u64;
            for i in 0.. {
                let byte = b[0];
                *b = &b[1..];
                v |= u64::from(byte & 0x7f) << (7 * i);
                if byte & 0x80 == 0 {
                    break;
                }
            }
            v
        }
        let mut out = Vec::new();
        while !b.is_empty() {
            let key = varint(&mut b);
            if key & 7 == 0 {
                out.push((key >> 3, Ok(varint(&mut b))));
            } else {
                let len = varint(&mut b) as usize;
                out.push((key >> 3, Err(b[..len].to_vec())));
                b = &b[len..];
            }
        }
        out
    }

    fn sub(msg: &[(u64, Result<u64, Vec<u8>>)], field: u64) -> Vec<(u64, Result<u64, Vec<u8>>)> {
        match msg.iter().find(|(f, _)| *f == field) {
            Some((_, Err(bytes))) => fields(bytes),
            other => panic!("field {field}: {other:?}"),
        }
    }

    #[test]
    fn runc_stats_become_v2_metrics() {
        let stats = serde_json::json!({
            "pids": {"current": 3, "limit": 100},
            "cpu": {"usage": {"total": 5_000_000, "user": 3_000_000, "kernel": 2_000_000},
                    "throttling": {"periods": 7, "throttledPeriods": 2, "throttledTime": 9000}},
            "memory": {"usage": {"usage": 4096, "limit": 65536, "max": 8192}, "swap": {"usage": 1},
                       "raw": {"anon": 10, "file": 20, "workingset_refault_anon": 1, "workingset_refault_file": 2}},
            "blkio": {"ioServiceBytesRecursive": [{"major": 8, "minor": 0, "op": "Read", "value": 100},
                                                  {"major": 8, "minor": 0, "op": "Write", "value": 200}],
                      "ioServicedRecursive": [{"major": 8, "minor": 0, "op": "Read", "value": 3}]},
            "hugetlb": {"2MB": {"usage": 0, "max": 5, "failcnt": 1}}
        });
        let m = fields(&v2_metrics(&stats));
        assert_eq!(sub(&m, 1), vec![(1, Ok(3)), (2, Ok(100))]);
        let cpu = sub(&m, 2);
        assert!(
            cpu.contains(&(1, Ok(5000)))
                && cpu.contains(&(3, Ok(2000)))
                && cpu.contains(&(6, Ok(9)))
        );
        let mem = sub(&m, 4);
        assert!(mem.contains(&(1, Ok(10))) && mem.contains(&(2, Ok(20))));
        assert!(
            mem.contains(&(20, Ok(3))),
            "workingset_refault from its halves: {mem:?}"
        );
        assert!(
            mem.contains(&(32, Ok(4096)))
                && mem.contains(&(33, Ok(65536)))
                && mem.contains(&(36, Ok(8192)))
        );
        let io = sub(&m, 6);
        let entry = sub(&io, 1);
        assert_eq!(
            entry,
            vec![(1, Ok(8)), (3, Ok(100)), (4, Ok(200)), (5, Ok(3))]
        );
        let huge = sub(&m, 7);
        assert!(huge.contains(&(3, Err(b"2MB".to_vec()))) && huge.contains(&(2, Ok(5))));
    }
}
