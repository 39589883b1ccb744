//! The real clients that drive a runc-compatible runtime (podman, containerd,
//! dockerd), each with private state: an image made from the host's
//! busybox by `skiff-image import` + `save`, and helpers that run a client
//! command with a timeout and report its output.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{Out, Runtime, TempDir};

/// `skiff-image` next to the runtime under test (same target dir).
pub fn skiff_image_bin() -> PathBuf {
    let rt = crate::runtime::runtime_bin();
    let beside = rt.with_file_name("skiff-image");
    if beside.exists() {
        return beside;
    }
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    ["release", "debug"]
        .iter()
        .map(|p| target.join(p).join("skiff-image"))
        .find(|p| p.exists())
        .expect("build skiff-image (cargo build --release)")
}

/// `containerd-shim-skiff-v2` next to skiff-image (same target dir).
pub fn shim_bin() -> PathBuf {
    skiff_image_bin().with_file_name("containerd-shim-skiff-v2")
}

/// Live `containerd-shim-skiff-v2` processes serving task `id`.
pub fn shim_pids(id: &str) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
            args.first()
                .is_some_and(|a| a.ends_with(b"containerd-shim-skiff-v2"))
                && args
                    .windows(2)
                    .any(|w| w[0] == b"-id" && w[1] == id.as_bytes())
                && crate::leaks::pid_alive(*pid)
        })
        .collect()
}

/// A docker-archive of a busybox image named `name` (e.g. `skiff-test/bb:1`),
/// written into `dir`; returns its path.
pub fn busybox_archive(dir: &Path, name: &str) -> PathBuf {
    let rootfs = dir.join("bb-rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).expect("mkdir");
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).expect("busybox-static");
    for applet in [
        "sh", "echo", "id", "cat", "ls", "sleep", "true", "tty", "grep", "head",
    ] {
        let _ = std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet));
    }
    let tar = dir.join("bb-rootfs.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .expect("tar");
    assert!(st.success(), "tar the busybox rootfs");
    let store = dir.join("bb-store");
    let archive = dir.join("bb.tar");
    for args in [
        vec!["import", tar.to_str().unwrap(), name],
        vec!["save", "-o", archive.to_str().unwrap(), name],
    ] {
        let out = Command::new(skiff_image_bin())
            .arg("--root")
            .arg(&store)
            .args(&args)
            .output()
            .expect("skiff-image");
        assert!(
            out.status.success(),
            "skiff-image {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    archive
}

/// A docker-archive of an image named `name` with `layers` layers: the
/// host's busybox, then one layer per file `/layers/N`. Made with tar and
/// sha256sum only, so it does not depend on the code under test.
pub fn many_layer_archive(dir: &Path, name: &str, layers: usize) -> PathBuf {
    let sh = |script: &str| {
        let out = Command::new("sh")
            .args(["-ec", script])
            .current_dir(dir)
            .output()
            .expect("sh");
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    sh("rm -rf ml && mkdir -p ml/out ml/l0/bin && cp /bin/busybox ml/l0/bin/ && ln -s busybox ml/l0/bin/sh && ln -s busybox ml/l0/bin/ls && ln -s busybox ml/l0/bin/cat");
    let mut diff_ids = Vec::new();
    let mut entries = Vec::new();
    for i in 0..layers {
        if i > 0 {
            sh(&format!(
                "mkdir -p ml/l{i}/layers && echo {i} > ml/l{i}/layers/{i}"
            ));
        }
        let digest = sh(&format!(
            "tar --sort=name --mtime=@0 --owner=0 --group=0 -C ml/l{i} -cf ml/layer.tar . && sha256sum ml/layer.tar | cut -d' ' -f1"
        ));
        sh(&format!(
            "mkdir -p ml/out/{digest} && mv ml/layer.tar ml/out/{digest}/layer.tar"
        ));
        diff_ids.push(format!("\"sha256:{digest}\""));
        entries.push(format!("\"{digest}/layer.tar\""));
    }
    let config = format!(
        "{{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{{\"Cmd\":[\"/bin/sh\"]}},\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[{}]}}}}",
        diff_ids.join(",")
    );
    std::fs::write(dir.join("ml/config.json"), &config).expect("write config");
    let config_digest = sh("sha256sum ml/config.json | cut -d' ' -f1");
    sh(&format!("mv ml/config.json ml/out/{config_digest}.json"));
    let manifest = format!(
        "[{{\"Config\":\"{config_digest}.json\",\"RepoTags\":[\"{name}\"],\"Layers\":[{}]}}]",
        entries.join(",")
    );
    std::fs::write(dir.join("ml/out/manifest.json"), manifest).expect("write manifest");
    sh("tar -C ml/out -cf many.tar . && rm -rf ml");
    dir.join("many.tar")
}

/// Fails the test (with the install hint) when `tool` is missing; under
/// CI=true a missing peer is an error, never a skip.
pub fn require(tool: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        found,
        "{tool} is missing: apt-get install {package} (make test does)"
    );
}

/// Run `cmd` with a timeout through the harness (stdout/stderr to files).
pub fn run(rt: &Runtime, cmd: Command, secs: u64) -> Out {
    rt.output(cmd, Duration::from_secs(secs))
}

/// A private podman: its own root, runroot, tmpdir and events file, the
/// cgroupfs manager, and the runtime under test.
pub struct Podman {
    pub dir: TempDir,
    pub runtime: PathBuf,
}

impl Podman {
    pub fn new(runtime: &Path) -> Podman {
        Podman {
            dir: TempDir::new("skt-podman"),
            runtime: runtime.to_path_buf(),
        }
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let d = self.dir.path();
        let mut c = Command::new("podman");
        c.arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("run"))
            .arg("--tmpdir")
            .arg(d.join("tmp"))
            .args(["--cgroup-manager", "cgroupfs", "--events-backend", "file"])
            .args(["--storage-driver", "vfs"])
            .arg("--runtime")
            .arg(&self.runtime)
            .args(args);
        c
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        // Containers first (their mounts and cgroups), then the storage.
        let _ = self.cmd(&["rm", "-af", "-t", "0"]).output();
        let _ = self.cmd(&["rmi", "-af"]).output();
        remove_empty_cgroups("libpod_parent");
    }
}

/// podman's cgroupfs manager leaves `<controller>/NAME/conmon` behind; empty
/// cgroup dirs go (rmdir refuses any that still hold a process).
pub fn remove_empty_cgroups(name: &str) {
    let Ok(controllers) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    for c in controllers.flatten() {
        let top = c.path().join(name);
        if top.is_dir() {
            remove_dirs_bottom_up(&top);
        }
    }
}

fn remove_dirs_bottom_up(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_dirs_bottom_up(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// A private containerd: config, root, state and sockets under a temp dir
/// (never /run/containerd's socket or /var/lib/containerd), stopped by PID.
/// Its shims put their sockets in /run/containerd/s/ under unique names:
/// containerd 1.6 fixes that directory.
pub struct Containerd {
    child: std::process::Child,
    pub dir: TempDir,
    pub namespace: String,
}

impl Containerd {
    pub fn start() -> Containerd {
        let dir = TempDir::new("skt-containerd");
        let d = dir.path().display();
        let config = format!(
            "version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{d}/c.sock\"\n[ttrpc]\n  address = \"{d}/c.sock.ttrpc\"\n\
             [debug]\n  address = \"\"\n[metrics]\n  address = \"\"\n"
        );
        std::fs::write(dir.path().join("config.toml"), config).expect("write config");
        let log = std::fs::File::create(dir.path().join("containerd.log")).expect("log");
        // containerd finds runtime v2 shims on its PATH: ours first.
        let shim_dir = shim_bin()
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let path = format!(
            "{}:{}",
            shim_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let child = Command::new("containerd")
            .env("PATH", path)
            .arg("--config")
            .arg(dir.path().join("config.toml"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start containerd");
        let c = Containerd {
            child,
            dir,
            namespace: crate::tempdir::unique_name("skt"),
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !c
            .ctr(&["version"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
        {
            assert!(
                std::time::Instant::now() < deadline,
                "containerd did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        c
    }

    pub fn ctr(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ctr");
        c.arg("--address")
            .arg(self.dir.path().join("c.sock"))
            .args(["-n", &self.namespace])
            .args(args);
        c
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // Tasks and containers of our namespace first (shims, mounts, cgroups).
        if let Ok(out) = self.ctr(&["task", "ls", "-q"]).output() {
            for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = self.ctr(&["task", "kill", "-s", "SIGKILL", id]).output();
                std::thread::sleep(Duration::from_millis(200));
                let _ = self.ctr(&["task", "delete", "-f", id]).output();
            }
        }
        if let Ok(out) = self.ctr(&["container", "ls", "-q"]).output() {
            for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = self.ctr(&["container", "delete", id]).output();
            }
        }
        let _ = self
            .ctr(&["image", "rm", "docker.io/skiff-test/bb:1"])
            .output();
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Snapshots are overlay mounts under our root.
        let root = self.dir.path().join("root");
        for m in crate::leaks::mounts_under(&root) {
            let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
        remove_empty_cgroups(&self.namespace);
        // skiff's shim keeps skiff's state under /run/containerd/skiff/<ns>.
        let skiff_root = Path::new("/run/containerd/skiff");
        let _ = std::fs::remove_dir(skiff_root.join(&self.namespace));
        let _ = std::fs::remove_dir(skiff_root);
    }
}

/// A private dockerd: its own data-root, exec-root, pidfile and socket, no
/// bridge or iptables changes, vfs storage, skiff registered as a runtime.
/// It starts and stops its own containerd under the exec-root.
pub struct Dockerd {
    child: std::process::Child,
    pub dir: TempDir,
}

impl Dockerd {
    pub fn start(skiff: &Path) -> Dockerd {
        let dir = TempDir::new("skt-dockerd");
        let d = dir.path();
        let log = std::fs::File::create(d.join("dockerd.log")).expect("log");
        let child = Command::new("dockerd")
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", d.join("docker.sock").display()))
            .args(["--bridge=none", "--iptables=false", "--ip6tables=false"])
            .args(["--storage-driver", "vfs"])
            .arg("--add-runtime")
            .arg(format!("skiff={}", skiff.display()))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start dockerd");
        let c = Dockerd { child, dir };
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !c
            .docker(&["version"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
        {
            assert!(
                std::time::Instant::now() < deadline,
                "dockerd did not start"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        c
    }

    pub fn docker(&self, args: &[&str]) -> Command {
        let mut c = Command::new("docker");
        c.arg("-H")
            .arg(format!(
                "unix://{}",
                self.dir.path().join("docker.sock").display()
            ))
            .args(args);
        c
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let _ = self.docker(&["rm", "-f", "-v", "skt-docker-bg"]).output();
        if let Ok(out) = self.docker(&["ps", "-aq"]).output() {
            for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = self.docker(&["rm", "-f", id]).output();
            }
        }
        // SIGTERM lets dockerd stop its containerd and unmount its dirs.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        for m in crate::leaks::mounts_under(self.dir.path()).iter().rev() {
            let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
        remove_empty_cgroups("docker");
    }
}
