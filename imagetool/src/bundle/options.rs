//! `docker run`-like options for a bundle, and the parsing of their string forms.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

/// How `create_bundle` shapes the bundle; empty fields keep the image's defaults.
#[derive(Debug, Clone, Default)]
pub struct BundleOptions {
    /// `KEY=VALUE`, or `KEY` to pass the caller's own value; later entries win.
    pub env: Vec<String>,
    /// Files of `KEY=VALUE` lines (`#` comments), applied before `env`.
    pub env_file: Vec<PathBuf>,
    /// `SRC:DST[:ro]` bind mounts; SRC is an absolute host path.
    pub volumes: Vec<String>,
    /// `DST[:OPTIONS]` tmpfs mounts (options comma separated, e.g. `size=64m,mode=1777`).
    pub tmpfs: Vec<String>,
    /// `none` (a new, empty network namespace; the default), `host`, or the path of a
    /// network namespace to join.
    pub net: Option<String>,
    pub hostname: Option<String>,
    /// `name|uid[:group|gid]`, resolved through the image's /etc/passwd and /etc/group.
    pub user: Option<String>,
    pub workdir: Option<String>,
    /// Read-only root filesystem.
    pub read_only: bool,
    /// Memory limit in bytes (see [`parse_size`]).
    pub memory: Option<u64>,
    /// CPU quota in CPUs, e.g. 1.5.
    pub cpus: Option<f64>,
    pub pids_limit: Option<i64>,
    /// Capability names (`NET_ADMIN` or `CAP_NET_ADMIN`, or `ALL`).
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    /// Replaces the image's Entrypoint (and drops its Cmd, as docker does); an empty
    /// vector clears it.
    pub entrypoint: Option<Vec<String>>,
    /// Replaces the image's Cmd when not empty.
    pub args: Vec<String>,
    /// `HOST:IP` lines for /etc/hosts.
    pub add_hosts: Vec<String>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    /// A plain copied directory instead of an overlay mount (no mount to clean up).
    pub copy: bool,
}

/// Parses `512m`, `1g`, `1024` (bytes), `64k`.
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1u64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: f64 = num.parse().with_context(|| format!("parse size {s:?}"))?;
    if n.is_nan() || n < 0.0 {
        bail!("parse size {s:?}: must not be negative");
    }
    Ok((n * mult as f64) as u64)
}

/// A parsed `SRC:DST[:ro]`.
pub(crate) struct Volume {
    pub source: PathBuf,
    pub dest: String,
    pub read_only: bool,
}

pub(crate) fn parse_volume(s: &str) -> Result<Volume> {
    let parts: Vec<&str> = s.split(':').collect();
    let (src, dst, mode) = match parts.as_slice() {
        [src, dst] => (*src, *dst, ""),
        [src, dst, mode] => (*src, *dst, *mode),
        _ => bail!("parse volume {s:?}: expected SRC:DST[:ro]"),
    };
    if !src.starts_with('/') {
        bail!("parse volume {s:?}: the source must be an absolute host path");
    }
    if !dst.starts_with('/') {
        bail!("parse volume {s:?}: the destination must be an absolute container path");
    }
    let read_only = match mode {
        "" | "rw" => false,
        "ro" => true,
        other => bail!("parse volume {s:?}: unknown mode {other:?} (ro or rw)"),
    };
    Ok(Volume {
        source: PathBuf::from(src),
        dest: dst.to_string(),
        read_only,
    })
}

/// Reads an env file: `KEY=VALUE` lines, `KEY` alone takes the caller's value.
pub(crate) fn read_env_file(path: &PathBuf) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read env file {path:?}"))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_volumes() {
        assert_eq!(parse_size("512m").unwrap(), 512 << 20);
        assert_eq!(parse_size("1G").unwrap(), 1 << 30);
        assert_eq!(parse_size("100").unwrap(), 100);
        assert!(parse_size("lots").is_err());
        let v = parse_volume("/srv/data:/data:ro").unwrap();
        assert_eq!(
            (v.source, v.dest.as_str(), v.read_only),
            (PathBuf::from("/srv/data"), "/data", true)
        );
        assert!(parse_volume("named:/data").is_err());
        assert!(parse_volume("/a:/b:rx").is_err());
    }
}
