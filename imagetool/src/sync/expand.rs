//! What a sync source names, expanded into the images to copy: a repository (every tag),
//! one tagged image, or the repositories and tags of a YAML file.

use super::{yaml, SyncOptions, SyncSource};
use crate::reference::ImageRef;
use crate::registry::{ops, Clients, RegistryOptions};
use anyhow::Result;

/// The images to copy, each with the registry options to read it.
pub fn expand(
    src: &SyncSource,
    opts: &SyncOptions,
    clients: &Clients,
) -> Result<Vec<(ImageRef, RegistryOptions)>> {
    let mut repos: Vec<(ImageRef, Vec<String>, RegistryOptions)> = Vec::new();
    match src {
        SyncSource::Registry(r) => {
            let tags = r.tag.iter().cloned().collect();
            repos.push((r.clone(), tags, opts.src_registry.clone()));
        }
        SyncSource::Yaml(path) => {
            for (registry, entry) in yaml::read(path)? {
                let mut ro = opts.src_registry.clone();
                if entry.tls_verify.is_some() {
                    ro.tls_verify = entry.tls_verify;
                }
                if let Some(c) = &entry.credentials {
                    ro.creds = Some((c.username.clone(), c.password.clone()));
                }
                for (repo, tags) in entry.images {
                    let r: ImageRef = format!("{registry}/{repo}").parse()?;
                    repos.push((r, tags, ro.clone()));
                }
            }
        }
    }
    let mut images = Vec::new();
    for (r, tags, ro) in repos {
        let tags = if tags.is_empty() {
            ops::list_tags_with(&r, &ro, clients)?
        } else {
            tags
        };
        images.extend(tags.into_iter().map(|t| (r.with_tag(&t), ro.clone())));
    }
    Ok(images)
}

/// The destination name of `src`: its base name, or with `scoped` its full path.
pub fn target_name(src: &ImageRef, scoped: bool) -> String {
    if scoped {
        format!("{}/{}", src.domain, src.path)
    } else {
        src.path.rsplit('/').next().unwrap_or(&src.path).to_string()
    }
}
