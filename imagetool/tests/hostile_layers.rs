//! Hostile layers through the command line: an image whose layer tries to
//! leave the target (`..`, an absolute symlink then a file through it, a
//! hardlink to a host file) or is a truncated gzip, copied into the store and
//! unpacked. Each gives one line naming the problem; nothing appears outside
//! the target, no layer dir is stored and no bundle is left.

mod common;

use common::*;
use flate2::write::GzEncoder;
use skiff_image::digest::Digest;
use skiff_image::transport::layout::Layout;
use std::io::Write;
use std::path::Path;

/// A ustar entry with the name and link written raw: the tar crate's own
/// setters refuse `..`, which is the point here.
fn raw_entry(
    b: &mut tar::Builder<Vec<u8>>,
    path: &str,
    kind: tar::EntryType,
    link: &str,
    data: &[u8],
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
    h.set_mode(0o644);
    h.set_mtime(1_600_000_000);
    h.set_cksum();
    b.append(&h, data).unwrap();
}

/// A tar entry: path, kind, link target, data.
type Entry<'a> = (&'a str, tar::EntryType, &'a str, &'a [u8]);

fn gzip(tar: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(tar).unwrap();
    gz.finish().unwrap()
}

/// A one-layer image of `entries` in the store as `name`; with `truncate`
/// the blob loses its second half after its diff ID was taken.
fn store_image(
    root: &Path,
    dir: &Path,
    name: &str,
    entries: &[(&str, tar::EntryType, &str, &[u8])],
    truncate: bool,
) {
    let mut b = tar::Builder::new(Vec::new());
    for (path, kind, link, data) in entries {
        raw_entry(&mut b, path, *kind, link, data);
    }
    let tar = b.into_inner().unwrap();
    let diff = Digest::of(&tar);
    let mut blob = gzip(&tar);
    if truncate {
        blob.truncate(blob.len() / 2);
    }
    let layout_dir = dir.join(format!("layout-{}", name.replace(['/', ':'], "-")));
    let layout = Layout::create(&layout_dir).unwrap();
    let desc = write_image(&layout, host_arch(), &[blob], &[diff]);
    name_in_index(&layout, desc, "hostile");
    ok(
        root,
        &[
            "copy",
            &format!("oci:{}:hostile", layout_dir.display()),
            &format!("skiff:{name}"),
        ],
    );
}

fn layer_dirs(root: &Path) -> usize {
    std::fs::read_dir(root.join("layers"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn hostile_layers_are_refused_by_unpack_and_leave_nothing() {
    use tar::EntryType as T;
    let tmp = Tmp::new("hostile-cli");
    let root = tmp.join("store");
    // Where each escape would land if it worked.
    let outside = tmp.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret"), "keep").unwrap();
    let secret = outside.join("secret");
    let up = format!("../../../../../../../..{}/escaped", outside.display());
    let link_target = outside.display().to_string();
    let hard = secret.display().to_string();
    let cases: Vec<(&str, Vec<Entry>, bool, &str)> = vec![
        (
            "dotdot",
            vec![(up.as_str(), T::Regular, "", b"x")],
            false,
            "..",
        ),
        (
            "symlink-then-file",
            vec![
                ("l", T::Symlink, link_target.as_str(), b""),
                ("l/escaped", T::Regular, "", b"x"),
            ],
            false,
            "l/escaped",
        ),
        (
            "hardlink-out",
            vec![("h", T::Link, hard.as_str(), b"")],
            false,
            "h",
        ),
        (
            "truncated",
            vec![("big", T::Regular, "", &[7u8; 65536])],
            true,
            "decompress layer",
        ),
    ];
    for (tag, entries, truncate, needle) in cases {
        let name = format!("hostile/{tag}:1");
        store_image(&root, tmp.path(), &name, &entries, truncate);
        let bundle = tmp.join(&format!("bundle-{tag}"));
        let err = fails(&root, &["unpack", &name, bundle.to_str().unwrap(), "true"]);
        assert!(err.contains(needle), "{tag}: {err}");
        assert_eq!(std::fs::read_to_string(&secret).unwrap(), "keep", "{tag}");
        let escaped: Vec<_> = std::fs::read_dir(&outside)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(escaped, ["secret"], "{tag}: something was written outside");
        assert_eq!(layer_dirs(&root), 0, "{tag}: a hostile layer was stored");
        assert!(
            !bundle.join("config.json").exists(),
            "{tag}: a bundle was left"
        );
        let stray: Vec<_> = std::fs::read_dir(root.join("tmp"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            stray.iter().all(|n: &String| n.ends_with(".lock")),
            "{tag}: {stray:?}"
        );
    }
}
