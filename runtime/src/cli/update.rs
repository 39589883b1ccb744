//! `skiff update [--resources FILE|-] [runc's resource flags] ID`

use std::io::Read;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxPids, LinuxResources};
use skiff_runtime::container;
use skiff_runtime::state::StateRoot;

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// Container id
    pub id: String,
    /// JSON file with the new linux.resources, or - for stdin
    #[arg(long, short = 'r')]
    pub resources: Option<PathBuf>,
    /// Memory limit (bytes, or with a k/m/g suffix; -1 for unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory plus swap limit
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    #[arg(long = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
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
