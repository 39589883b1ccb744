//! Rootless extraction, run for real as an unprivileged uid: the test re-executes its
//! own binary under `setpriv` for the child half.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::process::Command;

use super::tests::{raw_entry, TempDir};
use super::{extract_layer, ExtractOptions};
use tar::EntryType as T;

const CHILD_ENV: &str = "SKIFF_ROOTLESS_TARGET";

fn layer() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    raw_entry(&mut b, "etc/", T::Directory, "", b"", 0o755);
    raw_entry(&mut b, "etc/.wh.gone", T::Regular, "", b"", 0o644);
    raw_entry(&mut b, "opq/.wh..wh..opq", T::Regular, "", b"", 0o644);
    raw_entry(
        &mut b,
        "etc/conf",
        T::Regular,
        "",
        b"owned by root in the tar",
        0o640,
    );
    b.into_inner().unwrap()
}

/// The child half: extracts as whatever uid it runs with.
#[test]
fn rootless_child() {
    let Some(target) = std::env::var_os(CHILD_ENV) else {
        return; // only meaningful when started by `extracts_rootless`
    };
    let target = Path::new(&target);
    let opts = ExtractOptions {
        rootless: true,
        max_bytes: None,
    };
    extract_layer(&layer()[..], &target.join("ok"), &opts).unwrap();
    let mut b = tar::Builder::new(Vec::new());
    raw_entry(&mut b, "dev/null", T::Char, "", b"", 0o666);
    let err = extract_layer(&b.into_inner().unwrap()[..], &target.join("dev"), &opts).unwrap_err();
    assert!(
        format!("{err:#}").contains("refused in rootless mode"),
        "{err:#}"
    );
}

#[test]
fn extracts_rootless() {
    if !super::sys::is_root() || Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipped: needs root (to drop to uid 65534) and setpriv");
        return;
    }
    let tmp = TempDir::new("rootless");
    for d in ["ok", "dev"] {
        std::fs::create_dir(tmp.0.join(d)).unwrap();
        std::os::unix::fs::chown(tmp.0.join(d), Some(65534), Some(65534)).unwrap();
    }
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "unpack::tests_rootless::rootless_child",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &tmp.0)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && log.contains("1 passed"),
        "child: {log}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ok = tmp.0.join("ok");
    let wh = std::fs::symlink_metadata(ok.join("etc/gone")).unwrap();
    assert!(
        wh.file_type().is_char_device() && wh.rdev() == 0,
        "no whiteout"
    );
    let conf = std::fs::metadata(ok.join("etc/conf")).unwrap();
    assert_eq!((conf.uid(), conf.mode() & 0o777), (65534, 0o640));
    let opaque = super::sys::list_xattrs(&ok.join("opq")).unwrap();
    assert!(opaque
        .iter()
        .any(|(k, v)| k.to_bytes() == b"user.overlay.opaque" && v == b"y"));
}
