//! `save [-o FILE] IMAGE...`: stored images → one dual-format docker-archive, written to
//! standard output without `-o`.

use anyhow::{Context, Result};
use clap::Args;
use skiff_image::copy::{copy_uncommitted, CopyOptions};
use skiff_image::reference::ImageRef;
use skiff_image::transport::docker_archive::DockerArchiveDestination;
use skiff_image::transport::store::Store;
use skiff_image::transport::ImageDestination;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct Opts {
    /// Archive to write; standard output when absent (never a terminal, as in docker).
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    #[arg(required = true)]
    pub images: Vec<String>,
}

pub fn run(root: &Path, o: Opts) -> Result<()> {
    if o.output.is_none() && std::io::stdout().is_terminal() {
        anyhow::bail!(
            "save: refusing to write an archive to a terminal; use -o FILE or redirect standard output"
        );
    }
    let store = Store::open(root)?;
    let file = o.output.clone().unwrap_or_else(|| PathBuf::from("-"));
    let dst = DockerArchiveDestination::create(&file, Vec::new())?;
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
    match o.output {
        Some(_) => dst.commit(),
        None => dst.commit_to(&mut std::io::stdout().lock()),
    }
}
