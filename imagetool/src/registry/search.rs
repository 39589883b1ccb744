//! Short names (containers-registries.conf(5), "SHORT-NAME RESOLUTION"): a name without a
//! registry (`busybox`, `team/app:1`) resolves through `[aliases]` first, then through each
//! of `unqualified-search-registries` in order, the first registry serving the manifest
//! winning. With no search registries configured it means `docker.io/...`, as docker has it.

use super::registries;
use super::source::RegistrySource;
use super::RegistryOptions;
use crate::reference::{is_short_name, ImageRef};
use crate::transport::ImageSource;
use anyhow::{anyhow, Context, Result};

/// The fully qualified references `name` may mean, in the order to try them.
pub fn pull_candidates(name: &str, opts: &RegistryOptions) -> Result<Vec<ImageRef>> {
    let name = name.strip_prefix("docker://").unwrap_or(name);
    if !is_short_name(name) {
        return Ok(vec![name.parse()?]);
    }
    // Validate the name itself first, so a malformed one fails the same way everywhere.
    name.parse::<ImageRef>()?;
    let conf = registries::load(opts)?;
    let (base, suffix) = split_suffix(name);
    if let Some(target) = conf.aliases.get(base) {
        let full = format!("{target}{suffix}");
        let r = full
            .parse()
            .with_context(|| format!("resolve alias {base:?} = {target:?} in registries.conf"))?;
        return Ok(vec![r]);
    }
    let search = conf.unqualified_search_registries.unwrap_or_default();
    if search.is_empty() {
        return Ok(vec![name.parse()?]);
    }
    search
        .iter()
        .map(|reg| {
            format!("{reg}/{name}")
                .parse()
                .with_context(|| format!("qualify {name:?} with search registry {reg:?}"))
        })
        .collect()
}

/// `team/app` and `:1` / `@sha256:…` of a short name.
fn split_suffix(name: &str) -> (&str, &str) {
    let cut = name
        .find('@')
        .or_else(|| name.rfind(':'))
        .unwrap_or(name.len());
    name.split_at(cut)
}

/// Open the first candidate whose registry serves its manifest (read once here, and kept
/// by the source for the copy that follows). Errors of every candidate are reported.
pub fn open_first(
    candidates: &[ImageRef],
    opts: &RegistryOptions,
) -> Result<(ImageRef, RegistrySource)> {
    if let [only] = candidates {
        return Ok((only.clone(), RegistrySource::new(only, opts)?));
    }
    let mut errors = Vec::new();
    for r in candidates {
        let attempt = RegistrySource::new(r, opts).and_then(|src| src.manifest(None).map(|_| src));
        match attempt {
            Ok(src) => return Ok((r.clone(), src)),
            Err(e) => errors.push(format!("{r}: {e:#}")),
        }
    }
    Err(anyhow!(
        "resolve short name: no search registry serves it ({})",
        errors.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_conf(conf: &str) -> (crate::fsutil::TempDir, RegistryOptions) {
        let tmp = crate::fsutil::TempDir::new("search-conf-").unwrap();
        let p = tmp.path().join("registries.conf");
        std::fs::write(&p, conf).unwrap();
        let o = RegistryOptions {
            registries_conf: Some(p),
            registries_conf_dir: Some(tmp.path().join("none.d")),
            ..Default::default()
        };
        (tmp, o)
    }

    fn names(v: Vec<ImageRef>) -> Vec<String> {
        v.into_iter().map(|r| r.to_string()).collect()
    }

    #[test]
    fn short_names_use_search_registries_and_aliases() {
        let (_t, o) = with_conf(
            "unqualified-search-registries = [\"quay.io\", \"docker.io\"]\n[aliases]\n\"tool\" = \"example.com/tools/tool\"\n",
        );
        assert_eq!(
            names(pull_candidates("busybox:1", &o).unwrap()),
            ["quay.io/busybox:1", "docker.io/library/busybox:1"]
        );
        assert_eq!(
            names(pull_candidates("tool:2", &o).unwrap()),
            ["example.com/tools/tool:2"]
        );
        assert_eq!(
            names(pull_candidates("localhost:5000/a", &o).unwrap()),
            ["localhost:5000/a:latest"]
        );
        let (_t2, none) = with_conf("");
        assert_eq!(
            names(pull_candidates("busybox", &none).unwrap()),
            ["docker.io/library/busybox:latest"]
        );
        assert!(pull_candidates("Bad", &o).is_err());
    }
}
