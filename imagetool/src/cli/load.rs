//! `load -i FILE [-q]`: every image of a docker-archive / oci-archive into the store, by the
//! names the archive records.

use anyhow::{Context, Result};
use clap::Args;
use skiff_image::copy::{copy_image, CopyOptions};
use skiff_image::transport::docker_archive::archive_images;
use skiff_image::transport::store::Store;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct Opts {
    #[arg(long, short = 'i', required = true)]
    pub input: PathBuf,
    /// Print nothing on success.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

pub fn run(root: &Path, o: Opts) -> Result<()> {
    let store = Store::open(root)?;
    let images = archive_images(&o.input)?;
    if images.is_empty() {
        anyhow::bail!("load {:?}: archive holds no images", o.input);
    }
    for (src, names) in images {
        let Some((first, rest)) = names.split_first() else {
            eprintln!("skiff-image: skipping an untagged image in {:?}", o.input);
            continue;
        };
        let dst = store.destination(first)?;
        copy_image(src.as_ref(), &dst, &CopyOptions::default())
            .with_context(|| format!("load {first}"))?;
        for n in rest {
            store.tag(&first.to_string(), n)?;
        }
        for n in names.iter().filter(|_| !o.quiet) {
            out!("Loaded image: {n}");
        }
    }
    Ok(())
}
