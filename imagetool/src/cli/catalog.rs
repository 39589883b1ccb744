//! `catalog [docker://]HOST`: the registry's repositories, as JSON.

use super::RegistryArgs;
use anyhow::Result;
use clap::Args;
use skiff_image::registry::ops;

#[derive(Args)]
pub struct Opts {
    pub registry: String,
    #[command(flatten)]
    pub registry_args: RegistryArgs,
}

pub fn run(o: Opts) -> Result<()> {
    let host = o
        .registry
        .strip_prefix("docker://")
        .unwrap_or(&o.registry)
        .trim_end_matches('/');
    let repos = ops::catalog(host, &o.registry_args.options()?)?;
    out!(
        "{}",
        serde_json::to_string_pretty(
            &serde_json::json!({"Registry": host, "Repositories": repos})
        )?
    );
    Ok(())
}
