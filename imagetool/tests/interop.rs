//! Archives from `skiff-image save` read by the other engines: `podman load` (private
//! `--root/--runroot/--tmpdir`) and `docker load` (a private dockerd: own data-root,
//! exec-root and socket, no bridge, no iptables, stopped by PID), checked field by field
//! against what docker's loader (moby `image/tarexport/load.go`) requires. The archive
//! holds three images: a gzip one-layer image, a three-layer image and the same image
//! recompressed to zstd.

mod common;

use common::*;
use skiff_image::digest::Digest;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The images saved, by the name the archive gives them, with their config digests.
struct Saved {
    archive: PathBuf,
    images: Vec<(String, Digest)>,
}

fn save_three(t: &Tmp) -> Saved {
    let root = t.join("root");
    import_busybox_cmd(&root, t.path(), "bb:1", "sh");
    let src = build_layout(&t.join("src"), 64 * 1024);
    let multi = format!("oci:{}:multi", src.dir().display());
    ok(&root, &["copy", "-q", &multi, "skiff:localhost/multi:1"]);
    ok(
        &root,
        &[
            "copy",
            "-q",
            "--dest-compress-format",
            "zstd",
            &multi,
            "skiff:localhost/multi:zstd",
        ],
    );
    let archive = t.join("three.tar");
    let names = [
        "docker.io/library/bb:1",
        "localhost/multi:1",
        "localhost/multi:zstd",
    ];
    ok(
        &root,
        &[
            "save",
            "-o",
            archive.to_str().unwrap(),
            names[0],
            names[1],
            names[2],
        ],
    );
    let images = names
        .iter()
        .map(|n| {
            let raw = ok(&root, &["inspect", "--raw", n]);
            let m: skiff_image::manifest::Manifest = serde_json::from_str(&raw).unwrap();
            (n.to_string(), m.config.digest)
        })
        .collect();
    Saved { archive, images }
}

/// Every member of a tar archive, by path.
fn members(archive: &Path) -> HashMap<String, Vec<u8>> {
    let mut a = tar::Archive::new(std::fs::File::open(archive).unwrap());
    let mut out = HashMap::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e
            .path()
            .unwrap()
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.insert(path, data);
    }
    out
}

/// docker load's `DecompressStream`: gzip, zstd or plain by magic bytes.
fn inflate(blob: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match blob {
        [0x1f, 0x8b, ..] => {
            flate2::read::MultiGzDecoder::new(blob)
                .read_to_end(&mut out)
                .unwrap();
        }
        [0x28, 0xb5, 0x2f, 0xfd, ..] => {
            zstd::stream::read::Decoder::new(blob)
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
        }
        _ => out = blob.to_vec(),
    }
    out
}

/// What docker's loader checks, in its order: manifest.json items; a safe relative path for
/// the config and every layer; config JSON with os "linux" and rootfs.type "layers"; as
/// many layers as diff IDs; each layer, decompressed, hashing to its diff ID; every
/// RepoTag a normalisable name *with a tag*. Returns (tags, image ID) per item.
fn check_docker_load_rules(archive: &Path) -> Vec<(Vec<String>, Digest)> {
    let files = members(archive);
    let items: Vec<serde_json::Value> =
        serde_json::from_slice(files.get("manifest.json").expect("manifest.json")).unwrap();
    let safe = |p: &str| {
        assert!(
            !p.starts_with('/') && !p.split('/').any(|c| c == ".."),
            "unsafe path {p}"
        );
        files
            .get(p)
            .unwrap_or_else(|| panic!("{p} named in manifest.json is missing"))
    };
    let mut out = Vec::new();
    for item in items {
        let config_bytes = safe(item["Config"].as_str().expect("Config"));
        let config: serde_json::Value = serde_json::from_slice(config_bytes).unwrap();
        assert_eq!(config["os"], "linux");
        assert_eq!(config["rootfs"]["type"], "layers");
        let diff_ids: Vec<Digest> =
            serde_json::from_value(config["rootfs"]["diff_ids"].clone()).unwrap();
        let layers = item["Layers"].as_array().expect("Layers");
        assert_eq!(layers.len(), diff_ids.len(), "layers length mismatch");
        for (layer, diff_id) in layers.iter().zip(&diff_ids) {
            let blob = safe(layer.as_str().unwrap());
            assert_eq!(
                &Digest::of(&inflate(blob)),
                diff_id,
                "invalid diffID for {layer}"
            );
        }
        let tags: Vec<String> = serde_json::from_value(item["RepoTags"].clone()).unwrap();
        for t in &tags {
            let r: skiff_image::ImageRef = t.parse().unwrap();
            assert!(
                r.tag.is_some() && r.digest.is_none(),
                "RepoTag {t} is not name:tag"
            );
        }
        out.push((tags, Digest::of(config_bytes)));
    }
    out
}

/// A fresh directory with a short path under /tmp (sockets and podman's runroot need one).
fn short_tmp(tag: &str) -> Tmp {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let p = PathBuf::from(format!("/tmp/{tag}-{}-{nanos:x}", std::process::id()));
    std::fs::create_dir_all(&p).unwrap();
    Tmp(p)
}

fn run(cmd: &mut Command) -> String {
    let out: Output = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn docker_load_rules_and_podman_load() {
    let t = Tmp::new("podman");
    let saved = save_three(&t);
    let items = check_docker_load_rules(&saved.archive);
    let want: Vec<(Vec<String>, Digest)> = vec![
        (vec!["bb:1".into()], saved.images[0].1.clone()),
        (vec!["localhost/multi:1".into()], saved.images[1].1.clone()),
        (
            vec!["localhost/multi:zstd".into()],
            saved.images[2].1.clone(),
        ),
    ];
    assert_eq!(items, want);
    // The recompressed image has the same config, so the same image ID.
    assert_eq!(saved.images[1].1, saved.images[2].1);

    // podman refuses a runroot path longer than 50 characters.
    let runroot = short_tmp("skp");
    let podman = |args: &[&str]| {
        run(Command::new("podman")
            .arg("--root")
            .arg(t.join("podman/root"))
            .arg("--runroot")
            .arg(runroot.path())
            .arg("--tmpdir")
            .arg(t.join("podman/tmp"))
            .args(["--storage-driver", "vfs", "--events-backend", "none"])
            .args(args))
    };
    let out = podman(&["load", "-i", saved.archive.to_str().unwrap()]);
    // podman 4 names a RepoTag without a registry `localhost/NAME`, exactly as it does for
    // archives `docker save` writes (checked by hand against docker 20.10's own archives).
    let podman_names = [
        "localhost/bb:1",
        "localhost/multi:1",
        "localhost/multi:zstd",
    ];
    for name in podman_names {
        assert!(out.contains(&format!("Loaded image: {name}")), "{out}");
    }
    let images: Vec<serde_json::Value> =
        serde_json::from_str(&podman(&["images", "--format", "json"])).unwrap();
    let mut got: Vec<(String, String)> = images
        .iter()
        .flat_map(|i| {
            let id = i["Id"].as_str().unwrap().to_string();
            i["Names"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |n| (n.as_str().unwrap().to_string(), id.clone()))
        })
        .collect();
    // One image with two names (same config) is listed once per name.
    got.sort();
    got.dedup();
    let mut want: Vec<(String, String)> = podman_names
        .iter()
        .zip(&saved.images)
        .map(|(n, (_, d))| (n.to_string(), d.hex().to_string()))
        .collect();
    want.sort();
    assert_eq!(got, want, "podman names and image IDs");
    let layers = podman(&[
        "image",
        "inspect",
        "--format",
        "{{json .RootFS.Layers}}",
        "localhost/multi:zstd",
    ]);
    let layers: Vec<Digest> = serde_json::from_str(layers.trim()).unwrap();
    assert_eq!(layers.len(), 3);
}

/// A private dockerd: data-root, exec-root, socket and config file in a temp dir, no
/// bridge, no iptables, vfs storage (no mounts); stopped by PID (SIGTERM, which also stops
/// the containerd it started) on drop.
struct Dockerd {
    child: Child,
    dir: Tmp,
}

impl Dockerd {
    fn start() -> Dockerd {
        // Short: the containerd socket under exec-root must fit in sun_path.
        let dir = short_tmp("skd");
        std::fs::write(dir.join("daemon.json"), "{}").unwrap();
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        let child = Command::new("dockerd")
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("x"))
            .arg("-H")
            .arg(format!("unix://{}", dir.join("d.sock").display()))
            .arg("--pidfile")
            .arg(dir.join("d.pid"))
            .arg("--config-file")
            .arg(dir.join("daemon.json"))
            .args(["--bridge=none", "--iptables=false", "--ip-masq=false"])
            .args(["--storage-driver", "vfs", "--log-level", "warn"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start dockerd (apt install docker.io)");
        let mut d = Dockerd { child, dir };
        let deadline = Instant::now() + Duration::from_secs(40);
        while !d.docker(&["version"]).status.success() {
            if Instant::now() > deadline || d.child.try_wait().unwrap().is_some() {
                let log = std::fs::read_to_string(d.dir.join("dockerd.log")).unwrap_or_default();
                panic!("dockerd did not start: {log}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        d
    }

    fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .env(
                "DOCKER_HOST",
                format!("unix://{}", self.dir.join("d.sock").display()),
            )
            .env("DOCKER_CONFIG", self.dir.join("client"))
            .args(args)
            .output()
            .expect("run docker")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn docker_load_reads_saved_archives() {
    let t = Tmp::new("dockerd");
    let saved = save_three(&t);
    let docker = Dockerd::start();
    let out = docker.ok(&["load", "-i", saved.archive.to_str().unwrap()]);
    for name in ["bb:1", "localhost/multi:1", "localhost/multi:zstd"] {
        assert!(out.contains(&format!("Loaded image: {name}")), "{out}");
    }
    let diff_ids = |config: &Digest| -> Vec<Digest> {
        let c = members(&saved.archive)
            .remove(&format!("blobs/sha256/{}", config.hex()))
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&c).unwrap();
        serde_json::from_value(v["rootfs"]["diff_ids"].clone()).unwrap()
    };
    for (name, config) in &saved.images {
        let out = docker.ok(&[
            "image",
            "inspect",
            "--format",
            "{{.Id}} {{json .RootFS.Layers}}",
            name,
        ]);
        let (id, layers) = out.trim().split_once(' ').unwrap();
        assert_eq!(
            id,
            config.to_string(),
            "{name}: image ID is the config digest"
        );
        let layers: Vec<Digest> = serde_json::from_str(layers).unwrap();
        assert_eq!(layers, diff_ids(config), "{name}");
    }
}
