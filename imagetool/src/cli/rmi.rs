//! `rmi [-f] NAME...`: remove names; blobs no name reaches are deleted. By image ID every
//! name of the image goes, which takes `-f` when it has several, as in docker.

use anyhow::Result;
use clap::Args;
use skiff_image::transport::store::Store;
use std::path::Path;

#[derive(Args)]
pub struct Opts {
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Remove every name of an image given by ID.
    #[arg(long, short = 'f')]
    pub force: bool,
}

pub fn run(root: &Path, o: Opts) -> Result<()> {
    let store = Store::open(root)?;
    for n in &o.names {
        for removed in store.remove(n, o.force)? {
            out!("Untagged: {removed}");
        }
    }
    Ok(())
}
