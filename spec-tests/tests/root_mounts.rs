//! runtime-spec config "Root" and "Mounts" (and config-linux "Mount
//! Propagation"): readonly and relative roots, `--no-pivot`, bind/rbind,
//! tmpfs options, the kernel filesystems, per-mount flags as the kernel shows
//! them in /proc/self/mountinfo, and destinations that are symlinks.

use serde_json::json;
use spec_tests::leaks::assert_clean;
use spec_tests::{tempdir::unique_name, Bundle, Runtime};

/// The mountinfo line whose mount point is `dest`, from container output.
fn line_for<'a>(mountinfo: &'a str, dest: &str) -> &'a str {
    mountinfo
        .lines()
        .rfind(|l| l.split(' ').nth(4) == Some(dest))
        .unwrap_or_else(|| panic!("no mount at {dest} in:\n{mountinfo}"))
}

/// Per-mount options (field 6) of a mountinfo line.
fn mount_opts(line: &str) -> Vec<&str> {
    line.split(' ').nth(5).unwrap_or("").split(',').collect()
}

#[test]
fn readonly_root_refuses_writes() {
    let mut b = Bundle::sh(
        "touch /newfile 2>/dev/null && echo wrote || echo refused; cat /proc/self/mountinfo",
    );
    b.set("/root/readonly", json!(true));
    let rt = Runtime::new();
    let out = rt.run_ok(&b);
    assert!(out.starts_with("refused\n"), "{out}");
    assert!(mount_opts(line_for(&out, "/")).contains(&"ro"), "{out}");
    assert!(!b.rootfs().join("newfile").exists());
}

#[test]
fn writable_root_accepts_writes() {
    let b = Bundle::sh("echo data > /newfile && cat /newfile");
    let rt = Runtime::new();
    assert_eq!(rt.run_ok(&b), "data\n");
}

#[test]
fn absolute_and_relative_root_paths() {
    let mut b = Bundle::new(&["cat", "/etc/passwd"]);
    let rt = Runtime::new();
    assert!(rt.run_ok(&b).starts_with("root:x:0:0"));
    let abs = b.rootfs().to_string_lossy().into_owned();
    b.set("/root/path", json!(abs));
    assert!(rt.run_ok(&b).starts_with("root:x:0:0"));
}

#[test]
fn no_pivot_runs_in_the_rootfs() {
    let b = Bundle::sh("cat /etc/passwd; ls /bin/busybox");
    let rt = Runtime::new();
    let id = rt.id("nopivot");
    b.save();
    let out = rt.exec(&[
        "run",
        "--no-pivot",
        "--bundle",
        &b.path().to_string_lossy(),
        &id,
    ]);
    assert_eq!(
        out.expect_ok().stdout,
        "root:x:0:0:root:/root:/bin/sh\n/bin/busybox\n"
    );
    assert_clean(&rt, &id, &b, None);
}

#[test]
fn bind_mount_and_readonly_bind() {
    let mut b = Bundle::sh(
        "cat /data/file; cat /rodata/file; echo x > /rodata/new 2>/dev/null && echo wrote || echo refused; \
         echo y > /data/new; cat /proc/self/mountinfo",
    );
    let src = b.host_dir("src");
    std::fs::write(src.join("file"), "hello\n").expect("write");
    let s = src.to_string_lossy().into_owned();
    b.mount(json!({"destination": "/data", "type": "bind", "source": s, "options": ["bind"]}));
    b.mount(
        json!({"destination": "/rodata", "type": "bind", "source": s, "options": ["bind", "ro"]}),
    );
    let rt = Runtime::new();
    let id = rt.id("bind");
    let out = rt.run(&b, &id);
    let text = &out.expect_ok().stdout;
    assert!(text.starts_with("hello\nhello\nrefused\n"), "{out}");
    assert!(
        mount_opts(line_for(text, "/rodata")).contains(&"ro"),
        "{out}"
    );
    assert!(mount_opts(line_for(text, "/data")).contains(&"rw"), "{out}");
    assert_eq!(
        std::fs::read_to_string(src.join("new")).unwrap_or_default(),
        "y\n"
    );
    assert_clean(&rt, &id, &b, None);
}

#[test]
fn rbind_carries_submounts_and_bind_does_not() {
    let mut b = Bundle::sh("ls /r/sub; echo -; ls /nr/sub");
    let src = b.host_dir("tree");
    let sub = src.join("sub");
    std::fs::create_dir_all(&sub).expect("mkdir");
    nix::mount::mount(
        Some("tmpfs"),
        &sub,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=1m"),
    )
    .expect("mount tmpfs on the host");
    std::fs::write(sub.join("inner"), "").expect("write");
    let s = src.to_string_lossy().into_owned();
    b.mount(json!({"destination": "/r", "type": "bind", "source": s, "options": ["rbind"]}));
    b.mount(json!({"destination": "/nr", "type": "bind", "source": s, "options": ["bind"]}));
    let rt = Runtime::new();
    let out = rt.run_ok(&b);
    let _ = nix::mount::umount2(&sub, nix::mount::MntFlags::MNT_DETACH);
    assert_eq!(
        out, "inner\n-\n",
        "rbind shows the submount, bind the empty dir"
    );
}

#[test]
fn tmpfs_size_mode_and_flags() {
    let mut b = Bundle::sh("stat -c %a /t; cat /proc/self/mountinfo");
    b.mount(
        json!({"destination": "/t", "type": "tmpfs", "source": "tmpfs",
        "options": ["size=1m", "mode=700", "nosuid", "nodev", "noexec"]}),
    );
    b.mount(json!({"destination": "/rot", "type": "tmpfs", "source": "tmpfs", "options": ["ro"]}));
    let rt = Runtime::new();
    let out = rt.run_ok(&b);
    assert!(out.starts_with("700\n"), "{out}");
    let t = line_for(&out, "/t");
    let opts = mount_opts(t);
    for f in ["nosuid", "nodev", "noexec", "rw"] {
        assert!(opts.contains(&f), "{f} missing on /t: {t}");
    }
    assert!(t.contains("size=1024k") && t.contains("mode=700"), "{t}");
    assert!(mount_opts(line_for(&out, "/rot")).contains(&"ro"), "{out}");
}

#[test]
fn kernel_filesystems_are_mounted_with_their_flags() {
    let b = Bundle::new(&["cat", "/proc/self/mountinfo"]);
    let rt = Runtime::new();
    let out = rt.run_ok(&b);
    let fstype = |dest: &str| {
        line_for(&out, dest)
            .split(" - ")
            .nth(1)
            .unwrap_or("")
            .split(' ')
            .next()
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(fstype("/proc"), "proc");
    assert_eq!(fstype("/sys"), "sysfs");
    assert_eq!(fstype("/dev/pts"), "devpts");
    assert_eq!(fstype("/dev/mqueue"), "mqueue");
    assert_eq!(fstype("/dev/shm"), "tmpfs");
    assert_eq!(fstype("/dev"), "tmpfs");
    // cgroup: v2 mounts cgroup2 itself, v1 (and hybrid) a tmpfs of controllers.
    let cg = fstype("/sys/fs/cgroup");
    assert!(cg == "cgroup2" || cg == "tmpfs", "{cg}");
    if cg == "tmpfs" {
        assert!(
            out.lines()
                .any(|l| l.contains(" /sys/fs/cgroup/") && l.contains(" - cgroup ")),
            "{out}"
        );
    }
    let sys = mount_opts(line_for(&out, "/sys"));
    for f in ["ro", "nosuid", "nodev", "noexec"] {
        assert!(sys.contains(&f), "/sys lacks {f}: {sys:?}");
    }
    let pts = line_for(&out, "/dev/pts");
    assert!(
        pts.contains("ptmxmode=666") && pts.contains("mode=620") && pts.contains("gid=5"),
        "{pts}"
    );
}

#[test]
fn symlinked_destinations_stay_inside_the_rootfs() {
    let name = unique_name("skt-escape");
    let mut b = Bundle::sh(&format!(
        "cat /{name}/file; cat /{name}-2/file; cat /{name}-3/file"
    ));
    std::os::unix::fs::symlink("/", b.rootfs().join("rootlink")).expect("symlink");
    std::os::unix::fs::symlink(format!("/{name}-2"), b.rootfs().join("abslink")).expect("symlink");
    let src = b.host_dir("src");
    std::fs::write(src.join("file"), "inside\n").expect("write");
    let s = src.to_string_lossy().into_owned();
    b.mount(json!({"destination": format!("/rootlink/{name}"), "type": "bind", "source": s, "options": ["bind"]}));
    b.mount(json!({"destination": "/abslink", "type": "bind", "source": s, "options": ["bind"]}));
    b.mount(json!({"destination": format!("/../../../../{name}-3"), "type": "bind", "source": s, "options": ["bind"]}));
    let rt = Runtime::new();
    let id = rt.id("symdest");
    let out = rt.run(&b, &id);
    let host = std::path::Path::new("/").join(&name);
    let host2 = std::path::Path::new("/").join(format!("{name}-2"));
    let host3 = std::path::Path::new("/").join(format!("{name}-3"));
    let escaped = host.exists() || host2.exists() || host3.exists();
    let _ = std::fs::remove_dir(&host);
    let _ = std::fs::remove_dir(&host2);
    let _ = std::fs::remove_dir(&host3);
    assert!(
        !escaped,
        "the runtime created {} on the host",
        host.display()
    );
    assert_eq!(out.expect_ok().stdout, "inside\ninside\ninside\n");
    assert!(
        b.rootfs().join(&name).is_dir(),
        "mount point made inside the rootfs"
    );
    assert_clean(&rt, &id, &b, None);
}
