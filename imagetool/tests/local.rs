//! Local transports and the store, driven through the built binary, with skopeo and umoci
//! reading what skiff-image writes and the other way round.

mod common;

use common::*;
use skiff_image::digest::Digest;

#[test]
fn import_makes_a_store_image_skopeo_and_umoci_read() {
    let t = Tmp::new("import");
    let root = t.join("root");
    let tar = busybox_rootfs(t.path());
    let digest = ok(
        &root,
        &[
            "import",
            tar.to_str().unwrap(),
            "bb:1",
            "--change",
            r#"CMD ["sh"]"#,
            "--change",
            "ENV PATH=/bin",
        ],
    );
    let digest = digest.trim();
    let index = std::fs::read_to_string(root.join("oci/index.json")).unwrap();
    assert!(
        index.contains(r#""org.opencontainers.image.ref.name":"docker.io/library/bb:1""#),
        "{index}"
    );
    let layout = format!("oci:{}:docker.io/library/bb:1", root.join("oci").display());
    assert_eq!(json_digest(&skopeo(&["inspect", &layout])), digest);
    let config = skopeo(&["inspect", "--config", &layout]);
    assert!(
        config.contains(r#""sh""#) && config.contains("PATH=/bin"),
        "{config}"
    );
    let umoci = std::process::Command::new("umoci")
        .args(["ls", "--layout"])
        .arg(root.join("oci"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&umoci.stdout).contains("docker.io/library/bb:1"));
    let hist: serde_json::Value =
        serde_json::from_str(&ok(&root, &["history", "--format", "json", "bb:1"])).unwrap();
    assert_eq!(hist[0]["created_by"], "skiff-image import");
    assert_eq!(hist.as_array().unwrap().len(), 1);
    // The library view used by unpack.
    let r = skiff_image::resolve_image(&root, "bb:1").unwrap();
    assert_eq!(r.manifest_digest.to_string(), digest);
    assert_eq!(r.manifest.layers.len(), 1);
    assert!(r.blob_path(&r.manifest.layers[0].digest).is_file());
    assert!(
        std::fs::read_dir(root.join("tmp"))
            .unwrap()
            .next()
            .is_none(),
        "tmp left debris"
    );
}

#[test]
fn oci_dir_and_archives_round_trip_with_equal_digests() {
    let t = Tmp::new("roundtrip");
    let root = t.join("root");
    let src = build_layout(&t.join("src"), 64 * 1024);
    let src_multi = format!("oci:{}:multi", src.dir().display());
    let want = json_digest(&skopeo(&["inspect", &src_multi]));
    let hops = [
        format!("oci:{}:m", t.join("o1").display()),
        format!("dir:{}", t.join("d1").display()),
        format!("oci-archive:{}:m", t.join("a.tar").display()),
        format!(
            "docker-archive:{}:example.com/m:1",
            t.join("da.tar").display()
        ),
        "skiff:example.com/m:1".to_string(),
    ];
    let mut from = src_multi.clone();
    for to in &hops {
        ok(&root, &["copy", "-q", &from, to]);
        // skopeo reads every hop (docker-archive: skopeo synthesises its own manifest there).
        if !to.starts_with("docker-archive") && !to.starts_with("skiff") {
            assert_eq!(
                json_digest(&skopeo(&["inspect", to])),
                want,
                "skopeo reading {to}"
            );
        }
        assert_eq!(
            json_digest(&ok(&root, &["inspect", to])),
            want,
            "skiff-image reading {to}"
        );
        from = to.clone();
    }
    // Bool flags take a value only after '=', as Go's do in skopeo: a bare
    // `--src-tls-verify` before the positionals leaves SRC a positional.
    let bare = format!("oci:{}:m", t.join("o2").display());
    ok(
        &root,
        &[
            "copy",
            "-q",
            "--src-tls-verify",
            "--dest-tls-verify",
            &src_multi,
            &bare,
        ],
    );
    assert_eq!(
        json_digest(&ok(&root, &["inspect", "--tls-verify", &bare])),
        want
    );
    // skopeo writes, skiff-image reads.
    let sk = format!("oci:{}:s", t.join("sk").display());
    skopeo(&["copy", "-q", &src_multi, &sk]);
    assert_eq!(json_digest(&ok(&root, &["inspect", &sk])), want);
    let skd = format!("dir:{}", t.join("skd").display());
    skopeo(&["copy", "-q", &src_multi, &skd]);
    assert_eq!(json_digest(&ok(&root, &["inspect", &skd])), want);
}

#[test]
fn index_copies_all_or_the_host_platform() {
    let t = Tmp::new("index");
    let root = t.join("root");
    let src = build_layout(&t.join("src"), 1024);
    let from = format!("oci:{}:multiarch", src.dir().display());
    let top = src.find(Some("multiarch")).unwrap();
    ok(
        &root,
        &[
            "copy",
            "-q",
            "--all",
            &from,
            &format!("oci:{}:all", t.join("all").display()),
        ],
    );
    let raw = ok(
        &root,
        &[
            "inspect",
            "--raw",
            &format!("oci:{}:all", t.join("all").display()),
        ],
    );
    assert_eq!(
        Digest::of(raw.as_bytes()),
        top.digest,
        "index bytes preserved"
    );
    // skopeo sees both platforms' manifests.
    for arch in ["amd64", "arm64"] {
        let out = skopeo(&[
            "--override-arch",
            arch,
            "inspect",
            &format!("oci:{}:all", t.join("all").display()),
        ]);
        assert!(
            out.contains(&format!("\"Architecture\": \"{arch}\"")),
            "{out}"
        );
    }
    // Without --all only the host's manifest is copied and named.
    ok(&root, &["copy", "-q", &from, "skiff:example.com/one:1"]);
    let r = skiff_image::resolve_image(&root, "example.com/one:1").unwrap();
    let raw = ok(&root, &["inspect", "--raw", "example.com/one:1"]);
    assert_eq!(Digest::of(raw.as_bytes()), r.manifest_digest);
    let cfg = ok(&root, &["inspect", "--config", "example.com/one:1"]);
    assert!(
        cfg.contains(&format!("\"architecture\": \"{}\"", host_arch())),
        "{cfg}"
    );
    // With --all, resolve_image follows the stored index to the host manifest.
    ok(
        &root,
        &["copy", "-q", "--all", &from, "skiff:example.com/all:1"],
    );
    let r2 = skiff_image::resolve_image(&root, "example.com/all:1").unwrap();
    assert_eq!(r2.manifest_digest, r.manifest_digest);
    // docker-archive cannot hold an index.
    let err = fails(
        &root,
        &[
            "copy",
            "--all",
            &from,
            &format!("docker-archive:{}", t.join("x.tar").display()),
        ],
    );
    assert!(err.contains("manifest lists"), "{err}");
}

#[test]
fn corrupt_blob_fails_and_leaves_the_store_untouched() {
    let t = Tmp::new("corrupt");
    let root = t.join("root");
    let src = build_layout(&t.join("src"), 256 * 1024);
    let from = format!("oci:{}:multi", src.dir().display());
    ok(&root, &["copy", "-q", &from, "skiff:good:1"]);
    let before = tree(&root.join("oci"));
    let index_before = std::fs::read(root.join("oci/index.json")).unwrap();
    // Corrupt the big layer (same size, one byte flipped) in a copy of the layout.
    let bad = build_layout(&t.join("bad"), 300 * 1024);
    let m = bad.find(Some("multi")).unwrap();
    let manifest: skiff_image::manifest::Manifest =
        serde_json::from_slice(&bad.read_blob(&m.digest).unwrap()).unwrap();
    let big = manifest.layers.iter().max_by_key(|l| l.size).unwrap();
    let p = bad.blob_path(&big.digest);
    let mut bytes = std::fs::read(&p).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&p, bytes).unwrap();
    let err = fails(
        &root,
        &[
            "copy",
            &format!("oci:{}:multi", bad.dir().display()),
            "skiff:bad:1",
        ],
    );
    assert!(
        err.contains(&format!("verify blob {}", big.digest)) && err.contains("content has digest"),
        "{err}"
    );
    assert_eq!(tree(&root.join("oci")), before, "store blobs changed");
    assert_eq!(
        std::fs::read(root.join("oci/index.json")).unwrap(),
        index_before
    );
    assert!(
        std::fs::read_dir(root.join("tmp"))
            .unwrap()
            .next()
            .is_none(),
        "tmp left debris"
    );
    // A truncated blob is caught by size.
    std::fs::write(&p, b"short").unwrap();
    let err = fails(
        &root,
        &[
            "copy",
            &format!("oci:{}:multi", bad.dir().display()),
            "skiff:bad:1",
        ],
    );
    assert!(err.contains("size 5 does not match"), "{err}");
}

#[test]
fn bad_input_gives_one_line_errors() {
    let t = Tmp::new("badinput");
    let root = t.join("root");
    let err = fails(&root, &["copy", "ftp://x", "oci:/tmp/y"]);
    assert!(err.contains("unknown transport \"ftp\""), "{err}");
    let err = fails(&root, &["copy", "docker://Upper/Case", "oci:/tmp/y"]);
    assert!(err.contains("\"Upper\" must be lowercase"), "{err}");
    let err = fails(&root, &["inspect", "busybox:-bad"]);
    assert!(err.contains("invalid tag \"-bad\""), "{err}");
    let err = fails(&root, &["inspect", "nosuch:1"]);
    assert!(err.contains("no such image"), "{err}");
    let err = fails(
        &root,
        &[
            "copy",
            &format!("oci:{}", t.join("missing").display()),
            "skiff:x:1",
        ],
    );
    assert!(err.contains("no oci-layout"), "{err}");
    let err = fails(&root, &["import", "/etc/hostname", "x:1"]);
    assert!(err.contains("not a tar archive"), "{err}");
    let err = fails(&root, &["import", "/nonexistent.tar", "x:1"]);
    assert!(err.contains("\"/nonexistent.tar\""), "{err}");
    let err = fails(&root, &["copy", "docker://a@sha256:12", "oci:/tmp/y"]);
    assert!(err.contains("invalid digest"), "{err}");
}

#[test]
fn tag_rmi_and_garbage_collection() {
    let t = Tmp::new("rmi");
    let root = t.join("root");
    let src = build_layout(&t.join("src"), 1024);
    ok(
        &root,
        &[
            "copy",
            "-q",
            &format!("oci:{}:multi", src.dir().display()),
            "skiff:a:1",
        ],
    );
    ok(&root, &["tag", "a:1", "b:2"]);
    let ids = ok(&root, &["images", "-q"]);
    assert_eq!(ids.lines().count(), 2);
    let json: serde_json::Value =
        serde_json::from_str(&ok(&root, &["images", "--format", "json"])).unwrap();
    assert_eq!(json[1]["name"], "docker.io/library/b:2");
    // A closed stdout pipe ends the listing quietly (SIGPIPE), never a panic.
    let piped = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("for i in 1 2 3 4 5 6 7 8; do echo; done | {} --root {} images 2>&1 >/dev/full; {} --root {} images | true", bin(), root.display(), bin(), root.display()))
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&piped.stdout).contains("panicked"),
        "{}",
        String::from_utf8_lossy(&piped.stdout)
    );
    assert!(
        !String::from_utf8_lossy(&piped.stderr).contains("panicked"),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
    let blobs = tree(&root.join("oci/blobs/sha256")).len();
    ok(&root, &["rmi", "a:1"]);
    assert_eq!(
        tree(&root.join("oci/blobs/sha256")).len(),
        blobs,
        "b:2 still needs every blob"
    );
    ok(&root, &["rmi", "b:2"]);
    assert!(
        tree(&root.join("oci/blobs/sha256")).is_empty(),
        "unreferenced blobs remain"
    );
    fails(&root, &["rmi", "b:2"]);
}

#[test]
fn save_and_load_several_images() {
    let t = Tmp::new("saveload");
    let root = t.join("root");
    let tar = busybox_rootfs(t.path());
    ok(&root, &["import", tar.to_str().unwrap(), "bb:1"]);
    let src = build_layout(&t.join("src"), 1024);
    ok(
        &root,
        &[
            "copy",
            "-q",
            &format!("oci:{}:multi", src.dir().display()),
            "skiff:localhost:5000/multi:2",
        ],
    );
    let out = t.join("save.tar");
    ok(
        &root,
        &[
            "save",
            "-o",
            out.to_str().unwrap(),
            "bb:1",
            "localhost:5000/multi:2",
        ],
    );
    // Legacy readers: manifest.json names both, skopeo's docker-archive reads each.
    let legacy = skopeo(&[
        "inspect",
        &format!("docker-archive:{}:localhost:5000/multi:2", out.display()),
    ]);
    assert!(legacy.contains("\"Layers\""), "{legacy}");
    skopeo(&["inspect", &format!("docker-archive:{}:bb:1", out.display())]);
    // OCI readers: index.json with containerd's name annotation.
    let oci = skopeo(&["inspect", &format!("oci-archive:{}:1", out.display())]);
    let want = json_digest(&ok(&root, &["inspect", "bb:1"]));
    assert_eq!(json_digest(&oci), want);
    let root2 = t.join("root2");
    let loaded = ok(&root2, &["load", "-i", out.to_str().unwrap()]);
    assert!(
        loaded.contains("docker.io/library/bb:1") && loaded.contains("localhost:5000/multi:2"),
        "{loaded}"
    );
    assert_eq!(
        json_digest(&ok(&root2, &["inspect", "bb:1"])),
        want,
        "load keeps the original manifest"
    );
    // A legacy archive written by skopeo loads too.
    let sk = t.join("sk.tar");
    skopeo(&[
        "copy",
        "-q",
        &format!("oci:{}:multi", src.dir().display()),
        &format!("docker-archive:{}:example.com/sk:3", sk.display()),
    ]);
    let root3 = t.join("root3");
    ok(&root3, &["load", "-i", sk.to_str().unwrap()]);
    let cfg = ok(&root3, &["inspect", "--config", "example.com/sk:3"]);
    assert!(cfg.contains("diff_ids"), "{cfg}");
}

#[test]
fn store_removes_debris_of_dead_writers() {
    let t = Tmp::new("debris");
    let root = t.join("root");
    ok(&root, &["images"]);
    // A staging dir named for a PID that cannot exist (above pid_max) is debris.
    let dead = root.join("tmp/.skiff-stage-4194399-0");
    std::fs::create_dir_all(&dead).unwrap();
    std::fs::write(dead.join("sha256-x"), b"partial").unwrap();
    ok(&root, &["images"]);
    assert!(!dead.exists(), "debris was not removed");
}

#[test]
fn concurrent_writers_all_land_in_index_json() {
    let t = Tmp::new("concurrent");
    let root = t.join("root");
    let tar = busybox_rootfs(t.path());
    ok(&root, &["images"]);
    let children: Vec<_> = (0..6)
        .map(|i| {
            std::process::Command::new(bin())
                .arg("--root")
                .arg(&root)
                .args([
                    "import",
                    tar.to_str().unwrap(),
                    &format!("c{i}:1"),
                    "--change",
                    &format!("ENV N={i}"),
                ])
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let json: serde_json::Value =
        serde_json::from_str(&ok(&root, &["images", "--format", "json"])).unwrap();
    let mut names: Vec<String> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    let want: Vec<String> = (0..6)
        .map(|i| format!("docker.io/library/c{i}:1"))
        .collect();
    assert_eq!(names, want, "a concurrent index.json update was lost");
    assert!(tree(&root.join("tmp")).is_empty());
}
