//! `tag SOURCE TARGET`: another name for a stored image.

use anyhow::Result;
use clap::Args;
use skiff_image::reference::ImageRef;
use skiff_image::transport::store::Store;
use std::path::Path;

#[derive(Args)]
pub struct Opts {
    pub source: String,
    pub target: String,
}

pub fn run(root: &Path, o: Opts) -> Result<()> {
    let target: ImageRef = o.target.parse()?;
    Store::open(root)?.tag(&o.source, &target)
}
