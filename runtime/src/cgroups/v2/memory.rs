//! cgroup v2 memory controller (OCI config-linux.md "Memory";
//! kernel admin-guide/cgroup-v2.rst "Memory"), values converted from the
//! v1-shaped spec as runc converts them.
//!
//! v2 has no swappiness, no OOM-killer switch, no kernel-memory limits and
//! is always hierarchical: those fields are ignored here, as runc ignores
//! them on v2, so a config written for v1 still runs.

use std::path::Path;

use oci_spec::runtime::LinuxMemory;

use crate::cgroups::convert::memory_swap_to_v2;
use crate::cgroups::fs::{
    num_or_max, parse_flat_keyed, read_keyed_or_zero, read_optional, read_u64_or_zero, write_file,
    CgroupError,
};
use crate::cgroups::stats::{Memory, MemoryEntry};

pub fn apply(dir: &Path, mem: &LinuxMemory) -> Result<(), CgroupError> {
    let limit = mem.limit().unwrap_or(0);
    let swap = mem.swap().unwrap_or(0);
    if mem.check_before_update() == Some(true) && limit > 0 {
        let usage = read_u64_or_zero(dir, "memory.current")?;
        if usage > limit as u64 {
            return Err(CgroupError::Invalid {
                field: "linux.resources.memory.limit".into(),
                value: limit.to_string(),
                why: format!("below current usage {usage} in {dir:?} (checkBeforeUpdate)"),
            });
        }
    }
    if limit != 0 || swap != 0 {
        let v2swap = memory_swap_to_v2(swap, limit)?;
        // 0 from the conversion is "unset", except when memory == swap was
        // asked for: that means "no swap", written as 0.
        let value = match v2swap {
            0 if swap > 0 => Some("0".to_string()),
            0 => None,
            v => Some(num_or_max(v)),
        };
        if let Some(value) = value {
            match write_file(dir, "memory.swap.max", &value) {
                // No swap accounting: "no limit" and "no swap" both hold.
                Err(e)
                    if e.os_error() == Some(libc::ENOENT) && (value == "max" || value == "0") => {}
                r => r?,
            }
        }
        if limit != 0 {
            write_file(dir, "memory.max", &num_or_max(limit))?;
        }
    }
    if let Some(r) = mem.reservation().filter(|r| *r != 0) {
        write_file(dir, "memory.low", &num_or_max(r))?;
    }
    Ok(())
}

fn entry(dir: &Path, prefix: &str) -> Result<MemoryEntry, CgroupError> {
    Ok(MemoryEntry {
        usage: read_u64_or_zero(dir, &format!("{prefix}.current"))?,
        limit: read_u64_or_zero(dir, &format!("{prefix}.max"))?,
        max: read_u64_or_zero(dir, &format!("{prefix}.peak"))?,
        failcnt: read_keyed_or_zero(dir, &format!("{prefix}.events"), "max")?,
    })
}

/// runc's v2 memory stats: swap is reported as memory+swap (the v1 meaning).
pub fn stats(dir: &Path) -> Result<Memory, CgroupError> {
    let raw: std::collections::BTreeMap<String, u64> = match read_optional(dir, "memory.stat")? {
        Some(s) => parse_flat_keyed(dir, "memory.stat", &s)?
            .into_iter()
            .collect(),
        None => Default::default(),
    };
    let usage = entry(dir, "memory")?;
    let mut swap = entry(dir, "memory.swap")?;
    swap.usage = swap.usage.saturating_add(usage.usage);
    if swap.limit != u64::MAX {
        swap.limit = swap.limit.saturating_add(usage.limit);
    }
    swap.max = 0;
    Ok(Memory {
        cache: raw.get("file").copied().unwrap_or(0),
        usage,
        swap,
        raw,
        ..Default::default()
    })
}

/// The oom_kill counter of memory.events.
pub fn oom_kill_count(dir: &Path) -> Result<u64, CgroupError> {
    read_keyed_or_zero(dir, "memory.events", "oom_kill")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fs::tests::tempdir;
    use oci_spec::runtime::LinuxMemoryBuilder;

    fn fake() -> std::path::PathBuf {
        let d = tempdir();
        for f in ["memory.max", "memory.swap.max", "memory.low"] {
            std::fs::write(d.join(f), "max\n").unwrap();
        }
        d
    }
    fn get(d: &Path, f: &str) -> String {
        std::fs::read_to_string(d.join(f)).unwrap()
    }

    #[test]
    fn converts_limits() {
        let d = fake();
        let m = LinuxMemoryBuilder::default()
            .limit(100i64)
            .swap(300i64)
            .reservation(50i64)
            .build()
            .unwrap();
        apply(&d, &m).unwrap();
        assert_eq!(get(&d, "memory.max"), "100");
        assert_eq!(get(&d, "memory.swap.max"), "200");
        assert_eq!(get(&d, "memory.low"), "50");
        apply(
            &d,
            &LinuxMemoryBuilder::default()
                .limit(100i64)
                .swap(100i64)
                .build()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(get(&d, "memory.swap.max"), "0");
        apply(
            &d,
            &LinuxMemoryBuilder::default().limit(-1i64).build().unwrap(),
        )
        .unwrap();
        assert_eq!(get(&d, "memory.max"), "max");
        assert_eq!(get(&d, "memory.swap.max"), "max");
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn missing_swap_file_is_fine_only_for_max_or_zero() {
        let d = fake();
        std::fs::remove_file(d.join("memory.swap.max")).unwrap();
        apply(
            &d,
            &LinuxMemoryBuilder::default().limit(-1i64).build().unwrap(),
        )
        .unwrap();
        let e = apply(
            &d,
            &LinuxMemoryBuilder::default()
                .limit(100i64)
                .swap(300i64)
                .build()
                .unwrap(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("write \"200\" to memory.swap.max"), "{e}");
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn stats_and_oom_kills() {
        let d = tempdir();
        std::fs::write(d.join("memory.current"), "1000\n").unwrap();
        std::fs::write(d.join("memory.max"), "4000\n").unwrap();
        std::fs::write(d.join("memory.swap.current"), "10\n").unwrap();
        std::fs::write(d.join("memory.swap.max"), "max\n").unwrap();
        std::fs::write(d.join("memory.stat"), "anon 10\nfile 20\n").unwrap();
        std::fs::write(
            d.join("memory.events"),
            "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n",
        )
        .unwrap();
        let s = stats(&d).unwrap();
        assert_eq!(
            (s.usage.usage, s.usage.limit, s.usage.failcnt),
            (1000, 4000, 4)
        );
        assert_eq!((s.swap.usage, s.swap.limit), (1010, u64::MAX));
        assert_eq!(s.cache, 20);
        assert_eq!(oom_kill_count(&d).unwrap(), 1);
        std::fs::remove_dir_all(d).unwrap();
    }
}
