//! Image references as docker/distribution `reference` normalises them:
//! `[domain[:port]/]path[:tag][@digest]`; a first component without `.`/`:` and not
//! `localhost` is a Docker Hub path, single-component Hub paths get `library/`, and a
//! reference without tag or digest means `:latest`.

use crate::digest::Digest;
use std::fmt;
use std::str::FromStr;

pub const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DOMAIN: &str = "index.docker.io";

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ImageRef {
    pub domain: String,
    /// Repository path inside the registry, e.g. `library/busybox`.
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ReferenceError {
    #[error("parse reference {0:?}: empty")]
    Empty(String),
    #[error("parse reference {reference:?}: repository name {part:?} must be lowercase")]
    Uppercase { reference: String, part: String },
    #[error("parse reference {reference:?}: invalid path component {part:?}")]
    Component { reference: String, part: String },
    #[error("parse reference {reference:?}: invalid domain {part:?}")]
    Domain { reference: String, part: String },
    #[error("parse reference {reference:?}: invalid tag {part:?}")]
    Tag { reference: String, part: String },
    #[error("parse reference {reference:?}: invalid digest {part:?}")]
    Digest { reference: String, part: String },
    #[error("parse reference {0:?}: repository name longer than 255 characters")]
    TooLong(String),
}

impl ImageRef {
    /// `domain/path`, the repository without tag or digest.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The tag, or `latest` when the reference names neither tag nor digest.
    pub fn tag_or_latest(&self) -> Option<&str> {
        match (&self.tag, &self.digest) {
            (Some(t), _) => Some(t),
            (None, None) => Some("latest"),
            (None, Some(_)) => None,
        }
    }

    /// What to ask the registry for: the digest when pinned, else the tag.
    pub fn manifest_reference(&self) -> String {
        match (&self.digest, self.tag_or_latest()) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.to_string(),
            (None, None) => "latest".to_string(),
        }
    }

    /// The familiar short form Docker prints (`busybox:latest`, `localhost:5000/a:t`).
    pub fn familiar(&self) -> String {
        familiarise(self.to_string())
    }

    /// The familiar repository name alone (`busybox`, `localhost:5000/a`).
    pub fn familiar_name(&self) -> String {
        familiarise(self.repository())
    }

    /// A copy of this reference with a different tag and no digest.
    pub fn with_tag(&self, tag: &str) -> ImageRef {
        ImageRef {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }
}

/// Whether `name`, as typed, names no registry (`busybox`, `user/app:1`): docker
/// completes such names with `docker.io`, podman with `unqualified-search-registries`.
pub fn is_short_name(name: &str) -> bool {
    let name = name.split('@').next().unwrap_or(name);
    match name.split_once('/') {
        None => true,
        Some((first, _)) => {
            !(first.contains('.')
                || first.contains(':')
                || first == "localhost"
                || first.starts_with('['))
        }
    }
}

fn is_component(s: &str) -> bool {
    // path-component := alphanumeric (separator alphanumeric)*, separator := [_.] | __ | [-]*
    let b = s.as_bytes();
    if b.is_empty() || !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric() {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_lowercase() || b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && matches!(b[i], b'.' | b'_' | b'-') {
            i += 1;
        }
        let sep = &s[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
        if sep.is_empty() || !ok {
            return false;
        }
    }
    true
}

fn is_domain(s: &str) -> bool {
    let host = match s.rsplit_once(':') {
        Some((h, port)) if !h.ends_with(']') || h.starts_with('[') => {
            if port.is_empty() || !port.bytes().all(|c| c.is_ascii_digit()) {
                return false;
            }
            h
        }
        _ => s,
    };
    if host.starts_with('[') {
        return host.ends_with(']') && host.len() > 2;
    }
    !host.is_empty()
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

fn is_tag(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

impl FromStr for ImageRef {
    type Err = ReferenceError;

    fn from_str(input: &str) -> Result<ImageRef, ReferenceError> {
        let err_ref = input.to_string();
        if input.is_empty() {
            return Err(ReferenceError::Empty(err_ref));
        }
        let (name_tag, digest) = match input.split_once('@') {
            Some((n, d)) => {
                let digest = d.parse::<Digest>().map_err(|_| ReferenceError::Digest {
                    reference: err_ref.clone(),
                    part: d.to_string(),
                })?;
                (n, Some(digest))
            }
            None => (input, None),
        };
        // A tag is the part after the last ':' that has no '/' after it (else it is a port).
        let (name, tag) = match name_tag.rsplit_once(':') {
            Some((n, t)) if !t.contains('/') => (n, Some(t)),
            _ => (name_tag, None),
        };
        if let Some(t) = tag {
            if !is_tag(t) {
                return Err(ReferenceError::Tag {
                    reference: err_ref,
                    part: t.to_string(),
                });
            }
        }
        let (domain, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.')
                    || first.contains(':')
                    || first == "localhost"
                    || first.starts_with('[') =>
            {
                if !is_domain(first) {
                    return Err(ReferenceError::Domain {
                        reference: err_ref,
                        part: first.to_string(),
                    });
                }
                (first.to_string(), rest.to_string())
            }
            _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
        };
        let domain = if domain == LEGACY_DOMAIN {
            DEFAULT_DOMAIN.to_string()
        } else {
            domain
        };
        let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        for part in path.split('/') {
            if part.bytes().any(|c| c.is_ascii_uppercase()) {
                return Err(ReferenceError::Uppercase {
                    reference: err_ref,
                    part: part.to_string(),
                });
            }
            if !is_component(part) {
                return Err(ReferenceError::Component {
                    reference: err_ref,
                    part: part.to_string(),
                });
            }
        }
        if domain.len() + 1 + path.len() > 255 {
            return Err(ReferenceError::TooLong(err_ref));
        }
        Ok(ImageRef {
            domain,
            path,
            tag: tag.map(str::to_string),
            digest,
        })
    }
}

/// Docker Hub's `docker.io/` and `library/` left out, as docker prints names.
fn familiarise(full: String) -> String {
    let Some(rest) = full.strip_prefix("docker.io/") else {
        return full;
    };
    rest.strip_prefix("library/")
        .filter(|r| !r.contains('/'))
        .unwrap_or(rest)
        .to_string()
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(t) = self.tag_or_latest() {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        s.parse::<ImageRef>().unwrap().to_string()
    }

    #[test]
    fn normalises_like_docker() {
        assert_eq!(norm("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(norm("user/app:1.0"), "docker.io/user/app:1.0");
        assert_eq!(
            norm("index.docker.io/library/alpine"),
            "docker.io/library/alpine:latest"
        );
        assert_eq!(norm("localhost:5000/a/b:t"), "localhost:5000/a/b:t");
        assert_eq!(norm("localhost/a"), "localhost/a:latest");
        assert_eq!(norm("quay.io/x/y__z-w.v"), "quay.io/x/y__z-w.v:latest");
        assert_eq!(norm("[::1]:5000/a:t"), "[::1]:5000/a:t");
        let d = format!("busybox@{}", Digest::of(b""));
        assert_eq!(
            norm(&d),
            format!("docker.io/library/busybox@{}", Digest::of(b""))
        );
        let r: ImageRef = "localhost:5000/a:t".parse().unwrap();
        assert_eq!(
            (r.domain.as_str(), r.path.as_str(), r.tag.as_deref()),
            ("localhost:5000", "a", Some("t"))
        );
        assert_eq!(
            "busybox".parse::<ImageRef>().unwrap().familiar(),
            "busybox:latest"
        );
    }

    #[test]
    fn short_names() {
        for s in ["busybox", "busybox:1", "user/app", "user/app@sha256:00"] {
            assert!(is_short_name(s), "{s}");
        }
        for s in [
            "docker.io/busybox",
            "localhost/a",
            "127.0.0.1:5000/a",
            "[::1]/a",
            "r:5/a",
        ] {
            assert!(!is_short_name(s), "{s}");
        }
    }

    #[test]
    fn errors_name_the_bad_part() {
        let e = "Busybox".parse::<ImageRef>().unwrap_err();
        assert!(
            e.to_string().contains("\"Busybox\" must be lowercase"),
            "{e}"
        );
        let e = "busybox:bad/tag!".parse::<ImageRef>().unwrap_err();
        assert_eq!(
            e,
            ReferenceError::Domain {
                reference: "busybox:bad/tag!".into(),
                part: "busybox:bad".into()
            }
        );
        let e = "busybox:-x".parse::<ImageRef>().unwrap_err();
        assert_eq!(
            e,
            ReferenceError::Tag {
                reference: "busybox:-x".into(),
                part: "-x".into()
            }
        );
        let e = "busybox@sha256:123".parse::<ImageRef>().unwrap_err();
        assert!(
            e.to_string().contains("invalid digest \"sha256:123\""),
            "{e}"
        );
        let e = "a//b".parse::<ImageRef>().unwrap_err();
        assert!(e.to_string().contains("invalid path component \"\""), "{e}");
        assert!("".parse::<ImageRef>().is_err());
        assert!("a-:b".parse::<ImageRef>().is_err());
    }
}
