//! `pull NAME`: registry → local store, named by the full normalised reference. A short
//! name goes through registries.conf aliases and search registries (docker.io by default).

use super::{progress_unless, RegistryArgs};
use anyhow::Result;
use clap::Args;
use skiff_image::copy::{copy_image, CopyOptions};
use skiff_image::platform::PlatformSpec;
use skiff_image::progress;
use skiff_image::registry::search;
use skiff_image::transport::store::Store;
use std::path::Path;

#[derive(Args)]
pub struct Opts {
    /// Image reference (`docker://` optional).
    pub name: String,
    /// Pull every platform of an index.
    #[arg(long, short = 'a')]
    pub all: bool,
    /// Platform to pull from an index, OS/ARCH[/VARIANT] (default: the host's).
    #[arg(long)]
    pub platform: Option<PlatformSpec>,
    /// No progress, only the result line.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub fn run(root: &Path, o: Opts) -> Result<()> {
    let reg = o.registry.options()?;
    let candidates = search::pull_candidates(&o.name, &reg)?;
    let store = Store::open(root)?;
    let (r, src) = search::open_first(&candidates, &reg)?;
    let dst = store.destination(&r)?;
    let report = copy_image(
        &src,
        &dst,
        &CopyOptions {
            all: o.all,
            platform: o.platform,
            progress: progress_unless(o.quiet, progress::PULL),
            ..Default::default()
        },
    )?;
    if !o.quiet {
        out!(
            "{r}: {}",
            report
                .manifest_digest
                .map(|d| d.to_string())
                .unwrap_or_default()
        );
    }
    Ok(())
}
