//! Rootless mode: skiff run by an unprivileged user that the test creates
//! (with a range in /etc/subuid and /etc/subgid), on a `spec --rootless`
//! config: the state dir under $XDG_RUNTIME_DIR, the user's own id mapped
//! to root, wider maps through newuidmap/newgidmap, no cgroup (not
//! delegated) with a warning, and run, exec, state, list, kill, delete.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use spec_tests::clients::require;
use spec_tests::{is_skiff, TempDir};

/// A user made for one test and removed with its /etc/sub{u,g}id lines.
struct TestUser {
    name: String,
    uid: u32,
}

impl TestUser {
    fn create() -> TestUser {
        let name = format!("skt{}", std::process::id() % 100000);
        let st = Command::new("useradd")
            .args(["--no-create-home", "--shell", "/bin/sh", &name])
            .status()
            .expect("useradd");
        assert!(st.success(), "useradd {name}");
        let uid = Command::new("id")
            .args(["-u", &name])
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .trim()
                    .parse()
                    .unwrap_or(0)
            })
            .unwrap_or(0);
        // useradd adds subordinate ranges on Debian; make sure there is one.
        for file in ["/etc/subuid", "/etc/subgid"] {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            if !text.lines().any(|l| l.starts_with(&format!("{name}:"))) {
                let mut t = text;
                t.push_str(&format!("{name}:300000:65536\n"));
                std::fs::write(file, t).expect("write subordinate ids");
            }
        }
        TestUser { name, uid }
    }

    fn sub_start(&self) -> u32 {
        std::fs::read_to_string("/etc/subuid")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{}:", self.name)))
            .and_then(|r| r.split(':').next()?.parse().ok())
            .expect("subuid range")
    }

    /// `sh -c script` as this user, with XDG_RUNTIME_DIR=xdg.
    fn sh(&self, xdg: &Path, script: &str) -> (i32, String, String) {
        let out = Command::new("setpriv")
            .args([
                "--reuid",
                &self.name,
                "--regid",
                &self.name,
                "--init-groups",
            ])
            .args(["--reset-env", "env"])
            .arg(format!("XDG_RUNTIME_DIR={}", xdg.display()))
            .args(["sh", "-c", script])
            .output()
            .expect("setpriv");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let _ = Command::new("pkill")
            .args(["-KILL", "-u", &self.name])
            .status();
        let _ = Command::new("userdel").arg(&self.name).status();
        for file in ["/etc/subuid", "/etc/subgid"] {
            if let Ok(text) = std::fs::read_to_string(file) {
                let kept: String = text
                    .lines()
                    .filter(|l| !l.starts_with(&format!("{}:", self.name)))
                    .map(|l| format!("{l}\n"))
                    .collect();
                let _ = std::fs::write(file, kept);
            }
        }
    }
}

fn chown_tree(path: &Path, uid: u32) {
    let st = Command::new("chown")
        .arg("-R")
        .arg(format!("{uid}:{uid}"))
        .arg(path)
        .status()
        .expect("chown");
    assert!(st.success());
}

#[test]
fn unprivileged_user_runs_execs_kills_and_deletes() {
    if !is_skiff() {
        return; // runc's rootless mode has its own test suite
    }
    require("newuidmap", "uidmap");
    require("setpriv", "util-linux");
    let user = TestUser::create();
    let dir = TempDir::new("skt-rootless");
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let bundle = dir.path().join("bundle");
    let rootfs = bundle.join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).expect("mkdir");
    std::fs::create_dir_all(rootfs.join("tmp")).expect("mkdir");
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).expect("busybox");
    for a in ["sh", "id", "cat", "sleep", "touch", "chown", "echo"] {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(a)).expect("symlink");
    }
    let xdg = dir.path().join("xdg");
    std::fs::create_dir_all(&xdg).expect("mkdir");
    chown_tree(dir.path(), user.uid);
    let skiff = spec_tests::runtime::runtime_bin();
    let s = skiff.display();

    // spec --rootless as the user, then a process of ours.
    let b = bundle.display();
    let (code, _, err) = user.sh(&xdg, &format!("cd {b} && {s} spec --rootless"));
    assert_eq!(code, 0, "spec --rootless: {err}");
    let path = bundle.join("config.json");
    let mut c: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("config")).expect("json");
    c["process"]["terminal"] = json!(false);
    c["process"]["args"] = json!(["sh", "-c", "id -u; cat /proc/self/uid_map; exit 3"]);
    std::fs::write(&path, c.to_string()).expect("write config");

    // run: the user's uid is root inside; state under $XDG_RUNTIME_DIR.
    let (code, out, err) = user.sh(&xdg, &format!("{s} run --bundle {b} rl-run"));
    assert_eq!(code, 3, "{out}{err}");
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["0"], "{out}");
    assert_eq!(rows[1], ["0", &user.uid.to_string(), "1"], "{out}");
    assert!(err.contains("rootless: running without a cgroup"), "{err}");
    // --rootless false: a cgroup that may not be made is an error again.
    let (code, out, err) = user.sh(
        &xdg,
        &format!("{s} --rootless false run --bundle {b} rl-strict"),
    );
    assert_ne!(code, 0, "{out}{err}");
    assert!(err.contains("Permission denied"), "{err}");
    let (code, _, err) = user.sh(
        &xdg,
        &format!("{s} --rootless maybe run --bundle {b} rl-bad"),
    );
    assert_ne!(code, 0);
    assert!(err.contains("expected true, false or auto"), "{err}");

    // A wider map through newuidmap/newgidmap, a writable root, and a detached
    // container to exec into, list, kill and delete.
    let sub = user.sub_start();
    let maps = json!([
        {"containerID": 0, "hostID": user.uid, "size": 1},
        {"containerID": 1, "hostID": sub, "size": 65536}
    ]);
    c["linux"]["uidMappings"] = maps.clone();
    c["linux"]["gidMappings"] = json!([
        {"containerID": 0, "hostID": user.uid, "size": 1},
        {"containerID": 1, "hostID": sub, "size": 65536}
    ]);
    c["root"]["readonly"] = json!(false);
    for set in ["bounding", "effective", "permitted"] {
        c["process"]["capabilities"][set] = json!(["CAP_CHOWN", "CAP_KILL"]);
    }
    c["process"]["args"] = json!(["sh", "-c", "touch /tmp/f && chown 1:1 /tmp/f; sleep 100"]);
    std::fs::write(&path, c.to_string()).expect("write config");
    let script = format!(
        "{s} run -d --bundle {b} rl-bg >/dev/null 2>&1 </dev/null || exit 10; \
         {s} list -q; {s} exec rl-bg id -u || exit 11; {s} state rl-bg | grep -q running || exit 12; \
         {s} kill rl-bg KILL || exit 13; \
         i=0; until {s} state rl-bg | grep -q stopped; do i=$((i+1)); [ $i -gt 100 ] && exit 14; sleep 0.05; done; \
         {s} delete rl-bg || exit 15; {s} list -q"
    );
    let (code, out, err) = user.sh(&xdg, &script);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out, "rl-bg\n0\n", "{err}");
    let f = rootfs
        .join("tmp/f")
        .metadata()
        .expect("/tmp/f made in the container");
    assert_eq!(
        (f.uid(), f.gid()),
        (sub, sub),
        "container uid 1 is the first subordinate id"
    );
    assert!(
        std::fs::read_dir(xdg.join("skiff"))
            .map(|d| d.count())
            .unwrap_or(0)
            == 0,
        "state left under $XDG_RUNTIME_DIR"
    );
    assert!(spec_tests::leaks::mounts_under(dir.path()).is_empty());
}
