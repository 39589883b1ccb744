//! `import FILE IMAGE [--change INSTR]...`: a rootfs tar → one-layer image in the store.

use anyhow::Result;
use clap::Args;
use skiff_image::import::import_rootfs;
use skiff_image::reference::ImageRef;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct Opts {
    /// Root filesystem tar (plain or gzip; `-` for standard input).
    pub file: PathBuf,
    /// Name for the new image.
    pub image: String,
    /// Dockerfile instruction applied to the config (CMD, ENTRYPOINT, ENV, WORKDIR, USER, ...).
    #[arg(long, short = 'c')]
    pub change: Vec<String>,
}

pub fn run(root: &Path, o: Opts) -> Result<()> {
    let name: ImageRef = o.image.parse()?;
    let report = import_rootfs(root, &o.file, &name, &o.change)?;
    out!(
        "{}",
        report
            .manifest_digest
            .map(|d| d.to_string())
            .unwrap_or_default()
    );
    Ok(())
}
