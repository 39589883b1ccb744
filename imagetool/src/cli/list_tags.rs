//! `list-tags docker://REPO` (skopeo's JSON: Repository, Tags).

use super::RegistryArgs;
use anyhow::Result;
use clap::Args;
use skiff_image::reference::ImageRef;
use skiff_image::registry::ops;

#[derive(Args)]
pub struct Opts {
    pub repository: String,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub fn run(o: Opts) -> Result<()> {
    let r: ImageRef = o
        .repository
        .strip_prefix("docker://")
        .unwrap_or(&o.repository)
        .parse()?;
    let tags = ops::list_tags(&r, &o.registry.options()?)?;
    let v = serde_json::json!({"Repository": r.repository(), "Tags": tags});
    out!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}
