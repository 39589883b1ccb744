//! `sync --src docker|yaml|dir --dest docker|dir SOURCE DESTINATION` (skopeo sync).

use super::{registry_options, Creds};
use anyhow::{anyhow, bail, Result};
use clap::Args;
use skiff_image::copy::{CopyOptions, ManifestFormat};
use skiff_image::sync::{sync, SyncDestination, SyncOptions, SyncSource};
use std::path::PathBuf;

#[derive(Args)]
pub struct Opts {
    /// `docker` (a registry, repository or image), `yaml` (a file listing registries and
    /// tags) or `dir` (a directory of dir: images).
    #[arg(long)]
    pub src: String,
    /// `docker` (a registry namespace) or `dir` (a directory).
    #[arg(long)]
    pub dest: String,
    pub source: String,
    pub destination: String,
    /// Copy every image of a manifest list / index.
    #[arg(long, short = 'a')]
    pub all: bool,
    /// Keep the full source path under the destination.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub scoped: Option<bool>,
    /// Fail rather than write a manifest that differs from the source's (as --format
    /// may make it).
    #[arg(long)]
    pub preserve_digests: bool,
    /// Manifest type to write: oci or v2s2 (default: the source's).
    #[arg(long, short = 'f')]
    pub format: Option<ManifestFormat>,
    /// Copy no signatures (always the case: skiff-image copies none).
    #[arg(long)]
    pub remove_signatures: bool,
    // `=` required, as Go's bool flags want it: `--src-tls-verify SRC DST` must leave SRC
    // a positional argument.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub src_tls_verify: Option<bool>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub dest_tls_verify: Option<bool>,
    #[arg(long)]
    pub src_creds: Option<String>,
    #[arg(long)]
    pub dest_creds: Option<String>,
    /// Access the source registry anonymously.
    #[arg(long)]
    pub src_no_creds: bool,
    /// Access the destination registry anonymously.
    #[arg(long)]
    pub dest_no_creds: bool,
    /// Directory with CA certificates (*.crt) for the source registry.
    #[arg(long)]
    pub src_cert_dir: Option<PathBuf>,
    /// Directory with CA certificates (*.crt) for the destination registry.
    #[arg(long)]
    pub dest_cert_dir: Option<PathBuf>,
    /// Credentials file for both sides.
    #[arg(long)]
    pub authfile: Option<PathBuf>,
    #[arg(long)]
    pub src_authfile: Option<PathBuf>,
    #[arg(long)]
    pub dest_authfile: Option<PathBuf>,
    #[arg(long, default_value_t = 3)]
    pub retry_times: u32,
    /// Images copied at once.
    #[arg(long, default_value_t = 4)]
    pub jobs: usize,
    /// Print what would be copied; copy nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Go on after an image fails; exit non-zero at the end, naming every failure.
    #[arg(long)]
    pub keep_going: bool,
}

pub fn run(o: Opts) -> Result<()> {
    let src = match o.src.as_str() {
        "docker" => SyncSource::docker(&o.source)?,
        "yaml" => SyncSource::Yaml(PathBuf::from(&o.source)),
        "dir" => SyncSource::Dir(PathBuf::from(&o.source)),
        other => bail!("parse --src {other:?}: expected docker, yaml or dir"),
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
            Creds::from_flags(o.src_creds.as_deref(), o.src_no_creds, "src-")?,
            o.src_authfile.or(o.authfile.clone()),
            o.src_cert_dir,
            o.retry_times,
        )?,
        dest_registry: registry_options(
            o.dest_tls_verify,
            Creds::from_flags(o.dest_creds.as_deref(), o.dest_no_creds, "dest-")?,
            o.dest_authfile.or(o.authfile),
            o.dest_cert_dir,
            o.retry_times,
        )?,
        copy: CopyOptions {
            all: o.all,
            format: o.format,
            preserve_digests: o.preserve_digests,
            ..Default::default()
        },
        jobs: o.jobs,
        scoped: o.scoped.unwrap_or(false),
        dry_run: o.dry_run,
        keep_going: o.keep_going,
    };
    let report = sync(&src, &dst, &opts)?;
    if o.dry_run {
        for (s, d) in &report.would_copy {
            out!("would copy {s} to {d}");
        }
        out!(
            "would sync {} images, {} already up to date",
            report.would_copy.len(),
            report.skipped
        );
    } else {
        out!(
            "synced {} images, {} already up to date",
            report.copied,
            report.skipped
        );
    }
    if report.failures.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = report.failures.iter().map(|e| format!("{e:#}")).collect();
    Err(anyhow!(
        "sync: {} failed: {}",
        match report.failures.len() {
            1 => "1 image or repository".to_string(),
            n => format!("{n} images or repositories"),
        },
        list.join("; ")
    ))
}
