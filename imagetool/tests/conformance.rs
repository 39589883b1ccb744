//! One generated image (three layers, plus a two-platform index) copied to every local
//! transport and validated from each with `validate_image`; a config whose diff IDs do not
//! match the layers is rejected.

mod common;

use common::*;
use skiff_image::transport::{open_source, Location, OpenOptions};
use skiff_image::validate::{validate_image, Validation};

#[test]
fn every_transport_serves_a_valid_image() {
    let t = Tmp::new("conformance");
    let root = t.join("root");
    let src = build_layout(&t.join("src"), 128 * 1024);
    let opts = OpenOptions {
        store_root: root.clone(),
        ..Default::default()
    };
    let targets = [
        format!("oci:{}:m", t.join("oci").display()),
        format!("dir:{}", t.join("dir").display()),
        format!("oci-archive:{}:m", t.join("oa.tar").display()),
        format!(
            "docker-archive:{}:example.com/m:1",
            t.join("da.tar").display()
        ),
        "skiff:example.com/m:1".to_string(),
    ];
    for to in &targets {
        ok(
            &root,
            &[
                "copy",
                "-q",
                &format!("oci:{}:multi", src.dir().display()),
                to,
            ],
        );
        let s = open_source(&Location::parse(to).unwrap(), &opts).unwrap();
        assert_eq!(
            validate_image(s.as_ref()).unwrap(),
            Validation {
                images: 1,
                layers: 3
            },
            "{to}"
        );
    }
    // A legacy docker-archive written by skopeo (synthesised v2s2 manifest).
    let legacy = format!("docker-archive:{}", t.join("legacy.tar").display());
    skopeo(&[
        "copy",
        "-q",
        &format!("oci:{}:multi", src.dir().display()),
        &legacy,
    ]);
    let s = open_source(&Location::parse(&legacy).unwrap(), &opts).unwrap();
    assert_eq!(validate_image(s.as_ref()).unwrap().images, 1);
    // An index: both platforms validated.
    let ma = format!("oci:{}:multiarch", src.dir().display());
    let s = open_source(&Location::parse(&ma).unwrap(), &opts).unwrap();
    assert_eq!(
        validate_image(s.as_ref()).unwrap(),
        Validation {
            images: 2,
            layers: 3
        }
    );
}

#[test]
fn wrong_diff_ids_are_rejected() {
    let t = Tmp::new("conformance-bad");
    let layout = skiff_image::transport::layout::Layout::create(&t.join("l")).unwrap();
    let (l1, _) = layer(&[("a", b"a")]);
    let (_, wrong) = layer(&[("b", b"b")]);
    let d = write_image(&layout, "amd64", &[l1], std::slice::from_ref(&wrong));
    name_in_index(&layout, d, "bad");
    let s = skiff_image::transport::oci::OciSource::open(layout.dir(), Some("bad")).unwrap();
    let err = format!("{:#}", validate_image(&s).unwrap_err());
    assert!(err.contains(&format!("config says {wrong}")), "{err}");
    // Recompression recomputes the diff ID and refuses the same image, writing nothing.
    let root = t.join("root");
    let out = t.join("out");
    let src = format!("oci:{}:bad", layout.dir().display());
    let dst = format!("oci:{}:z", out.display());
    let err = fails(
        &root,
        &["copy", "--dest-compress-format", "zstd", &src, &dst],
    );
    assert!(err.contains(&format!("config says {wrong}")), "{err}");
    let err = fails(
        &root,
        &[
            "copy",
            "--preserve-digests",
            "--dest-compress-format",
            "zstd",
            &src,
            &dst,
        ],
    );
    assert!(err.contains("exclude each other"), "{err}");
    let index = skiff_image::transport::layout::Layout::open(&out)
        .unwrap()
        .read_index()
        .unwrap();
    assert!(index.manifests.is_empty());
    assert!(
        tree(&out.join("blobs/sha256")).is_empty(),
        "{:?}",
        tree(&out)
    );
}
