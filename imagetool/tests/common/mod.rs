//! Shared test fixtures: a real `docker-registry` on a free loopback port (stopped by PID
//! on drop), the built `skiff-image` binary, and image builders from the host's busybox.
#![allow(dead_code)]

use flate2::write::GzEncoder;
use skiff_image::digest::Digest;
use skiff_image::manifest::{self, Descriptor, Index, Manifest, Platform};
use skiff_image::transport::layout::Layout;
use std::collections::BTreeMap;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

/// A private temp directory removed on drop.
pub struct Tmp(pub PathBuf);

impl Tmp {
    pub fn new(tag: &str) -> Tmp {
        let p = std::env::temp_dir().join(format!(
            "skiff-image-test-{tag}-{}-{}",
            std::process::id(),
            &Digest::of(format!("{:?}", Instant::now()).as_bytes()).hex()[..8]
        ));
        std::fs::create_dir_all(&p).unwrap();
        Tmp(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

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
    pub fn start(cfg: RegistryConfig) -> Registry {
        let dir = Tmp::new("registry");
        let port = free_port();
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
        let r = Registry {
            child,
            port,
            host: format!("127.0.0.1:{port}"),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "docker-registry did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        r
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

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_skiff-image")
}

/// Run skiff-image with `--root root`.
pub fn skiff(root: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("SKIFF_ROOT")
        .output()
        .expect("run skiff-image")
}

/// Run with extra environment variables; require success; returns stdout.
pub fn ok_env(root: &Path, env: &[(&str, String)], args: &[&str]) -> String {
    let out = Command::new(bin())
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("SKIFF_ROOT")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run skiff-image");
    assert!(
        out.status.success(),
        "skiff-image {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Run and require success; returns stdout.
pub fn ok(root: &Path, args: &[&str]) -> String {
    let out = skiff(root, args);
    assert!(
        out.status.success(),
        "skiff-image {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Run and require failure; returns stderr, which must be one line.
pub fn fails(root: &Path, args: &[&str]) -> String {
    let out = skiff(root, args);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(1),
        "skiff-image {args:?} should fail: {err}"
    );
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "error should be one line: {err}"
    );
    assert!(err.starts_with("skiff-image: "), "{err}");
    err
}

pub fn skopeo(args: &[&str]) -> String {
    let out = Command::new("skopeo")
        .args(args)
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A rootfs tar with the host's busybox-static as /bin/busybox and /bin/sh.
pub fn busybox_rootfs(dir: &Path) -> PathBuf {
    let tar_path = dir.join("rootfs.tar");
    let f = std::fs::File::create(&tar_path).unwrap();
    let mut b = tar::Builder::new(f);
    b.append_path_with_name("/bin/busybox", "bin/busybox")
        .expect("busybox-static at /bin/busybox");
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    b.append_link(&mut h, "bin/sh", "busybox").unwrap();
    b.into_inner().unwrap();
    tar_path
}

/// A gzip layer with the given files; returns (blob bytes, diff id).
pub fn layer(files: &[(&str, &[u8])]) -> (Vec<u8>, Digest) {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        b.append_data(&mut h, name, *data).unwrap();
    }
    let tar = b.into_inner().unwrap();
    let diff = Digest::of(&tar);
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    (gz.finish().unwrap(), diff)
}

fn put(layout: &Layout, bytes: &[u8]) -> Digest {
    let d = Digest::of(bytes);
    std::fs::write(layout.blob_path(&d), bytes).unwrap();
    d
}

/// Write an image (layers of files) into `layout`; returns its manifest descriptor.
pub fn write_image(
    layout: &Layout,
    arch: &str,
    layers: &[Vec<u8>],
    diff_ids: &[Digest],
) -> Descriptor {
    let config = serde_json::json!({
        "architecture": arch, "os": "linux",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids.iter().map(|d| d.to_string()).collect::<Vec<_>>()},
    });
    let config = serde_json::to_vec(&config).unwrap();
    put(layout, &config);
    let layer_descs = layers
        .iter()
        .map(|l| {
            put(layout, l);
            Descriptor::of_bytes(manifest::OCI_LAYER_GZIP, l)
        })
        .collect();
    let m = Manifest {
        schema_version: 2,
        media_type: Some(manifest::OCI_MANIFEST.into()),
        config: Descriptor::of_bytes(manifest::OCI_CONFIG, &config),
        layers: layer_descs,
        annotations: BTreeMap::new(),
    };
    let bytes = serde_json::to_vec(&m).unwrap();
    put(layout, &bytes);
    let mut d = Descriptor::of_bytes(manifest::OCI_MANIFEST, &bytes);
    d.platform = Some(Platform {
        architecture: arch.into(),
        os: "linux".into(),
        variant: None,
        os_version: None,
    });
    d
}

/// Name a manifest in the layout's index.json.
pub fn name_in_index(layout: &Layout, mut d: Descriptor, name: &str) {
    d.annotations.insert(manifest::REF_NAME.into(), name.into());
    d.platform = None;
    let mut idx = layout.read_index().unwrap();
    idx.manifests.push(d);
    layout.write_index(&idx).unwrap();
}

/// An OCI layout holding `multi` (3 layers, one of `big` bytes) and `multiarch` (an index of
/// an amd64 and an arm64 image).
pub fn build_layout(dir: &Path, big: usize) -> Layout {
    let layout = Layout::create(dir).unwrap();
    let noise = noise(big);
    let (l1, d1) = layer(&[("etc/hello", b"hello\n")]);
    let (l2, d2) = layer(&[("data/noise", &noise)]);
    let (l3, d3) = layer(&[("etc/hello", b"bye\n"), ("etc/other", b"x")]);
    let multi = write_image(
        &layout,
        host_arch(),
        &[l1.clone(), l2, l3],
        &[d1.clone(), d2, d3],
    );
    name_in_index(&layout, multi, "multi");
    let amd = write_image(
        &layout,
        "amd64",
        std::slice::from_ref(&l1),
        std::slice::from_ref(&d1),
    );
    let (la, da) = layer(&[("etc/arch", b"arm64\n")]);
    let arm = write_image(&layout, "arm64", &[l1, la], &[d1, da]);
    let idx = Index {
        manifests: vec![amd, arm],
        ..Index::empty()
    };
    let bytes = serde_json::to_vec(&idx).unwrap();
    put(&layout, &bytes);
    name_in_index(
        &layout,
        Descriptor::of_bytes(manifest::OCI_INDEX, &bytes),
        "multiarch",
    );
    layout
}

pub fn host_arch() -> &'static str {
    manifest::host_platform().1
}

/// `"Digest"` of `skopeo inspect` / `skiff-image inspect` JSON.
pub fn json_digest(out: &str) -> String {
    let v: serde_json::Value =
        serde_json::from_str(out).unwrap_or_else(|e| panic!("parse {out:?}: {e}"));
    v["Digest"].as_str().unwrap().to_string()
}

/// Files under `dir` (recursive), for "nothing changed" assertions.
pub fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(d: &Path, base: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(base).unwrap().display().to_string());
            if p.is_dir() {
                walk(&p, base, out);
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Incompressible bytes (xorshift64), so gzip layers keep their size.
pub fn noise(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ n as u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
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

/// A private CA (`ca.crt`), a server certificate for 127.0.0.1 (`srv.crt`/`srv.key`) and a
/// client certificate (`client.crt`/`client.key`), all in `dir`.
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
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    );
    issue(
        dir,
        "client",
        "skiff-client",
        "extendedKeyUsage=clientAuth\n",
    );
}

/// A pass-through HTTP proxy in front of a registry that misbehaves on purpose: the first
/// request for a path containing `fail_path` gets `503 Retry-After: 0`, and the first full
/// (non-Range) GET of a path containing `cut_path` is cut after `cut_after` bytes. It records
/// every request line plus its Range header.
pub struct FlakyProxy {
    pub port: u16,
    pub requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// What a [`FlakyProxy`] does wrong.
#[derive(Clone, Default)]
pub struct Faults {
    pub fail_path: String,
    pub cut_path: String,
    pub cut_after: usize,
    pub hold: bool,
    /// Bytes per second for every response body (a slow link), `None` for full speed.
    pub rate: Option<usize>,
}

impl FlakyProxy {
    /// A proxy that only slows every response down to `rate` bytes per second.
    pub fn throttled(upstream: u16, rate: usize) -> FlakyProxy {
        FlakyProxy::with(
            upstream,
            Faults {
                fail_path: "/never-fails/".into(),
                cut_path: "/never-cut/".into(),
                cut_after: usize::MAX,
                rate: Some(rate),
                ..Default::default()
            },
        )
    }

    /// With `hold`, a cut connection stays open and silent instead of closing (a stalled
    /// server), so a test can interrupt the client mid-blob.
    pub fn start(
        upstream: u16,
        fail_path: &str,
        cut_path: &str,
        cut_after: usize,
        hold: bool,
    ) -> FlakyProxy {
        FlakyProxy::with(
            upstream,
            Faults {
                fail_path: fail_path.into(),
                cut_path: cut_path.into(),
                cut_after,
                hold,
                rate: None,
            },
        )
    }

    pub fn with(upstream: u16, faults: Faults) -> FlakyProxy {
        use std::io::{Read, Write};
        let Faults {
            fail_path,
            cut_path,
            cut_after,
            hold,
            rate,
        } = faults;
        use std::sync::{Arc, Mutex};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        std::thread::spawn(move || {
            let failed = Arc::new(Mutex::new(false));
            let cut = Arc::new(Mutex::new(false));
            for conn in listener.incoming() {
                let Ok(mut client) = conn else { return };
                let (log, failed, cut, fail_path, cut_path) = (
                    log.clone(),
                    failed.clone(),
                    cut.clone(),
                    fail_path.clone(),
                    cut_path.clone(),
                );
                std::thread::spawn(move || {
                    let mut head = Vec::new();
                    let mut b = [0u8; 1];
                    // A TLS ClientHello on this plain port: answer 400 as Go's server does.
                    if client.peek(&mut b).unwrap_or(0) == 1 && b[0] == 0x16 {
                        let _ = client.write_all(b"HTTP/1.0 400 Bad Request\r\n\r\n");
                        return;
                    }
                    while !head.ends_with(b"\r\n\r\n") {
                        if client.read(&mut b).unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(b[0]);
                    }
                    let text = String::from_utf8_lossy(&head).to_string();
                    let line = text.lines().next().unwrap_or("").to_string();
                    let range = text
                        .lines()
                        .find(|l| l.to_ascii_lowercase().starts_with("range:"))
                        .map(|l| l.to_string());
                    log.lock()
                        .unwrap()
                        .push(format!("{line} {}", range.clone().unwrap_or_default()));
                    if line.contains(&fail_path)
                        && !std::mem::replace(&mut *failed.lock().unwrap(), true)
                    {
                        let _ = client.write_all(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                        return;
                    }
                    let mut up = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
                    let mut fixed: String = text
                        .lines()
                        .filter(|l| {
                            !l.is_empty() && !l.to_ascii_lowercase().starts_with("connection:")
                        })
                        .map(|l| format!("{l}\r\n"))
                        .collect();
                    fixed.push_str("Connection: close\r\n\r\n");
                    up.write_all(fixed.as_bytes()).unwrap();
                    let limit = if line.starts_with("GET")
                        && line.contains(&cut_path)
                        && range.is_none()
                        && !std::mem::replace(&mut *cut.lock().unwrap(), true)
                    {
                        cut_after
                    } else {
                        usize::MAX
                    };
                    let mut sent = 0usize;
                    let mut buf =
                        vec![0u8; rate.map_or(64 * 1024, |r| (r / 20).clamp(1, 64 * 1024))];
                    let started = Instant::now();
                    loop {
                        if let Some(r) = rate {
                            // Pace the body: never ahead of `rate` bytes per second.
                            let due = Duration::from_secs_f64(sent as f64 / r as f64);
                            if let Some(wait) = due.checked_sub(started.elapsed()) {
                                std::thread::sleep(wait);
                            }
                        }
                        let n = match up.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let n = n.min(limit - sent);
                        if client.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        sent += n;
                        if sent >= limit {
                            if hold {
                                std::thread::sleep(Duration::from_secs(60));
                            }
                            break;
                        }
                    }
                    let _ = client.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        FlakyProxy { port, requests }
    }
}

/// Import the busybox rootfs as `name` into the store at `root` with `CMD [cmd]`; returns
/// the manifest digest. Different `cmd`s give different images over the same layer.
pub fn import_busybox_cmd(root: &Path, dir: &Path, name: &str, cmd: &str) -> String {
    let tar = busybox_rootfs(dir);
    ok(
        root,
        &[
            "import",
            tar.to_str().unwrap(),
            name,
            "--change",
            &format!(r#"CMD ["{cmd}"]"#),
        ],
    )
    .trim()
    .to_string()
}

/// Run with extra environment variables; require failure (one line); returns stderr.
pub fn fails_env(root: &Path, env: &[(&str, String)], args: &[&str]) -> String {
    let out = Command::new(bin())
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("SKIFF_ROOT")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run skiff-image");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(1),
        "skiff-image {args:?} should fail: {err}"
    );
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "error should be one line: {err}"
    );
    err
}
