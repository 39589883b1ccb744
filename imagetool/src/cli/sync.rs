//! `sync --src docker|yaml --dest docker|dir SOURCE DESTINATION` (skopeo sync).

use super::registry_options;
use anyhow::{bail, Result};
use clap::Args;
use skiff_image::copy::CopyOptions;
use skiff_image::sync::{sync, SyncDestination, SyncOptions, SyncSource};
use std::path::PathBuf;

#[derive(Args)]
pub struct Opts {
    /// `docker` (a repository or image) or `yaml` (a file listing registries and tags).
    #[arg(long)]
    pub src: String,
    /// `docker` (a registry namespace) or `dir` (a directory).
    #[arg(long)]
    pub dest: String,
    pub source: String,
    pub destination: String,
    #[arg(long, short = 'a')]
    pub all: bool,
    /// Keep the full source path under the destination.
    #[arg(long)]
    pub scoped: bool,
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub src_tls_verify: Option<bool>,
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub dest_tls_verify: Option<bool>,
    #[arg(long)]
    pub src_creds: Option<String>,
    #[arg(long)]
    pub dest_creds: Option<String>,
    #[arg(long)]
    pub authfile: Option<PathBuf>,
    #[arg(long, default_value_t = 3)]
    pub retry_times: u32,
    /// Images copied at once.
    #[arg(long, default_value_t = 4)]
    pub jobs: usize,
}

pub fn run(o: Opts) -> Result<()> {
    let src = match o.src.as_str() {
        "docker" => SyncSource::Registry(
            o.source
                .strip_prefix("docker://")
                .unwrap_or(&o.source)
                .parse()?,
        ),
        "yaml" => SyncSource::Yaml(PathBuf::from(&o.source)),
        other => bail!("parse --src {other:?}: expected docker or yaml"),
    };
    let dst = match o.dest.as_str() {
        "docker" => SyncDestination::Registry(
            o.destination
                .strip_prefix("docker://")
                .unwrap_or(&o.destination)
                .trim_end_matches('/')
                .to_string(),
        ),
        "dir" => SyncDestination::Dir(PathBuf::from(&o.destination)),
        other => bail!("parse --dest {other:?}: expected docker or dir"),
    };
    let opts = SyncOptions {
        src_registry: registry_options(
            o.src_tls_verify,
            o.src_creds.as_deref(),
            o.authfile.clone(),
            None,
            o.retry_times,
        )?,
        dest_registry: registry_options(
            o.dest_tls_verify,
            o.dest_creds.as_deref(),
            o.authfile,
            None,
            o.retry_times,
        )?,
        copy: CopyOptions {
            all: o.all,
            ..Default::default()
        },
        jobs: o.jobs,
        scoped: o.scoped,
    };
    let report = sync(&src, &dst, &opts)?;
    out!(
        "synced {} images, {} already up to date",
        report.copied,
        report.skipped
    );
    Ok(())
}
