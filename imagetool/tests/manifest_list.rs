//! A Docker v2 manifest list (Docker media types for the list, the manifests, the configs
//! and the layers), copied with `--all` into a real docker-registry and out again with
//! its bytes kept, served with the list's media type; and `inspect --raw` / `--config`
//! of the remote image and of each child printing what skopeo prints.

mod common;

use common::*;
use skiff_image::digest::Digest;
use skiff_image::manifest;
use skiff_image::transport::layout::Layout;
use skiff_image::transport::ImageSource;

#[test]
fn docker_manifest_list_through_a_registry_and_inspect_like_skopeo() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("dockerlist");
    let root = t.join("root");
    let src = Layout::create(&t.join("src")).unwrap();
    let (list, children) = write_docker_list(&src, "list");
    let h = &reg.host;
    let remote = format!("docker://{h}/dl/app:1");
    ok(
        &root,
        &[
            "copy",
            "-q",
            "--all",
            &format!("oci:{}:list", src.dir().display()),
            &remote,
        ],
    );

    // The registry holds the list itself, as a Docker list.
    let r: skiff_image::ImageRef = format!("{h}/dl/app:1").parse().unwrap();
    let rs = skiff_image::registry::RegistrySource::new(&r, &Default::default()).unwrap();
    let (bytes, media_type) = rs.manifest(None).unwrap();
    assert_eq!(media_type, manifest::DOCKER_LIST);
    assert_eq!(Digest::of(&bytes), list.digest);
    for c in &children {
        let (b, mt) = rs.manifest(Some(&c.digest)).unwrap();
        assert_eq!(
            (Digest::of(&b), mt.as_str()),
            (c.digest.clone(), manifest::DOCKER_MANIFEST)
        );
    }

    // inspect --raw, of the list and of each child: skopeo's bytes exactly.
    let sk = |args: &[&str]| {
        let mut a = args.to_vec();
        a.insert(1, "--tls-verify=false");
        skopeo(&a)
    };
    assert_eq!(
        ok(&root, &["inspect", "--raw", &remote]),
        sk(&["inspect", "--raw", &remote])
    );
    for c in &children {
        let by_digest = format!("docker://{h}/dl/app@{}", c.digest);
        assert_eq!(
            ok(&root, &["inspect", "--raw", &by_digest]),
            sk(&["inspect", "--raw", &by_digest])
        );
        // --config --raw: the config blob's bytes, as skopeo prints them.
        assert_eq!(
            ok(&root, &["inspect", "--config", "--raw", &by_digest]),
            sk(&["inspect", "--config", "--raw", &by_digest])
        );
        // --config: the same document (skopeo prints its OCI form, indented its own way).
        let ours: serde_json::Value =
            serde_json::from_str(&ok(&root, &["inspect", "--config", &by_digest])).unwrap();
        let theirs: serde_json::Value =
            serde_json::from_str(&sk(&["inspect", "--config", &by_digest])).unwrap();
        assert_eq!(ours, theirs, "inspect --config of {}", c.digest);
    }
    // Of the list, --config means the host platform's image, as in skopeo.
    let ours: serde_json::Value =
        serde_json::from_str(&ok(&root, &["inspect", "--config", &remote])).unwrap();
    let theirs: serde_json::Value =
        serde_json::from_str(&sk(&["inspect", "--config", &remote])).unwrap();
    assert_eq!(ours, theirs);
    assert_eq!(
        json_digest(&ok(&root, &["inspect", &remote])),
        json_digest(&sk(&["inspect", &remote]))
    );

    // Out again with --all, to another repository (mounted) and to an oci: layout.
    let other = format!("docker://{h}/dl/mirror:1");
    ok(&root, &["copy", "-q", "--all", &remote, &other]);
    assert_eq!(
        Digest::of(sk(&["inspect", "--raw", &other]).as_bytes()),
        list.digest
    );
    let oci = t.join("back");
    ok(
        &root,
        &[
            "copy",
            "-q",
            "--all",
            &remote,
            &format!("oci:{}:l", oci.display()),
        ],
    );
    let back = Layout::open(&oci).unwrap().find(Some("l")).unwrap();
    assert_eq!(
        (back.digest, back.media_type.as_str()),
        (list.digest.clone(), manifest::DOCKER_LIST)
    );
    // (skopeo cannot read this layout back: containers/image skips index.json entries
    // whose media type is not an OCI one, and converts to OCI when it writes layouts.)
    assert_eq!(
        Digest::of(
            ok(
                &root,
                &["inspect", "--raw", &format!("oci:{}:l", oci.display())]
            )
            .as_bytes()
        ),
        list.digest
    );
}
