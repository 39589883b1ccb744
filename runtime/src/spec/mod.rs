//! Loading and validating the bundle's `config.json` (OCI runtime spec,
//! config.md and config-linux.md). Every error names the file and the field,
//! because the user's only way to fix a bundle is to find the line.

mod host;
mod validate;

use std::path::{Path, PathBuf};

pub use host::{validate_host_support, HostSupport};
pub use oci_spec::runtime::Spec;
pub use validate::validate_spec;

/// Why a bundle's configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("open {path:?}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("parse {path:?}: {field}: {message}")]
    Parse {
        path: PathBuf,
        field: String,
        message: String,
    },
    #[error("invalid config.json: {field}: {problem}")]
    Invalid { field: String, problem: String },
}

impl SpecError {
    pub(crate) fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Self {
        // Problems quote the config's values, which may hold control characters.
        SpecError::Invalid {
            field: crate::logging::escape_controls(&field.into()),
            problem: crate::logging::escape_controls(&problem.into()),
        }
    }
}

/// Reads `<bundle>/config.json`. Errors give the dotted path of the field
/// that failed (`linux.namespaces[2].type`), which plain serde_json reports
/// only as a line and column (see `json`).
pub fn load_spec(bundle: &Path) -> Result<Spec, SpecError> {
    let path = bundle.join("config.json");
    let bytes = std::fs::read(&path).map_err(|source| SpecError::Open {
        path: path.clone(),
        source,
    })?;
    parse_spec(&bytes, &path)
}

/// Parses config.json's bytes; `path` only names the file in errors.
pub fn parse_spec(bytes: &[u8], path: &Path) -> Result<Spec, SpecError> {
    crate::json::from_slice_with_path(bytes).map_err(|err| {
        let field = match err.path.as_str() {
            "." => "(document)".to_string(),
            p => p.to_string(),
        };
        SpecError::Parse {
            path: path.to_path_buf(),
            field: crate::logging::escape_controls(&field),
            message: crate::logging::escape_controls(&err.message),
        }
    })
}

/// The absolute host path of the container root: `root.path` is relative to
/// the bundle unless absolute (config.md "Root").
pub fn rootfs_path(spec: &Spec, bundle: &Path) -> Result<PathBuf, SpecError> {
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| SpecError::invalid("root", "missing (required on Linux)"))?;
    let joined = bundle.join(root.path());
    joined.canonicalize().map_err(|err| {
        SpecError::invalid(
            "root.path",
            format!("resolve {:?}: {}", joined.display().to_string(), err),
        )
    })
}
