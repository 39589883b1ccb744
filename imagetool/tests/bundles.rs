//! `skiff-image unpack` end to end: an image from the host's busybox, unpacked with
//! docker run's flags, run by the real `skiff` runtime, every option observed from
//! inside the container; then `rm-bundle` leaves no mount and no directory.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

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
        "sh", "id", "pwd", "hostname", "grep", "cat", "echo", "readlink", "ls", "wc", "cut",
        "unshare", "true", "stat",
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

/// `key=value` lines the container printed.
fn printed(out: &str, key: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in:\n{out}"))
        .trim()
        .to_string()
}

#[test]
fn limits_defaults_and_networks_are_enforced_inside() {
    let tmp = Tmp::new("bundle-defaults");
    let root = tmp.join("store");
    import_test_image(&root, tmp.path(), "test/bb:1");
    let bundle = tmp.join("bundle");
    // cg CONTROLLER FILE: the container's own cgroup file of a v1
    // controller, whether or not its hierarchy is shared (cpu,cpuacct).
    let script = "cg() { p=$(grep -E \":([^:]*,)?$1(,[^:]*)?:\" /proc/self/cgroup | cut -d: -f3); \
          cat /sys/fs/cgroup/$1$p/$2; }; \
        echo mem=$(cg memory memory.limit_in_bytes); echo pids=$(cg pids pids.max); \
        echo quota=$(cg cpu cpu.cfs_quota_us); echo nics=$(ls /sys/class/net); \
        echo masked=$(wc -c < /proc/interrupts); (echo x > /proc/sys/kernel/domainname) 2>/dev/null || echo procsys=ro; \
        for m in '/dev/pts devpts' '/dev/shm tmpfs' '/dev/mqueue mqueue' '/sys sysfs' '/proc proc'; do \
          grep -q \" $m \" /proc/mounts && echo mount=\"$m\"; done; \
        unshare -U true 2>/dev/null && echo unshare=allowed || echo unshare=denied; \
        echo resolv=$(grep nameserver /etc/resolv.conf)";
    ok(
        &root,
        &[
            "unpack",
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
    let (code, out, err) = run_bundle(&tmp.join("state"), &bundle, &unique_id("defaults"));
    assert_eq!(code, 0, "{err}\n{out}");
    assert_eq!(printed(&out, "mem"), (64u64 << 20).to_string(), "{out}");
    assert_eq!(printed(&out, "pids"), "50", "{out}");
    assert_eq!(printed(&out, "quota"), "50000", "{out}");
    assert_eq!(
        printed(&out, "nics"),
        "lo",
        "--net none is the default: {out}"
    );
    assert_eq!(
        printed(&out, "masked"),
        "0",
        "masked /proc/interrupts: {out}"
    );
    assert_eq!(printed(&out, "procsys"), "ro", "{out}");
    for m in [
        "/dev/pts devpts",
        "/dev/shm tmpfs",
        "/dev/mqueue mqueue",
        "/sys sysfs",
        "/proc proc",
    ] {
        assert!(
            out.lines().any(|l| l == format!("mount={m}")),
            "no {m}: {out}"
        );
    }
    assert_eq!(
        printed(&out, "unshare"),
        "denied",
        "the default seccomp profile: {out}"
    );
    // Without --dns: the host's resolvers that work off its loopback.
    let host: Vec<String> = std::fs::read_to_string("/etc/resolv.conf")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("nameserver") && !l.contains(" 127.") && !l.contains(" ::1"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    if !host.is_empty() {
        assert_eq!(printed(&out, "resolv"), host.join(" "), "{out}");
    }
    // It is the profile that denies unshare: without it, the same process may.
    let config_path = bundle.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&config_path).unwrap()).unwrap();
    config["linux"].as_object_mut().unwrap().remove("seccomp");
    std::fs::write(&config_path, serde_json::to_vec(&config).unwrap()).unwrap();
    let (code, out, err) = run_bundle(&tmp.join("state"), &bundle, &unique_id("noseccomp"));
    assert_eq!(code, 0, "{err}\n{out}");
    assert_eq!(printed(&out, "unshare"), "allowed", "{out}");
    ok(&root, &["rm-bundle", bundle.to_str().unwrap()]);

    // --net PATH joins that network namespace.
    let netns = unique_id("netns");
    let st = Command::new("ip")
        .args(["netns", "add", &netns])
        .status()
        .expect("ip netns");
    assert!(st.success(), "ip netns add");
    let ns_path = format!("/run/netns/{netns}");
    let script = "readlink /proc/self/ns/net";
    let result = std::panic::catch_unwind(|| {
        ok(
            &root,
            &[
                "unpack",
                "--net",
                &ns_path,
                "test/bb:1",
                bundle.to_str().unwrap(),
                "-c",
                script,
            ],
        );
        let (code, out, err) = run_bundle(&tmp.join("state"), &bundle, &unique_id("netpath"));
        assert_eq!(code, 0, "{err}\n{out}");
        let ino = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&ns_path).unwrap());
        assert_eq!(out.trim(), format!("net:[{ino}]"), "--net {ns_path}");
        ok(&root, &["rm-bundle", bundle.to_str().unwrap()]);
    });
    let _ = Command::new("ip")
        .args(["netns", "delete", &netns])
        .status();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn images_sharing_a_base_share_its_layer_dir() {
    let tmp = Tmp::new("bundle-share");
    let root = tmp.join("store");
    import_test_image(&root, tmp.path(), "test/bb:1");
    // A second image of the same layer (a different config): one layer dir.
    let tar = tmp.join("image-rootfs.tar");
    ok(
        &root,
        &[
            "import",
            "--change",
            "ENV OTHER=1",
            tar.to_str().unwrap(),
            "test/bb:2",
        ],
    );
    let (b1, b2) = (tmp.join("b1"), tmp.join("b2"));
    ok(&root, &["unpack", "test/bb:1", b1.to_str().unwrap()]);
    ok(
        &root,
        &["unpack", "test/bb:2", b2.to_str().unwrap(), "true"],
    );
    assert_eq!(
        layer_dirs(&root).len(),
        1,
        "one layer dir for both images: {:?}",
        layer_dirs(&root)
    );
    // gc: an image still uses the layer, no bundle does: kept; nothing uses it: gone.
    ok(&root, &["rm-bundle", b1.to_str().unwrap()]);
    ok(&root, &["rm-bundle", b2.to_str().unwrap()]);
    ok(&root, &["gc"]);
    assert_eq!(
        layer_dirs(&root).len(),
        1,
        "gc removed a layer an image uses"
    );
    ok(&root, &["rmi", "test/bb:1", "test/bb:2"]);
    ok(&root, &["gc"]);
    assert!(
        layer_dirs(&root).is_empty(),
        "gc kept an unused layer: {:?}",
        layer_dirs(&root)
    );
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

#[test]
fn bundle_dirs_that_are_not_ours_are_never_merged_hidden_or_deleted() {
    let tmp = Tmp::new("bundle-dirs");
    let root = tmp.join("store");
    import_test_image(&root, tmp.path(), "test/bb:1");
    // A directory that already holds a rootfs: refused, its files untouched,
    // also when the unpack would have failed later (an unknown user).
    let mine = tmp.join("mine");
    std::fs::create_dir_all(mine.join("rootfs")).unwrap();
    std::fs::write(mine.join("rootfs/keep"), "mine").unwrap();
    std::fs::write(mine.join("notes"), "mine too").unwrap();
    for args in [
        &["unpack", "test/bb:1"][..],
        &["unpack", "--copy", "test/bb:1"],
        &["unpack", "-u", "ghost", "test/bb:1"],
    ] {
        let mut args = args.to_vec();
        args.push(mine.to_str().unwrap());
        let err = fails(&root, &args);
        assert!(err.contains("already exists"), "{err}");
        assert_eq!(
            std::fs::read_to_string(mine.join("rootfs/keep")).unwrap(),
            "mine"
        );
        assert!(mounts_under(&mine).is_empty());
        assert!(!mine.join("config.json").exists());
    }
    // rm-bundle of a directory unpack did not make: refused, nothing deleted.
    let err = fails(&root, &["rm-bundle", mine.to_str().unwrap()]);
    assert!(err.contains("not made by skiff-image unpack"), "{err}");
    assert_eq!(
        std::fs::read_to_string(mine.join("notes")).unwrap(),
        "mine too"
    );
    // A bundle in a directory with the caller's other files: rm-bundle takes
    // only what unpack made.
    let shared = tmp.join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::write(shared.join("notes"), "keep").unwrap();
    ok(&root, &["unpack", "test/bb:1", shared.to_str().unwrap()]);
    ok(&root, &["rm-bundle", shared.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(shared.join("notes")).unwrap(),
        "keep"
    );
    assert!(!shared.join("rootfs").exists() && !shared.join("config.json").exists());
    // Inside the store (gc would delete it), or around it (rm-bundle would).
    for inside in [
        root.join("oci"),
        root.join("layers/x"),
        root.join("new-dir"),
    ] {
        let err = fails(&root, &["unpack", "test/bb:1", inside.to_str().unwrap()]);
        assert!(err.contains("inside the store"), "{err}");
    }
    let err = fails(
        &root,
        &["unpack", "test/bb:1", tmp.path().to_str().unwrap()],
    );
    assert!(err.contains("is inside it"), "{err}");
    assert!(!root.join("oci/config.json").exists() && !root.join("oci/rootfs").exists());
}

#[test]
fn a_layer_past_the_operators_size_cap_is_refused_and_leaves_nothing() {
    let tmp = Tmp::new("bundle-cap");
    let root = tmp.join("store");
    import_test_image(&root, tmp.path(), "test/bb:1");
    let bundle = tmp.join("bundle");
    // busybox alone is over 1 MiB of file data.
    let env = [("SKIFF_MAX_LAYER_SIZE", "1m".to_string())];
    let err = fails_env(
        &root,
        &env,
        &["unpack", "test/bb:1", bundle.to_str().unwrap()],
    );
    assert!(err.contains("exceeds the limit of 1048576 bytes"), "{err}");
    assert!(
        layer_dirs(&root).is_empty(),
        "a refused layer is in the store"
    );
    // Lock files stay by design (unlinking a lock file races its next user).
    let tmp_left: Vec<_> = std::fs::read_dir(root.join("tmp"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    let tmp_left: Vec<_> = tmp_left
        .into_iter()
        .filter(|n| !n.to_string_lossy().ends_with(".lock"))
        .collect();
    assert!(tmp_left.is_empty(), "{tmp_left:?}");
    assert!(!bundle.join("config.json").exists() && mounts_under(&bundle).is_empty());
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
