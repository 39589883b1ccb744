//! `skiff-image export` end to end: after the real `skiff` runtime ran a bundle, the tar
//! lists exactly the merged rootfs (without the runtime's mount points, init-layer files
//! included), symlinks out of the rootfs stay symlinks, and stdout and `-o` agree.

mod common;

use common::*;
use std::path::Path;
use tar::EntryType as T;

const APPLETS: &[&str] = &["sh", "echo", "rm", "ln"];

/// Mount points the runtime makes for this image (it has none of these paths).
const MOUNT_POINTS: &[&str] = &[
    "dev",
    "etc/hostname",
    "etc/hosts",
    "etc/resolv.conf",
    "mnt",
    "mnt/vol",
    "proc",
    "scratch",
    "sys",
];

fn unique_id(tag: &str) -> String {
    format!("skiff-image-export-{tag}-{}", std::process::id())
}

/// A bundle of the test image, run once so the container changed it.
fn run_bundle_of_image(root: &Path, t: &Tmp, bundle: &Path, copy: bool) {
    let tag = if copy { "copy" } else { "overlay" };
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
        "echo added > /added; ln /added /added2; rm /etc/group",
    ]);
    ok(root, &args);
    let (code, out, err) = run_bundle(&t.join("state"), bundle, &unique_id(tag));
    assert_eq!(code, 0, "{out}{err}");
}

/// The rootfs listing minus the runtime's mount points, checked to be there.
fn expected(rootfs: &Path) -> Vec<String> {
    let all = lstat_tree(rootfs);
    for m in MOUNT_POINTS {
        assert!(all.iter().any(|p| p == m), "the runtime made no {m}");
    }
    all.into_iter()
        .filter(|p| !MOUNT_POINTS.contains(&p.as_str()))
        .collect()
}

fn paths(entries: &[(String, T, Option<String>)]) -> Vec<String> {
    let mut p: Vec<String> = entries.iter().map(|e| e.0.clone()).collect();
    p.sort();
    p
}

#[test]
fn export_is_the_merged_rootfs_without_mount_points() {
    let t = Tmp::new("export");
    let root = t.join("store");
    import_busybox_tree(&root, t.path(), "test/base:1", APPLETS);
    let bundle = t.join("bundle");
    let _bundle_guard = BundleGuard(bundle.clone());
    run_bundle_of_image(&root, &t, &bundle, false);
    let b = bundle.to_str().unwrap();
    let file = t.join("rootfs.tar");
    ok(&root, &["export", b, "-o", file.to_str().unwrap()]);
    let bytes = std::fs::read(&file).unwrap();
    let entries = tar_entries(&bytes);
    let want = expected(&bundle.join("rootfs"));
    assert_eq!(paths(&entries), want);
    assert!(want.contains(&"added".to_string()) && !want.contains(&"etc/group".to_string()));

    // Symlinks out of the rootfs are written as symlinks, never followed.
    let find = |p: &str| entries.iter().find(|e| e.0 == p).cloned().unwrap();
    assert_eq!(
        find("pw"),
        (
            "pw".to_string(),
            T::Symlink,
            Some("/etc/passwd".to_string())
        )
    );
    assert_eq!(find("escape").1, T::Symlink);
    assert!(!entries.iter().any(|e| e.0.starts_with("escape/")));
    assert_eq!(
        find("added2"),
        ("added2".to_string(), T::Link, Some("added".to_string()))
    );
    let mut a = tar::Archive::new(&bytes[..]);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap() == Path::new("etc/passwd") {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut e, &mut s).unwrap();
            assert_eq!(
                s, "root:x:0:0:root:/root:/bin/sh\n",
                "the image's, not the host's"
            );
        }
    }

    // Standard output (no -o, and -o -) carries the same bytes.
    let out = skiff(&root, &["export", b]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, bytes);
    let out = skiff(&root, &["export", b, "-o", "-"]);
    assert_eq!(out.stdout, bytes);

    // An unmounted overlay is mounted for the export and left unmounted.
    ok(&root, &["umount", b]);
    let again = t.join("again.tar");
    ok(&root, &["export", b, "-o", again.to_str().unwrap()]);
    assert_eq!(std::fs::read(&again).unwrap(), bytes);
    assert!(
        mounts_under(&bundle.join("rootfs")).is_empty(),
        "left mounted"
    );
    ok(&root, &["rm-bundle", b]);
}

#[test]
fn export_of_a_copy_bundle_lists_its_directory() {
    let t = Tmp::new("export-copy");
    let root = t.join("store");
    import_busybox_tree(&root, t.path(), "test/base:1", APPLETS);
    let bundle = t.join("bundle");
    let _bundle_guard = BundleGuard(bundle.clone());
    run_bundle_of_image(&root, &t, &bundle, true);
    let file = t.join("rootfs.tar");
    ok(
        &root,
        &[
            "export",
            bundle.to_str().unwrap(),
            "-o",
            file.to_str().unwrap(),
        ],
    );
    let entries = tar_entries(&std::fs::read(&file).unwrap());
    assert_eq!(paths(&entries), expected(&bundle.join("rootfs")));
}

#[test]
fn bad_exports_fail_in_one_line_and_leave_no_file() {
    let t = Tmp::new("export-bad");
    let root = t.join("store");
    let plain = t.join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let out = t.join("out.tar");
    let err = fails(
        &root,
        &[
            "export",
            plain.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert!(err.contains("not a bundle"), "{err}");
    assert!(!out.exists());
    import_busybox_tree(&root, t.path(), "test/base:1", APPLETS);
    let bundle = t.join("bundle");
    let _bundle_guard = BundleGuard(bundle.clone());
    ok(
        &root,
        &["unpack", "--copy", "test/base:1", bundle.to_str().unwrap()],
    );
    let nowhere = t.join("no/such/dir/out.tar");
    let err = fails(
        &root,
        &[
            "export",
            bundle.to_str().unwrap(),
            "-o",
            nowhere.to_str().unwrap(),
        ],
    );
    assert!(err.contains("no/such/dir"), "{err}");
    assert!(!t.join("no").exists());
    assert_eq!(
        lstat_tree(t.path())
            .iter()
            .filter(|p| p.contains(".tmp-"))
            .count(),
        0
    );
}
