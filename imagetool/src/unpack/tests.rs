//! Extraction tests: a corpus of hostile tars built here (each must be refused with an
//! error naming the entry and leave nothing outside the target), and the metadata a
//! well-formed layer must keep.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{extract_layer, ExtractOptions};

/// A private temp dir removed on drop (even when the test fails).
pub(crate) struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!("ut-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Appends one entry with raw path bytes (the tar crate's own setters refuse `..`).
pub(crate) fn raw_entry(
    b: &mut tar::Builder<Vec<u8>>,
    path: &str,
    kind: tar::EntryType,
    link: &str,
    data: &[u8],
    mode: u32,
) {
    let mut h = tar::Header::new_ustar();
    {
        let u = h.as_ustar_mut().unwrap();
        u.name[..path.len()].copy_from_slice(path.as_bytes());
        u.linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    h.set_entry_type(kind);
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(data.len() as u64);
    h.set_mode(mode);
    h.set_mtime(1_600_000_000);
    h.set_cksum();
    b.append(&h, data).unwrap();
}

fn tar_of(entries: &[(&str, tar::EntryType, &str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, kind, link, data) in entries {
        raw_entry(&mut b, path, *kind, link, data, 0o644);
    }
    b.into_inner().unwrap()
}

/// Extracts `tar` into `<tmp>/target` beside `<tmp>/outside/secret`, expects an error
/// mentioning `needle`, and checks nothing changed outside the target.
fn refuse(tar: &[u8], opts: &ExtractOptions, needle: &str) {
    let tmp = TempDir::new("hostile");
    let target = tmp.0.join("target");
    let outside = tmp.0.join("outside");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret"), b"keep").unwrap();
    let err = extract_layer(tar, &target, opts).expect_err("hostile tar was accepted");
    let msg = format!("{err:#}");
    assert!(
        msg.contains(needle),
        "error {msg:?} does not mention {needle:?}"
    );
    let mut names: Vec<_> = std::fs::read_dir(&tmp.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["outside", "target"],
        "something was written beside the target"
    );
    let outside_names: Vec<_> = std::fs::read_dir(&outside)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(outside_names, ["secret"]);
    assert_eq!(std::fs::read(outside.join("secret")).unwrap(), b"keep");
    assert_eq!(
        std::fs::metadata(outside.join("secret")).unwrap().nlink(),
        1
    );
}

use tar::EntryType as T;

#[test]
fn refuses_dotdot_traversal() {
    let t = tar_of(&[("../evil", T::Regular, "", b"x")]);
    refuse(&t, &ExtractOptions::default(), "\"../evil\"");
    let t = tar_of(&[("a/../../outside/secret", T::Regular, "", b"x")]);
    refuse(&t, &ExtractOptions::default(), "\"..\" refused");
}

#[test]
fn refuses_absolute_paths() {
    let tmp = TempDir::new("abs");
    let p = format!("{}/evil", tmp.0.display());
    let t = tar_of(&[(&p, T::Regular, "", b"x")]);
    refuse(&t, &ExtractOptions::default(), "absolute path refused");
    assert!(!tmp.0.join("evil").exists());
}

#[test]
fn refuses_symlink_then_file() {
    let t = tar_of(&[
        ("link", T::Symlink, "../outside", b""),
        ("link/secret", T::Regular, "", b"pwned"),
    ]);
    refuse(&t, &ExtractOptions::default(), "\"link/secret\"");
}

#[test]
fn refuses_hardlink_to_outside() {
    let t = tar_of(&[("h", T::Link, "../outside/secret", b"")]);
    refuse(&t, &ExtractOptions::default(), "hardlink target");
    let t = tar_of(&[("h", T::Link, "/etc/passwd", b"")]);
    refuse(&t, &ExtractOptions::default(), "absolute path refused");
}

#[test]
fn refuses_absolute_symlink_chain() {
    let tmp = TempDir::new("chain");
    let outside = format!("{}", tmp.0.display());
    let t = tar_of(&[
        ("a", T::Symlink, &outside, b""),
        ("b", T::Symlink, "a", b""),
        ("b/evil", T::Regular, "", b"x"),
    ]);
    refuse(&t, &ExtractOptions::default(), "\"b\" is a symlink");
    let t = tar_of(&[
        ("a", T::Symlink, "/", b""),
        ("h", T::Link, "a/etc/passwd", b""),
    ]);
    refuse(&t, &ExtractOptions::default(), "\"a\" is a symlink");
    assert_eq!(std::fs::read_dir(&tmp.0).unwrap().count(), 0);
}

#[test]
fn refuses_device_nodes_rootless() {
    let t = tar_of(&[("dev/sda", T::Block, "", b"")]);
    let opts = ExtractOptions {
        rootless: true,
        max_bytes: None,
    };
    refuse(&t, &opts, "refused in rootless mode");
    let t = tar_of(&[("fifo", T::Fifo, "", b"")]);
    refuse(&t, &opts, "\"fifo\"");
}

#[test]
fn refuses_tar_bomb() {
    let big = vec![0u8; 3 << 20];
    let t = tar_of(&[
        ("a", T::Regular, "", &big[..1 << 20]),
        ("b", T::Regular, "", &big),
    ]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&t).unwrap();
    let gz = gz.finish().unwrap();
    let opts = ExtractOptions {
        rootless: false,
        max_bytes: Some(2 << 20),
    };
    refuse(
        &gz,
        &opts,
        "\"b\": layer exceeds the limit of 2097152 bytes",
    );
}

#[test]
fn refuses_truncated_gzip() {
    let data: Vec<u8> = (0..400_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let t = tar_of(&[("f", T::Regular, "", &data)]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&t).unwrap();
    let gz = gz.finish().unwrap();
    refuse(
        &gz[..gz.len() / 2],
        &ExtractOptions::default(),
        "decompress layer",
    );
    // Cut inside the trailer: every tar byte arrives, the CRC/size check must fail.
    refuse(
        &gz[..gz.len() - 4],
        &ExtractOptions::default(),
        "decompress layer",
    );
    let zst = zstd::encode_all(&t[..], 3).unwrap();
    refuse(
        &zst[..zst.len() / 2],
        &ExtractOptions::default(),
        "decompress layer",
    );
}

fn lxattr(p: &Path, key: &str) -> Option<Vec<u8>> {
    super::sys::list_xattrs(p)
        .unwrap()
        .into_iter()
        .find(|(k, _)| k.to_bytes() == key.as_bytes())
        .map(|(_, v)| v)
}

/// Whiteouts, opaque dirs, hardlinks, xattrs, setuid, owners, mtimes and devices
/// survive, from a zstd layer (root only: devices and trusted xattrs).
#[test]
fn keeps_metadata() {
    if !super::sys::is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let mut b = tar::Builder::new(Vec::new());
    raw_entry(&mut b, "etc/", T::Directory, "", b"", 0o750);
    raw_entry(&mut b, "etc/.wh.gone", T::Regular, "", b"", 0o644);
    raw_entry(&mut b, "opq/.wh..wh..opq", T::Regular, "", b"", 0o644);
    raw_entry(&mut b, "bin/su", T::Regular, "", b"#!su", 0o4755);
    raw_entry(&mut b, "bin/su2", T::Link, "bin/su", b"", 0o644);
    raw_entry(&mut b, "bin/sh", T::Symlink, "/bin/busybox", b"", 0o777);
    let mut h = tar::Header::new_ustar();
    h.set_path("dev/null").unwrap();
    h.set_entry_type(T::Char);
    h.set_device_major(1).unwrap();
    h.set_device_minor(3).unwrap();
    h.set_mode(0o666);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_size(0);
    h.set_cksum();
    b.append(&h, &b""[..]).unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_path("etc/owned").unwrap();
    h.set_size(2);
    h.set_mode(0o640);
    h.set_uid(1234);
    h.set_gid(5678);
    h.set_mtime(1_500_000_000);
    h.set_entry_type(T::Regular);
    b.append_pax_extensions([
        ("SCHILY.xattr.user.skiff", &b"v1"[..]),
        ("SCHILY.xattr.trusted.overlay.redirect", &b"/x"[..]),
    ])
    .unwrap();
    h.set_cksum();
    b.append(&h, &b"ok"[..]).unwrap();
    let t = b.into_inner().unwrap();
    let z = zstd::encode_all(&t[..], 3).unwrap();

    let tmp = TempDir::new("meta");
    let stats = extract_layer(&z[..], &tmp.0, &ExtractOptions::default()).unwrap();
    assert_eq!(stats.entries, 8);
    let r = &tmp.0;
    let wh = std::fs::symlink_metadata(r.join("etc/gone")).unwrap();
    assert!(std::os::unix::fs::FileTypeExt::is_char_device(
        &wh.file_type()
    ));
    assert_eq!(wh.rdev(), 0);
    assert_eq!(
        lxattr(&r.join("opq"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert!(!r.join("opq/.wh..wh..opq").exists());
    let su = std::fs::metadata(r.join("bin/su")).unwrap();
    assert_eq!(su.permissions().mode() & 0o7777, 0o4755);
    assert_eq!(su.nlink(), 2);
    assert_eq!(
        su.ino(),
        std::fs::metadata(r.join("bin/su2")).unwrap().ino()
    );
    assert_eq!(
        std::fs::read_link(r.join("bin/sh")).unwrap(),
        Path::new("/bin/busybox")
    );
    let owned = std::fs::metadata(r.join("etc/owned")).unwrap();
    assert_eq!(
        (owned.uid(), owned.gid(), owned.mtime()),
        (1234, 5678, 1_500_000_000)
    );
    assert_eq!(
        lxattr(&r.join("etc/owned"), "user.skiff").as_deref(),
        Some(&b"v1"[..])
    );
    assert_eq!(
        lxattr(&r.join("etc/owned"), "trusted.overlay.redirect"),
        None
    );
    let etc = std::fs::metadata(r.join("etc")).unwrap();
    assert_eq!(
        (etc.permissions().mode() & 0o7777, etc.mtime()),
        (0o750, 1_600_000_000)
    );
    let dev = std::fs::symlink_metadata(r.join("dev/null")).unwrap();
    assert_eq!(dev.rdev(), libc::makedev(1, 3));
    let mut implied = stats.implied_dirs.clone();
    implied.sort();
    assert_eq!(implied, [PathBuf::from("bin"), "dev".into(), "opq".into()]);
}
