//! `copy --all --platform A,B`: a subset of an index. skopeo 1.9.3 has no such selection
//! (`--multi-arch system|all|index-only`, `--override-arch` for one), so the destination
//! gets what a careful operator expects: a new index naming only the chosen platforms
//! (its digest differs from the source's), each child byte for byte, and nothing of the
//! others; when every entry is chosen, the original index and digest. A list without
//! `--all`, or a platform the index lacks, is refused.

mod common;

use common::*;
use skiff_image::digest::Digest;
use skiff_image::manifest::{self, Descriptor, Index};
use skiff_image::transport::layout::Layout;

/// An OCI layout whose `three` is an index of linux/amd64, linux/arm64 and linux/arm/v7.
fn three_platforms(dir: &std::path::Path) -> (Layout, Vec<Descriptor>, Digest) {
    let layout = Layout::create(dir).unwrap();
    let mut children = Vec::new();
    for (arch, variant) in [("amd64", None), ("arm64", None), ("arm", Some("v7"))] {
        let (l, d) = layer(&[("etc/arch", arch.as_bytes())]);
        let mut desc = write_image(&layout, arch, &[l], &[d]);
        desc.platform.as_mut().unwrap().variant = variant.map(str::to_string);
        children.push(desc);
    }
    let idx = Index {
        manifests: children.clone(),
        ..Index::empty()
    };
    let bytes = serde_json::to_vec(&idx).unwrap();
    std::fs::write(layout.blob_path(&Digest::of(&bytes)), &bytes).unwrap();
    let top = Descriptor::of_bytes(manifest::OCI_INDEX, &bytes);
    name_in_index(&layout, top.clone(), "three");
    (layout, children, top.digest)
}

fn raw_index(location: &str) -> (Digest, Index) {
    let raw = skopeo(&["inspect", "--raw", "--tls-verify=false", location]);
    (
        Digest::of(raw.as_bytes()),
        serde_json::from_str(&raw).unwrap(),
    )
}

#[test]
fn all_with_a_platform_list_copies_an_index_of_those_platforms() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("platforms");
    let root = t.join("root");
    let (src, children, top) = three_platforms(&t.join("src"));
    let from = format!("oci:{}:three", src.dir().display());
    let h = &reg.host;
    let repo = format!("docker://{h}/p/three");

    let out = ok(
        &root,
        &[
            "copy",
            "--all",
            "--platform",
            "linux/amd64,linux/arm/v7",
            &from,
            &format!("{repo}:2"),
        ],
    );
    let (digest, idx) = raw_index(&format!("{repo}:2"));
    assert_ne!(digest, top, "a subset is a new index");
    assert!(out.contains(&digest.to_string()), "{out}");
    assert_eq!(
        idx.manifests
            .iter()
            .map(|d| d.digest.clone())
            .collect::<Vec<_>>(),
        [children[0].digest.clone(), children[2].digest.clone()],
        "the chosen entries, in the source's order"
    );
    assert_eq!(idx.manifests[1].platform, children[2].platform);
    for c in [&children[0], &children[2]] {
        let raw = skopeo(&[
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("{repo}@{}", c.digest),
        ]);
        assert_eq!(Digest::of(raw.as_bytes()), c.digest);
    }
    let missing = std::process::Command::new("skopeo")
        .args([
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("{repo}@{}", children[1].digest),
        ])
        .output()
        .unwrap();
    assert!(
        !missing.status.success(),
        "the arm64 manifest was copied too"
    );

    // Repeated flags mean the same; into an oci: layout as well.
    let oci = t.join("oci");
    ok(
        &root,
        &[
            "copy",
            "-q",
            "--all",
            "--platform",
            "linux/amd64",
            "--platform",
            "linux/arm/v7",
            &format!("{repo}:2"),
            &format!("oci:{}:two", oci.display()),
        ],
    );
    let back = Layout::open(&oci).unwrap().find(Some("two")).unwrap();
    assert_eq!(back.digest, digest, "a copy of the subset keeps its bytes");
    let arm64_blob = Layout::open(&oci).unwrap().blob_path(&children[1].digest);
    assert!(!arm64_blob.exists());

    // Every platform chosen: the source's index, byte for byte.
    ok(
        &root,
        &[
            "copy",
            "-q",
            "--all",
            "--platform",
            "linux/amd64,linux/arm64,linux/arm",
            &from,
            &format!("{repo}:3"),
        ],
    );
    assert_eq!(raw_index(&format!("{repo}:3")).0, top);

    // Refused: a platform the index lacks, a list without --all.
    let err = fails(
        &root,
        &[
            "copy",
            "--all",
            "--platform",
            "linux/amd64,linux/s390x",
            &from,
            &format!("{repo}:4"),
        ],
    );
    assert!(err.contains("no entry for platform linux/s390x"), "{err}");
    let err = fails(
        &root,
        &[
            "copy",
            "--platform",
            "linux/amd64,linux/arm64",
            &from,
            &format!("{repo}:5"),
        ],
    );
    assert!(err.contains("need --all"), "{err}");
    // An empty list item is a flag error (clap's usage message, exit 2).
    let out = skiff(
        &root,
        &[
            "copy",
            "--all",
            "--platform",
            "linux/amd64,",
            &from,
            &format!("{repo}:6"),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("parse platform \"\""));
    // One platform without --all is still the image of that platform.
    ok(
        &root,
        &[
            "copy",
            "-q",
            "--platform",
            "linux/arm/v7",
            &from,
            &format!("{repo}:7"),
        ],
    );
    let raw = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("{repo}:7"),
    ]);
    assert_eq!(Digest::of(raw.as_bytes()), children[2].digest);
}
