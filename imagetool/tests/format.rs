//! `copy --format` and `sync --format` (skopeo's `-f oci|v2s2`) against a real
//! docker-registry: an OCI image written as Docker v2s2 and back, with the same config and
//! layer digests, read by skopeo; a Docker manifest list copied with `--all` as an OCI
//! index of OCI manifests; `--preserve-digests` refusing a conversion with nothing written;
//! and a converted sync found up to date by the next run.

mod common;

use common::*;
use skiff_image::digest::Digest;
use skiff_image::manifest::{self, Index, Manifest};
use skiff_image::transport::layout::Layout;
use std::path::Path;

fn raw(root: &Path, reference: &str) -> (String, serde_json::Value) {
    let out = ok(root, &["inspect", "--raw", reference, "--tls-verify=false"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    (out, v)
}

fn blob_digests(m: &Manifest) -> Vec<Digest> {
    std::iter::once(&m.config)
        .chain(&m.layers)
        .map(|d| d.digest.clone())
        .collect()
}

#[test]
fn oci_to_v2s2_and_back_keeps_every_blob_and_skopeo_reads_it() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("format-image");
    let root = t.join("root");
    import_busybox_cmd(&root, t.path(), "bb:1", "sh");
    let h = &reg.host;
    ok(&root, &["push", "bb:1", &format!("docker://{h}/oci/bb:1")]);
    let (oci_raw, oci) = raw(&root, &format!("docker://{h}/oci/bb:1"));
    assert_eq!(oci["mediaType"], manifest::OCI_MANIFEST);

    let copy = |args: &[&str]| {
        let mut v = vec![
            "copy",
            "-q",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
        ];
        v.extend_from_slice(args);
        ok(&root, &v)
    };
    copy(&[
        "--format",
        "v2s2",
        &format!("docker://{h}/oci/bb:1"),
        &format!("docker://{h}/docker/bb:1"),
    ]);
    let (docker_raw, docker) = raw(&root, &format!("docker://{h}/docker/bb:1"));
    assert_eq!(docker["mediaType"], manifest::DOCKER_MANIFEST);
    assert_eq!(docker["config"]["mediaType"], manifest::DOCKER_CONFIG);
    assert_eq!(
        docker["layers"][0]["mediaType"],
        manifest::DOCKER_LAYER_GZIP
    );
    let oci_m: Manifest = serde_json::from_str(&oci_raw).unwrap();
    let docker_m: Manifest = serde_json::from_str(&docker_raw).unwrap();
    assert_eq!(blob_digests(&oci_m), blob_digests(&docker_m));
    // skopeo reads the converted image and finds it a Docker image of the same layers.
    let inspected = skopeo(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{h}/docker/bb:1"),
    ]);
    let v: serde_json::Value = serde_json::from_str(&inspected).unwrap();
    assert_eq!(v["Digest"], Digest::of(docker_raw.as_bytes()).to_string());
    assert_eq!(
        v["Layers"][0],
        oci_m.layers[0].digest.to_string(),
        "{inspected}"
    );
    skopeo(&[
        "--insecure-policy",
        "copy",
        "-q",
        "--src-tls-verify=false",
        &format!("docker://{h}/docker/bb:1"),
        &format!("oci:{}:x", t.join("by-skopeo").display()),
    ]);

    // And back: the same OCI manifest, byte for byte apart from field order.
    copy(&[
        "-f",
        "oci",
        &format!("docker://{h}/docker/bb:1"),
        &format!("oci:{}:back", t.join("back").display()),
    ]);
    let back = Layout::open(&t.join("back")).unwrap();
    let d = back.find(Some("back")).unwrap();
    assert_eq!(d.media_type, manifest::OCI_MANIFEST);
    let back_m: Manifest = serde_json::from_slice(&back.read_blob(&d.digest).unwrap()).unwrap();
    assert_eq!(blob_digests(&back_m), blob_digests(&oci_m));
    assert_eq!(back_m.config.media_type, manifest::OCI_CONFIG);

    // Already in the format asked for: the bytes, and so the digest, are kept.
    copy(&[
        "--format",
        "oci",
        "--preserve-digests",
        &format!("docker://{h}/oci/bb:1"),
        &format!("docker://{h}/same/bb:1"),
    ]);
    assert_eq!(raw(&root, &format!("docker://{h}/same/bb:1")).0, oci_raw);

    // A conversion --preserve-digests forbids: one line, and no image at the destination.
    let err = fails(
        &root,
        &[
            "copy",
            "-q",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "--format",
            "v2s2",
            "--preserve-digests",
            &format!("docker://{h}/oci/bb:1"),
            &format!("docker://{h}/refused/bb:1"),
        ],
    );
    assert!(err.contains("--preserve-digests"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let out = skiff(
        &root,
        &[
            "inspect",
            "--raw",
            &format!("docker://{h}/refused/bb:1"),
            "--tls-verify=false",
        ],
    );
    assert!(!out.status.success());

    // Bad formats are usage errors (exit 2), on one line like every other error.
    for (flags, code, want) in [
        (vec!["--format", "v2s1"], 2, "deprecated"),
        (vec!["--format", "docker"], 2, "expected oci or v2s2"),
        (
            vec!["--format", "v2s2", "--dest-compress-format", "zstd"],
            1,
            "exclude each other",
        ),
    ] {
        let mut args = vec!["copy", "-q"];
        args.extend(flags);
        args.push("oci:/nonexistent:1");
        args.push("oci:/nonexistent-too:1");
        let out = skiff(&root, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{err}");
        assert!(
            err.starts_with("skiff-image: ") && err.contains(want),
            "{err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
}

#[test]
fn a_docker_list_becomes_an_oci_index_and_sync_finds_it_up_to_date() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("format-list");
    let root = t.join("root");
    let src = Layout::create(&t.join("src")).unwrap();
    let (list, children) = write_docker_list(&src, "list");
    let h = &reg.host;
    ok(
        &root,
        &[
            "copy",
            "-q",
            "--all",
            "--format",
            "oci",
            &format!("oci:{}:list", src.dir().display()),
            &format!("docker://{h}/conv/app:1"),
        ],
    );
    let (index_raw, _) = raw(&root, &format!("docker://{h}/conv/app:1"));
    let index: Index = serde_json::from_str(&index_raw).unwrap();
    assert_eq!(index.media_type.as_deref(), Some(manifest::OCI_INDEX));
    assert_ne!(Digest::of(index_raw.as_bytes()), list.digest);
    assert_eq!(index.manifests.len(), children.len());
    for (entry, old) in index.manifests.iter().zip(&children) {
        assert_eq!(entry.media_type, manifest::OCI_MANIFEST);
        assert_eq!(entry.platform, old.platform);
        let (child_raw, _) = raw(&root, &format!("docker://{h}/conv/app@{}", entry.digest));
        assert_eq!(Digest::of(child_raw.as_bytes()), entry.digest);
        let child: Manifest = serde_json::from_str(&child_raw).unwrap();
        let old_m: Manifest = serde_json::from_slice(&src.read_blob(&old.digest).unwrap()).unwrap();
        assert_eq!(blob_digests(&child), blob_digests(&old_m));
        assert!(child
            .layers
            .iter()
            .all(|l| l.media_type == manifest::OCI_LAYER_GZIP));
    }
    // skopeo takes the whole converted index.
    skopeo(&[
        "--insecure-policy",
        "copy",
        "-q",
        "--all",
        "--src-tls-verify=false",
        &format!("docker://{h}/conv/app:1"),
        &format!("oci:{}:x", t.join("by-skopeo").display()),
    ]);

    // sync with --format: the second run compares the converted digest and skips.
    ok(
        &root,
        &[
            "copy",
            "-q",
            "--all",
            &format!("oci:{}:list", src.dir().display()),
            &format!("docker://{h}/orig/app:1"),
        ],
    );
    let sync = [
        "sync",
        "--src",
        "docker",
        "--dest",
        "docker",
        "--all",
        "--format",
        "oci",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--authfile",
        "/nonexistent/auth.json",
    ];
    let mut args: Vec<String> = sync.iter().map(|s| s.to_string()).collect();
    args.push(format!("{h}/orig/app"));
    args.push(format!("{h}/mirror"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let first = ok(&root, &args);
    assert!(first.contains("synced 1 images, 0 already"), "{first}");
    let second = ok(&root, &args);
    assert!(second.contains("synced 0 images, 1 already"), "{second}");
    let (mirrored, _) = raw(&root, &format!("docker://{h}/mirror/app:1"));
    assert_eq!(mirrored, index_raw);
}
