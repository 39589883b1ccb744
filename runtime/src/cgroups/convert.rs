//! v1-shaped OCI values to cgroup v2 files, with runc's formulas
//! (libcontainer/cgroups/utils.go), so a config means the same under skiff
//! as under runc on a v2 host.

use crate::cgroups::fs::CgroupError;

/// cpu.shares [2, 262144] onto cpu.weight [1, 10000]; 0 stays "unset".
pub fn cpu_shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.saturating_sub(2) * 9999) / 262142
}

/// blkio.weight [10, 1000] onto io.weight [1, 10000]; 0 stays "unset".
pub fn blkio_weight_to_io_weight(weight: u64) -> u64 {
    if weight == 0 {
        return 0;
    }
    1 + (weight.saturating_sub(10) * 9999) / 990
}

/// OCI memory.swap is memory+swap (v1 memsw); v2's memory.swap.max is swap
/// alone. Returns the value for memory.swap.max: 0 unset, -1 "max".
pub fn memory_swap_to_v2(swap: i64, limit: i64) -> Result<i64, CgroupError> {
    let invalid = |why: &str| CgroupError::Invalid {
        field: "linux.resources.memory.swap".into(),
        value: swap.to_string(),
        why: why.into(),
    };
    // Unlimited memory and no swap given: unlimited swap too, as on v1.
    if limit == -1 && swap == 0 {
        return Ok(-1);
    }
    if swap == -1 || swap == 0 {
        return Ok(swap);
    }
    if limit == 0 || limit == -1 {
        return Err(invalid("a swap limit needs a memory limit"));
    }
    if limit < 0 {
        return Err(invalid(&format!("memory limit {limit} is invalid")));
    }
    if swap < limit {
        return Err(invalid(&format!(
            "memory+swap must be >= the memory limit {limit}"
        )));
    }
    Ok(swap - limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_to_weight_matches_runc() {
        assert_eq!(cpu_shares_to_weight(0), 0);
        assert_eq!(cpu_shares_to_weight(2), 1);
        assert_eq!(cpu_shares_to_weight(1024), 39);
        assert_eq!(cpu_shares_to_weight(262144), 10000);
    }

    #[test]
    fn blkio_weight_to_io_weight_matches_runc() {
        assert_eq!(blkio_weight_to_io_weight(0), 0);
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(500), 4950);
        assert_eq!(blkio_weight_to_io_weight(1000), 10000);
    }

    #[test]
    fn swap_conversion() {
        assert_eq!(memory_swap_to_v2(0, -1).unwrap(), -1);
        assert_eq!(memory_swap_to_v2(-1, 100).unwrap(), -1);
        assert_eq!(memory_swap_to_v2(0, 100).unwrap(), 0);
        assert_eq!(memory_swap_to_v2(300, 100).unwrap(), 200);
        assert_eq!(memory_swap_to_v2(100, 100).unwrap(), 0);
        assert!(memory_swap_to_v2(50, 100).is_err());
        assert!(memory_swap_to_v2(50, 0).is_err());
        assert!(memory_swap_to_v2(50, -1).is_err());
    }
}
