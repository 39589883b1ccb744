//! `history [--format json] NAME`.

use super::{location_or_store, open_options, RegistryArgs};
use anyhow::{bail, Result};
use clap::Args;
use skiff_image::copy::CopyOptions;
use skiff_image::inspect::history;
use skiff_image::transport::open_source;
use std::path::Path;

#[derive(Args)]
pub struct Opts {
    pub name: String,
    /// `json` for a machine-readable list.
    #[arg(long)]
    pub format: Option<String>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub fn run(root: &Path, o: Opts) -> Result<()> {
    let src = open_source(
        &location_or_store(&o.name)?,
        &open_options(root, o.registry.options()?),
    )?;
    let rows = history(src.as_ref(), &CopyOptions::default())?;
    match o.format.as_deref() {
        Some("json") => out!("{}", serde_json::to_string_pretty(&rows)?),
        Some(f) => bail!("parse --format {f:?}: only \"json\" is supported"),
        None => {
            out!(
                "{:<14} {:<22} {:<50} {:>10}",
                "LAYER",
                "CREATED",
                "CREATED BY",
                "SIZE"
            );
            for r in rows {
                let layer = r
                    .layer
                    .as_deref()
                    .and_then(|l| l.strip_prefix("sha256:"))
                    .map_or("<missing>", |h| &h[..12]);
                let by: String = r.created_by.chars().take(50).collect();
                out!(
                    "{layer:<14} {:<22} {by:<50} {:>10}",
                    r.created.as_deref().unwrap_or(""),
                    r.size
                );
            }
        }
    }
    Ok(())
}
