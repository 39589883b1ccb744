//! skopeo sync's YAML source file (skopeo-sync(1), "YAML file content"): a map from
//! registry to the repositories to copy from it, with that registry's options:
//!
//! ```yaml
//! registry.example.com:
//!   images: {busybox: [], redis: ["1.0", "sha256:…"]}   # [] = every tag
//!   images-by-tag-regex: {nginx: '^1\.13\.[12]-alpine$'}
//!   credentials: {username: john, password: secret}
//!   tls-verify: true
//!   cert-dir: /home/john/certs
//! ```
//!
//! Every error is one line naming the file and the field, because the file is hand-written
//! and its author needs to know where to look.

use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum YamlError {
    #[error("read sync file {path:?}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("parse sync file {path:?}: {msg}")]
    Parse { path: PathBuf, msg: String },
    #[error("parse sync file {path:?}: {field}: {msg}")]
    Field {
        path: PathBuf,
        field: String,
        msg: String,
    },
}

/// One registry of the file, its fields checked.
pub struct YamlRegistry {
    pub registry: String,
    /// Repository → tags; no tags means every tag.
    pub images: BTreeMap<String, Vec<String>>,
    /// Repository → the regex its tags must match (anywhere in the tag, as Go's
    /// `regexp.MatchString` that skopeo uses: anchors only where the pattern has them).
    pub images_by_tag_regex: BTreeMap<String, Regex>,
    pub tls_verify: Option<bool>,
    pub cert_dir: Option<PathBuf>,
    pub credentials: Option<(String, String)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegistry {
    #[serde(default)]
    images: BTreeMap<String, Vec<String>>,
    #[serde(default, rename = "images-by-tag-regex")]
    images_by_tag_regex: BTreeMap<String, String>,
    #[serde(default, rename = "images-by-semver")]
    images_by_semver: BTreeMap<String, String>,
    #[serde(default, rename = "tls-verify")]
    tls_verify: Option<bool>,
    #[serde(default, rename = "cert-dir")]
    cert_dir: Option<PathBuf>,
    #[serde(default)]
    credentials: Option<RawCreds>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCreds {
    username: String,
    password: String,
}

/// The registries of the file at `path`, in file order of their names (sorted).
pub fn read(path: &Path) -> Result<Vec<YamlRegistry>, YamlError> {
    let text = std::fs::read_to_string(path).map_err(|source| YamlError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text)
}

fn parse(path: &Path, text: &str) -> Result<Vec<YamlRegistry>, YamlError> {
    let field_error = |field: String, msg: String| YamlError::Field {
        path: path.to_path_buf(),
        field,
        msg,
    };
    // An empty file is an empty map to serde_yaml's eyes only as `{}`; say what is wrong.
    if text.trim().is_empty() {
        return Err(YamlError::Parse {
            path: path.to_path_buf(),
            msg: "empty file: expected a map of registries".to_string(),
        });
    }
    let raw: BTreeMap<String, RawRegistry> =
        serde_yaml::from_str(text).map_err(|e| YamlError::Parse {
            path: path.to_path_buf(),
            msg: one_line(&e.to_string()),
        })?;
    let mut out = Vec::new();
    for (registry, r) in raw {
        if !r.images_by_semver.is_empty() {
            return Err(field_error(
                format!("{registry}.images-by-semver"),
                "not supported by skiff-image; list the tags or use images-by-tag-regex"
                    .to_string(),
            ));
        }
        let mut by_regex = BTreeMap::new();
        for (repo, pattern) in r.images_by_tag_regex {
            let re = Regex::new(&pattern).map_err(|e| {
                field_error(
                    format!("{registry}.images-by-tag-regex.{repo}"),
                    format!("invalid regex {pattern:?}: {}", regex_reason(&e)),
                )
            })?;
            by_regex.insert(repo, re);
        }
        if r.images.is_empty() && by_regex.is_empty() {
            return Err(field_error(
                registry,
                "no images: expected images or images-by-tag-regex".to_string(),
            ));
        }
        out.push(YamlRegistry {
            registry,
            images: r.images,
            images_by_tag_regex: by_regex,
            tls_verify: r.tls_verify,
            cert_dir: r.cert_dir,
            credentials: r.credentials.map(|c| (c.username, c.password)),
        });
    }
    Ok(out)
}

/// The regex crate's syntax errors draw the pattern with a caret over several lines; keep
/// the reason only.
fn regex_reason(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map(str::to_string)
        .unwrap_or_else(|| one_line(&text))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Result<Vec<YamlRegistry>, YamlError> {
        parse(Path::new("f.yml"), s)
    }

    #[test]
    fn reads_every_field() {
        let r = parse_str(
            "reg.example:5000:\n  images:\n    a/b: []\n    c: ['1', '2']\n  images-by-tag-regex:\n    d: '^v1\\.'\n  tls-verify: false\n  cert-dir: /certs\n  credentials:\n    username: u\n    password: p w\n",
        )
        .unwrap();
        assert_eq!(r.len(), 1);
        let r = &r[0];
        assert_eq!(r.registry, "reg.example:5000");
        assert_eq!(r.images["c"], vec!["1", "2"]);
        assert!(r.images["a/b"].is_empty());
        assert!(r.images_by_tag_regex["d"].is_match("v1.2"));
        assert!(!r.images_by_tag_regex["d"].is_match("xv1.2"));
        assert_eq!(r.tls_verify, Some(false));
        assert_eq!(r.cert_dir.as_deref(), Some(Path::new("/certs")));
        assert_eq!(r.credentials, Some(("u".into(), "p w".into())));
    }

    #[test]
    fn regex_matches_anywhere_like_go_match_string() {
        let r = parse_str("h:\n  images-by-tag-regex:\n    a: 'alpine'\n").unwrap();
        assert!(r[0].images_by_tag_regex["a"].is_match("3.1-alpine-perl"));
    }

    #[test]
    fn errors_name_file_and_field_on_one_line() {
        let cases = [
            (
                "h:\n  images-by-tag-regex:\n    a: '(v1'\n",
                "h.images-by-tag-regex.a",
            ),
            ("h:\n  imagez:\n    a: []\n", "imagez"),
            ("h:\n  images:\n    a: [\n", "f.yml"),
            ("h:\n  tls-verify: maybe\n  images: {a: []}\n", "tls-verify"),
            ("h:\n  tls-verify: false\n", "h: no images"),
            (
                "h:\n  images-by-semver:\n    a: '>= 1'\n",
                "h.images-by-semver",
            ),
            ("", "empty file"),
        ];
        for (text, want) in cases {
            let e = match parse_str(text) {
                Ok(_) => panic!("{text:?} parsed"),
                Err(e) => e.to_string(),
            };
            assert!(e.contains(want), "{text:?}: {e}");
            assert!(e.contains("\"f.yml\""), "{text:?}: {e}");
            assert_eq!(e.lines().count(), 1, "{text:?}: {e}");
        }
    }
}
