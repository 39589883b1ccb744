//! A real `docker-registry` on a free loopback port with private storage (plain HTTP,
//! TLS, client CAs, htpasswd or token auth), killed by PID on drop; and a private PKI made
//! with the openssl CLI for the TLS variants.

use super::{free_port, Tmp};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct RegistryConfig {
    /// (user, password) for htpasswd basic auth.
    pub basic: Option<(String, String)>,
    /// (certificate, key) paths.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Bearer token auth: (realm URL, service, issuer, root certificate bundle).
    pub token: Option<(String, String, String, PathBuf)>,
    /// CA bundle clients must present a certificate from (`http.tls.clientcas`); needs `tls`.
    pub client_cas: Option<PathBuf>,
}

/// A running docker-registry; killed by PID on drop.
pub struct Registry {
    child: Child,
    pub port: u16,
    pub host: String,
    _dir: Tmp,
}

impl Registry {
    /// Starts the registry; if another process took the port first, again on a new port.
    pub fn start(cfg: RegistryConfig) -> Registry {
        for _ in 0..5 {
            if let Some(r) = Registry::start_on(&cfg, free_port()) {
                return r;
            }
        }
        panic!("docker-registry did not start on any of 5 ports")
    }

    /// The registry serving on `port`, or None when it exited without listening there.
    pub fn start_on(cfg: &RegistryConfig, port: u16) -> Option<Registry> {
        let dir = Tmp::new("registry");
        let mut yaml = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.join("data").display()
        );
        if let Some((cert, key)) = &cfg.tls {
            yaml.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            ));
            if let Some(ca) = &cfg.client_cas {
                yaml.push_str(&format!("    clientcas:\n      - {}\n", ca.display()));
            }
        }
        if let Some((u, p)) = &cfg.basic {
            let htpasswd = dir.join("htpasswd");
            let out = Command::new("htpasswd")
                .args(["-Bbc"])
                .arg(&htpasswd)
                .args([u, p])
                .output()
                .expect("run htpasswd");
            assert!(
                out.status.success(),
                "htpasswd: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            yaml.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: skiff-test\n    path: {}\n",
                htpasswd.display()
            ));
        }
        if let Some((realm, service, issuer, bundle)) = &cfg.token {
            yaml.push_str(&format!(
                "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: {issuer}\n    rootcertbundle: {}\n",
                bundle.display()
            ));
        }
        let config = dir.join("config.yml");
        std::fs::write(&config, yaml).unwrap();
        let log = std::fs::File::create(dir.join("registry.log")).unwrap();
        let child = Command::new("/usr/bin/docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        let mut r = Registry {
            child,
            port,
            host: format!("127.0.0.1:{port}"),
            _dir: dir,
        };
        // Ready means this child holds the listening socket: a connect alone could reach
        // whatever else took the port.
        let deadline = Instant::now() + Duration::from_secs(20);
        while !listens(r.child.id(), port) {
            if let Ok(Some(status)) = r.child.try_wait() {
                eprintln!("docker-registry on {port} exited ({status}): {}", r.log());
                return None;
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not listen on {port}: {}",
                r.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(r)
    }

    /// The registry's storage root (`docker/registry/v2/...` below it).
    pub fn data(&self) -> PathBuf {
        self._dir.join("data")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.join("registry.log")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether process `pid` holds a socket listening on 127.0.0.1:`port` (per /proc/net/tcp).
fn listens(pid: u32, port: u16) -> bool {
    let local = format!("0100007F:{port:04X}");
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else {
        return false;
    };
    let inodes: Vec<String> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            (f.len() > 9 && f[1] == local && f[3] == "0A").then(|| format!("socket:[{}]", f[9]))
        })
        .collect();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .map(|target| inodes.iter().any(|i| target.as_os_str() == i.as_str()))
            .unwrap_or(false)
    })
}

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Sign `NAME.crt` (key `NAME.key`) with the CA in `dir`, with the given extensions.
fn issue(dir: &Path, name: &str, cn: &str, ext: &str) {
    let (key, csr, crt, cnf) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.crt"),
        format!("{name}.cnf"),
    );
    let subj = format!("/CN={cn}");
    openssl(
        &[
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj", &subj,
        ],
        dir,
    );
    std::fs::write(dir.join(&cnf), ext).unwrap();
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "2",
            "-extfile",
            &cnf,
        ],
        dir,
    );
}

/// A private CA (`ca.crt`), a server certificate for 127.0.0.1, localhost and
/// registry.skiff.test (`srv.crt`/`srv.key`; the last is a name only [`ForwardProxy`]
/// resolves) and a client certificate (`client.crt`/`client.key`), all in `dir`.
pub fn test_pki(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=skiff test CA",
        ],
        dir,
    );
    issue(
        dir,
        "srv",
        "127.0.0.1",
        "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:registry.skiff.test\nextendedKeyUsage=serverAuth\n",
    );
    issue(
        dir,
        "client",
        "skiff-client",
        "extendedKeyUsage=clientAuth\n",
    );
}

/// A directory holding only `ca.crt` of `pki` (the `--cert-dir` layout).
pub fn ca_dir(pki: &Path) -> PathBuf {
    let d = pki.join("cadir");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::copy(pki.join("ca.crt"), d.join("ca.crt")).unwrap();
    d
}
