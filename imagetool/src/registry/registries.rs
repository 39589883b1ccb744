//! `registries.conf` (containers-registries.conf(5), version 2) as skopeo and podman read
//! it: `[[registry]]` entries matched by longest `prefix` (default: `location`; `*.domain`
//! wildcards), rewriting the reference to `location`, with `insecure`, `blocked` and
//! `[[registry.mirror]]` endpoints tried before the registry itself when pulling (limited by
//! `mirror-by-digest-only` and a mirror's `pull-from-mirror`). `unqualified-search-registries`
//! and `[aliases]` are read here and applied to short names in [`super::search`].

use super::RegistryOptions;
use crate::reference::ImageRef;
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

const SYSTEM_CONF: &str = "/etc/containers/registries.conf";
const SYSTEM_CONF_DIR: &str = "/etc/containers/registries.conf.d";

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "kebab-case")]
pub(crate) struct Conf {
    #[serde(default)]
    registry: Vec<Registry>,
    /// Registries a short name is tried in, in order (`None`: not set in this file).
    #[serde(default)]
    pub unqualified_search_registries: Option<Vec<String>>,
    /// Short name → fully qualified name (`[aliases]`).
    #[serde(default)]
    pub aliases: std::collections::BTreeMap<String, String>,
}

#[derive(Deserialize, Default, Debug, Clone)]
#[serde(rename_all = "kebab-case")]
struct Registry {
    #[serde(default)]
    prefix: Option<String>,
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    blocked: bool,
    #[serde(default)]
    mirror: Vec<Mirror>,
    /// Mirrors serve only pulls by digest (a tag on a mirror may be stale).
    #[serde(default)]
    mirror_by_digest_only: bool,
}

#[derive(Deserialize, Default, Debug, Clone)]
#[serde(rename_all = "kebab-case")]
struct Mirror {
    location: String,
    #[serde(default)]
    insecure: bool,
    /// `all` (default), `digest-only` or `tag-only`.
    #[serde(default)]
    pull_from_mirror: Option<String>,
}

impl Mirror {
    /// Whether this mirror may serve a pull of `r` (by digest or by tag).
    fn serves(&self, r: &ImageRef, registry_digest_only: bool) -> Result<bool> {
        let by_digest = r.digest.is_some();
        Ok(match self.pull_from_mirror.as_deref() {
            None | Some("") if registry_digest_only => by_digest,
            None | Some("") | Some("all") => true,
            Some("digest-only") => by_digest,
            Some("tag-only") => !by_digest,
            Some(other) => bail!(
                "parse registries.conf: mirror {:?}: pull-from-mirror {other:?} is not all, digest-only or tag-only",
                self.location
            ),
        })
    }
}

/// One place to reach an image: the reference as that registry names it, and the options.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub reference: ImageRef,
    pub opts: RegistryOptions,
}

/// The configuration file in effect: `opts.registries_conf`, `$CONTAINERS_REGISTRIES_CONF`,
/// then the system file.
fn conf_path(opts: &RegistryOptions) -> Option<PathBuf> {
    if let Some(p) = &opts.registries_conf {
        return Some(p.clone());
    }
    if let Some(p) = std::env::var_os("CONTAINERS_REGISTRIES_CONF") {
        return Some(PathBuf::from(p));
    }
    Some(PathBuf::from(SYSTEM_CONF)).filter(|p| p.exists())
}

fn parse_file(path: &Path) -> Result<Conf> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {path:?}"))?;
    toml::from_str(&text).with_context(|| format!("parse {path:?}"))
}

/// The main file, then the drop-ins of `registries.conf.d/*.conf` in name order
/// (containers-registries.conf.d(5)): a drop-in's registry replaces one with the same
/// prefix, its search list replaces the one before, its aliases are added.
pub(crate) fn load(opts: &RegistryOptions) -> Result<Conf> {
    let mut conf = match conf_path(opts) {
        Some(path) => parse_file(&path)?,
        None => Conf::default(),
    };
    let dir = opts
        .registries_conf_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(SYSTEM_CONF_DIR));
    let mut drop_ins: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "conf"))
            .collect(),
        Err(_) => Vec::new(),
    };
    drop_ins.sort();
    for p in drop_ins {
        let d = parse_file(&p)?;
        for reg in d.registry {
            let key = reg.prefix.clone().or_else(|| reg.location.clone());
            conf.registry
                .retain(|r| r.prefix.clone().or_else(|| r.location.clone()) != key);
            conf.registry.push(reg);
        }
        if d.unqualified_search_registries.is_some() {
            conf.unqualified_search_registries = d.unqualified_search_registries;
        }
        conf.aliases.extend(d.aliases);
    }
    Ok(conf)
}

/// Length of the match of `prefix` against `repo` (`domain/path`), if it matches.
fn match_len(prefix: &str, repo: &str, domain: &str) -> Option<usize> {
    if let Some(suffix) = prefix.strip_prefix("*.") {
        return domain
            .ends_with(&format!(".{suffix}"))
            .then_some(prefix.len());
    }
    (repo == prefix || repo.starts_with(&format!("{prefix}/"))).then_some(prefix.len())
}

fn rewrite(r: &ImageRef, prefix: &str, location: &str) -> Result<ImageRef> {
    if prefix.starts_with("*.") {
        return Ok(r.clone());
    }
    let rest = &r.repository()[prefix.len()..];
    let mut new: ImageRef = format!("{location}{rest}")
        .parse()
        .with_context(|| format!("rewrite {r} to location {location:?}"))?;
    new.tag = r.tag.clone();
    new.digest = r.digest.clone();
    Ok(new)
}

fn endpoint(r: ImageRef, opts: &RegistryOptions, insecure: bool) -> Endpoint {
    let mut o = opts.clone();
    if insecure && o.tls_verify.is_none() {
        o.tls_verify = Some(false);
    }
    Endpoint {
        reference: r,
        opts: o,
    }
}

/// Where to pull `r` from, in order: mirrors, then the registry itself.
pub fn pull_endpoints(r: &ImageRef, opts: &RegistryOptions) -> Result<Vec<Endpoint>> {
    let conf = load(opts)?;
    let repo = r.repository();
    let best = conf
        .registry
        .iter()
        .filter_map(|reg| {
            let prefix = reg.prefix.clone().or_else(|| reg.location.clone())?;
            match_len(&prefix, &repo, &r.domain).map(|n| (n, prefix, reg))
        })
        .max_by_key(|(n, _, _)| *n);
    let Some((_, prefix, reg)) = best else {
        return Ok(vec![endpoint(r.clone(), opts, false)]);
    };
    if reg.blocked {
        bail!("access {r}: registry blocked by registries.conf (prefix {prefix:?})");
    }
    let mut out = Vec::new();
    for m in &reg.mirror {
        if !m.serves(r, reg.mirror_by_digest_only)? {
            continue;
        }
        out.push(endpoint(
            rewrite(r, &prefix, &m.location)?,
            opts,
            m.insecure,
        ));
    }
    let location = reg.location.clone().unwrap_or_else(|| prefix.clone());
    out.push(endpoint(
        rewrite(r, &prefix, &location)?,
        opts,
        reg.insecure,
    ));
    Ok(out)
}

/// Where to push `r`: the registry itself (mirrors are for pulls only).
pub fn push_endpoint(r: &ImageRef, opts: &RegistryOptions) -> Result<Endpoint> {
    let mut all = pull_endpoints(r, opts)?;
    all.pop().context("resolve registry endpoint")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts_with(conf: &str) -> (crate::fsutil::TempDir, RegistryOptions) {
        let tmp = crate::fsutil::TempDir::new("registries-conf-").unwrap();
        let p = tmp.path().join("registries.conf");
        std::fs::write(&p, conf).unwrap();
        let o = RegistryOptions {
            registries_conf: Some(p),
            registries_conf_dir: Some(tmp.path().join("none.d")),
            ..Default::default()
        };
        (tmp, o)
    }

    #[test]
    fn drop_ins_replace_registries_and_search_lists() {
        let (t, mut o) = opts_with(
            "unqualified-search-registries = [\"a.example\"]\n[[registry]]\nlocation = \"x.example\"\ninsecure = true\n[aliases]\n\"one\" = \"a.example/one\"\n",
        );
        let d = t.path().join("conf.d");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("10-b.conf"), "unqualified-search-registries = [\"b.example\"]\n[[registry]]\nlocation = \"x.example\"\nblocked = true\n[aliases]\n\"two\" = \"b.example/two\"\n").unwrap();
        std::fs::write(d.join("ignored.txt"), "not toml [").unwrap();
        o.registries_conf_dir = Some(d);
        let c = load(&o).unwrap();
        assert_eq!(
            c.unqualified_search_registries,
            Some(vec!["b.example".to_string()])
        );
        assert_eq!(c.aliases.len(), 2);
        let e = pull_endpoints(&"x.example/a".parse().unwrap(), &o).unwrap_err();
        assert!(e.to_string().contains("blocked"), "{e}");
    }

    #[test]
    fn rewrites_mirrors_blocks_and_insecure() {
        let (_t, o) = opts_with(
            r#"
unqualified-search-registries = ["docker.io"]
[[registry]]
prefix = "example.com/team"
location = "internal.example:5000/mirror/team"
insecure = true
[[registry.mirror]]
location = "cache.example/team"
[[registry]]
location = "bad.example"
blocked = true
[[registry]]
prefix = "*.wild.example"
insecure = true
"#,
        );
        let r: ImageRef = "example.com/team/app:1".parse().unwrap();
        let eps = pull_endpoints(&r, &o).unwrap();
        let names: Vec<String> = eps.iter().map(|e| e.reference.to_string()).collect();
        assert_eq!(
            names,
            [
                "cache.example/team/app:1",
                "internal.example:5000/mirror/team/app:1"
            ]
        );
        assert_eq!(eps[0].opts.tls_verify, None);
        assert_eq!(eps[1].opts.tls_verify, Some(false));
        assert_eq!(
            push_endpoint(&r, &o).unwrap().reference.to_string(),
            "internal.example:5000/mirror/team/app:1"
        );
        let e = pull_endpoints(&"bad.example/x".parse().unwrap(), &o)
            .unwrap_err()
            .to_string();
        assert!(e.contains("blocked by registries.conf"), "{e}");
        let w = pull_endpoints(&"reg.wild.example/x:1".parse().unwrap(), &o).unwrap();
        assert_eq!(w[0].opts.tls_verify, Some(false));
        // Unrelated names and prefixes that only share a string prefix are left alone.
        let u = pull_endpoints(&"example.com/teamster/x".parse().unwrap(), &o).unwrap();
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].reference.to_string(), "example.com/teamster/x:latest");
    }
}
