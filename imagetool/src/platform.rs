//! Platform choice from an image index (image-spec `image-index.md`, "platform"): the
//! `--platform os/arch[/variant]` that docker, podman and skopeo take, matched the way
//! containerd's `platforms` package normalises it (`arm64` means `arm64/v8`, `arm` means
//! `arm/v7`, `aarch64`/`x86_64` are aliases), defaulting to the host.

use crate::manifest::{Descriptor, Index, Platform};
use std::fmt;
use std::str::FromStr;

/// A wanted platform; `variant: None` accepts any variant of the architecture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformSpec {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("parse platform {0:?}: expected OS/ARCH[/VARIANT]")]
pub struct PlatformError(String);

impl PlatformSpec {
    /// The platform of the running host.
    pub fn host() -> PlatformSpec {
        let (os, arch) = crate::manifest::host_platform();
        PlatformSpec {
            os: os.to_string(),
            architecture: arch.to_string(),
            variant: None,
        }
    }

    /// Whether an index entry's platform satisfies this spec.
    pub fn matches(&self, p: &Platform) -> bool {
        if p.os != self.os || normalise_arch(&p.architecture) != self.architecture {
            return false;
        }
        match &self.variant {
            None => true,
            Some(want) => {
                let have = p.variant.as_deref().or(default_variant(&self.architecture));
                have == Some(want.as_str())
            }
        }
    }

    /// The first entry of `index` this spec matches.
    pub fn choose<'a>(&self, index: &'a Index) -> Option<&'a Descriptor> {
        index
            .manifests
            .iter()
            .find(|d| d.platform.as_ref().is_some_and(|p| self.matches(p)))
    }
}

fn normalise_arch(arch: &str) -> &str {
    match arch {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        "i386" | "i686" => "386",
        "armhf" | "armel" => "arm",
        other => other,
    }
}

/// The variant an entry without one is taken to have (containerd's normalisation).
fn default_variant(arch: &str) -> Option<&'static str> {
    match arch {
        "arm64" => Some("v8"),
        "arm" => Some("v7"),
        _ => None,
    }
}

impl FromStr for PlatformSpec {
    type Err = PlatformError;

    fn from_str(s: &str) -> Result<PlatformSpec, PlatformError> {
        let parts: Vec<&str> = s.split('/').collect();
        let bad = || PlatformError(s.to_string());
        if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        let ok = |p: &str| p.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
        if !parts.iter().all(|p| ok(p)) {
            return Err(bad());
        }
        let os = parts[0].to_ascii_lowercase();
        let architecture = normalise_arch(&parts[1].to_ascii_lowercase()).to_string();
        let mut variant = parts.get(2).map(|v| v.to_ascii_lowercase());
        // `arm64/v8` is what an entry without a variant means; `aarch64/8` style too.
        if let Some(v) = &variant {
            if !v.starts_with('v') {
                variant = Some(format!("v{v}"));
            }
        }
        Ok(PlatformSpec {
            os,
            architecture,
            variant,
        })
    }
}

impl fmt::Display for PlatformSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;

    fn entry(arch: &str, variant: Option<&str>, size: u64) -> Descriptor {
        let mut d = Descriptor::new(crate::manifest::OCI_MANIFEST, Digest::of(b""), size);
        d.platform = Some(Platform {
            architecture: arch.into(),
            os: "linux".into(),
            variant: variant.map(str::to_string),
            os_version: None,
        });
        d
    }

    #[test]
    fn parses_and_matches_variants() {
        let idx = Index {
            manifests: vec![
                entry("amd64", None, 1),
                entry("arm", Some("v6"), 2),
                entry("arm", Some("v7"), 3),
                entry("arm64", None, 4),
            ],
            ..Index::empty()
        };
        let pick = |s: &str| {
            s.parse::<PlatformSpec>()
                .unwrap()
                .choose(&idx)
                .map(|d| d.size)
        };
        assert_eq!(pick("linux/amd64"), Some(1));
        assert_eq!(pick("linux/x86_64"), Some(1));
        assert_eq!(pick("linux/arm"), Some(2));
        assert_eq!(pick("linux/arm/v7"), Some(3));
        assert_eq!(pick("linux/arm/7"), Some(3));
        assert_eq!(pick("linux/arm64/v8"), Some(4));
        assert_eq!(pick("linux/aarch64"), Some(4));
        assert_eq!(pick("linux/arm/v5"), None);
        assert_eq!(pick("windows/amd64"), None);
        for bad in ["linux", "linux/", "/amd64", "a/b/c/d", "linux/am d64"] {
            assert!(bad.parse::<PlatformSpec>().is_err(), "{bad}");
        }
        assert_eq!(
            "linux/arm/v7".parse::<PlatformSpec>().unwrap().to_string(),
            "linux/arm/v7"
        );
    }
}
