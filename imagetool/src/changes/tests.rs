//! Changesets from hand-made upper dirs, layer dirs and rootfs copies (as root: overlay
//! whiteouts are device nodes and `trusted.overlay.*` xattrs), written to tars and read
//! back with the tar crate.

use std::collections::BTreeSet;
use std::ffi::CString;
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::lower::LowerDir;
use super::*;
use crate::unpack::sys;
use crate::unpack::tests::TempDir;

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn parent_fd(p: &Path) -> std::os::fd::OwnedFd {
    sys::open_dir(p.parent().unwrap()).unwrap()
}

fn name(p: &Path) -> CString {
    c(p.file_name().unwrap().to_str().unwrap())
}

fn whiteout(p: &Path) {
    sys::mknod_at(parent_fd(p).as_fd(), &name(p), libc::S_IFCHR, 0, 0).unwrap();
}

fn xattr(p: &Path, key: &str, value: &[u8]) {
    sys::set_xattr_at(parent_fd(p).as_fd(), &name(p), &c(key), value).unwrap();
}

fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn add(p: &str) -> Change {
    Change::Add(PathBuf::from(p))
}

fn wh(p: &str) -> Change {
    Change::Whiteout(PathBuf::from(p))
}

/// One tar entry: path, type, link target, xattrs.
type Entry = (
    String,
    tar::EntryType,
    Option<String>,
    Vec<(String, Vec<u8>)>,
);

/// Every entry of a tar.
fn entries(tar: &[u8]) -> Vec<Entry> {
    let mut a = tar::Archive::new(tar);
    let mut out = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let path = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let kind = e.header().entry_type();
        let link = e
            .link_name_bytes()
            .map(|l| String::from_utf8_lossy(&l).into_owned());
        let mut xattrs = Vec::new();
        if let Some(exts) = e.pax_extensions().unwrap() {
            for x in exts {
                let x = x.unwrap();
                if let Some(k) = x.key().unwrap().strip_prefix("SCHILY.xattr.") {
                    xattrs.push((k.to_string(), x.value_bytes().to_vec()));
                }
            }
        }
        out.push((path, kind, link, xattrs));
    }
    out
}

fn needs_root() -> bool {
    if !sys::is_root() {
        eprintln!("skipped: needs root (whiteouts are device nodes)");
        return false;
    }
    true
}

#[test]
fn upper_dir_becomes_a_layer_with_dot_wh_entries() {
    if !needs_root() {
        return;
    }
    let t = TempDir::new("changes-upper");
    let up = t.0.join("upper");
    write(&up.join("a"), "a");
    xattr(&up.join("a"), "user.test", b"1");
    xattr(&up.join("a"), "trusted.overlay.origin", b"x");
    std::fs::hard_link(up.join("a"), up.join("a2")).unwrap();
    write(&up.join("d/x"), "x");
    xattr(&up.join("d"), "trusted.overlay.opaque", b"y");
    whiteout(&up.join("gone"));
    write(&up.join("e/keep"), "k");
    whiteout(&up.join("e/old"));
    std::os::unix::fs::symlink("/etc/passwd", up.join("s")).unwrap();

    let changes = upper_changes(&up).unwrap();
    assert_eq!(
        changes,
        vec![
            add("a"),
            add("a2"),
            add("d"),
            Change::Opaque("d".into()),
            add("d/x"),
            add("e"),
            add("e/keep"),
            wh("e/old"),
            wh("gone"),
            add("s"),
        ]
    );
    let mut tar = LayerTar::new(Vec::new());
    write_changes(&up, &changes, &mut tar).unwrap();
    let got = entries(&tar.finish().unwrap());
    use tar::EntryType as T;
    let summary: Vec<(&str, T, Option<&str>)> = got
        .iter()
        .map(|(p, k, l, _)| (p.as_str(), *k, l.as_deref()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("a", T::Regular, None),
            ("a2", T::Link, Some("a")),
            ("d/", T::Directory, None),
            ("d/.wh..wh..opq", T::Regular, None),
            ("d/x", T::Regular, None),
            ("e/", T::Directory, None),
            ("e/keep", T::Regular, None),
            ("e/.wh.old", T::Regular, None),
            (".wh.gone", T::Regular, None),
            ("s", T::Symlink, Some("/etc/passwd")),
        ]
    );
    // The user xattr travels; overlay's own never do (not even the opaque marker).
    assert_eq!(got[0].3, vec![("user.test".to_string(), b"1".to_vec())]);
    assert!(got
        .iter()
        .all(|e| e.3.iter().all(|(k, _)| !k.contains("overlay"))));
}

#[test]
fn upper_dirs_a_layer_cannot_carry_are_refused() {
    if !needs_root() {
        return;
    }
    let t = TempDir::new("changes-refuse");
    let up = t.0.join("u1");
    write(&up.join("etc/.wh.sneaky"), "");
    let e = upper_changes(&up).unwrap_err();
    assert!(
        matches!(e.downcast_ref(), Some(ChangeError::ReservedName(p)) if p == Path::new("etc/.wh.sneaky")),
        "{e:#}"
    );
    let up = t.0.join("u2");
    write(&up.join("moved/f"), "");
    xattr(&up.join("moved"), "trusted.overlay.redirect", b"/old");
    let e = upper_changes(&up).unwrap_err();
    assert!(format!("{e:#}").contains("redirect"), "{e:#}");
}

/// Two layer dirs in overlay form: l2 removes `b` and replaces `o` (opaque).
fn layers(t: &TempDir) -> Vec<PathBuf> {
    let (l1, l2) = (t.0.join("l1"), t.0.join("l2"));
    write(&l1.join("a"), "a");
    write(&l1.join("b"), "b");
    write(&l1.join("d/x"), "x");
    write(&l1.join("d/y"), "y");
    write(&l1.join("o/old"), "old");
    std::os::unix::fs::symlink("a", l1.join("ln")).unwrap();
    write(&l2.join("c"), "c");
    whiteout(&l2.join("b"));
    write(&l2.join("o/new"), "new");
    xattr(&l2.join("o"), "trusted.overlay.opaque", b"y");
    vec![l1, l2]
}

#[test]
fn lower_dirs_merge_as_overlay_does() {
    if !needs_root() {
        return;
    }
    let t = TempDir::new("changes-lower");
    let ls = layers(&t);
    let root = LowerDir::root(&ls);
    let names: Vec<String> = root
        .children()
        .unwrap()
        .keys()
        .map(|k| k.to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["a", "c", "d", "ln", "o"]);
    assert!(root.lookup(Path::new("b")).is_none(), "whited out");
    assert!(
        root.lookup(Path::new("o/old")).is_none(),
        "hidden by opaque"
    );
    assert_eq!(
        root.lookup(Path::new("o/new")).unwrap().path,
        ls[1].join("o/new")
    );
    assert!(root.lookup(Path::new("d/y")).is_some());
    assert!(
        root.lookup(Path::new("ln/x")).is_none(),
        "no path through a symlink"
    );
}

#[test]
fn copy_rootfs_is_compared_with_its_layers() {
    if !needs_root() {
        return;
    }
    let t = TempDir::new("changes-compare");
    let ls = layers(&t);
    let rootfs = t.0.join("rootfs");
    std::fs::create_dir(&rootfs).unwrap();
    crate::bundle::copy_layers(&ls, &rootfs).unwrap();
    // Nothing changed yet: nothing to commit.
    assert_eq!(compare_with_layers(&rootfs, &ls).unwrap(), vec![]);
    write(&rootfs.join("a"), "changed");
    std::fs::remove_file(rootfs.join("c")).unwrap();
    std::fs::set_permissions(rootfs.join("d/x"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::remove_file(rootfs.join("d/y")).unwrap();
    write(&rootfs.join("n/new"), "n");
    std::fs::remove_file(rootfs.join("ln")).unwrap();
    std::fs::create_dir(rootfs.join("ln")).unwrap();
    assert_eq!(
        compare_with_layers(&rootfs, &ls).unwrap(),
        vec![
            add("a"),
            wh("c"),
            add("d/x"),
            wh("d/y"),
            add("ln"),
            add("n"),
            add("n/new"),
        ]
    );
    write(&rootfs.join(".wh.x"), "");
    assert!(compare_with_layers(&rootfs, &ls).is_err());
}

#[test]
fn mount_points_the_runtime_made_are_left_out() {
    if !needs_root() {
        return;
    }
    let t = TempDir::new("changes-mounts");
    let l1 = t.0.join("l1");
    write(&l1.join("etc/passwd"), "root");
    write(&l1.join("srv/data"), "d");
    let ls = vec![l1];
    let tree = t.0.join("tree");
    write(&tree.join("etc/hosts"), "");
    write(&tree.join("etc/passwd"), "");
    std::fs::create_dir_all(tree.join("mnt/vol")).unwrap();
    std::fs::create_dir_all(tree.join("proc")).unwrap();
    std::fs::create_dir_all(tree.join("mine")).unwrap();
    write(&tree.join("full/f"), "not empty");
    // An opaque /srv removed the image's files: not just a mount point's parent.
    std::fs::create_dir_all(tree.join("srv/vol")).unwrap();
    xattr(&tree.join("srv"), "trusted.overlay.opaque", b"y");
    let dests: Vec<String> = [
        "/etc/hosts",
        "/etc/passwd",
        "/mnt/vol",
        "/proc",
        "/full",
        "/srv/vol",
        "/absent/x",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let skip = runtime_mount_points(&tree, None, &ls, &dests).unwrap();
    let want: BTreeSet<PathBuf> = ["etc/hosts", "mnt", "mnt/vol", "proc", "srv/vol"]
        .iter()
        .map(PathBuf::from)
        .collect();
    assert_eq!(skip, want);
}
