//! Rootless mode (issue 4, runc's docs/rootless.md): a real unprivileged
//! user, made by the test with a /etc/subuid and /etc/subgid range, runs
//! `skiff` through `runuser` on a bundle from `skiff spec --rootless`. The
//! state root is the default `$XDG_RUNTIME_DIR/skiff`; cgroups are not
//! delegated to the user, so skiff warns and runs without one.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};
use spec_tests::runtime::runtime_bin;

const SUB_START: u32 = 362144;

/// The user, its subordinate id lines and a private temp dir; all removed on
/// drop, with any process the user still runs (killed by PID).
struct RootlessUser {
    name: String,
    uid: u32,
    dir: PathBuf,
}

impl RootlessUser {
    fn new() -> Self {
        let name = format!("skrl{}", std::process::id());
        let out = Command::new("useradd")
            .args(["-M", "-s", "/bin/sh", &name])
            .output()
            .expect("run useradd");
        assert!(out.status.success(), "useradd: {out:?}");
        for file in ["/etc/subuid", "/etc/subgid"] {
            let mut text = std::fs::read_to_string(file).unwrap_or_default();
            text.push_str(&format!("{name}:{SUB_START}:65536\n"));
            std::fs::write(file, text).unwrap();
        }
        let uid = String::from_utf8(
            Command::new("id")
                .args(["-u", &name])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap()
        .trim()
        .parse()
        .unwrap();
        let dir = std::env::temp_dir().join(format!("skiff-rootless-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let user = RootlessUser { name, uid, dir };
        std::fs::create_dir(user.run_dir()).unwrap();
        std::os::unix::fs::chown(user.run_dir(), Some(uid), Some(uid)).unwrap();
        std::fs::set_permissions(user.run_dir(), std::fs::Permissions::from_mode(0o700)).unwrap();
        user
    }

    fn run_dir(&self) -> PathBuf {
        self.dir.join("run")
    }

    /// A bundle owned by the user: busybox rootfs, config from `spec --rootless`.
    fn bundle(&self, tag: &str, args: &[&str], edit: impl FnOnce(&mut Value)) -> PathBuf {
        let b = self.dir.join(tag);
        let bin = b.join("rootfs/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::copy("/bin/busybox", bin.join("busybox"))
            .expect("copy /bin/busybox (busybox-static)");
        for applet in ["sh", "id", "echo", "sleep", "touch", "chown", "cat"] {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
        }
        Command::new("chown")
            .args(["-R", &format!("{}:{}", self.uid, self.uid)])
            .arg(&b)
            .status()
            .unwrap();
        let out = self.skiff(&b, &["spec", "--rootless"]);
        assert!(out.status.success(), "spec --rootless: {out:?}");
        let path = b.join("config.json");
        let mut config: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        config["process"]["terminal"] = json!(false);
        config["process"]["args"] = json!(args);
        edit(&mut config);
        std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
        b
    }

    /// `skiff ARGS` as the user, in `cwd`, with only XDG_RUNTIME_DIR set.
    fn skiff(&self, cwd: &Path, args: &[&str]) -> Output {
        Command::new("runuser")
            .args(["-u", &self.name, "--", "env", "-i", "PATH=/usr/bin:/bin"])
            .arg(format!("XDG_RUNTIME_DIR={}", self.run_dir().display()))
            .arg(runtime_bin())
            .args(args)
            .current_dir(cwd)
            .output()
            .expect("run runuser")
    }

    /// `skiff create`, whose init keeps the stdio it was given: null, so
    /// nothing waits for the container's end to see EOF.
    fn create(&self, cwd: &Path, id: &str) -> std::process::ExitStatus {
        Command::new("runuser")
            .args(["-u", &self.name, "--", "env", "-i", "PATH=/usr/bin:/bin"])
            .arg(format!("XDG_RUNTIME_DIR={}", self.run_dir().display()))
            .arg(runtime_bin())
            .args(["create", id])
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run runuser")
    }

    fn pids(&self) -> Vec<i32> {
        let out = Command::new("pgrep")
            .args(["-u", &self.uid.to_string()])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    }
}

impl Drop for RootlessUser {
    fn drop(&mut self) {
        for pid in self.pids() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        let _ = Command::new("userdel").arg(&self.name).status();
        for file in ["/etc/subuid", "/etc/subgid"] {
            if let Ok(text) = std::fs::read_to_string(file) {
                let prefix = format!("{}:", self.name);
                let kept: String = text
                    .lines()
                    .filter(|l| !l.starts_with(&prefix))
                    .map(|l| format!("{l}\n"))
                    .collect();
                let _ = std::fs::write(file, kept);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn assert_no_leftovers(user: &RootlessUser, id: &str) {
    // The last exits may still be in flight when the command returns.
    for _ in 0..40 {
        if user.pids().is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let left: Vec<String> = user
        .pids()
        .iter()
        .map(|p| std::fs::read_to_string(format!("/proc/{p}/cmdline")).unwrap_or_default())
        .collect();
    assert!(left.is_empty(), "processes left for {id}: {left:?}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(user.dir.to_str().unwrap()),
        "mounts left under {:?}",
        user.dir
    );
    for ctrl in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        assert!(
            !ctrl.path().join(id).exists(),
            "cgroup left in {:?}",
            ctrl.path()
        );
    }
    assert!(
        !user.run_dir().join("skiff").join(id).exists(),
        "state dir left for {id}"
    );
}

#[test]
fn rootless_lifecycle_as_unprivileged_user() {
    let user = RootlessUser::new();
    let id = format!("rl-{}", user.name);

    // run: output, exit code, uid 0 inside, the warning for the cgroup.
    let b = user.bundle("run", &["sh", "-c", "id -u; echo hello; exit 3"], |_| {});
    let out = user.skiff(&b, &["run", &id]);
    assert_eq!(out.status.code(), Some(3), "run: {out:?}");
    assert_eq!(text(&out), "0\nhello\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("level=warning") && err.contains("cgroup"),
        "stderr: {err}"
    );
    user.skiff(&b, &["delete", &id]);
    assert_no_leftovers(&user, &id);

    // create/start/state/list/exec/kill/delete on the default state root.
    let b = user.bundle("life", &["sleep", "300"], |_| {});
    assert!(user.create(&b, &id).success(), "create failed");
    assert!(user
        .run_dir()
        .join("skiff")
        .join(&id)
        .join("state.json")
        .exists());
    let state = |user: &RootlessUser| -> Value {
        let out = user.skiff(&b, &["state", &id]);
        assert!(out.status.success(), "state: {out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    };
    assert_eq!(state(&user)["status"], "created");
    assert!(user.skiff(&b, &["start", &id]).status.success());
    assert_eq!(state(&user)["status"], "running");
    let list = text(&user.skiff(&b, &["list", "-q"]));
    assert!(list.lines().any(|l| l == id), "list -q: {list}");
    let out = user.skiff(&b, &["exec", &id, "sh", "-c", "id -u; exit 4"]);
    assert_eq!(out.status.code(), Some(4), "exec: {out:?}");
    assert_eq!(text(&out), "0\n");
    assert!(user.skiff(&b, &["kill", &id, "KILL"]).status.success());
    let mut stopped = false;
    for _ in 0..100 {
        if state(&user)["status"] == "stopped" {
            stopped = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(stopped, "not stopped after kill");
    assert!(user.skiff(&b, &["delete", &id]).status.success());
    assert!(!text(&user.skiff(&b, &["list", "-q"])).contains(&id));
    assert_no_leftovers(&user, &id);

    // Multi-range map through newuidmap/newgidmap: 0 is the user, 1.. the
    // subordinate range, so a file chowned to 1 inside is SUB_START outside.
    let uid = user.uid;
    let b = user.bundle(
        "multi",
        &[
            "sh",
            "-c",
            "touch /f && chown 1:1 /f && id -u && cat /proc/self/uid_map",
        ],
        |c| {
            let maps = json!([
                {"containerID": 0, "hostID": uid, "size": 1},
                {"containerID": 1, "hostID": SUB_START, "size": 65536},
            ]);
            c["linux"]["uidMappings"] = maps.clone();
            c["linux"]["gidMappings"] = maps;
            c["root"]["readonly"] = json!(false);
            // runc's default set has no CAP_CHOWN.
            for set in ["bounding", "effective", "permitted"] {
                c["process"]["capabilities"][set] = json!(["CAP_CHOWN"]);
            }
        },
    );
    let out = user.skiff(&b, &["run", &id]);
    assert_eq!(out.status.code(), Some(0), "multi-range run: {out:?}");
    let shown = text(&out);
    assert!(shown.starts_with("0\n"), "inside: {shown}");
    assert!(
        shown.contains(&SUB_START.to_string()),
        "uid_map inside: {shown}"
    );
    let meta = std::fs::metadata(b.join("rootfs/f")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (SUB_START, SUB_START));
    user.skiff(&b, &["delete", &id]);
    assert_no_leftovers(&user, &id);
}
