//! `save -o FILE IMAGE...`: stored images → one dual-format docker-archive.

use anyhow::{Context, Result};
use clap::Args;
use skiff_image::copy::{copy_uncommitted, CopyOptions};
use skiff_image::reference::ImageRef;
use skiff_image::transport::docker_archive::DockerArchiveDestination;
use skiff_image::transport::store::Store;
use skiff_image::transport::ImageDestination;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct Opts {
    #[arg(long, short = 'o', required = true)]
    pub output: PathBuf,
    #[arg(required = true)]
    pub images: Vec<String>,
}

pub fn run(root: &Path, o: Opts) -> Result<()> {
    let store = Store::open(root)?;
    let dst = DockerArchiveDestination::create(&o.output, Vec::new())?;
    for name in &o.images {
        let src = store.source(name)?;
        let names = match name.parse::<ImageRef>() {
            Ok(r)
                if store
                    .find(name)
                    .ok()
                    .and_then(|d| d.ref_name().map(str::to_string))
                    == Some(r.to_string()) =>
            {
                vec![r]
            }
            _ => Vec::new(),
        };
        dst.set_names(names);
        copy_uncommitted(&src, &dst, &CopyOptions::default())
            .with_context(|| format!("save {name}"))?;
    }
    dst.commit()
}
