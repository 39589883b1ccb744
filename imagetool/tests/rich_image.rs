//! The six-layer image (whiteouts of a file and of a directory, an opaque directory,
//! hardlinks, relative and absolute symlinks, `user.`/`trusted.` xattrs, setuid, setgid
//! and sticky bits) round-tripped registry → `oci:` → `docker-archive:` → registry and
//! through skopeo both ways with its digest unchanged at every hop, then unpacked from the
//! registry, as overlay layer dirs and as a `--copy` rootfs, with everything still there.

mod common;

use common::*;
use skiff_image::digest::Digest;
use skiff_image::transport::layout::Layout;
use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Extended attributes of `path`, as GNU tar reads them (`--xattrs-include='*'`).
fn xattrs(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let out = Command::new("tar")
        .args([
            "--xattrs",
            "--xattrs-include=*",
            "--no-recursion",
            "-cf",
            "-",
            "-C",
        ])
        .arg(path.parent().unwrap())
        .arg(path.file_name().unwrap())
        .output()
        .expect("run tar");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut ar = tar::Archive::new(&out.stdout[..]);
    let mut e = ar.entries().unwrap().next().unwrap().unwrap();
    let mut found = BTreeMap::new();
    if let Some(exts) = e.pax_extensions().unwrap() {
        for x in exts {
            let x = x.unwrap();
            if let Some(k) = x.key().unwrap().strip_prefix("SCHILY.xattr.") {
                found.insert(k.to_string(), x.value_bytes().to_vec());
            }
        }
    }
    found
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

fn ino(p: &Path) -> (u64, u64) {
    let m = std::fs::symlink_metadata(p).unwrap();
    (m.ino(), m.nlink())
}

/// The merged root filesystem of the six layers, as any reader of the image must see it.
fn check_rootfs(r: &Path, trusted_xattrs: bool) {
    for gone in ["data/gone", "gone_dir", "opq/old1", "opq/old2", "lnk/abs"] {
        assert!(
            std::fs::symlink_metadata(r.join(gone)).is_err(),
            "{gone} was whited out but is in {r:?}"
        );
    }
    assert_eq!(std::fs::read(r.join("opq/new")).unwrap(), b"new\n");
    assert_eq!(std::fs::read(r.join("data/keep")).unwrap(), b"keep\n");
    assert_eq!(
        std::fs::read_to_string(r.join("etc/passwd"))
            .unwrap()
            .lines()
            .count(),
        2,
        "the top layer's /etc/passwd wins"
    );
    assert_eq!(ino(&r.join("data/linked")).0, ino(&r.join("data/hard")).0);
    let (a, links) = ino(&r.join("hl/a"));
    assert!(links >= 3, "hl/a has {links} links");
    assert_eq!(ino(&r.join("hl/b")).0, a);
    assert_eq!(ino(&r.join("hl/c")).0, a);
    assert_eq!(mode(&r.join("bin/su")), 0o4755);
    assert_eq!(mode(&r.join("bin/sg")), 0o2755);
    assert_eq!(mode(&r.join("app/run")), 0o4711);
    assert_eq!(mode(&r.join("app")), 0o1777);
    assert_eq!(
        std::fs::read_link(r.join("lnk/rel")).unwrap(),
        Path::new("../data/keep")
    );
    assert_eq!(
        std::fs::read_link(r.join("lnk/dir")).unwrap(),
        Path::new("../hl")
    );
    assert_eq!(
        xattrs(&r.join("data/xattr"))
            .get("user.skiff")
            .map(Vec::as_slice),
        Some(&b"v1"[..])
    );
    let tagged = xattrs(&r.join("app/tagged"));
    assert_eq!(
        tagged.get("user.skiff.app").map(Vec::as_slice),
        Some(&b"a1"[..])
    );
    if trusted_xattrs {
        assert_eq!(
            tagged.get("trusted.skiff").map(Vec::as_slice),
            Some(&b"t1"[..])
        );
    }
}

/// `layers/<chain id hex>` of each layer in the store.
fn layer_dirs(root: &Path, diff_ids: &[Digest]) -> Vec<PathBuf> {
    let mut chain: Vec<String> = Vec::new();
    for d in diff_ids {
        let next = match chain.last() {
            None => d.to_string(),
            Some(prev) => Digest::of(format!("{prev} {d}").as_bytes()).to_string(),
        };
        chain.push(next);
    }
    chain
        .iter()
        .map(|c| root.join("layers").join(c.trim_start_matches("sha256:")))
        .collect()
}

#[test]
fn six_layer_image_round_trips_with_digests_and_unpacks_whole() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("rich");
    let root = t.join("root");
    let src = Layout::create(&t.join("src")).unwrap();
    let (top, diff_ids) = write_rich_image(&src, "rich");
    let want = top.digest.to_string();
    let h = &reg.host;
    let digest = |loc: &str| json_digest(&ok(&root, &["inspect", loc]));
    let sk_digest = |loc: &str| json_digest(&skopeo(&["inspect", "--tls-verify=false", loc]));

    // skiff-image: oci → registry → oci → docker-archive → registry.
    let reg1 = format!("docker://{h}/rich/img:1");
    ok(
        &root,
        &[
            "copy",
            "-q",
            &format!("oci:{}:rich", src.dir().display()),
            &reg1,
        ],
    );
    assert_eq!(sk_digest(&reg1), want);
    let oci1 = format!("oci:{}:rich", t.join("oci1").display());
    ok(&root, &["copy", "-q", &reg1, &oci1]);
    assert_eq!(digest(&oci1), want);
    let archive = format!(
        "docker-archive:{}:example.com/rich:1",
        t.join("rich.tar").display()
    );
    ok(&root, &["copy", "-q", &oci1, &archive]);
    assert_eq!(digest(&archive), want);
    let reg2 = format!("docker://{h}/rich/img:2");
    ok(&root, &["copy", "-q", &archive, &reg2]);
    assert_eq!(sk_digest(&reg2), want);

    // skopeo both ways: it reads what we pushed into an oci: layout we read and push;
    // it pushes our oci: layout and we pull that.
    let sk_oci = format!("oci:{}:rich", t.join("skoci").display());
    skopeo(&["copy", "-q", "--src-tls-verify=false", &reg2, &sk_oci]);
    assert_eq!(digest(&sk_oci), want);
    let reg3 = format!("docker://{h}/rich/img:3");
    ok(&root, &["copy", "-q", &sk_oci, &reg3]);
    assert_eq!(sk_digest(&reg3), want);
    let reg4 = format!("docker://{h}/rich/img:4");
    skopeo(&["copy", "-q", "--dest-tls-verify=false", &oci1, &reg4]);
    let name = format!("{h}/rich/img:4");
    ok(&root, &["pull", "-q", &name]);
    assert_eq!(digest(&name), want);

    // Unpacked: every layer dir holds its own diff, whiteouts in overlay form.
    let bundle = t.join("bundle");
    ok(&root, &["unpack", &name, bundle.to_str().unwrap()]);
    let dirs = layer_dirs(&root, &diff_ids);
    for d in &dirs {
        assert!(d.is_dir(), "no layer dir {d:?}");
    }
    let wh = std::fs::symlink_metadata(dirs[1].join("data/gone")).unwrap();
    assert!(
        wh.file_type().is_char_device() && wh.rdev() == 0,
        "data/gone whiteout"
    );
    let wh = std::fs::symlink_metadata(dirs[1].join("gone_dir")).unwrap();
    assert!(
        wh.file_type().is_char_device() && wh.rdev() == 0,
        "gone_dir whiteout"
    );
    assert_eq!(
        xattrs(&dirs[2].join("opq"))
            .get("trusted.overlay.opaque")
            .map(Vec::as_slice),
        Some(&b"y"[..])
    );
    assert!(!dirs[2].join("opq/.wh..wh..opq").exists());
    // The overlay rootfs, as the container sees it.
    check_rootfs(&bundle.join("rootfs"), false);
    ok(&root, &["rm-bundle", bundle.to_str().unwrap()]);
    // And a plain directory (`--copy`), trusted xattrs included.
    let copied = t.join("copied");
    ok(
        &root,
        &["unpack", "--copy", &name, copied.to_str().unwrap()],
    );
    check_rootfs(&copied.join("rootfs"), true);
    ok(&root, &["rm-bundle", copied.to_str().unwrap()]);
}
