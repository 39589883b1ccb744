//! The `docker://` transport against a real docker-registry (distribution 2.8) on loopback:
//! plain HTTP, basic auth, TLS with a private CA, mounts, streamed uploads, indexes, sync,
//! retries and Range resume through a misbehaving proxy, and skopeo reading what we push.

mod common;

use common::*;
use skiff_image::digest::Digest;
use std::path::Path;

fn import_busybox(root: &Path, t: &Tmp, name: &str) -> String {
    let tar = busybox_rootfs(t.path());
    ok(
        root,
        &[
            "import",
            tar.to_str().unwrap(),
            name,
            "--change",
            r#"CMD ["sh"]"#,
        ],
    )
    .trim()
    .to_string()
}

#[test]
fn push_pull_mount_skip_and_skopeo_interop() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("reg-plain");
    let root = t.join("root");
    let digest = import_busybox(&root, &t, "bb:1");
    let h = &reg.host;
    let dst = format!("docker://{h}/test/bb:1");
    ok(&root, &["push", "bb:1", &dst]);
    let sk = skopeo(&["inspect", "--tls-verify=false", &dst]);
    assert_eq!(json_digest(&sk), digest, "skopeo sees the pushed manifest");
    // Pull into a fresh store: same digest.
    let root2 = t.join("root2");
    ok(&root2, &["pull", &format!("{h}/test/bb:1")]);
    assert_eq!(
        json_digest(&ok(&root2, &["inspect", &format!("{h}/test/bb:1")])),
        digest
    );
    // An explicit --tls-verify=true means TLS even on loopback, as with skopeo: a plain
    // HTTP registry is then an error, not a silent downgrade.
    let err = fails(&root, &["inspect", "--tls-verify=true", &dst]);
    assert!(
        err.lines().count() == 1 && err.contains(h.as_str()),
        "want one line naming the registry: {err}"
    );
    // Pushing again uploads nothing.
    let again = ok(&root, &["push", "bb:1", &dst]);
    assert!(again.contains("copied 0, skipped 2"), "{again}");
    // Registry to registry, another repository: blobs are mounted, not copied.
    let out = ok(&root, &["copy", &dst, &format!("docker://{h}/other/bb:1")]);
    assert!(
        out.contains("copied 0 blobs, skipped 0, mounted 2"),
        "{out}"
    );
    // skopeo pushes, we read; we read skopeo's oci copy of our push.
    let src = build_layout(&t.join("src"), 100 * 1024);
    let multi = format!("oci:{}:multi", src.dir().display());
    let want = json_digest(&skopeo(&["inspect", &multi]));
    skopeo(&[
        "copy",
        "-q",
        "--dest-tls-verify=false",
        &multi,
        &format!("docker://{h}/sk/multi:1"),
    ]);
    assert_eq!(
        json_digest(&ok(
            &root,
            &["inspect", &format!("docker://{h}/sk/multi:1")]
        )),
        want
    );
    let oci = format!("oci:{}:x", t.join("sko").display());
    skopeo(&["copy", "-q", "--src-tls-verify=false", &dst, &oci]);
    assert_eq!(json_digest(&ok(&root, &["inspect", &oci])), digest);
    // Tags, delete.
    ok(
        &root,
        &["copy", "-q", &dst, &format!("docker://{h}/test/bb:2")],
    );
    let tags: serde_json::Value =
        serde_json::from_str(&ok(&root, &["list-tags", &format!("docker://{h}/test/bb")])).unwrap();
    let mut tags: Vec<String> = serde_json::from_value(tags["Tags"].clone()).unwrap();
    tags.sort();
    assert_eq!(tags, ["1", "2"]);
    let cat: serde_json::Value = serde_json::from_str(&ok(&root, &["catalog", h])).unwrap();
    let repos: Vec<String> = serde_json::from_value(cat["Repositories"].clone()).unwrap();
    assert!(
        repos.contains(&"test/bb".to_string()) && repos.contains(&"sk/multi".to_string()),
        "{repos:?}"
    );
    ok(&root, &["delete", &format!("docker://{h}/test/bb:2")]);
    let err = fails(&root, &["inspect", &format!("docker://{h}/test/bb:2")]);
    assert!(
        err.contains("404") || err.contains("MANIFEST_UNKNOWN"),
        "{err}"
    );
}

#[test]
fn big_layers_streamed_and_indexes_round_trip() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("reg-big");
    let root = t.join("root");
    // 20 MiB of noise: larger than a monolithic upload, so it streams in a PATCH.
    let src = build_layout(&t.join("src"), 20 << 20);
    let h = &reg.host;
    let multi = format!("oci:{}:multi", src.dir().display());
    let want = json_digest(&skopeo(&["inspect", &multi]));
    ok(
        &root,
        &["copy", "-q", &multi, &format!("docker://{h}/big/multi:1")],
    );
    assert_eq!(
        json_digest(&skopeo(&[
            "inspect",
            "--tls-verify=false",
            &format!("docker://{h}/big/multi:1")
        ])),
        want
    );
    assert!(
        reg.log().contains("\"PATCH /v2/big/multi/blobs/uploads/"),
        "no streamed upload seen"
    );
    let r: skiff_image::ImageRef = format!("{h}/big/multi:1").parse().unwrap();
    let rs = skiff_image::registry::RegistrySource::new(&r, &Default::default()).unwrap();
    assert_eq!(
        skiff_image::validate::validate_image(&rs).unwrap().layers,
        3
    );
    let back = format!("oci:{}:b", t.join("back").display());
    ok(
        &root,
        &["copy", "-q", &format!("docker://{h}/big/multi:1"), &back],
    );
    assert_eq!(json_digest(&skopeo(&["inspect", &back])), want);
    // An index with --all keeps its bytes both ways.
    let top = src.find(Some("multiarch")).unwrap();
    let ma = format!("docker://{h}/big/ma:1");
    ok(
        &root,
        &[
            "copy",
            "-q",
            "--all",
            &format!("oci:{}:multiarch", src.dir().display()),
            &ma,
        ],
    );
    let raw = skopeo(&["inspect", "--raw", "--tls-verify=false", &ma]);
    assert_eq!(Digest::of(raw.as_bytes()), top.digest);
    let back2 = format!("oci:{}:i", t.join("back2").display());
    ok(&root, &["copy", "-q", "--all", &ma, &back2]);
    assert_eq!(
        Digest::of(ok(&root, &["inspect", "--raw", &back2]).as_bytes()),
        top.digest
    );
}

#[test]
fn retries_and_range_resume_through_a_flaky_proxy() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("reg-flaky");
    let root = t.join("root");
    let src = build_layout(&t.join("src"), 4 << 20);
    let multi = format!("oci:{}:multi", src.dir().display());
    ok(
        &root,
        &[
            "copy",
            "-q",
            &multi,
            &format!("docker://{}/f/multi:1", reg.host),
        ],
    );
    let m = src.find(Some("multi")).unwrap();
    let manifest: skiff_image::manifest::Manifest =
        serde_json::from_slice(&src.read_blob(&m.digest).unwrap()).unwrap();
    let big = manifest
        .layers
        .iter()
        .max_by_key(|l| l.size)
        .unwrap()
        .digest
        .clone();
    let proxy = FlakyProxy::start(reg.port, "/manifests/1", &big.to_string(), 1 << 20, false);
    let via = format!("docker://127.0.0.1:{}/f/multi:1", proxy.port);
    let out = t.join("out");
    ok(
        &root,
        &["copy", "-q", &via, &format!("oci:{}:m", out.display())],
    );
    assert_eq!(
        json_digest(&ok(
            &root,
            &["inspect", &format!("oci:{}:m", out.display())]
        )),
        m.digest.to_string()
    );
    let log = proxy.requests.lock().unwrap().clone();
    let manifest_gets = log.iter().filter(|l| l.contains("/manifests/1")).count();
    assert!(manifest_gets >= 2, "503 was not retried: {log:?}");
    let resumed = log
        .iter()
        .any(|l| l.contains(&big.to_string()) && l.to_ascii_lowercase().contains("range: bytes=1"));
    assert!(resumed, "cut blob was not resumed with Range: {log:?}");
}

/// A proxy that passes everything through and logs the request lines.
fn logging_proxy(reg: &Registry) -> FlakyProxy {
    let never = "/never-matches/".to_string();
    FlakyProxy::with(
        reg.port,
        Faults {
            fail_path: never.clone(),
            cut_path: never,
            cut_after: usize::MAX,
            ..Default::default()
        },
    )
}

/// Requests in `log` after the first whose line starts with `first`.
fn after<'a>(log: &'a [String], first: &str) -> &'a [String] {
    let i = log
        .iter()
        .position(|l| l.starts_with(first))
        .unwrap_or_else(|| panic!("no {first} request: {log:?}"));
    &log[i + 1..]
}

#[test]
fn streamed_uploads_cut_or_refused_midway_start_over_and_verify() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("reg-upload-cut");
    let root = t.join("root");
    // 4 MiB of noise: streamed in one PATCH (larger than a monolithic upload).
    let src = build_layout(&t.join("src"), 4 << 20);
    let multi = format!("oci:{}:multi", src.dir().display());
    let want = json_digest(&skopeo(&["inspect", &multi]));
    let never = || "/never-matches/".to_string();
    let cut = FlakyProxy::with(
        reg.port,
        Faults {
            fail_path: never(),
            cut_path: never(),
            cut_after: usize::MAX,
            rules: vec![Rule::once("PATCH", "", Fault::CutUpload(1 << 20))],
            ..Default::default()
        },
    );
    let refused = FlakyProxy::with(
        reg.port,
        Faults {
            fail_path: "PATCH ".into(),
            cut_path: never(),
            cut_after: usize::MAX,
            ..Default::default()
        },
    );
    for (proxy, repo) in [(&cut, "cut/multi"), (&refused, "refused/multi")] {
        let via = format!("docker://127.0.0.1:{}/{repo}:1", proxy.port);
        ok(&root, &["copy", "-q", &multi, &via]);
        let log = proxy.requests.lock().unwrap().clone();
        let patches = log.iter().filter(|l| l.starts_with("PATCH ")).count();
        assert_eq!(patches, 2, "the failed PATCH was not sent again: {log:?}");
        // The failed upload is cancelled and the retry starts a new one from byte 0.
        let rest = after(&log, "PATCH ");
        let delete = rest
            .iter()
            .position(|l| l.starts_with("DELETE "))
            .expect("no DELETE");
        assert!(
            rest[delete..].iter().any(|l| l.starts_with("POST ")),
            "the retry did not start a new upload: {log:?}"
        );
        // What landed is the image, read back straight from the registry and verified.
        let direct = format!("docker://{}/{repo}:1", reg.host);
        assert_eq!(
            json_digest(&skopeo(&["inspect", "--tls-verify=false", &direct])),
            want
        );
        let r: skiff_image::ImageRef = format!("{}/{repo}:1", reg.host).parse().unwrap();
        let rs = skiff_image::registry::RegistrySource::new(&r, &Default::default()).unwrap();
        assert_eq!(
            skiff_image::validate::validate_image(&rs).unwrap().layers,
            3
        );
    }
}

#[test]
fn a_streamed_blob_that_fails_verification_is_never_committed() {
    use skiff_image::transport::ImageDestination;
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("reg-upload-bad");
    let root = t.join("root");
    let bad = build_layout(&t.join("bad"), 4 << 20);
    let m = bad.find(Some("multi")).unwrap();
    let manifest: skiff_image::manifest::Manifest =
        serde_json::from_slice(&bad.read_blob(&m.digest).unwrap()).unwrap();
    let big = manifest.layers.iter().max_by_key(|l| l.size).unwrap();
    let p = bad.blob_path(&big.digest);
    let good = std::fs::read(&p).unwrap();
    let r: skiff_image::ImageRef = format!("{}/bad/multi:1", reg.host).parse().unwrap();
    let dest = skiff_image::registry::RegistryDestination::new(&r, &Default::default()).unwrap();
    let src = format!("oci:{}:multi", bad.dir().display());
    let proxy = logging_proxy(&reg);
    let dst = format!("docker://127.0.0.1:{}/bad/multi:1", proxy.port);
    // One byte flipped (caught at EOF, before the last bytes go up), then a truncated blob.
    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 0xff;
    for (content, says) in [
        (flipped, "content has digest"),
        (good[..good.len() / 3].to_vec(), "size"),
    ] {
        std::fs::write(&p, &content).unwrap();
        let err = fails(&root, &["copy", "-q", &src, &dst]);
        assert!(
            err.contains(&format!("verify blob {}", big.digest)) && err.contains(says),
            "{err}"
        );
        assert!(
            !dest.has_blob(big).unwrap(),
            "an unverified blob was committed"
        );
        let log = std::mem::take(&mut *proxy.requests.lock().unwrap());
        let finalised = format!("digest={}", big.digest);
        assert!(
            !log.iter()
                .any(|l| l.starts_with("PUT ") && l.contains(&finalised)),
            "an unverified upload was finalised: {log:?}"
        );
        let patch = log
            .iter()
            .find(|l| l.starts_with("PATCH "))
            .expect("no PATCH");
        let upload = patch[6..].split('?').next().unwrap();
        assert!(
            log.iter()
                .any(|l| l.starts_with("DELETE ") && l.contains(upload)),
            "the upload was not cancelled: {log:?}"
        );
    }
    assert!(
        skiff(&root, &["inspect", &dst]).status.code() != Some(0),
        "a manifest was written"
    );
}

#[test]
fn basic_auth_creds_login_and_logout() {
    let reg = Registry::start(RegistryConfig {
        basic: Some(("tester".into(), "s3cret".into())),
        ..Default::default()
    });
    let t = Tmp::new("reg-auth");
    let root = t.join("root");
    import_busybox(&root, &t, "bb:1");
    let dst = format!("docker://{}/auth/bb:1", reg.host);
    let authfile = t.join("auth.json");
    let af = authfile.to_str().unwrap();
    let err = fails(&root, &["push", "bb:1", &dst, "--authfile", af]);
    assert!(err.contains("401"), "{err}");
    ok(
        &root,
        &[
            "push",
            "bb:1",
            &dst,
            "--creds",
            "tester:s3cret",
            "--authfile",
            af,
        ],
    );
    let err = fails(
        &root,
        &[
            "login",
            &reg.host,
            "-u",
            "tester",
            "-p",
            "wrong",
            "--authfile",
            af,
        ],
    );
    assert!(err.contains("401"), "{err}");
    assert!(!authfile.exists(), "failed login wrote credentials");
    ok(
        &root,
        &[
            "login",
            &reg.host,
            "-u",
            "tester",
            "-p",
            "s3cret",
            "--authfile",
            af,
        ],
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&authfile).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let root2 = t.join("root2");
    ok(
        &root2,
        &["pull", &format!("{}/auth/bb:1", reg.host), "--authfile", af],
    );
    // skopeo reads our auth file.
    skopeo(&["inspect", "--tls-verify=false", "--authfile", af, &dst]);
    // A credential helper named in credHelpers supplies the password.
    let bin_dir = t.join("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    let helper = bin_dir.join("docker-credential-skifftest");
    std::fs::write(&helper, "#!/bin/sh\nread host\necho \"{\\\"ServerURL\\\":\\\"$host\\\",\\\"Username\\\":\\\"tester\\\",\\\"Secret\\\":\\\"s3cret\\\"}\"\n").unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let helper_auth = t.join("helper.json");
    std::fs::write(
        &helper_auth,
        format!(r#"{{"credHelpers":{{"{}":"skifftest"}}}}"#, reg.host),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let root3 = t.join("root3");
    ok_env(
        &root3,
        &[("PATH", path)],
        &[
            "pull",
            &format!("{}/auth/bb:1", reg.host),
            "--authfile",
            helper_auth.to_str().unwrap(),
        ],
    );
    ok(&root, &["logout", &reg.host, "--authfile", af]);
    fails(&root, &["inspect", &dst, "--authfile", af]);
}

fn openssl(args: &[&str], dir: &Path) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn tls_with_private_ca() {
    let t = Tmp::new("reg-tls");
    let d = t.path();
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
        d,
    );
    openssl(
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "srv.key",
            "-out",
            "srv.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
        d,
    );
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "srv.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "srv.crt",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
        d,
    );
    let reg = Registry::start(RegistryConfig {
        tls: Some((d.join("srv.crt"), d.join("srv.key"))),
        ..Default::default()
    });
    let root = t.join("root");
    import_busybox(&root, &t, "bb:1");
    let dst = format!("docker://{}/tls/bb:1", reg.host);
    let err = fails(&root, &["push", "bb:1", &dst]);
    assert!(
        err.to_lowercase().contains("certificate") || err.contains("UnknownIssuer"),
        "{err}"
    );
    std::fs::create_dir_all(t.join("cadir")).unwrap();
    std::fs::copy(d.join("ca.crt"), t.join("cadir/ca.crt")).unwrap();
    ok(
        &root,
        &[
            "push",
            "bb:1",
            &dst,
            "--cert-dir",
            t.join("cadir").to_str().unwrap(),
        ],
    );
    ok(&root, &["inspect", &dst, "--tls-verify=false"]);
    // certs.d/HOST:PORT/*.crt, as containers and docker lay it out.
    let certs_d = t.join("certs.d");
    std::fs::create_dir_all(certs_d.join(&reg.host)).unwrap();
    std::fs::copy(d.join("ca.crt"), certs_d.join(&reg.host).join("ca.crt")).unwrap();
    let opts = skiff_image::registry::RegistryOptions {
        certs_dirs: vec![certs_d],
        ..Default::default()
    };
    let r: skiff_image::ImageRef = format!("{}/tls/bb:1", reg.host).parse().unwrap();
    let src = skiff_image::registry::RegistrySource::new(&r, &opts).unwrap();
    let (bytes, _) = skiff_image::transport::ImageSource::manifest(&src, None).unwrap();
    assert!(!bytes.is_empty());
    skopeo(&[
        "inspect",
        "--cert-dir",
        t.join("cadir").to_str().unwrap(),
        &dst,
    ]);
}

#[test]
fn sync_repositories_and_skip_up_to_date() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("reg-sync");
    let root = t.join("root");
    import_busybox(&root, &t, "bb:1");
    let h = &reg.host;
    ok(&root, &["push", "bb:1", &format!("docker://{h}/src/bb:1")]);
    ok(&root, &["push", "bb:1", &format!("docker://{h}/src/bb:2")]);
    // The two tags (one image) are copied at once through a proxy (another host, so no
    // cross-repository mount): every blob goes up once, the second copy waits for it.
    let proxy = logging_proxy(&reg);
    let out = ok(
        &root,
        &[
            "sync",
            "--src",
            "docker",
            "--dest",
            "docker",
            &format!("{h}/src/bb"),
            &format!("127.0.0.1:{}/mirror", proxy.port),
        ],
    );
    assert!(out.contains("synced 2 images, 0 already"), "{out}");
    let log = proxy.requests.lock().unwrap().clone();
    let commits: Vec<&str> = log
        .iter()
        .filter(|l| l.starts_with("PUT ") && l.contains("/blobs/uploads/"))
        .filter_map(|l| l.split("digest=").nth(1))
        .collect();
    assert!(!commits.is_empty(), "{log:?}");
    let mut unique = commits.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(commits.len(), unique.len(), "a blob went up twice: {log:?}");
    let out = ok(
        &root,
        &[
            "sync",
            "--src",
            "docker",
            "--dest",
            "docker",
            &format!("{h}/src/bb"),
            &format!("{h}/mirror"),
        ],
    );
    assert!(out.contains("synced 0 images, 2 already"), "{out}");
    skopeo(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{h}/mirror/bb:2"),
    ]);
    let yaml = t.join("sync.yml");
    std::fs::write(
        &yaml,
        format!("{h}:\n  tls-verify: false\n  images:\n    src/bb: [\"1\"]\n"),
    )
    .unwrap();
    let out = ok(
        &root,
        &[
            "sync",
            "--src",
            "yaml",
            "--dest",
            "dir",
            yaml.to_str().unwrap(),
            t.join("dirs").to_str().unwrap(),
        ],
    );
    assert!(out.contains("synced 1 images"), "{out}");
    skopeo(&["inspect", &format!("dir:{}", t.join("dirs/bb:1").display())]);
}

#[test]
fn interrupted_pull_leaves_nothing_visible_and_debris_is_removed() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("reg-interrupt");
    let root = t.join("root");
    let src = build_layout(&t.join("src"), 4 << 20);
    ok(
        &root,
        &[
            "copy",
            "-q",
            &format!("oci:{}:multi", src.dir().display()),
            &format!("docker://{}/i/multi:1", reg.host),
        ],
    );
    let m = src.find(Some("multi")).unwrap();
    let manifest: skiff_image::manifest::Manifest =
        serde_json::from_slice(&src.read_blob(&m.digest).unwrap()).unwrap();
    let big = manifest
        .layers
        .iter()
        .max_by_key(|l| l.size)
        .unwrap()
        .digest
        .clone();
    let proxy = FlakyProxy::start(reg.port, "/nothing-fails/", &big.to_string(), 1 << 20, true);
    import_busybox(&root, &t, "bb:1");
    let before = tree(&root.join("oci"));
    let index_before = std::fs::read(root.join("oci/index.json")).unwrap();
    let mut child = std::process::Command::new(bin())
        .arg("--root")
        .arg(&root)
        .args(["pull", "-q", &format!("127.0.0.1:{}/i/multi:1", proxy.port)])
        .spawn()
        .unwrap();
    // Wait until the big blob is streaming into tmp/, then interrupt the pull.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let ingest = root.join("tmp/ingest");
    while !tree(&ingest)
        .iter()
        .any(|p| std::fs::metadata(ingest.join(p)).is_ok_and(|m| m.len() > 0))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "pull never started writing"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        tree(&root.join("oci")),
        before,
        "interrupted pull changed oci/"
    );
    assert_eq!(
        std::fs::read(root.join("oci/index.json")).unwrap(),
        index_before
    );
    assert!(
        !tree(&root.join("tmp")).is_empty(),
        "expected debris of the killed pull"
    );
    ok(&root, &["images"]);
    // The next run removes the dead run's staging; only the resumable prefix of the big
    // blob stays, for the next pull of it (transfer.rs resumes one).
    let left = tree(&root.join("tmp"));
    assert_eq!(
        left,
        ["ingest".to_string(), format!("ingest/sha256-{}", big.hex())],
        "next run left debris"
    );
}

#[test]
fn registries_conf_mirrors_blocks_and_rewrites() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("reg-conf");
    let root = t.join("root");
    let digest = import_busybox(&root, &t, "bb:1");
    ok(
        &root,
        &["push", "bb:1", &format!("docker://{}/team/bb:1", reg.host)],
    );
    let conf = t.join("registries.conf");
    std::fs::write(
        &conf,
        format!(
            "[[registry]]\nlocation = \"nowhere.invalid\"\n[[registry.mirror]]\nlocation = \"{h}\"\n\n\
             [[registry]]\nprefix = \"alias.invalid/x\"\nlocation = \"{h}/team\"\n\n\
             [[registry]]\nlocation = \"blocked.invalid\"\nblocked = true\n",
            h = reg.host
        ),
    )
    .unwrap();
    let env = [("CONTAINERS_REGISTRIES_CONF", conf.display().to_string())];
    // The primary does not resolve: the mirror serves the pull, stored under the asked name.
    ok_env(&root, &env, &["pull", "nowhere.invalid/team/bb:1"]);
    assert_eq!(
        json_digest(&ok(&root, &["inspect", "nowhere.invalid/team/bb:1"])),
        digest
    );
    // Prefix rewrite: alias.invalid/x/bb → HOST/team/bb.
    let out = ok_env(&root, &env, &["inspect", "docker://alias.invalid/x/bb:1"]);
    assert_eq!(json_digest(&out), digest);
    let out = std::process::Command::new(bin())
        .arg("--root")
        .arg(&root)
        .args(["copy", "docker://blocked.invalid/a:1", "oci:/nonexistent"])
        .env("CONTAINERS_REGISTRIES_CONF", &conf)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("blocked by registries.conf"), "{err}");
}
