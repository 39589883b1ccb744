//! `delete docker://REF`: delete the manifest from the registry.

use super::RegistryArgs;
use anyhow::Result;
use clap::Args;
use skiff_image::reference::ImageRef;
use skiff_image::registry::ops;

#[derive(Args)]
pub struct Opts {
    pub reference: String,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub fn run(o: Opts) -> Result<()> {
    let r: ImageRef = o
        .reference
        .strip_prefix("docker://")
        .unwrap_or(&o.reference)
        .parse()?;
    ops::delete_image(&r, &o.registry.options()?)?;
    Ok(())
}
