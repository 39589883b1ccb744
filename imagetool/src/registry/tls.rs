//! TLS configuration per registry host, as containers/image and docker read it: system
//! roots plus every `*.crt` in `certs.d/HOST/` (HOST with port, as written in the reference).
//! `--tls-verify=false` swaps in a verifier that accepts any certificate but still checks
//! handshake signatures.

use anyhow::{Context, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
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
    if !verify {
        let v = Arc::new(AcceptAnyCert(provider()));
        return Ok(Arc::new(
            builder
                .dangerous()
                .with_custom_certificate_verifier(v)
                .with_no_client_auth(),
        ));
    }
    let mut roots = RootCertStore::empty();
    if Path::new(SYSTEM_BUNDLE).exists() {
        add_pem_file(&mut roots, Path::new(SYSTEM_BUNDLE))?;
    }
    let host_dirs = certs_dirs.iter().map(|d| d.join(domain));
    for host_dir in host_dirs.chain(cert_dir.map(Path::to_path_buf)) {
        let Ok(entries) = std::fs::read_dir(&host_dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "crt") {
                add_pem_file(&mut roots, &p)?;
            }
        }
    }
    Ok(Arc::new(
        builder.with_root_certificates(roots).with_no_client_auth(),
    ))
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
