//! `push NAME [DEST]`: local store → `docker://NAME` (or DEST: any transport, a bare
//! reference meaning a registry).

use super::{location_or_store, open_options, progress_unless, RegistryArgs};
use anyhow::Result;
use clap::Args;
use skiff_image::copy::{copy_image, CopyOptions};
use skiff_image::progress;
use skiff_image::recompress::Compression;
use skiff_image::reference::ImageRef;
use skiff_image::transport::{open_destination, store::Store, Location};
use std::path::Path;

#[derive(Args)]
pub struct Opts {
    /// Stored image name.
    pub name: String,
    /// Destination, TRANSPORT:DETAILS (default `docker://NAME`).
    pub destination: Option<String>,
    #[arg(long, short = 'a')]
    pub all: bool,
    /// Recompress layers for the registry: gzip or zstd (podman's flag).
    #[arg(long)]
    pub compression_format: Option<Compression>,
    /// No progress and no summary line.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub fn run(root: &Path, o: Opts) -> Result<()> {
    let store = Store::open(root)?;
    let src = store.source(&o.name)?;
    let loc = match &o.destination {
        // A DEST without a transport is a registry reference, as docker push's NAME is.
        Some(d) => match location_or_store(d)? {
            Location::Store(n) if !d.starts_with("skiff:") => Location::Registry(n.parse()?),
            loc => loc,
        },
        None => Location::Registry(
            o.name
                .strip_prefix("docker://")
                .unwrap_or(&o.name)
                .parse::<ImageRef>()?,
        ),
    };
    let dst = open_destination(&loc, &open_options(root, o.registry.options()?))?;
    let report = copy_image(
        &src,
        dst.as_ref(),
        &CopyOptions {
            all: o.all,
            compress: o.compression_format,
            progress: progress_unless(o.quiet, progress::PUSH),
            ..Default::default()
        },
    )?;
    if !o.quiet {
        out!(
            "pushed {}: copied {}, skipped {}, mounted {}",
            o.name,
            report.copied,
            report.skipped,
            report.mounted
        );
    }
    Ok(())
}
