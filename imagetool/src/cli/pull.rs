//! `pull NAME`: registry → local store, named by the full normalised reference. A short
//! name goes through registries.conf aliases and search registries (docker.io by default).
//! `-a/--all-tags` pulls every tag of the repository, as docker's does; every platform of
//! an index is `--all` (long form only, so docker's `-a` keeps its meaning).

use super::{progress_unless, RegistryArgs};
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use skiff_image::copy::{copy_image, CopyOptions};
use skiff_image::platform::PlatformSpec;
use skiff_image::progress;
use skiff_image::reference::ImageRef;
use skiff_image::registry::{ops, search, RegistryOptions, RegistrySource};
use skiff_image::transport::store::Store;
use std::path::Path;

#[derive(Args)]
pub struct Opts {
    /// Image reference (`docker://` optional).
    pub name: String,
    /// Pull every tag of the repository (NAME without tag or digest).
    #[arg(long, short = 'a')]
    pub all_tags: bool,
    /// Pull every platform of an index.
    #[arg(long)]
    pub all: bool,
    /// Platform to pull from an index, OS/ARCH[/VARIANT] (default: the host's).
    #[arg(long)]
    pub platform: Option<PlatformSpec>,
    /// No progress, only the result line.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub fn run(root: &Path, o: Opts) -> Result<()> {
    let reg = o.registry.options()?;
    let candidates = search::pull_candidates(&o.name, &reg)?;
    let store = Store::open(root)?;
    let copy = CopyOptions {
        all: o.all,
        platform: o.platform.clone(),
        progress: progress_unless(o.quiet, progress::PULL),
        ..Default::default()
    };
    let pulls = if o.all_tags {
        every_tag(&o.name, &candidates, &reg)?
    } else {
        let (r, src) = search::open_first(&candidates, &reg)?;
        vec![(r, src)]
    };
    for (r, src) in pulls {
        let dst = store.destination(&r)?;
        let report = copy_image(&src, &dst, &copy).with_context(|| format!("pull {r}"))?;
        if !o.quiet {
            let digest = report.manifest_digest.map(|d| d.to_string());
            out!("{r}: {}", digest.unwrap_or_default());
        }
    }
    Ok(())
}

/// Every tag of the first candidate repository that lists its tags.
fn every_tag(
    name: &str,
    candidates: &[ImageRef],
    reg: &RegistryOptions,
) -> Result<Vec<(ImageRef, RegistrySource)>> {
    if candidates
        .iter()
        .any(|r| r.tag.is_some() || r.digest.is_some())
    {
        bail!("pull {name}: --all-tags takes a repository without a tag or digest");
    }
    let mut errors = Vec::new();
    for repo in candidates {
        match ops::list_tags(repo, reg) {
            Ok(tags) if tags.is_empty() => errors.push(format!("{}: no tags", repo.repository())),
            Ok(tags) => {
                return tags
                    .iter()
                    .map(|t| {
                        let r = repo.with_tag(t);
                        let src = RegistrySource::new(&r, reg)?;
                        Ok((r, src))
                    })
                    .collect()
            }
            Err(e) => errors.push(format!("{}: {e:#}", repo.repository())),
        }
    }
    Err(anyhow!(
        "pull {name} --all-tags: list tags: {}",
        errors.join("; ")
    ))
}
