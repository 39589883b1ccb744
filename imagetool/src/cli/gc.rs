//! `gc`: remove extracted layers that no stored image and no live bundle uses.

use anyhow::Result;
use clap::Args;
use skiff_image::gc::gc;
use std::path::Path;

#[derive(Args)]
pub struct Opts {}

pub fn run(root: &Path, _o: Opts) -> Result<()> {
    let report = gc(root)?;
    for chain in &report.removed_layers {
        out!("removed layer sha256:{chain}");
    }
    out!(
        "{} layers removed, {} kept, {} records of removed bundles dropped",
        report.removed_layers.len(),
        report.kept_layers,
        report.stale_bundles
    );
    Ok(())
}
