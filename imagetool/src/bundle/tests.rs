//! Bundle tests: OCI layouts built here (no network), config.json from an image
//! config, a 150-layer overlay, and `umoci unpack` as the oracle for the merged rootfs.

mod layout;
mod oracle;
mod run;

use std::path::{Path, PathBuf};

use std::os::unix::fs::MetadataExt;

use serde_json::{json, Value};

use super::{create_bundle, create_bundle_with, remove_bundle, BundleOptions, MountApi};
use crate::unpack::sys;
use crate::unpack::tests::TempDir;
use layout::{build_image, Tar};

/// Removes the bundle (unmounting it) even when the test fails.
struct BundleGuard(PathBuf);

impl Drop for BundleGuard {
    fn drop(&mut self) {
        if let Err(e) = remove_bundle(&self.0) {
            eprintln!("cleanup {:?}: {e:#}", self.0);
        }
    }
}

fn base_layer() -> Tar {
    let mut t = Tar::new();
    t.dir("etc", 0o755, 0, 0);
    t.file(
        "etc/passwd",
        b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
        0o644,
        0,
        0,
    );
    t.file(
        "etc/group",
        b"root:x:0:\napp:x:1000:\nwheel:x:10:app\n",
        0o644,
        0,
        0,
    );
    t.dir("srv", 0o755, 0, 0);
    t.dir("data", 0o750, 1000, 1000);
    t.file("data/seed", b"seed", 0o640, 1000, 1000);
    t
}

fn read_config(bundle: &Path) -> Value {
    let text = std::fs::read_to_string(bundle.join("config.json")).unwrap();
    // The runtime's parser must accept it.
    let _: oci_spec::runtime::Spec = serde_json::from_str(&text).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn config_json_from_image_config() {
    if !sys::is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let tmp = TempDir::new("spec");
    let store = tmp.0.join("store");
    let cfg = json!({
        "Entrypoint": ["/bin/app"], "Cmd": ["--serve"], "Env": ["FOO=bar", "PATH=/opt/bin:/bin"],
        "User": "app", "WorkingDir": "/srv", "Volumes": {"/data": {}}, "StopSignal": "SIGQUIT",
    });
    let digest = build_image(&store, &[base_layer()], cfg, "spec");
    let bundle = tmp.0.join("b1");
    let _g = BundleGuard(bundle.clone());
    let opts = BundleOptions {
        copy: true,
        ..Default::default()
    };
    create_bundle(&store, &digest, &bundle, &opts).unwrap();
    let c = read_config(&bundle);
    let p = &c["process"];
    assert_eq!(p["args"], json!(["/bin/app", "--serve"]));
    assert_eq!(p["cwd"], "/srv");
    assert_eq!(
        p["user"],
        json!({"uid": 1000, "gid": 1000, "additionalGids": [10]})
    );
    let env: Vec<&str> = p["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        env.contains(&"FOO=bar")
            && env.contains(&"PATH=/opt/bin:/bin")
            && env.contains(&"HOME=/home/app")
    );
    assert_eq!(env.iter().filter(|e| e.starts_with("PATH=")).count(), 1);
    assert_eq!(
        c["annotations"]["org.opencontainers.image.stopSignal"],
        "SIGQUIT"
    );
    let mounts = c["mounts"].as_array().unwrap();
    let data = mounts.iter().find(|m| m["destination"] == "/data").unwrap();
    assert!(Path::new(data["source"].as_str().unwrap()).starts_with(&bundle));
    let vol = Path::new(data["source"].as_str().unwrap());
    assert_eq!(
        std::fs::read(vol.join("seed")).unwrap(),
        b"seed",
        "volume not seeded"
    );
    let md = std::fs::metadata(vol).unwrap();
    assert_eq!((md.uid(), md.mode() & 0o777), (1000, 0o750));
    for f in ["hosts", "hostname", "resolv.conf"] {
        let m = mounts
            .iter()
            .find(|m| m["destination"] == format!("/etc/{f}"))
            .unwrap();
        assert_eq!(m["source"], json!(bundle.join("etc").join(f)));
        assert!(bundle.join("etc").join(f).is_file());
    }
    let ns: Vec<&str> = c["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert!(ns.contains(&"network") && ns.contains(&"pid") && ns.contains(&"mount"));
    assert_eq!(
        c["process"]["capabilities"]["bounding"]
            .as_array()
            .unwrap()
            .len(),
        14
    );
    assert_eq!(c["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
    assert!(
        !bundle.join("rootfs/etc/hosts").exists(),
        "init files leaked into the rootfs"
    );

    // Overrides, docker-run style.
    let bundle2 = tmp.0.join("b2");
    let _g2 = BundleGuard(bundle2.clone());
    let opts = BundleOptions {
        copy: true,
        args: vec!["echo".into(), "hi".into()],
        env: vec!["FOO=baz".into()],
        user: Some("0:10".into()),
        workdir: Some("/tmp".into()),
        net: Some("host".into()),
        hostname: Some("box".into()),
        cap_add: vec!["SYS_ADMIN".into()],
        cap_drop: vec!["CAP_MKNOD".into()],
        memory: Some(64 << 20),
        pids_limit: Some(100),
        read_only: true,
        ..Default::default()
    };
    create_bundle(&store, &digest, &bundle2, &opts).unwrap();
    let c = read_config(&bundle2);
    assert_eq!(c["process"]["args"], json!(["/bin/app", "echo", "hi"]));
    assert_eq!(
        c["process"]["user"],
        json!({"uid": 0, "gid": 10, "additionalGids": []})
    );
    assert_eq!(c["process"]["cwd"], "/tmp");
    assert_eq!(c["hostname"], "box");
    assert_eq!(c["root"]["readonly"], true);
    assert!(c["process"]["env"]
        .as_array()
        .unwrap()
        .contains(&json!("FOO=baz")));
    assert!(!c["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["type"] == "network"));
    let caps = c["process"]["capabilities"]["bounding"].as_array().unwrap();
    assert!(caps.contains(&json!("CAP_SYS_ADMIN")) && !caps.contains(&json!("CAP_MKNOD")));
    assert_eq!(c["linux"]["resources"]["memory"]["limit"], 64 << 20);
    assert_eq!(
        std::fs::read_to_string(bundle2.join("etc/hostname")).unwrap(),
        "box\n"
    );
    // With CAP_SYS_ADMIN, mount is allowed by the profile.
    let rules = c["linux"]["seccomp"]["syscalls"].as_array().unwrap();
    assert!(rules
        .iter()
        .any(|r| r["names"].as_array().unwrap().contains(&json!("mount"))));
}

#[test]
fn refuses_unknown_user_and_cleans_up() {
    if !sys::is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let tmp = TempDir::new("baduser");
    let store = tmp.0.join("store");
    let digest = build_image(
        &store,
        &[base_layer()],
        json!({"Cmd": ["/bin/sh"], "User": "ghost"}),
        "u",
    );
    let bundle = tmp.0.join("b");
    let _g = BundleGuard(bundle.clone());
    let err = create_bundle(&store, &digest, &bundle, &BundleOptions::default()).unwrap_err();
    assert!(format!("{err:#}").contains("no user \"ghost\""), "{err:#}");
    assert!(!bundle.exists(), "a failed create left the bundle behind");
    // A directory the caller made stays, with its own files, and nothing of ours.
    std::fs::create_dir_all(&bundle).unwrap();
    std::fs::write(bundle.join("mine"), b"keep").unwrap();
    create_bundle(&store, &digest, &bundle, &BundleOptions::default()).unwrap_err();
    let names: Vec<_> = std::fs::read_dir(&bundle)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["mine"]);
    assert_eq!(std::fs::read_dir(store.join("bundles")).unwrap().count(), 0);
}

fn many_layers(n: usize) -> Vec<Tar> {
    let mut layers = vec![base_layer()];
    for i in 1..n {
        let mut t = Tar::new();
        t.file(&format!("f{i}"), format!("{i}").as_bytes(), 0o644, 0, 0);
        t.file("top", format!("{i}").as_bytes(), 0o644, 0, 0);
        if i == 100 {
            t.file("srv/.wh.f5", b"", 0o644, 0, 0);
            t.file(".wh.f5", b"", 0o644, 0, 0);
        }
        layers.push(t);
    }
    layers
}

fn check_150(bundle: &Path) {
    let root = bundle.join("rootfs");
    assert_eq!(std::fs::read_to_string(root.join("top")).unwrap(), "149");
    assert_eq!(std::fs::read_to_string(root.join("f1")).unwrap(), "1");
    assert!(
        !root.join("f5").exists(),
        "whiteout of layer 100 not applied"
    );
    assert_eq!(std::fs::read_dir(&root).unwrap().count(), 3 + 148 + 1);
    // Writes land in the bundle's upper dir.
    std::fs::write(root.join("new"), b"x").unwrap();
    assert!(bundle.join("upper/new").exists());
}

#[test]
fn overlay_with_150_layers() {
    if !sys::is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let tmp = TempDir::new("l150");
    let store = tmp.0.join("store");
    let digest = build_image(
        &store,
        &many_layers(150),
        json!({"Cmd": ["/bin/sh"]}),
        "many",
    );
    let t0 = std::time::Instant::now();
    crate::unpack::ensure_layers(&store, &digest).unwrap();
    let extract = t0.elapsed();
    for (api, name) in [(MountApi::Auto, "fsopen"), (MountApi::Legacy, "legacy")] {
        let bundle = tmp.0.join(format!("b-{name}"));
        let g = BundleGuard(bundle.clone());
        let t = std::time::Instant::now();
        create_bundle_with(&store, &digest, &bundle, &BundleOptions::default(), api).unwrap();
        eprintln!(
            "150 layers: extract {extract:?}, warm create_bundle ({name}) {:?}",
            t.elapsed()
        );
        assert!(super::mount::is_mounted(&bundle.join("rootfs")));
        // Only the fallback needs the short-name links.
        assert_eq!(
            bundle.join("l").exists(),
            api == MountApi::Legacy,
            "{name} path not taken"
        );
        check_150(&bundle);
        super::unmount_bundle(&bundle).unwrap();
        assert!(!super::mount::is_mounted(&bundle.join("rootfs")));
        super::mount_bundle(&bundle).unwrap();
        assert_eq!(
            std::fs::read(bundle.join("rootfs/new")).unwrap(),
            b"x",
            "upper dir lost"
        );
        drop(g);
        assert!(!bundle.exists());
    }
}

#[test]
fn ensure_layers_refuses_a_corrupt_blob() {
    let tmp = TempDir::new("corrupt");
    let store = tmp.0.join("store");
    let digest = build_image(&store, &[base_layer()], json!({"Cmd": ["/bin/sh"]}), "c");
    // Flip the layer blob's last byte (gzip trailer): the digest check must fail and
    // nothing may appear under layers/.
    let (manifest, _) = crate::unpack::image::read_manifest(&store, &digest).unwrap();
    let blob = crate::unpack::image::blob_path(&store, &manifest.layers[0].digest).unwrap();
    let mut bytes = std::fs::read(&blob).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&blob, bytes).unwrap();
    let err = crate::unpack::ensure_layers(&store, &digest).unwrap_err();
    assert!(
        format!("{err:#}").contains(&manifest.layers[0].digest),
        "{err:#}"
    );
    assert_eq!(std::fs::read_dir(store.join("layers")).unwrap().count(), 0);
    let leftovers = std::fs::read_dir(store.join("tmp"))
        .unwrap()
        .filter(|e| {
            !e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".lock")
        })
        .count();
    assert_eq!(leftovers, 0, "a failed extraction left work in tmp/");
}

#[test]
fn concurrent_ensure_layers_share_the_work() {
    let tmp = TempDir::new("concurrent");
    let store = tmp.0.join("store");
    let digest = build_image(&store, &many_layers(20), json!({"Cmd": ["/bin/sh"]}), "c");
    let results: Vec<Vec<PathBuf>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..3)
            .map(|_| s.spawn(|| crate::unpack::ensure_layers(&store, &digest).unwrap()))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(results.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(std::fs::read_dir(store.join("layers")).unwrap().count(), 20);
    assert_eq!(
        std::fs::read_to_string(results[0][19].join("top")).unwrap(),
        "19"
    );
    let leftovers = std::fs::read_dir(store.join("tmp"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("layer-")
        })
        .count();
    assert_eq!(leftovers, 0);
}
