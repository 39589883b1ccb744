//! `unpack [OPTIONS] IMAGE BUNDLE [ARGS...]`: a stored image → a runnable OCI bundle
//! (config.json + an overlay rootfs over the store's layer dirs), with `docker run`'s
//! flags for what the container gets.

use anyhow::{Context, Result};
use clap::Args;
use skiff_image::bundle::{create_bundle, parse_size, BundleOptions};
use skiff_image::resolve_image;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct Opts {
    /// Image in the local store (name, name:tag, name@digest or an ID prefix).
    pub image: String,
    /// Bundle directory to create (must not hold a bundle yet).
    pub bundle: PathBuf,
    /// Command and arguments, replacing the image's Cmd.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
    /// Set an environment variable (KEY=VALUE, or KEY to pass ours on).
    #[arg(long, short = 'e')]
    pub env: Vec<String>,
    /// Read environment variables from a file of KEY=VALUE lines.
    #[arg(long)]
    pub env_file: Vec<PathBuf>,
    /// Bind mount a host path: SRC:DST[:ro].
    #[arg(long, short = 'v')]
    pub volume: Vec<String>,
    /// Mount a tmpfs: DST[:OPTIONS] (e.g. /run:size=64m,mode=1777).
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Network: none (an empty namespace, the default), host, or a netns path.
    #[arg(long)]
    pub net: Option<String>,
    /// Container host name (no -h: that is --help here).
    #[arg(long)]
    pub hostname: Option<String>,
    /// User: name|uid[:group|gid], resolved in the image's /etc/passwd and /etc/group.
    #[arg(long, short = 'u')]
    pub user: Option<String>,
    /// Working directory inside the container.
    #[arg(long, short = 'w')]
    pub workdir: Option<String>,
    /// Mount the root filesystem read-only.
    #[arg(long)]
    pub read_only: bool,
    /// Memory limit (e.g. 512m, 1g).
    #[arg(long, short = 'm')]
    pub memory: Option<String>,
    /// CPU quota in CPUs (e.g. 1.5).
    #[arg(long)]
    pub cpus: Option<f64>,
    /// Maximum number of processes.
    #[arg(long)]
    pub pids_limit: Option<i64>,
    /// Add a capability (NET_ADMIN, CAP_NET_ADMIN or ALL).
    #[arg(long)]
    pub cap_add: Vec<String>,
    /// Drop a capability.
    #[arg(long)]
    pub cap_drop: Vec<String>,
    /// Replace the image's Entrypoint (an empty string clears it).
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Add a line to /etc/hosts: HOST:IP.
    #[arg(long)]
    pub add_host: Vec<String>,
    /// DNS server for /etc/resolv.conf.
    #[arg(long)]
    pub dns: Vec<String>,
    /// DNS search domain for /etc/resolv.conf.
    #[arg(long)]
    pub dns_search: Vec<String>,
    /// A plain copied rootfs directory instead of an overlay mount.
    #[arg(long)]
    pub copy: bool,
}

pub fn run(root: &Path, o: Opts) -> Result<()> {
    let image = resolve_image(root, &o.image)?;
    let memory = o
        .memory
        .as_deref()
        .map(parse_size)
        .transpose()
        .context("--memory")?;
    let opts = BundleOptions {
        env: o.env,
        env_file: o.env_file,
        volumes: o.volume,
        tmpfs: o.tmpfs,
        net: o.net,
        hostname: o.hostname,
        user: o.user,
        workdir: o.workdir,
        read_only: o.read_only,
        memory,
        cpus: o.cpus,
        pids_limit: o.pids_limit,
        cap_add: o.cap_add,
        cap_drop: o.cap_drop,
        // docker: `--entrypoint ""` clears it, anything else is one executable.
        entrypoint: o
            .entrypoint
            .map(|e| if e.is_empty() { Vec::new() } else { vec![e] }),
        args: o.args,
        add_hosts: o.add_host,
        dns: o.dns,
        dns_search: o.dns_search,
        copy: o.copy,
    };
    create_bundle(root, &image.manifest_digest.to_string(), &o.bundle, &opts)
        .with_context(|| format!("unpack {} into {:?}", image.name, o.bundle))?;
    Ok(())
}
