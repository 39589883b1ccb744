//! Bad input that must give one clear line, a non-zero exit and an untouched store:
//! manifests over the 4 MiB limit (from a registry, with and without Content-Length, and
//! from `oci:`, `oci-archive:` and `dir:`), malformed manifests (bad JSON, a media type
//! that is not a manifest's or disagrees with the body, no config) from a registry and
//! from `oci:`, wrong credentials and a TLS failure.

mod common;

use common::*;
use skiff_image::digest::Digest;
use skiff_image::manifest::{self, Descriptor};
use skiff_image::transport::layout::Layout;
use std::path::Path;

const LIMIT: usize = 4 << 20;

/// A valid manifest of `p` padded with trailing spaces to `size` bytes (still valid JSON,
/// so only the size can refuse it).
fn padded_manifest(p: &Pushed, size: usize) -> Vec<u8> {
    let mut bytes = p.layout.read_blob(&p.manifest).unwrap();
    bytes.resize(size, b' ');
    bytes
}

fn respond(content_type: &str, body: Vec<u8>, length: bool) -> Fault {
    Fault::Respond {
        content_type: content_type.into(),
        body,
        length,
    }
}

/// Pull `name` and require one line containing every one of `want`, the store untouched.
fn pull_fails(root: &Path, name: &str, want: &[&str]) {
    let before = store_snapshot(root);
    let err = fails(root, &["pull", name]);
    for w in want {
        assert!(err.contains(w), "{w:?} not in: {err}");
    }
    assert_eq!(
        store_snapshot(root),
        before,
        "failed pull of {name} changed the store"
    );
}

#[test]
fn manifests_over_the_limit_from_a_registry_are_refused_by_size() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("bm-large");
    let root = t.join("root");
    let p = push_multi(&root, &t.join("src"), &reg.host, "f/multi", 1024);
    import_busybox_cmd(&root, t.path(), "bb:1", "sh");
    // 5 MiB with a Content-Length, refused before reading; 17 MiB without one (past the
    // old 16 MiB cut), refused by counting.
    for (size, length) in [(5 << 20, true), (17 << 20, false)] {
        let proxy = FlakyProxy::rules(
            reg.port,
            vec![Rule::always(
                "GET",
                "/manifests/1",
                respond(manifest::OCI_MANIFEST, padded_manifest(&p, size), length),
            )],
        );
        let name = format!("127.0.0.1:{}/f/multi:1", proxy.port);
        pull_fails(
            &root,
            &name,
            &[&format!(
                "manifest {name} too large ({size} bytes, limit {LIMIT})"
            )],
        );
    }
    // Just under the limit is fine.
    let proxy = FlakyProxy::rules(
        reg.port,
        vec![Rule::always(
            "GET",
            "/manifests/1",
            respond(manifest::OCI_MANIFEST, padded_manifest(&p, LIMIT), true),
        )],
    );
    ok(
        &root,
        &["pull", "-q", &format!("127.0.0.1:{}/f/multi:1", proxy.port)],
    );
}

/// A layout whose image `big` has a manifest of `size` bytes (the `multi` manifest padded).
fn layout_with_big_manifest(dir: &Path, size: usize) -> Layout {
    let layout = build_layout(dir, 1024);
    let top = layout.find(Some("multi")).unwrap();
    let mut bytes = layout.read_blob(&top.digest).unwrap();
    bytes.resize(size, b' ');
    let d = Descriptor::of_bytes(manifest::OCI_MANIFEST, &bytes);
    std::fs::write(layout.blob_path(&d.digest), &bytes).unwrap();
    name_in_index(&layout, d, "big");
    layout
}

#[test]
fn manifests_over_the_limit_in_oci_archives_and_dirs_are_refused_by_size() {
    let t = Tmp::new("bm-large-local");
    let root = t.join("root");
    import_busybox_cmd(&root, t.path(), "bb:1", "sh");
    let before = store_snapshot(&root);
    let size = 5 << 20;
    let layout = layout_with_big_manifest(&t.join("src"), size);
    let d = layout.find(Some("big")).unwrap().digest;
    let err = fails(
        &root,
        &[
            "copy",
            &format!("oci:{}:big", layout.dir().display()),
            "skiff:big:1",
        ],
    );
    let want = format!(
        "manifest {d} in {:?} too large ({size} bytes, limit {LIMIT})",
        layout.dir()
    );
    assert!(err.contains(&want), "{want} not in: {err}");
    // The same layout as an oci-archive.
    let archive = t.join("big.tar");
    let tar = std::process::Command::new("tar")
        .arg("-cf")
        .arg(&archive)
        .arg("-C")
        .arg(layout.dir())
        .arg(".")
        .status()
        .unwrap();
    assert!(tar.success());
    let err = fails(
        &root,
        &[
            "copy",
            &format!("oci-archive:{}:big", archive.display()),
            "skiff:big:1",
        ],
    );
    assert!(
        err.contains(&format!("too large ({size} bytes, limit {LIMIT})")),
        "{err}"
    );
    // dir: with a padded manifest.json.
    let dir = t.join("dir");
    ok(
        &root,
        &[
            "copy",
            "-q",
            &format!("oci:{}:multi", layout.dir().display()),
            &format!("dir:{}", dir.display()),
        ],
    );
    let mut m = std::fs::read(dir.join("manifest.json")).unwrap();
    m.resize(size, b' ');
    std::fs::write(dir.join("manifest.json"), m).unwrap();
    let err = fails(
        &root,
        &["copy", &format!("dir:{}", dir.display()), "skiff:big:1"],
    );
    assert!(
        err.contains(&format!("too large ({size} bytes, limit {LIMIT})")),
        "{err}"
    );
    assert!(err.contains("manifest.json"), "{err}");
    assert_eq!(store_snapshot(&root), before);
}

/// Malformed manifests, each with the words its error must contain.
fn malformed(p: &Pushed) -> Vec<(&'static str, String, Vec<u8>, &'static str)> {
    let good: serde_json::Value =
        serde_json::from_slice(&p.layout.read_blob(&p.manifest).unwrap()).unwrap();
    let mut no_config = good.clone();
    no_config.as_object_mut().unwrap().remove("config");
    let mut says_index = good.clone();
    says_index["mediaType"] = manifest::OCI_INDEX.into();
    vec![
        (
            "bad JSON",
            manifest::OCI_MANIFEST.to_string(),
            br#"{"schemaVersion": 2, "config": {"#.to_vec(),
            "EOF while parsing",
        ),
        (
            "an HTML page",
            "text/html".to_string(),
            b"<html><body>captive portal</body></html>".to_vec(),
            "unsupported media type \"text/html\"",
        ),
        (
            "a body that says it is an index",
            manifest::OCI_MANIFEST.to_string(),
            serde_json::to_vec(&says_index).unwrap(),
            "body says mediaType \"application/vnd.oci.image.index.v1+json\"",
        ),
        (
            "no config",
            manifest::OCI_MANIFEST.to_string(),
            serde_json::to_vec(&no_config).unwrap(),
            "missing field `config`",
        ),
    ]
}

#[test]
fn malformed_manifests_from_a_registry_give_one_line_naming_the_reference() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("bm-malformed");
    let root = t.join("root");
    let p = push_multi(&root, &t.join("src"), &reg.host, "f/multi", 1024);
    import_busybox_cmd(&root, t.path(), "bb:1", "sh");
    for (what, content_type, body, want) in malformed(&p) {
        let proxy = FlakyProxy::rules(
            reg.port,
            vec![Rule::always(
                "GET",
                "/manifests/1",
                respond(&content_type, body, true),
            )],
        );
        let name = format!("127.0.0.1:{}/f/multi:1", proxy.port);
        eprintln!("registry serving {what}");
        pull_fails(&root, &name, &[&format!("read manifest {name}: "), want]);
        let err = fails(&root, &["inspect", &format!("docker://{name}")]);
        assert!(err.contains(want), "{what}: {err}");
    }
}

#[test]
fn malformed_manifests_in_an_oci_layout_give_one_line_naming_the_manifest() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("bm-malformed-oci");
    let root = t.join("root");
    let p = push_multi(&root, &t.join("src"), &reg.host, "f/multi", 1024);
    import_busybox_cmd(&root, t.path(), "bb:1", "sh");
    let before = store_snapshot(&root);
    for (i, (what, media_type, body, want)) in malformed(&p).into_iter().enumerate() {
        let layout = Layout::create(&t.join(&format!("bad{i}"))).unwrap();
        let d = Descriptor::new(&media_type, Digest::of(&body), body.len() as u64);
        std::fs::write(layout.blob_path(&d.digest), &body).unwrap();
        name_in_index(&layout, d.clone(), "bad");
        let src = format!("oci:{}:bad", layout.dir().display());
        let err = fails(&root, &["copy", &src, "skiff:bad:1"]);
        let named = format!("read manifest {} in {:?}: ", d.digest, layout.dir());
        assert!(err.contains(&named) && err.contains(want), "{what}: {err}");
        assert_eq!(store_snapshot(&root), before, "{what}");
        let err = fails(&root, &["inspect", &src]);
        assert!(err.contains(want), "{what}: {err}");
    }
}

#[test]
fn wrong_credentials_and_tls_failures_leave_the_store_untouched() {
    let t = Tmp::new("bm-auth-tls");
    let root = t.join("root");
    let authfile = t.join("auth.json");
    let af = authfile.to_str().unwrap();
    import_busybox_cmd(&root, t.path(), "bb:1", "sh");
    let reg = Registry::start(RegistryConfig {
        basic: Some(("tester".into(), "s3cret".into())),
        ..Default::default()
    });
    ok(
        &root,
        &[
            "push",
            "bb:1",
            &format!("docker://{}/a/bb:1", reg.host),
            "--creds",
            "tester:s3cret",
            "--authfile",
            af,
        ],
    );
    let before = store_snapshot(&root);
    let name = format!("{}/a/bb:1", reg.host);
    let err = fails(
        &root,
        &["pull", &name, "--creds", "tester:wrong", "--authfile", af],
    );
    assert!(err.contains("401"), "{err}");
    assert_eq!(store_snapshot(&root), before, "pull with wrong credentials");
    let dst = format!("oci:{}:x", t.join("out").display());
    let err = fails(
        &root,
        &[
            "copy",
            "--src-creds",
            "tester:wrong",
            "--authfile",
            af,
            &format!("docker://{name}"),
            &dst,
        ],
    );
    assert!(err.contains("401"), "{err}");
    assert!(!t.join("out/index.json").exists() || tree(&t.join("out/blobs/sha256")).is_empty());

    let pki = t.join("pki");
    test_pki(&pki);
    let tls = Registry::start(RegistryConfig {
        tls: Some((pki.join("srv.crt"), pki.join("srv.key"))),
        ..Default::default()
    });
    ok(
        &root,
        &[
            "push",
            "bb:1",
            &format!("docker://{}/a/bb:1", tls.host),
            "--tls-verify=false",
        ],
    );
    let name = format!("{}/a/bb:1", tls.host);
    let err = fails(&root, &["pull", &name]);
    assert!(
        err.to_lowercase().contains("certificate") || err.contains("UnknownIssuer"),
        "{err}"
    );
    assert_eq!(
        store_snapshot(&root),
        before,
        "pull with an untrusted certificate"
    );
}
