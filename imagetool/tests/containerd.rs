//! The dual-format docker-archive against containerd: `ctr images import` reads what `save`
//! writes (name and digest kept), and `load` reads what `ctr images export` writes. containerd
//! runs with a private root, state and socket, and is stopped by PID.

mod common;

use common::*;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Containerd {
    child: Child,
    dir: Tmp,
}

impl Containerd {
    fn start() -> Containerd {
        let dir = Tmp::new("containerd");
        let d = dir.path().display();
        let config = format!(
            "version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{d}/c.sock\"\n[ttrpc]\n  address = \"{d}/c.sock.ttrpc\"\n[debug]\n  address = \"\"\n[metrics]\n  address = \"\"\n"
        );
        std::fs::write(dir.join("config.toml"), config).unwrap();
        let log = std::fs::File::create(dir.join("containerd.log")).unwrap();
        let child = Command::new("containerd")
            .arg("--config")
            .arg(dir.join("config.toml"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start containerd");
        let c = Containerd { child, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while c.ctr(&["version"]).status.code() != Some(0) {
            assert!(Instant::now() < deadline, "containerd did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        c
    }

    fn ctr(&self, args: &[&str]) -> Output {
        Command::new("ctr")
            .arg("--address")
            .arg(self.dir.join("c.sock"))
            .args(["-n", "skiff-test"])
            .args(args)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.ctr(args);
        assert!(
            out.status.success(),
            "ctr {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn ctr_imports_saved_archives_and_load_reads_ctr_exports() {
    if !Path::new("/usr/bin/containerd").exists() {
        eprintln!("SKIPPED: containerd is not installed (apt-get install containerd)");
        return;
    }
    let t = Tmp::new("ctr");
    let root = t.join("root");
    let tar = busybox_rootfs(t.path());
    let digest = ok(
        &root,
        &[
            "import",
            tar.to_str().unwrap(),
            "example.com/bb:1",
            "--change",
            r#"CMD ["sh"]"#,
        ],
    );
    let digest = digest.trim();
    let saved = t.join("saved.tar");
    ok(
        &root,
        &["save", "-o", saved.to_str().unwrap(), "example.com/bb:1"],
    );
    let c = Containerd::start();
    c.ok(&[
        "images",
        "import",
        "--snapshotter",
        "native",
        saved.to_str().unwrap(),
    ]);
    let list = c.ok(&["images", "ls"]);
    let line = list
        .lines()
        .find(|l| l.starts_with("example.com/bb:1 "))
        .unwrap_or_else(|| panic!("not imported: {list}"));
    assert!(line.contains(digest), "digest changed: {line}");
    let exported = t.join("exported.tar");
    c.ok(&[
        "images",
        "export",
        exported.to_str().unwrap(),
        "example.com/bb:1",
    ]);
    let root2 = t.join("root2");
    let loaded = ok(&root2, &["load", "-i", exported.to_str().unwrap()]);
    assert!(loaded.contains("example.com/bb:1"), "{loaded}");
    assert_eq!(
        json_digest(&ok(&root2, &["inspect", "example.com/bb:1"])),
        digest
    );
}
