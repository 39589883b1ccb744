//! `inspect [--raw] [--config] [--format T] NAME` — NAME is TRANSPORT:DETAILS or a local
//! store name.

use super::{location_or_store, open_options, RegistryArgs};
use anyhow::Result;
use clap::Args;
use skiff_image::copy::CopyOptions;
use skiff_image::inspect::{inspect, platform_manifest, read_config, template_document};
use skiff_image::platform::PlatformSpec;
use skiff_image::registry::ops;
use skiff_image::template::Template;
use skiff_image::transport::{open_source, read_manifest, Location};
use std::io::Write;
use std::path::Path;

#[derive(Args)]
pub struct Opts {
    pub name: String,
    /// Print the manifest bytes as stored.
    #[arg(long)]
    pub raw: bool,
    /// Print the image config (with --raw: its bytes as stored).
    #[arg(long)]
    pub config: bool,
    /// Platform to describe from an index, OS/ARCH[/VARIANT] (default: the host's).
    #[arg(long)]
    pub platform: Option<PlatformSpec>,
    /// Don't list the repository's tags (registry images).
    #[arg(long)]
    pub no_tags: bool,
    /// Go-template subset, as docker's: {{.Id}}, {{.Config.Env}}, {{json .Config}}.
    #[arg(long, short = 'f', conflicts_with_all = ["raw", "config"])]
    pub format: Option<String>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub fn run(root: &Path, o: Opts) -> Result<()> {
    let template = o.format.as_deref().map(Template::parse).transpose()?;
    let loc = location_or_store(&o.name)?;
    let reg = o.registry.options()?;
    let src = open_source(&loc, &open_options(root, reg.clone()))?;
    let copy = CopyOptions {
        platform: o.platform,
        ..Default::default()
    };
    let mut out = std::io::stdout().lock();
    if o.config {
        let (_, m) = platform_manifest(src.as_ref(), &copy)?;
        let bytes = read_config(src.as_ref(), &m.config)?;
        if o.raw {
            out.write_all(&bytes)?;
        } else {
            let v: serde_json::Value = serde_json::from_slice(&bytes)?;
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        return Ok(());
    }
    if o.raw {
        let (bytes, _) = read_manifest(src.as_ref(), None)?;
        out.write_all(&bytes)?;
        return Ok(());
    }
    let (name, tags) = match &loc {
        Location::Registry(r) if !o.no_tags => {
            (r.repository(), ops::list_tags(r, &reg).unwrap_or_default())
        }
        Location::Registry(r) => (r.repository(), Vec::new()),
        _ => (o.name.clone(), Vec::new()),
    };
    if let Some(t) = template {
        let v = template_document(src.as_ref(), &name, tags, &copy)?;
        writeln!(out, "{}", t.render(&v)?)?;
        return Ok(());
    }
    let v = inspect(src.as_ref(), &name, tags, &copy)?;
    writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    Ok(())
}
