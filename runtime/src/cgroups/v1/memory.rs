//! cgroup v1 memory controller (OCI config-linux.md "Memory";
//! kernel admin-guide/cgroup-v1/memory.rst), in runc's write order.

use std::path::Path;

use oci_spec::runtime::LinuxMemory;

use crate::cgroups::fs::{
    parse_flat_keyed, parse_u64, read_file, read_keyed_or_zero, read_optional, read_u64_or_zero,
    write_file, CgroupError,
};
use crate::cgroups::stats::{Memory, MemoryEntry};

const LIMIT: &str = "memory.limit_in_bytes";
const SWAP_LIMIT: &str = "memory.memsw.limit_in_bytes";

/// Applies every memory field that is set; an unset field writes nothing.
pub fn apply(dir: &Path, mem: &LinuxMemory) -> Result<(), CgroupError> {
    let limit = mem.limit().unwrap_or(0);
    let mut swap = mem.swap().unwrap_or(0);
    if mem.check_before_update() == Some(true) && limit > 0 {
        check_usage_below(dir, limit)?;
    }
    // Unlimited memory with swap unspecified means unlimited swap too
    // (runc), but only where the kernel has swap accounting.
    if limit == -1 && swap == 0 && dir.join(SWAP_LIMIT).exists() {
        swap = -1;
    }
    if limit != 0 && swap != 0 {
        // The kernel requires memsw >= memory at every moment, so the order
        // of the two writes depends on whether the limit grows or shrinks.
        let current = parse_u64(dir, LIMIT, &read_file(dir, LIMIT)?)?;
        if swap == -1 || current < swap as u64 {
            write_file(dir, SWAP_LIMIT, &swap.to_string())?;
            write_limit(dir, limit)?;
        } else {
            write_limit(dir, limit)?;
            write_file(dir, SWAP_LIMIT, &swap.to_string())?;
        }
    } else {
        if limit != 0 {
            write_limit(dir, limit)?;
        }
        if swap != 0 {
            write_file(dir, SWAP_LIMIT, &swap.to_string())?;
        }
    }
    // Kernel memory limits are deprecated in the spec and gone from new
    // kernels; they are written only where the kernel still has the files.
    if let Some(k) = mem.kernel().filter(|k| *k != 0) {
        write_if_present(dir, "memory.kmem.limit_in_bytes", &k.to_string())?;
    }
    if let Some(k) = mem.kernel_tcp().filter(|k| *k != 0) {
        write_if_present(dir, "memory.kmem.tcp.limit_in_bytes", &k.to_string())?;
    }
    if let Some(r) = mem.reservation().filter(|r| *r != 0) {
        write_file(dir, "memory.soft_limit_in_bytes", &r.to_string())?;
    }
    if mem.disable_oom_killer() == Some(true) {
        write_file(dir, "memory.oom_control", "1")?;
    }
    if let Some(s) = mem.swappiness() {
        if s > 100 {
            return Err(CgroupError::Invalid {
                field: "linux.resources.memory.swappiness".into(),
                value: s.to_string(),
                why: "valid range is 0-100".into(),
            });
        }
        write_file(dir, "memory.swappiness", &s.to_string())?;
    }
    if let Some(h) = mem.use_hierarchy() {
        write_file(dir, "memory.use_hierarchy", if h { "1" } else { "0" })?;
    }
    Ok(())
}

/// The kernel answers EBUSY to a limit below usage it cannot reclaim; the error then
/// says how much the cgroup uses, which is what an operator needs to pick a limit.
fn write_limit(dir: &Path, limit: i64) -> Result<(), CgroupError> {
    match write_file(dir, LIMIT, &limit.to_string()) {
        Err(e) if e.os_error() == Some(libc::EBUSY) => Err(CgroupError::LimitBelowUsage {
            file: LIMIT.into(),
            value: limit.to_string(),
            dir: dir.to_path_buf(),
            usage: read_u64_or_zero(dir, "memory.usage_in_bytes")?,
            peak: read_u64_or_zero(dir, "memory.max_usage_in_bytes")?,
        }),
        other => other,
    }
}

fn write_if_present(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    if dir.join(file).exists() {
        write_file(dir, file, value)?;
    }
    Ok(())
}

/// checkBeforeUpdate: refuse a limit below what the cgroup already uses,
/// instead of letting the kernel reclaim or OOM-kill to get there.
fn check_usage_below(dir: &Path, limit: i64) -> Result<(), CgroupError> {
    let usage = read_u64_or_zero(dir, "memory.usage_in_bytes")?;
    if usage > limit as u64 {
        return Err(CgroupError::Invalid {
            field: "linux.resources.memory.limit".into(),
            value: limit.to_string(),
            why: format!("below current usage {usage} in {dir:?} (checkBeforeUpdate)"),
        });
    }
    Ok(())
}

fn entry(dir: &Path, prefix: &str) -> Result<MemoryEntry, CgroupError> {
    let f = |name: &str| read_u64_or_zero(dir, &format!("{prefix}.{name}"));
    Ok(MemoryEntry {
        limit: f("limit_in_bytes")?,
        usage: f("usage_in_bytes")?,
        max: f("max_usage_in_bytes")?,
        failcnt: f("failcnt")?,
    })
}

/// runc's v1 memory stats: cache and raw from memory.stat, one entry per
/// counter family (memory, memsw, kmem, kmem.tcp).
pub fn stats(dir: &Path) -> Result<Memory, CgroupError> {
    let raw = match read_optional(dir, "memory.stat")? {
        Some(s) => parse_flat_keyed(dir, "memory.stat", &s)?
            .into_iter()
            .collect(),
        None => Default::default(),
    };
    Ok(Memory {
        cache: raw_get(&raw, "cache"),
        usage: entry(dir, "memory")?,
        swap: entry(dir, "memory.memsw")?,
        kernel: entry(dir, "memory.kmem")?,
        kernel_tcp: entry(dir, "memory.kmem.tcp")?,
        raw,
    })
}

fn raw_get(raw: &std::collections::BTreeMap<String, u64>, k: &str) -> u64 {
    raw.get(k).copied().unwrap_or(0)
}

/// The oom_kill counter of memory.oom_control.
pub fn oom_kill_count(dir: &Path) -> Result<u64, CgroupError> {
    read_keyed_or_zero(dir, "memory.oom_control", "oom_kill")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fs::tests::tempdir;
    use oci_spec::runtime::LinuxMemoryBuilder;

    fn fake(files: &[(&str, &str)]) -> std::path::PathBuf {
        let d = tempdir();
        for (f, v) in files {
            std::fs::write(d.join(f), v).unwrap();
        }
        d
    }
    fn get(d: &Path, f: &str) -> String {
        std::fs::read_to_string(d.join(f)).unwrap()
    }

    #[test]
    fn limit_and_swap_written_in_safe_order() {
        let d = fake(&[
            (LIMIT, "9223372036854771712\n"),
            (SWAP_LIMIT, "9223372036854771712\n"),
        ]);
        let m = LinuxMemoryBuilder::default()
            .limit(100i64)
            .swap(200i64)
            .build()
            .unwrap();
        apply(&d, &m).unwrap();
        assert_eq!(get(&d, LIMIT), "100");
        assert_eq!(get(&d, SWAP_LIMIT), "200");
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn unlimited_memory_implies_unlimited_swap() {
        let d = fake(&[(LIMIT, "100"), (SWAP_LIMIT, "200")]);
        apply(
            &d,
            &LinuxMemoryBuilder::default().limit(-1i64).build().unwrap(),
        )
        .unwrap();
        assert_eq!(get(&d, LIMIT), "-1");
        assert_eq!(get(&d, SWAP_LIMIT), "-1");
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn other_fields_and_unset_fields() {
        let d = fake(&[
            ("memory.soft_limit_in_bytes", "x"),
            ("memory.oom_control", "x"),
            ("memory.swappiness", "x"),
        ]);
        // Nothing set: nothing touched (the limit file does not even exist).
        apply(&d, &LinuxMemory::default()).unwrap();
        let m = LinuxMemoryBuilder::default()
            .reservation(50i64)
            .disable_oom_killer(true)
            .swappiness(10u64)
            .kernel(1000i64)
            .build()
            .unwrap();
        apply(&d, &m).unwrap();
        assert_eq!(get(&d, "memory.soft_limit_in_bytes"), "50");
        assert_eq!(get(&d, "memory.oom_control"), "1");
        assert_eq!(get(&d, "memory.swappiness"), "10");
        assert!(!d.join("memory.kmem.limit_in_bytes").exists());
        let bad = LinuxMemoryBuilder::default()
            .swappiness(101u64)
            .build()
            .unwrap();
        assert!(apply(&d, &bad)
            .unwrap_err()
            .to_string()
            .contains("swappiness"));
        let missing = LinuxMemoryBuilder::default().limit(5i64).build().unwrap();
        let e = apply(&d, &missing).unwrap_err().to_string();
        assert!(
            e.starts_with("write \"5\" to memory.limit_in_bytes in "),
            "{e}"
        );
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn check_before_update_refuses_limit_below_usage() {
        let d = fake(&[(LIMIT, "1000"), ("memory.usage_in_bytes", "500")]);
        let m = LinuxMemoryBuilder::default()
            .limit(400i64)
            .check_before_update(true)
            .build()
            .unwrap();
        assert!(apply(&d, &m)
            .unwrap_err()
            .to_string()
            .contains("below current usage 500"));
        assert_eq!(get(&d, LIMIT), "1000");
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn stats_and_oom_count() {
        let d = fake(&[
            ("memory.stat", "cache 4096\nrss 8192\n"),
            ("memory.usage_in_bytes", "12288"),
            ("memory.limit_in_bytes", "9223372036854771712"),
            ("memory.failcnt", "3"),
            (
                "memory.oom_control",
                "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
            ),
        ]);
        let s = stats(&d).unwrap();
        assert_eq!(s.cache, 4096);
        assert_eq!(s.usage.usage, 12288);
        assert_eq!(s.usage.failcnt, 3);
        assert_eq!(s.raw["rss"], 8192);
        assert_eq!(oom_kill_count(&d).unwrap(), 2);
        std::fs::remove_dir_all(d).unwrap();
    }
}
