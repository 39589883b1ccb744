//! `umoci unpack` as the oracle: the same multi-layer OCI layout unpacked by umoci and
//! by `create_bundle` (overlay and `copy`) must give the same tree: file list and
//! types, modes, owners, xattrs, symlink targets, hardlink groups, contents, mtimes.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;
use sha2::{Digest as _, Sha256};

use super::layout::{build_image, Tar};
use super::{create_bundle, BundleGuard, BundleOptions};
use crate::unpack::tests::TempDir;
use crate::unpack::{hex, sys};

fn layers() -> Vec<Tar> {
    let mut l1 = Tar::new();
    l1.dir(".", 0o755, 0, 0);
    l1.dir("bin", 0o755, 0, 0);
    l1.file("bin/busybox", b"#!busybox", 0o755, 0, 0);
    l1.symlink("bin/sh", "busybox");
    l1.dir("etc", 0o755, 0, 0);
    l1.file(
        "etc/passwd",
        b"root:x:0:0:root:/root:/bin/sh\n",
        0o644,
        0,
        0,
    );
    l1.dir("usr", 0o755, 0, 0);
    l1.dir("usr/bin", 0o711, 0, 0);
    l1.file("usr/bin/su", b"su", 0o4755, 0, 0);
    l1.hardlink("usr/bin/su2", "usr/bin/su");
    l1.dir("data", 0o775, 1000, 1000);
    l1.file("data/a", b"a", 0o600, 1000, 1000);
    l1.file("data/b", b"b", 0o640, 1000, 50);
    l1.dir("data/sub", 0o755, 0, 0);
    l1.file("data/sub/c", b"c", 0o644, 0, 0);
    l1.dir("opt", 0o755, 0, 0);
    l1.file("opt/old", b"old", 0o644, 0, 0);
    l1.file_xattr("etc/tagged", b"t", "user.skiff.test", b"value");
    l1.dir("dev", 0o755, 0, 0);
    l1.node("dev/null", tar::EntryType::Char, 1, 3);
    l1.node("dev/fifo", tar::EntryType::Fifo, 0, 0);
    l1.dir("var", 0o755, 0, 0);
    l1.dir("var/empty", 0o700, 0, 0);
    l1.symlink("lib", "/usr/lib");

    let mut l2 = Tar::new();
    l2.file("data/.wh.a", b"", 0o644, 0, 0);
    l2.dir("opt", 0o750, 0, 0);
    l2.file("opt/.wh..wh..opq", b"", 0o644, 0, 0);
    l2.file("opt/new", b"new", 0o644, 0, 0);
    l2.file(
        "etc/passwd",
        b"root:x:0:0:root:/root:/bin/sh\napp:x:1:1::/:/bin/sh\n",
        0o600,
        0,
        0,
    );
    // usr/bin is only implied: it must keep layer 1's 0711.
    l2.file("usr/bin/tool", b"tool", 0o755, 0, 0);
    l2.file("new/h1", b"linked", 0o644, 0, 0);
    l2.hardlink("new/h2", "new/h1");
    l2.file("bin/sh", b"now a file", 0o755, 0, 0);

    let mut l3 = Tar::new();
    l3.file("data/.wh.sub", b"", 0o644, 0, 0);
    l3.dir("data/sub2", 0o755, 0, 0);
    l3.file("data/sub2/d", b"d", 0o644, 2, 2);
    l3.file(".wh.lib", b"", 0o644, 0, 0);
    l3.symlink("lib64", "/usr/lib");
    vec![l1, l2, l3]
}

#[derive(Debug, PartialEq, Eq)]
struct Node {
    kind: char,
    mode: u32,
    uid: u32,
    gid: u32,
    xattrs: Vec<(String, Vec<u8>)>,
    link: Option<PathBuf>,
    content: Option<String>,
    rdev: u64,
    mtime: Option<i64>,
}

/// Everything the comparison covers, keyed by path; plus the hardlink groups.
fn snapshot(root: &Path) -> (BTreeMap<PathBuf, Node>, BTreeSet<Vec<PathBuf>>) {
    let mut nodes = BTreeMap::new();
    let mut inodes: BTreeMap<u64, Vec<PathBuf>> = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let md = std::fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("lstat {p:?}: {e}"));
            let ft = md.file_type();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            let kind = if ft.is_dir() {
                'd'
            } else if ft.is_file() {
                'f'
            } else if ft.is_symlink() {
                'l'
            } else if ft.is_char_device() {
                'c'
            } else if ft.is_fifo() {
                'p'
            } else {
                '?'
            };
            if ft.is_dir() {
                stack.push(p.clone());
            } else {
                inodes.entry(md.ino()).or_default().push(rel.clone());
            }
            let mut xattrs: Vec<(String, Vec<u8>)> = sys::list_xattrs(&p)
                .unwrap()
                .into_iter()
                .map(|(k, v)| (k.to_string_lossy().into_owned(), v))
                .filter(|(k, _)| !k.starts_with("security.selinux"))
                .collect();
            xattrs.sort();
            nodes.insert(
                rel,
                Node {
                    kind,
                    mode: md.mode() & 0o7777,
                    uid: md.uid(),
                    gid: md.gid(),
                    xattrs,
                    link: ft.is_symlink().then(|| std::fs::read_link(&p).unwrap()),
                    content: ft
                        .is_file()
                        .then(|| hex(&Sha256::digest(std::fs::read(&p).unwrap()))),
                    rdev: md.rdev(),
                    mtime: (!ft.is_dir()).then_some(md.mtime()),
                },
            );
        }
    }
    let groups = inodes
        .into_values()
        .filter(|v| v.len() > 1)
        .map(|mut v| {
            v.sort();
            v
        })
        .collect();
    (nodes, groups)
}

fn assert_same(ours: &Path, theirs: &Path, what: &str) {
    let (a, ga) = snapshot(ours);
    let (b, gb) = snapshot(theirs);
    for (p, n) in &b {
        assert_eq!(a.get(p), Some(n), "{what}: {p:?} differs from umoci's");
    }
    for p in a.keys() {
        assert!(b.contains_key(p), "{what}: {p:?} exists only in ours");
    }
    assert_eq!(ga, gb, "{what}: hardlink groups differ");
    let ra = std::fs::symlink_metadata(ours).unwrap();
    let rb = std::fs::symlink_metadata(theirs).unwrap();
    assert_eq!(
        (ra.mode(), ra.uid()),
        (rb.mode(), rb.uid()),
        "{what}: root dir differs"
    );
}

#[test]
fn matches_umoci_unpack() {
    if !sys::is_root() || Command::new("umoci").arg("--version").output().is_err() {
        eprintln!("skipped: needs root and umoci");
        return;
    }
    let tmp = TempDir::new("oracle");
    let store = tmp.0.join("store");
    let digest = build_image(&store, &layers(), json!({"Cmd": ["/bin/sh"]}), "oracle");
    let umoci_bundle = tmp.0.join("umoci");
    let out = Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:oracle", store.join("oci").display()))
        .arg(&umoci_bundle)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "umoci unpack: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs = umoci_bundle.join("rootfs");
    assert!(theirs.join("usr/bin/tool").exists());
    let tagged = sys::list_xattrs(&theirs.join("etc/tagged")).unwrap();
    assert!(tagged
        .iter()
        .any(|(k, v)| k.to_bytes() == b"user.skiff.test" && v == b"value"));

    let overlay = tmp.0.join("ours-overlay");
    let _g1 = BundleGuard(overlay.clone());
    create_bundle(&store, &digest, &overlay, &BundleOptions::default()).unwrap();
    assert_same(&overlay.join("rootfs"), &theirs, "overlay");

    let copy = tmp.0.join("ours-copy");
    let _g2 = BundleGuard(copy.clone());
    create_bundle(
        &store,
        &digest,
        &copy,
        &BundleOptions {
            copy: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_same(&copy.join("rootfs"), &theirs, "copy");
}
