//! `rmi NAME...`: remove names; blobs no name reaches are deleted.

use anyhow::Result;
use clap::Args;
use skiff_image::transport::store::Store;
use std::path::Path;

#[derive(Args)]
pub struct Opts {
    #[arg(required = true)]
    pub names: Vec<String>,
}

pub fn run(root: &Path, o: Opts) -> Result<()> {
    let store = Store::open(root)?;
    for n in &o.names {
        let d = store.remove(n)?;
        out!("Untagged: {}", d.ref_name().unwrap_or(n));
    }
    Ok(())
}
