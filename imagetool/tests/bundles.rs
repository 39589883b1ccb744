//! `skiff-image unpack` end to end: an image from the host's busybox, unpacked with
//! docker run's flags, run by the real `skiff` runtime, every option observed from
//! inside the container; then `rm-bundle` leaves no mount and no directory.

mod common;

use common::*;
use std::path::Path;

/// A header owned by root, mtime 0, for `kind` with `mode`.
fn header(kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h
}

/// busybox with the applets the tests use, an `app` user (1000:1000) and a /data dir.
fn import_test_image(root: &Path, dir: &Path, name: &str) {
    let tar_path = dir.join("image-rootfs.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&tar_path).unwrap());
    b.append_path_with_name("/bin/busybox", "bin/busybox")
        .unwrap();
    for applet in [
        "sh", "id", "pwd", "hostname", "grep", "cat", "echo", "readlink", "ls",
    ] {
        let mut h = header(tar::EntryType::Symlink, 0, 0o777);
        b.append_link(&mut h, format!("bin/{applet}"), "busybox")
            .unwrap();
    }
    for (path, text) in [
        (
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n",
        ),
        ("etc/group", "root:x:0:\napp:x:1000:\n"),
    ] {
        let mut h = header(tar::EntryType::Regular, text.len() as u64, 0o644);
        b.append_data(&mut h, path, text.as_bytes()).unwrap();
    }
    let mut h = header(tar::EntryType::Directory, 0, 0o777);
    b.append_data(&mut h, "data", std::io::empty()).unwrap();
    b.into_inner().unwrap();
    ok(
        root,
        &[
            "import",
            tar_path.to_str().unwrap(),
            name,
            "--change",
            "ENV IMG=from-image",
            "--change",
            "WORKDIR /data",
            "--change",
            r#"ENTRYPOINT ["/bin/sh", "-c"]"#,
            "--change",
            r#"CMD ["echo cmd=default cwd=$(pwd) img=$IMG"]"#,
        ],
    );
}

#[test]
fn image_config_becomes_the_process() {
    let tmp = Tmp::new("bundle-config");
    let root = tmp.join("store");
    import_test_image(&root, tmp.path(), "test/bb:1");
    let bundle = tmp.join("bundle");
    ok(&root, &["unpack", "test/bb:1", bundle.to_str().unwrap()]);
    assert!(
        !mounts_under(&bundle.join("rootfs")).is_empty(),
        "rootfs is a mount"
    );
    let (code, out, err) = run_bundle(&tmp.join("state"), &bundle, &unique_id("cfg"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "cmd=default cwd=/data img=from-image");
    ok(&root, &["rm-bundle", bundle.to_str().unwrap()]);
    assert!(mounts_under(&bundle).is_empty(), "rm-bundle left a mount");
    assert!(!bundle.exists(), "rm-bundle left the directory");
}

#[test]
fn docker_run_options_are_observed_inside() {
    let tmp = Tmp::new("bundle-opts");
    let root = tmp.join("store");
    import_test_image(&root, tmp.path(), "test/bb:1");
    let (rw, ro) = (tmp.join("rw"), tmp.join("ro"));
    std::fs::create_dir_all(&rw).unwrap();
    std::fs::create_dir_all(&ro).unwrap();
    std::fs::write(ro.join("f"), "host").unwrap();
    // The app user must be able to write the rw volume.
    std::os::unix::fs::chown(&rw, Some(1000), Some(1000)).unwrap();
    let env_file = tmp.join("env");
    std::fs::write(&env_file, "# comment\nFROM_FILE=yes\n").unwrap();
    let bundle = tmp.join("bundle");
    let script = "echo env=$FOO,$FROM_FILE,$IMG; echo user=$(id -u):$(id -g); echo cwd=$(pwd); \
        echo host=$(hostname); grep -q 'db' /etc/hosts && echo hosts-ok; \
        grep -q 'nameserver 10.0.0.53' /etc/resolv.conf && echo dns-ok; \
        grep -q 'search example.test' /etc/resolv.conf && echo search-ok; \
        echo hi > /mnt/rw/out && echo rw-ok; (echo x > /mnt/ro/f) 2>/dev/null || echo ro-ok; \
        (echo x > /rootfile) 2>/dev/null || echo readonly-ok; \
        echo x > /scratch/f && grep -q ' /scratch tmpfs' /proc/mounts && echo tmpfs-ok";
    ok(
        &root,
        &[
            "unpack",
            "-e",
            "FOO=bar",
            "--env-file",
            env_file.to_str().unwrap(),
            "-v",
            &format!("{}:/mnt/rw", rw.display()),
            "-v",
            &format!("{}:/mnt/ro:ro", ro.display()),
            "--tmpfs",
            "/scratch:size=1m",
            "--hostname",
            "box1",
            "--add-host",
            "db:10.0.0.5",
            "--dns",
            "10.0.0.53",
            "--dns-search",
            "example.test",
            "-u",
            "app",
            "-w",
            "/tmp",
            "--read-only",
            "--memory",
            "64m",
            "--cpus",
            "0.5",
            "--pids-limit",
            "50",
            "test/bb:1",
            bundle.to_str().unwrap(),
            script,
        ],
    );
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap();
    let res = &config["linux"]["resources"];
    assert_eq!(res["memory"]["limit"], 64 << 20, "{res}");
    assert_eq!(res["pids"]["limit"], 50, "{res}");
    assert_eq!(res["cpu"]["quota"].as_i64(), Some(50_000), "{res}");
    let (code, out, err) = run_bundle(&tmp.join("state"), &bundle, &unique_id("opts"));
    assert_eq!(code, 0, "{err}\n{out}");
    for want in [
        "env=bar,yes,from-image",
        "user=1000:1000",
        "cwd=/tmp",
        "host=box1",
        "hosts-ok",
        "dns-ok",
        "search-ok",
        "rw-ok",
        "ro-ok",
        "readonly-ok",
        "tmpfs-ok",
    ] {
        assert!(
            out.lines().any(|l| l == want),
            "missing {want:?} in:\n{out}\n{err}"
        );
    }
    assert_eq!(std::fs::read_to_string(rw.join("out")).unwrap(), "hi\n");
    assert_eq!(std::fs::read_to_string(ro.join("f")).unwrap(), "host");
    ok(&root, &["rm-bundle", bundle.to_str().unwrap()]);
    assert!(mounts_under(&bundle).is_empty());
}

#[test]
fn capabilities_network_and_copy_mode() {
    let tmp = Tmp::new("bundle-caps");
    let root = tmp.join("store");
    import_test_image(&root, tmp.path(), "test/bb:1");
    let bundle = tmp.join("bundle");
    ok(
        &root,
        &[
            "unpack",
            "--copy",
            "--cap-add",
            "NET_ADMIN",
            "--cap-drop",
            "KILL",
            "--net",
            "host",
            "--entrypoint",
            "/bin/sh",
            "test/bb:1",
            bundle.to_str().unwrap(),
            "-c",
            "grep ^CapEff: /proc/self/status; readlink /proc/self/ns/net",
        ],
    );
    assert!(mounts_under(&bundle).is_empty(), "--copy mounts nothing");
    let (code, out, err) = run_bundle(&tmp.join("state"), &bundle, &unique_id("caps"));
    assert_eq!(code, 0, "{err}");
    let capeff = out
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
        .unwrap_or_else(|| panic!("no CapEff in {out}"));
    assert_ne!(capeff & (1 << 12), 0, "CAP_NET_ADMIN added: {capeff:x}");
    assert_eq!(capeff & (1 << 5), 0, "CAP_KILL dropped: {capeff:x}");
    let host_net = std::fs::read_link("/proc/self/ns/net").unwrap();
    assert!(
        out.contains(host_net.to_str().unwrap()),
        "--net host: {out}"
    );
    ok(&root, &["rm-bundle", bundle.to_str().unwrap()]);
    assert!(!bundle.exists());
}

#[test]
fn bad_input_is_one_line_and_leaves_nothing() {
    let tmp = Tmp::new("bundle-bad");
    let root = tmp.join("store");
    import_test_image(&root, tmp.path(), "test/bb:1");
    let bundle = tmp.join("bundle");
    let b = bundle.to_str().unwrap();
    let err = fails(&root, &["unpack", "no/such:image", b]);
    assert!(err.contains("no/such"), "{err}");
    assert!(!bundle.exists(), "an unknown image made the bundle dir");
    let err = fails(&root, &["unpack", "-v", "relative:/x", "test/bb:1", b]);
    assert!(err.contains("relative"), "{err}");
    assert!(mounts_under(&bundle).is_empty() && !bundle.join("config.json").exists());
    let err = fails(&root, &["unpack", "--memory", "lots", "test/bb:1", b]);
    assert!(err.contains("--memory"), "{err}");
    ok(&root, &["unpack", "test/bb:1", b]);
    let err = fails(&root, &["unpack", "test/bb:1", b]);
    assert!(err.contains("already"), "{err}");
    ok(&root, &["rm-bundle", b]);
    assert!(mounts_under(&bundle).is_empty() && !bundle.exists());
}

fn unique_id(tag: &str) -> String {
    format!("skiff-image-test-{tag}-{}", std::process::id())
}

fn layer_dirs(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.join("layers"))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn gc_keeps_what_images_and_live_bundles_use() {
    let tmp = Tmp::new("bundle-gc");
    let root = tmp.join("store");
    import_test_image(&root, tmp.path(), "test/bb:1");
    let bundle = tmp.join("bundle");
    ok(&root, &["unpack", "test/bb:1", bundle.to_str().unwrap()]);
    let layers = layer_dirs(&root);
    assert_eq!(layers.len(), 1, "{layers:?}");

    // Image and bundle both use the layer.
    ok(&root, &["gc"]);
    assert_eq!(layer_dirs(&root), layers);
    // The image is gone, the bundle still runs on the layer: kept.
    ok(&root, &["rmi", "test/bb:1"]);
    ok(&root, &["gc"]);
    assert_eq!(
        layer_dirs(&root),
        layers,
        "gc removed a live bundle's layer"
    );
    let (code, _, err) = run_bundle(&tmp.join("state"), &bundle, &unique_id("gc"));
    assert_eq!(code, 0, "{err}");
    // The bundle directory vanished without rm-bundle (unmounted first): its record is
    // stale and the layer is free.
    ok(&root, &["umount", bundle.to_str().unwrap()]);
    std::fs::remove_dir_all(&bundle).unwrap();
    let out = ok(&root, &["gc"]);
    assert!(out.contains("1 layers removed"), "{out}");
    assert!(out.contains("1 records of removed bundles"), "{out}");
    assert!(layer_dirs(&root).is_empty());
}
