//! TLS configuration per registry host, as containers/image and docker read it: system
//! roots plus every `*.crt` in `certs.d/HOST/` (HOST with port, as written in the reference),
//! and a client certificate for mutual TLS from a `NAME.cert` + `NAME.key` pair there
//! (docker's `certs.d` layout; the first pair by name is used).
//! `--tls-verify=false` swaps in a verifier that accepts any certificate but still checks
//! handshake signatures; a client certificate is still presented.

use anyhow::{Context, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// Build the client config for `domain` (`host[:port]`).
pub fn client_config(
    domain: &str,
    verify: bool,
    certs_dirs: &[PathBuf],
    cert_dir: Option<&Path>,
) -> Result<Arc<ClientConfig>> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("configure TLS")?;
    let dirs: Vec<PathBuf> = certs_dirs
        .iter()
        .map(|d| d.join(domain))
        .chain(cert_dir.map(Path::to_path_buf))
        .collect();
    let files = dir_files(&dirs);
    let client = client_identity(&files)?;
    let builder = if verify {
        let mut roots = RootCertStore::empty();
        if Path::new(SYSTEM_BUNDLE).exists() {
            add_pem_file(&mut roots, Path::new(SYSTEM_BUNDLE))?;
        }
        for p in files.iter().filter(|p| has_ext(p, "crt")) {
            add_pem_file(&mut roots, p)?;
        }
        builder.with_root_certificates(roots)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider())))
    };
    let config = match client {
        Some((certs, key, path)) => builder
            .with_client_auth_cert(certs, key)
            .with_context(|| format!("use client certificate {path:?}"))?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// Files of the certificate directories that exist, sorted by name within each.
fn dir_files(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in dirs {
        let Ok(entries) = std::fs::read_dir(d) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        out.extend(files);
    }
    out
}

fn has_ext(p: &Path, ext: &str) -> bool {
    p.extension().is_some_and(|x| x == ext)
}

type Identity = (
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
    PathBuf,
);

/// The first `NAME.cert` with its `NAME.key`; a certificate without its key is an error,
/// as in docker (a half-configured mTLS setup should not silently go anonymous).
fn client_identity(files: &[PathBuf]) -> Result<Option<Identity>> {
    let Some(cert) = files.iter().find(|p| has_ext(p, "cert")) else {
        return Ok(None);
    };
    let key = cert.with_extension("key");
    if !key.is_file() {
        anyhow::bail!("read client certificate {cert:?}: missing key {key:?}");
    }
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("read client certificate {cert:?}"))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("parse client certificate {cert:?}"))?;
    if certs.is_empty() {
        anyhow::bail!("parse client certificate {cert:?}: no certificate in file");
    }
    let key_der =
        PrivateKeyDer::from_pem_file(&key).with_context(|| format!("read client key {key:?}"))?;
    Ok(Some((certs, key_der, cert.clone())))
}

fn add_pem_file(roots: &mut RootCertStore, path: &Path) -> Result<()> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("read certificates {path:?}"))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("parse certificates {path:?}"))?;
    roots.add_parsable_certificates(certs);
    Ok(())
}

#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
