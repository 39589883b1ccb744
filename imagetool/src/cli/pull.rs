//! `pull NAME`: registry → local store, named by the full normalised reference.

use super::{open_options, RegistryArgs};
use anyhow::Result;
use clap::Args;
use skiff_image::copy::{copy_image, CopyOptions};
use skiff_image::reference::ImageRef;
use skiff_image::registry::RegistrySource;
use skiff_image::transport::store::Store;
use std::path::Path;

#[derive(Args)]
pub struct Opts {
    /// Image reference (`docker://` optional).
    pub name: String,
    /// Pull every platform of an index.
    #[arg(long, short = 'a')]
    pub all: bool,
    #[arg(long, short = 'q')]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub fn run(root: &Path, o: Opts) -> Result<()> {
    let r: ImageRef = o
        .name
        .strip_prefix("docker://")
        .unwrap_or(&o.name)
        .parse()?;
    let opts = open_options(root, o.registry.options()?);
    let src = RegistrySource::new(&r, &opts.registry)?;
    let store = Store::open(root)?;
    let dst = store.destination(&r)?;
    let report = copy_image(
        &src,
        &dst,
        &CopyOptions {
            all: o.all,
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
