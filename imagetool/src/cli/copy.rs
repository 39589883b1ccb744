//! `copy SRC DST` (skopeo copy).

use super::{open_options, progress_unless, registry_options, Creds};
use anyhow::{Context, Result};
use clap::Args;
use skiff_image::copy::{copy_image, CopyOptions, ManifestFormat};
use skiff_image::platform::PlatformSpec;
use skiff_image::progress;
use skiff_image::recompress::Compression;
use skiff_image::transport::subset::SubsetSource;
use skiff_image::transport::{open_destination, open_source, Location};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct Opts {
    /// Source, TRANSPORT:DETAILS.
    pub source: String,
    /// Destination, TRANSPORT:DETAILS.
    pub destination: String,
    /// Copy every image of a manifest list / index.
    #[arg(long, short = 'a')]
    pub all: bool,
    /// Fail rather than write a manifest that differs from the source's (as --format
    /// may make it).
    #[arg(long)]
    pub preserve_digests: bool,
    /// Manifest type to write: oci or v2s2 (default: the source's).
    #[arg(long, short = 'f')]
    pub format: Option<ManifestFormat>,
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
    #[arg(long)]
    pub src_cert_dir: Option<PathBuf>,
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
    /// Blobs copied at once.
    #[arg(long, default_value_t = 4)]
    pub jobs: usize,
    /// Platform to choose from an index, OS/ARCH[/VARIANT] (default: the host's); with
    /// --all, a comma-separated list (or repeated flags): an index of only those.
    #[arg(long, value_delimiter = ',')]
    pub platform: Vec<PlatformSpec>,
    /// Recompress layers for the destination: gzip or zstd.
    #[arg(long)]
    pub dest_compress_format: Option<Compression>,
    /// Print nothing on success.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Write the manifest digest to this file.
    #[arg(long)]
    pub digestfile: Option<PathBuf>,
}

pub fn run(root: &Path, o: Opts) -> Result<()> {
    if o.format == Some(ManifestFormat::V2s2) && o.dest_compress_format == Some(Compression::Zstd) {
        anyhow::bail!("parse flags: --format v2s2 and --dest-compress-format zstd exclude each other (Docker v2s2 has no zstd layer type)");
    }
    if o.preserve_digests && o.dest_compress_format.is_some() {
        anyhow::bail!("parse flags: --preserve-digests and --dest-compress-format exclude each other (recompressing changes the manifest digest)");
    }
    let src_loc = Location::parse(&o.source)?;
    let dst_loc = Location::parse(&o.destination)?;
    let src_reg = registry_options(
        o.src_tls_verify,
        Creds::from_flags(o.src_creds.as_deref(), o.src_no_creds, "src-")?,
        o.src_authfile.or(o.authfile.clone()),
        o.src_cert_dir,
        o.retry_times,
    )?;
    let dst_reg = registry_options(
        o.dest_tls_verify,
        Creds::from_flags(o.dest_creds.as_deref(), o.dest_no_creds, "dest-")?,
        o.dest_authfile.or(o.authfile),
        o.dest_cert_dir,
        o.retry_times,
    )?;
    let (platform, subset) = match (o.all, o.platform.len()) {
        (_, 0) => (None, None),
        (false, 1) => (o.platform.into_iter().next(), None),
        (true, _) => (None, Some(o.platform)),
        (false, _) => anyhow::bail!(
            "parse flags: several --platform values need --all (an index of those platforms)"
        ),
    };
    let copy = CopyOptions {
        all: o.all,
        jobs: o.jobs,
        platform,
        compress: o.dest_compress_format,
        format: o.format,
        preserve_digests: o.preserve_digests,
        progress: progress_unless(o.quiet, progress::COPY),
        claims: None,
    };
    let mut src = open_source(&src_loc, &open_options(root, src_reg))
        .with_context(|| format!("open source {}", o.source))?;
    if let Some(platforms) = subset {
        src = Box::new(SubsetSource::new(src, platforms));
    }
    let dst = open_destination(&dst_loc, &open_options(root, dst_reg))
        .with_context(|| format!("open destination {}", o.destination))?;
    let report = copy_image(src.as_ref(), dst.as_ref(), &copy)?;
    if let (Some(f), Some(d)) = (&o.digestfile, &report.manifest_digest) {
        std::fs::write(f, d.to_string()).with_context(|| format!("write {f:?}"))?;
    }
    if !o.quiet {
        let digest = report
            .manifest_digest
            .map(|d| d.to_string())
            .unwrap_or_default();
        out!(
            "copied {} blobs, skipped {}, mounted {}; manifest {digest}",
            report.copied,
            report.skipped,
            report.mounted
        );
    }
    Ok(())
}
