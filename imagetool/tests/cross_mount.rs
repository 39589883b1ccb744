//! Cross-repository blob mounts (distribution `api.md`, "Cross Repository Blob Mount")
//! against a real docker-registry: when the repository named in `from=` lacks the blob the
//! registry answers 202 and opens a plain upload instead; the copy must give that upload
//! up and upload the blob itself, ending with a complete image.

mod common;

use common::*;

#[test]
fn a_mount_answered_202_falls_back_to_an_upload() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("mount202");
    let root = t.join("root");
    let p = push_multi(&root, &t.join("src"), &reg.host, "a/multi", 64 << 10);
    // The copy asks to mount from a/multi; the proxy makes that a repository without the
    // blobs, so the registry really answers 202 with an upload Location.
    let proxy = FlakyProxy::rules(
        reg.port,
        vec![Rule::always(
            "POST",
            "mount=",
            Fault::Rewrite("from=a/multi".into(), "from=nothere/empty".into()),
        )],
    );
    let h = format!("127.0.0.1:{}", proxy.port);
    let out = ok(
        &root,
        &[
            "copy",
            &format!("docker://{h}/a/multi:1"),
            &format!("docker://{h}/b/multi:1"),
        ],
    );
    assert!(
        out.contains("copied 4 blobs, skipped 0, mounted 0"),
        "{out}"
    );
    let mounts = proxy.seen("mount=");
    assert_eq!(mounts.len(), 4, "one mount attempt per blob: {mounts:?}");
    let puts = proxy
        .seen("/v2/b/multi/blobs/uploads/")
        .into_iter()
        .filter(|l| l.starts_with("PUT") && l.contains("digest="))
        .count();
    assert_eq!(puts, 4, "every blob uploaded: {:?}", proxy.seen(""));
    let direct = format!("docker://{}/b/multi:1", reg.host);
    assert_eq!(
        json_digest(&skopeo(&["inspect", "--tls-verify=false", &direct])),
        p.manifest.to_string()
    );
    let r: skiff_image::ImageRef = format!("{}/b/multi:1", reg.host).parse().unwrap();
    let rs = skiff_image::registry::RegistrySource::new(&r, &Default::default()).unwrap();
    assert_eq!(
        skiff_image::validate::validate_image(&rs).unwrap().layers,
        3
    );
    // The abandoned uploads were cancelled, as containers/image does.
    let deletes = proxy
        .seen("/v2/b/multi/blobs/uploads/")
        .into_iter()
        .filter(|l| l.starts_with("DELETE"))
        .count();
    assert_eq!(deletes, 4, "202 uploads left open: {:?}", proxy.seen(""));
}
