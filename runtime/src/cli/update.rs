//! `skiff update [--resources FILE|-] [runc's resource flags] ID`

use std::io::Read;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxPids, LinuxResources};
use skiff_runtime::container;
use skiff_runtime::state::StateRoot;

use super::args::{Flag, Matches, Shape, Takes, UsageError};

pub const SHAPE: Shape = Shape {
    name: "update",
    about: "Change a running container's resources",
    flags: &[&[
        Flag {
            long: "resources",
            short: Some('r'),
            takes: Takes::Path("FILE"),
            help: "JSON file with the new linux.resources, or - for stdin",
        },
        Flag {
            long: "memory",
            short: None,
            takes: Takes::Text("BYTES"),
            help: "Memory limit (bytes, or with a k/m/g suffix; -1 for unlimited)",
        },
        Flag {
            long: "memory-swap",
            short: None,
            takes: Takes::Text("BYTES"),
            help: "Memory plus swap limit",
        },
        Flag {
            long: "memory-reservation",
            short: None,
            takes: Takes::Text("BYTES"),
            help: "Memory soft limit",
        },
        Flag {
            long: "cpu-shares",
            short: None,
            takes: Takes::Text("N"),
            help: "CPU shares (relative weight)",
        },
        Flag {
            long: "cpu-quota",
            short: None,
            takes: Takes::Text("US"),
            help: "CPU CFS quota per period, in microseconds",
        },
        Flag {
            long: "cpu-period",
            short: None,
            takes: Takes::Text("US"),
            help: "CPU CFS period, in microseconds",
        },
        Flag {
            long: "cpu-rt-period",
            short: None,
            takes: Takes::Text("US"),
            help: "CPU realtime period, in microseconds",
        },
        Flag {
            long: "cpu-rt-runtime",
            short: None,
            takes: Takes::Text("US"),
            help: "CPU realtime runtime per period, in microseconds",
        },
        Flag {
            long: "cpuset-cpus",
            short: None,
            takes: Takes::Text("LIST"),
            help: "CPUs to run on (e.g. 0-3,5)",
        },
        Flag {
            long: "cpuset-mems",
            short: None,
            takes: Takes::Text("LIST"),
            help: "Memory nodes to allocate from",
        },
        Flag {
            long: "pids-limit",
            short: None,
            takes: Takes::Text("N"),
            help: "Maximum number of processes",
        },
        Flag {
            long: "blkio-weight",
            short: None,
            takes: Takes::Text("N"),
            help: "Block IO weight (10-1000)",
        },
    ]],
    positionals: &["ID"],
    required: 1,
    trailing: None,
};

#[derive(Debug)]
pub struct UpdateArgs {
    pub id: String,
    pub resources: Option<PathBuf>,
    pub memory: Option<String>,
    pub memory_swap: Option<String>,
    pub memory_reservation: Option<String>,
    pub cpu_shares: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    pub cpu_rt_period: Option<u64>,
    pub cpu_rt_runtime: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub pids_limit: Option<i64>,
    pub blkio_weight: Option<u16>,
}

impl UpdateArgs {
    pub fn from_matches(m: &Matches) -> Result<Self, UsageError> {
        let text = |long: &str| m.value(long).map(str::to_string);
        Ok(UpdateArgs {
            id: m.positional(0, ""),
            resources: m.path("resources"),
            memory: text("memory"),
            memory_swap: text("memory-swap"),
            memory_reservation: text("memory-reservation"),
            cpu_shares: m.parsed("cpu-shares")?,
            cpu_quota: m.parsed("cpu-quota")?,
            cpu_period: m.parsed("cpu-period")?,
            cpu_rt_period: m.parsed("cpu-rt-period")?,
            cpu_rt_runtime: m.parsed("cpu-rt-runtime")?,
            cpuset_cpus: text("cpuset-cpus"),
            cpuset_mems: text("cpuset-mems"),
            pids_limit: m.parsed("pids-limit")?,
            blkio_weight: m.parsed("blkio-weight")?,
        })
    }
}

pub fn run(root: &StateRoot, args: &UpdateArgs) -> Result<i32> {
    let resources = match &args.resources {
        Some(path) => read_resources(path)?,
        None => resources_from_flags(args)?,
    };
    container::update(root, &args.id, &resources)?;
    Ok(0)
}

fn read_resources(path: &PathBuf) -> Result<LinuxResources> {
    let mut text = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .read_to_end(&mut text)
            .context("read --resources from stdin")?;
    } else {
        text = std::fs::read(path)
            .with_context(|| format!("read --resources {:?}", path.display().to_string()))?;
    }
    skiff_runtime::json::from_slice_with_path(&text)
        .map_err(|err| anyhow::anyhow!("parse --resources: {}: {}", err.path, err.message))
}

fn resources_from_flags(args: &UpdateArgs) -> Result<LinuxResources> {
    let mut res = LinuxResources::default();
    if args.memory.is_some() || args.memory_swap.is_some() || args.memory_reservation.is_some() {
        let mut memory = LinuxMemory::default();
        memory.set_limit(
            args.memory
                .as_deref()
                .map(|v| parse_bytes("--memory", v))
                .transpose()?,
        );
        memory.set_swap(
            args.memory_swap
                .as_deref()
                .map(|v| parse_bytes("--memory-swap", v))
                .transpose()?,
        );
        memory.set_reservation(
            args.memory_reservation
                .as_deref()
                .map(|v| parse_bytes("--memory-reservation", v))
                .transpose()?,
        );
        res.set_memory(Some(memory));
    }
    let cpu_set = args.cpu_shares.is_some()
        || args.cpu_quota.is_some()
        || args.cpu_period.is_some()
        || args.cpu_rt_period.is_some()
        || args.cpu_rt_runtime.is_some()
        || args.cpuset_cpus.is_some()
        || args.cpuset_mems.is_some();
    if cpu_set {
        let mut cpu = LinuxCpu::default();
        cpu.set_shares(args.cpu_shares);
        cpu.set_quota(args.cpu_quota);
        cpu.set_period(args.cpu_period);
        cpu.set_realtime_period(args.cpu_rt_period);
        cpu.set_realtime_runtime(args.cpu_rt_runtime);
        cpu.set_cpus(args.cpuset_cpus.clone());
        cpu.set_mems(args.cpuset_mems.clone());
        res.set_cpu(Some(cpu));
    }
    if let Some(limit) = args.pids_limit {
        let mut pids = LinuxPids::default();
        pids.set_limit(limit);
        res.set_pids(Some(pids));
    }
    if let Some(weight) = args.blkio_weight {
        let mut blkio = LinuxBlockIo::default();
        blkio.set_weight(Some(weight));
        res.set_block_io(Some(blkio));
    }
    Ok(res)
}

/// Sizes as runc's --memory takes them: bytes, or k/m/g/t (binary) suffixes; -1 = unlimited.
fn parse_bytes(flag: &str, text: &str) -> Result<i64> {
    let t = text.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let value: f64 = num
        .parse()
        .with_context(|| format!("{flag} {text:?}: not a size"))?;
    if value < 0.0 {
        bail!("{flag} {text:?}: must not be negative (use -1 for unlimited)");
    }
    Ok((value * mult as f64) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes_as_runc() {
        assert_eq!(parse_bytes("--memory", "512m").ok(), Some(512 << 20));
        assert_eq!(parse_bytes("--memory", "1G").ok(), Some(1 << 30));
        assert_eq!(parse_bytes("--memory", "1000").ok(), Some(1000));
        assert_eq!(parse_bytes("--memory", "-1").ok(), Some(-1));
        assert!(parse_bytes("--memory", "lots").is_err());
        assert!(parse_bytes("--memory", "-5").is_err());
    }
}
