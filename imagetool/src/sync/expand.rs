//! What a sync source names, expanded into the images to copy (skopeo-sync(1)): a
//! repository (every tag) or one tagged image; a registry alone (every repository its
//! `/v2/_catalog` lists, every tag); the repositories, tag lists and tag regexes of a YAML
//! file; or a directory tree of `dir:` images. An image is named by tag, or by digest
//! where the source or the file pins one.

use super::{yaml, SyncOptions, SyncSource};
use crate::digest::Digest;
use crate::reference::ImageRef;
use crate::registry::{ops, Clients, RegistryOptions};
use anyhow::{anyhow, Context, Result};
use regex::Regex;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where one image is read from.
#[derive(Clone, Debug)]
pub enum PlannedSource {
    Registry {
        reference: ImageRef,
        /// Shared by the images of a repository.
        opts: Arc<RegistryOptions>,
    },
    Dir(PathBuf),
}

impl fmt::Display for PlannedSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlannedSource::Registry { reference, .. } => write!(f, "docker://{reference}"),
            PlannedSource::Dir(d) => write!(f, "dir:{}", d.display()),
        }
    }
}

/// What names one image of a repository, at the source and at the destination: skopeo
/// syncs `repo:tag` to `name:tag` and `repo@sha256:…` to `name@sha256:…`, untagged.
#[derive(Clone, Debug, PartialEq)]
pub enum Version {
    Tag(String),
    Digest(Digest),
}

impl Version {
    /// The version a reference pins: its digest if it has one, else its tag.
    fn of(r: &ImageRef) -> Option<Version> {
        match (&r.digest, &r.tag) {
            (Some(d), _) => Some(Version::Digest(d.clone())),
            (None, Some(t)) => Some(Version::Tag(t.clone())),
            (None, None) => None,
        }
    }

    /// `repo` at this version.
    fn of_repository(&self, repo: &ImageRef) -> ImageRef {
        match self {
            Version::Tag(t) => repo.with_tag(t),
            Version::Digest(d) => ImageRef {
                tag: None,
                digest: Some(d.clone()),
                ..repo.clone()
            },
        }
    }
}

/// The suffix of a reference: `:tag` or `@digest`.
impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::Tag(t) => write!(f, ":{t}"),
            Version::Digest(d) => write!(f, "@{d}"),
        }
    }
}

/// One image to copy, and where below the destination it goes (`name` and `version`).
#[derive(Clone, Debug)]
pub struct Planned {
    pub source: PlannedSource,
    pub name: String,
    pub version: Version,
}

/// The images found; with `keep_going`, also what could not be listed.
#[derive(Default)]
pub struct Expanded {
    pub images: Vec<Planned>,
    pub failures: Vec<anyhow::Error>,
}

/// Which images of a repository.
enum Tags {
    Given(Vec<Version>),
    All,
    Matching(Regex),
}

/// A repository whose tags are still to be listed.
struct Repo {
    reference: ImageRef,
    tags: Tags,
    opts: RegistryOptions,
    name: String,
}

pub fn expand(src: &SyncSource, opts: &SyncOptions, clients: &Clients) -> Result<Expanded> {
    let mut out = Expanded::default();
    let repos = match src {
        SyncSource::Repository(r) => {
            let tags = match Version::of(r) {
                Some(v) => Tags::Given(vec![v]),
                None => Tags::All,
            };
            vec![Repo {
                reference: r.clone(),
                tags,
                opts: opts.src_registry.clone(),
                name: target_name(r, opts.scoped),
            }]
        }
        SyncSource::Registry(domain) => catalog_repos(domain, opts)?,
        SyncSource::Yaml(path) => yaml_repos(path, opts)?,
        SyncSource::Dir(dir) => {
            out.images = dir_images(dir)?;
            return Ok(out);
        }
    };
    for repo in repos {
        match repo_images(&repo, clients) {
            Ok(images) => out.images.extend(images),
            Err(e) if opts.keep_going => out.failures.push(e),
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// The destination name of `src`: its base name, or with `scoped` its full path.
fn target_name(src: &ImageRef, scoped: bool) -> String {
    if scoped {
        format!("{}/{}", src.domain, src.path)
    } else {
        src.path.rsplit('/').next().unwrap_or(&src.path).to_string()
    }
}

/// Every repository of the registry. They keep their path below the destination (scoped:
/// with the registry too), as base names of a whole registry collide (`a/app`, `b/app`).
fn catalog_repos(domain: &str, opts: &SyncOptions) -> Result<Vec<Repo>> {
    let names = ops::catalog(domain, &opts.src_registry)
        .with_context(|| format!("list repositories of {domain}"))?;
    names
        .into_iter()
        .map(|path| {
            let reference: ImageRef = format!("{domain}/{path}")
                .parse()
                .with_context(|| format!("list repositories of {domain}"))?;
            let name = match opts.scoped {
                true => target_name(&reference, true),
                false => reference.path.clone(),
            };
            Ok(Repo {
                reference,
                tags: Tags::All,
                opts: opts.src_registry.clone(),
                name,
            })
        })
        .collect()
}

fn yaml_repos(path: &Path, opts: &SyncOptions) -> Result<Vec<Repo>> {
    let mut repos = Vec::new();
    for entry in yaml::read(path)? {
        let mut ro = opts.src_registry.clone();
        if entry.tls_verify.is_some() {
            ro.tls_verify = entry.tls_verify;
        }
        if let Some(d) = &entry.cert_dir {
            ro.cert_dir = Some(d.clone());
        }
        // The file's credentials for this registry win over --src-no-creds.
        if let Some(c) = &entry.credentials {
            ro.creds = Some(c.clone());
            ro.no_creds = false;
        }
        let field = |repo: &str, key: &str| {
            format!("parse sync file {path:?}: {}.{key}.{repo}", entry.registry)
        };
        let mut listed = Vec::new();
        for (repo, entries) in entry.images {
            if entries.is_empty() {
                listed.push((repo, Tags::All, "images"));
                continue;
            }
            let mut versions = Vec::with_capacity(entries.len());
            for e in &entries {
                // An entry is a tag, or a digest (`sha256:…`); check it as part of a
                // reference.
                let sep = if e.contains(':') { '@' } else { ':' };
                let r: ImageRef = format!("{}/{repo}{sep}{e}", entry.registry)
                    .parse()
                    .with_context(|| field(&repo, "images"))?;
                versions.extend(Version::of(&r));
            }
            listed.push((repo, Tags::Given(versions), "images"));
        }
        let matching = entry
            .images_by_tag_regex
            .into_iter()
            .map(|(repo, re)| (repo, Tags::Matching(re), "images-by-tag-regex"));
        for (repo, tags, key) in listed.into_iter().chain(matching) {
            let reference: ImageRef = format!("{}/{repo}", entry.registry)
                .parse()
                .with_context(|| field(&repo, key))?;
            repos.push(Repo {
                name: target_name(&reference, opts.scoped),
                reference,
                tags,
                opts: ro.clone(),
            });
        }
    }
    Ok(repos)
}

/// The images of one repository: its given tags and digests, or its listed tags (those
/// matching).
fn repo_images(repo: &Repo, clients: &Clients) -> Result<Vec<Planned>> {
    let list = || {
        ops::list_tags_with(&repo.reference, &repo.opts, clients)
            .with_context(|| format!("list tags of docker://{}", repo.reference.repository()))
    };
    let versions: Vec<Version> = match &repo.tags {
        Tags::Given(v) => v.clone(),
        Tags::All => list()?.into_iter().map(Version::Tag).collect(),
        Tags::Matching(re) => list()?
            .into_iter()
            .filter(|t| re.is_match(t))
            .map(Version::Tag)
            .collect(),
    };
    let opts = Arc::new(repo.opts.clone());
    Ok(versions
        .into_iter()
        .map(|version| Planned {
            source: PlannedSource::Registry {
                reference: version.of_repository(&repo.reference),
                opts: opts.clone(),
            },
            name: repo.name.clone(),
            version,
        })
        .collect())
}

/// Every `dir:` image (a directory holding `manifest.json`) at or below `root`, named by
/// its path below `root` (`busybox:1.36` → `busybox`, tag `1.36`; no tag means `latest`),
/// as skopeo names them. Symlinks are not followed.
fn dir_images(root: &Path) -> Result<Vec<Planned>> {
    if !root.is_dir() {
        return Err(anyhow!("read sync source {root:?}: not a directory"));
    }
    let mut found = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        if d.join("manifest.json").is_file() {
            found.push(d);
            continue;
        }
        for e in std::fs::read_dir(&d).with_context(|| format!("read directory {d:?}"))? {
            let e = e.with_context(|| format!("read directory {d:?}"))?;
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                todo.push(e.path());
            }
        }
    }
    found.sort();
    found
        .into_iter()
        .map(|d| {
            let rel = match d.strip_prefix(root) {
                Ok(r) if !r.as_os_str().is_empty() => r.to_path_buf(),
                _ => PathBuf::from(root.file_name().unwrap_or(root.as_os_str())),
            };
            let rel = rel
                .to_str()
                .ok_or_else(|| anyhow!("name dir image {d:?}: path is not UTF-8"))?;
            let (name, tag) = split_tag(rel);
            Ok(Planned {
                source: PlannedSource::Dir(d.clone()),
                name: name.to_string(),
                version: Version::Tag(tag.to_string()),
            })
        })
        .collect()
}

/// `a/b:1` → (`a/b`, `1`); a colon before the last `/` is not a tag separator.
fn split_tag(rel: &str) -> (&str, &str) {
    let last = rel.rfind('/').map_or(0, |i| i + 1);
    match rel[last..].rfind(':') {
        Some(i) => (&rel[..last + i], &rel[last + i + 1..]),
        None => (rel, "latest"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_tag_takes_the_last_components_colon() {
        assert_eq!(split_tag("busybox:1.36"), ("busybox", "1.36"));
        assert_eq!(split_tag("a/b"), ("a/b", "latest"));
        assert_eq!(split_tag("h:5000/a/b:2"), ("h:5000/a/b", "2"));
        assert_eq!(split_tag("h:5000/a"), ("h:5000/a", "latest"));
    }

    #[test]
    fn target_names_follow_skopeo() {
        let r: ImageRef = "reg.example/a/b/app:1".parse().unwrap();
        assert_eq!(target_name(&r, false), "app");
        assert_eq!(target_name(&r, true), "reg.example/a/b/app");
    }
}
