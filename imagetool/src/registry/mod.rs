//! `docker://` — the distribution API v2 (`distribution/docs/spec/api.md`, OCI
//! distribution-spec): a blocking HTTP client with auth, TLS per registry and retries,
//! and the image source/destination over it.

pub mod auth;
pub mod challenge;
pub mod client;
pub mod clients;
pub mod dest;
pub mod http;
pub mod ops;
pub mod proxy;
pub mod registries;
pub mod retry_after;
pub mod search;
pub mod source;
pub mod tls;

pub use client::Client;
pub use clients::Clients;
pub use dest::RegistryDestination;
pub use source::RegistrySource;

use anyhow::{anyhow, Result};
use std::path::PathBuf;
use std::time::Duration;

/// How long a registry may stay silent in the middle of a request before it counts as a
/// failed (and retried) attempt.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(120);

/// `$SKIFF_REGISTRY_TIMEOUT`: the read timeout in seconds (fractions allowed), for slow
/// links and for tests of stalled servers; [`DEFAULT_READ_TIMEOUT`] when unset.
pub fn read_timeout_from_env() -> Result<Duration> {
    let Some(v) = std::env::var_os("SKIFF_REGISTRY_TIMEOUT") else {
        return Ok(DEFAULT_READ_TIMEOUT);
    };
    let s = v.to_string_lossy();
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|secs| secs.is_finite() && *secs > 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| anyhow!("parse SKIFF_REGISTRY_TIMEOUT={s:?}: expected seconds > 0"))
}

/// Options for talking to registries, as skopeo's flags name them.
#[derive(Clone, Debug, PartialEq)]
pub struct RegistryOptions {
    /// `--tls-verify`: `None` = default (verify; loopback may fall back to plain HTTP);
    /// `Some(true)` = TLS, verified, even on loopback.
    pub tls_verify: Option<bool>,
    /// `--creds USER:PASS`.
    pub creds: Option<(String, String)>,
    /// `--no-creds`: anonymous, whatever credentials are stored for the registry.
    pub no_creds: bool,
    /// `--authfile`.
    pub authfile: Option<PathBuf>,
    /// `--retry-times`.
    pub retry_times: u32,
    /// Directories holding `HOST/*.crt` CA files; defaults to containers' and docker's.
    pub certs_dirs: Vec<PathBuf>,
    /// `--cert-dir`: a directory holding `*.crt` CA files for this registry directly.
    pub cert_dir: Option<PathBuf>,
    /// registries.conf to use instead of `$CONTAINERS_REGISTRIES_CONF` / the system file.
    pub registries_conf: Option<PathBuf>,
    /// Drop-in directory instead of `/etc/containers/registries.conf.d`.
    pub registries_conf_dir: Option<PathBuf>,
    /// Longest silence of a registry within one request ([`read_timeout_from_env`]).
    pub read_timeout: Duration,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            tls_verify: None,
            creds: None,
            no_creds: false,
            authfile: None,
            retry_times: 3,
            certs_dirs: default_certs_dirs(),
            cert_dir: None,
            registries_conf: None,
            registries_conf_dir: None,
            read_timeout: read_timeout_from_env().unwrap_or(DEFAULT_READ_TIMEOUT),
        }
    }
}

/// `certs.d` directories as containers and docker read them: the user's own first
/// (`~/.config/containers/certs.d`; containers/image `dockerCertDir` reads it for root
/// too), then the system ones.
fn default_certs_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        dirs.push(PathBuf::from(home).join(".config/containers/certs.d"));
    }
    dirs.push(PathBuf::from("/etc/containers/certs.d"));
    dirs.push(PathBuf::from("/etc/docker/certs.d"));
    dirs
}

/// Docker's rule: loopback registries are insecure by default (plain HTTP allowed).
pub fn is_loopback(domain: &str) -> bool {
    let host = match domain.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|c| c.is_ascii_digit()) => h,
        _ => domain,
    };
    is_loopback_host(host.trim_start_matches('[').trim_end_matches(']'))
}

/// `localhost` or a loopback address (a bare host: no port, no brackets).
pub fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The API host for a reference domain (Docker Hub's API lives elsewhere).
pub fn api_host(domain: &str) -> &str {
    if domain == crate::reference::DEFAULT_DOMAIN {
        "registry-1.docker.io"
    } else {
        domain
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_hosts() {
        assert!(super::is_loopback("localhost:5000"));
        assert!(super::is_loopback("127.0.0.2:5000"));
        assert!(super::is_loopback("[::1]:5000"));
        assert!(!super::is_loopback("registry.example.com:5000"));
        assert!(!super::is_loopback("10.0.0.1"));
    }
}
