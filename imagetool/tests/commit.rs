//! `skiff-image commit` end to end: a bundle run by the real `skiff` runtime adds,
//! changes, deletes and replaces files; the commit's layer holds exactly that (with
//! `.wh.` entries and without the runtime's mount points), its history and config say
//! so, and the new image unpacks (ours and umoci's), copies (skopeo), validates and runs.

mod common;

use common::*;
use skiff_image::Store;
use std::path::Path;
use tar::EntryType as T;

const APPLETS: &[&str] = &["sh", "echo", "rm", "mkdir", "ln", "cat", "true", "touch"];
const CHANGES: &str = "echo new > /added; ln /added /added-link; echo changed > /etc/passwd; \
    rm /etc/group; rm -rf /data; mkdir /data; echo n > /data/new";

fn unique_id(tag: &str) -> String {
    format!("skiff-image-commit-{tag}-{}", std::process::id())
}

/// How a test bundle is made and what runs in it.
struct Run<'a> {
    copy: bool,
    script: &'a str,
    /// Part of the container id, unique per test.
    tag: &'a str,
}

/// Unpack the test image into `bundle` (with a volume and a tmpfs, so the runtime makes
/// mount points) and run the script in it.
fn run_changes(root: &Path, t: &Tmp, bundle: &Path, run: Run) {
    let Run { copy, script, tag } = run;
    let vol = t.join("vol");
    std::fs::create_dir_all(&vol).unwrap();
    let vol_arg = format!("{}:/mnt/vol", vol.display());
    let mut args = vec!["unpack", "-v", &vol_arg, "--tmpfs", "/scratch"];
    if copy {
        args.push("--copy");
    }
    args.extend([
        "test/base:1",
        bundle.to_str().unwrap(),
        "/bin/sh",
        "-c",
        script,
    ]);
    ok(root, &args);
    let (code, out, err) = run_bundle(&t.join("state"), bundle, &unique_id(tag));
    assert_eq!(code, 0, "{out}{err}");
}

/// The last layer of a stored image, as (path, type, link) entries.
fn top_layer(root: &Path, name: &str) -> Vec<(String, T, Option<String>)> {
    let img = skiff_image::resolve_image(root, name).unwrap();
    let top = img.manifest.layers.last().unwrap();
    tar_entries(&std::fs::read(img.blob_path(&top.digest)).unwrap())
}

fn entry(p: &str, t: T, link: Option<&str>) -> (String, T, Option<String>) {
    (p.to_string(), t, link.map(str::to_string))
}

/// What unpacking the committed image must show, whichever way it was committed.
fn assert_committed_tree(rootfs: &Path) {
    let mut want: Vec<String> = [
        "added",
        "added-link",
        "bin",
        "bin/busybox",
        "data",
        "data/new",
        "escape",
        "etc",
        "etc/passwd",
        "pw",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    want.extend(APPLETS.iter().map(|a| format!("bin/{a}")));
    want.sort();
    assert_eq!(lstat_tree(rootfs), want, "{rootfs:?}");
    let read = |p: &str| std::fs::read_to_string(rootfs.join(p)).unwrap();
    assert_eq!(read("added"), "new\n");
    assert_eq!(read("etc/passwd"), "changed\n");
    assert_eq!(read("data/new"), "n\n");
    use std::os::unix::fs::MetadataExt;
    let ino = |p: &str| std::fs::metadata(rootfs.join(p)).unwrap().ino();
    assert_eq!(ino("added"), ino("added-link"), "hardlink kept");
    assert_eq!(
        std::fs::read_link(rootfs.join("pw")).unwrap(),
        Path::new("/etc/passwd")
    );
}

#[test]
fn commit_of_an_overlay_bundle_is_a_new_layer_with_whiteouts() {
    let t = Tmp::new("commit-overlay");
    let root = t.join("store");
    import_busybox_tree(&root, t.path(), "test/base:1", APPLETS);
    let base_before = json_digest(&ok(&root, &["inspect", "test/base:1"]));
    let bundle = t.join("bundle");
    let _bundle_guard = BundleGuard(bundle.clone());
    run_changes(
        &root,
        &t,
        &bundle,
        Run {
            copy: false,
            script: CHANGES,
            tag: "overlay",
        },
    );
    // The runtime made its mount points in the upper dir: the commit must leave them out.
    for p in ["etc/hosts", "etc/resolv.conf", "mnt/vol", "scratch", "proc"] {
        assert!(bundle.join("upper").join(p).exists(), "no {p} in upper");
    }
    let digest = ok(
        &root,
        &[
            "commit",
            "-m",
            "add and remove",
            "-a",
            "Jane <jane@example.org>",
            "-c",
            "ENV COMMITTED=yes",
            "-c",
            r#"CMD ["/bin/cat", "/added"]"#,
            bundle.to_str().unwrap(),
            "test/new:1",
        ],
    );
    let digest = digest.trim();
    assert_eq!(json_digest(&ok(&root, &["inspect", "test/new:1"])), digest);
    assert_eq!(
        top_layer(&root, "test/new:1"),
        vec![
            entry("added", T::Regular, None),
            entry("added-link", T::Link, Some("added")),
            entry("data", T::Directory, None),
            entry("data/.wh..wh..opq", T::Regular, None),
            entry("data/new", T::Regular, None),
            entry("etc", T::Directory, None),
            entry("etc/.wh.group", T::Regular, None),
            entry("etc/passwd", T::Regular, None),
        ]
    );

    // History and config, as docker commit writes them; the base is untouched.
    let hist: serde_json::Value =
        serde_json::from_str(&ok(&root, &["history", "--format", "json", "test/new:1"])).unwrap();
    assert_eq!(hist.as_array().unwrap().len(), 2, "{hist}");
    assert_eq!(hist[0]["comment"], "add and remove");
    assert_eq!(hist[0]["created_by"], format!("/bin/sh -c {CHANGES}"));
    assert_eq!(hist[0]["empty_layer"], false);
    assert_eq!(hist[1]["created_by"], "skiff-image import");
    let config: serde_json::Value =
        serde_json::from_str(&ok(&root, &["inspect", "--config", "test/new:1"])).unwrap();
    assert_eq!(config["author"], "Jane <jane@example.org>");
    assert_eq!(
        config["config"]["Env"],
        serde_json::json!(["COMMITTED=yes"])
    );
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
    assert_eq!(
        json_digest(&ok(&root, &["inspect", "test/base:1"])),
        base_before
    );
    let store = Store::open(&root).unwrap();
    skiff_image::validate::validate_image(&store.source("test/new:1").unwrap()).unwrap();

    // Ours (both ways) and umoci's unpack show exactly the changes.
    let copy = t.join("unpacked-copy");
    let _copy_guard = BundleGuard(copy.clone());
    ok(
        &root,
        &["unpack", "--copy", "test/new:1", copy.to_str().unwrap()],
    );
    assert_committed_tree(&copy.join("rootfs"));
    let over = t.join("unpacked-overlay");
    let _over_guard = BundleGuard(over.clone());
    ok(&root, &["unpack", "test/new:1", over.to_str().unwrap()]);
    assert_committed_tree(&over.join("rootfs"));
    let layout = root.join("oci");
    let umoci = t.join("umoci");
    let out = std::process::Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:docker.io/test/new:1", layout.display()))
        .arg(&umoci)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "umoci: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_committed_tree(&umoci.join("rootfs"));
    let copied = format!("oci:{}:copied", t.join("skopeo").display());
    skopeo(&[
        "copy",
        &format!("oci:{}:docker.io/test/new:1", layout.display()),
        &copied,
    ]);
    assert_eq!(json_digest(&skopeo(&["inspect", &copied])), digest);

    // The new image runs with its new Cmd.
    let (code, out, err) = run_bundle(&t.join("state"), &over, &unique_id("new"));
    assert_eq!((code, out.as_str()), (0, "new\n"), "{err}");
    for b in [&over, &copy, &bundle] {
        ok(&root, &["rm-bundle", b.to_str().unwrap()]);
    }
}

#[test]
fn commit_of_a_copy_bundle_diffs_against_the_image() {
    let t = Tmp::new("commit-copy");
    let root = t.join("store");
    import_busybox_tree(&root, t.path(), "test/base:1", APPLETS);
    let bundle = t.join("bundle");
    let _bundle_guard = BundleGuard(bundle.clone());
    run_changes(
        &root,
        &t,
        &bundle,
        Run {
            copy: true,
            script: CHANGES,
            tag: "copy",
        },
    );
    assert!(
        bundle.join("rootfs/etc/hosts").exists(),
        "no mount point made"
    );
    ok(
        &root,
        &["commit", bundle.to_str().unwrap(), "test/new:copy"],
    );
    assert_eq!(
        top_layer(&root, "test/new:copy"),
        vec![
            entry("added", T::Regular, None),
            entry("added-link", T::Link, Some("added")),
            entry("data/new", T::Regular, None),
            entry("data/.wh.old", T::Regular, None),
            entry("etc/.wh.group", T::Regular, None),
            entry("etc/passwd", T::Regular, None),
        ]
    );
    let un = t.join("unpacked");
    let _un_guard = BundleGuard(un.clone());
    ok(
        &root,
        &["unpack", "--copy", "test/new:copy", un.to_str().unwrap()],
    );
    assert_committed_tree(&un.join("rootfs"));

    // Into another store: the base layers are copied there, verified.
    let other = t.join("other-store");
    ok(
        &other,
        &["commit", bundle.to_str().unwrap(), "test/elsewhere:1"],
    );
    let store = Store::open(&other).unwrap();
    skiff_image::validate::validate_image(&store.source("test/elsewhere:1").unwrap()).unwrap();
    let un2 = t.join("unpacked-elsewhere");
    let _un2_guard = BundleGuard(un2.clone());
    ok(
        &other,
        &[
            "unpack",
            "--copy",
            "test/elsewhere:1",
            un2.to_str().unwrap(),
        ],
    );
    assert_committed_tree(&un2.join("rootfs"));
}

#[test]
fn commit_of_an_unchanged_bundle_adds_an_empty_history_entry() {
    let t = Tmp::new("commit-empty");
    let root = t.join("store");
    import_busybox_tree(&root, t.path(), "test/base:1", APPLETS);
    let bundle = t.join("bundle");
    let _bundle_guard = BundleGuard(bundle.clone());
    // Only the runtime's mount points land in the upper dir.
    run_changes(
        &root,
        &t,
        &bundle,
        Run {
            copy: false,
            script: "true",
            tag: "empty",
        },
    );
    ok(
        &root,
        &[
            "commit",
            "-c",
            "WORKDIR /data",
            bundle.to_str().unwrap(),
            "test/same:1",
        ],
    );
    let base = skiff_image::resolve_image(&root, "test/base:1").unwrap();
    let new = skiff_image::resolve_image(&root, "test/same:1").unwrap();
    assert_eq!(new.manifest.layers, base.manifest.layers);
    let hist: serde_json::Value =
        serde_json::from_str(&ok(&root, &["history", "--format", "json", "test/same:1"])).unwrap();
    assert_eq!(hist[0]["empty_layer"], true, "{hist}");
    let config: serde_json::Value =
        serde_json::from_str(&ok(&root, &["inspect", "--config", "test/same:1"])).unwrap();
    assert_eq!(config["config"]["WorkingDir"], "/data");
    ok(&root, &["rm-bundle", bundle.to_str().unwrap()]);
}

#[test]
fn bad_commits_fail_in_one_line_and_write_nothing() {
    let t = Tmp::new("commit-bad");
    let root = t.join("store");
    import_busybox_tree(&root, t.path(), "test/base:1", APPLETS);
    let bundle = t.join("bundle");
    let _bundle_guard = BundleGuard(bundle.clone());
    run_changes(
        &root,
        &t,
        &bundle,
        Run {
            copy: false,
            script: "echo x > /.wh.sneaky",
            tag: "bad",
        },
    );
    let b = bundle.to_str().unwrap();
    let not_bundle = t.join("plain-dir");
    std::fs::create_dir_all(&not_bundle).unwrap();
    let before = tree(&root);
    let digest = "sha256:".to_string() + &"a".repeat(64);
    for (args, needle) in [
        (
            vec![not_bundle.to_str().unwrap(), "test/x:1"],
            "not a bundle",
        ),
        (
            vec![t.join("missing").to_str().unwrap(), "test/x:1"],
            "no such directory",
        ),
        (vec![b, "Test/X:1"], "Test/X"),
        (vec![b, &format!("test/x@{digest}")], "digest"),
        (vec![b, "test/x:1", "-c", "RUN make"], "RUN"),
        (vec![b, "test/x:1"], ".wh.sneaky"),
    ] {
        let mut full = vec!["commit"];
        full.extend(args.iter().copied());
        let err = fails(&root, &full);
        assert!(err.contains(needle), "{full:?}: {err}");
        assert_eq!(tree(&root), before, "{full:?} wrote to the store");
    }
    assert!(!ok(&root, &["images"]).contains("test/x"));
    ok(&root, &["rm-bundle", b]);
}
