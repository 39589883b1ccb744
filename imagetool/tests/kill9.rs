//! `kill -9` in the middle of a push and of a registry → registry copy, while a large
//! blob is going up: the registry shows nothing of the image (no tag, no blob; only its
//! private upload directory holds the partial data), the local store is untouched, and
//! the same command run again completes with a valid image in the registry.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Size of the largest partial upload in the registry storage at `data`.
fn uploading(data: &Path) -> u64 {
    tree(data)
        .iter()
        .filter(|p| p.contains("/_uploads/") && p.ends_with("/data"))
        .filter_map(|p| std::fs::metadata(data.join(p)).ok())
        .map(|m| m.len())
        .max()
        .unwrap_or(0)
}

/// Run `args`, SIGKILL it once `data` holds an upload of at least half of `size`.
fn kill_halfway_up(root: &Path, args: &[&str], data: &Path, size: u64) {
    let mut child = Command::new(bin())
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("SKIFF_ROOT")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while uploading(data) < size / 2 {
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!("{args:?} never got halfway through the big blob");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

/// The status of a GET or HEAD on the registry itself.
fn status(method: &str, url: &str) -> u16 {
    use skiff_image::registry::{http, tls};
    let config = tls::client_config("localhost", false, &[], None).unwrap();
    let agent = http::Agent::new(
        config,
        Default::default(),
        Duration::from_secs(10),
        Duration::from_secs(10),
        1,
    );
    match agent.request(method, url).call() {
        Ok(r) => r.status(),
        Err(http::Error::Status(code, _)) => code,
        Err(e) => panic!("{method} {url}: {e}"),
    }
}

/// Nothing of `repo:1` is visible on `reg` (no manifest, no blob of the big layer).
fn nothing_visible(reg: &Registry, repo: &str, p: &Pushed) {
    let base = format!("http://{}/v2/{repo}", reg.host);
    assert_eq!(status("HEAD", &format!("{base}/manifests/1")), 404);
    assert_eq!(status("HEAD", &format!("{base}/blobs/{}", p.big)), 404);
    assert!(
        uploading(&reg.data()) > 0,
        "expected the killed upload's partial data"
    );
}

/// `repo:1` on `reg` is the image of `p`, whole.
fn complete(reg: &Registry, repo: &str, p: &Pushed) {
    let loc = format!("docker://{}/{repo}:1", reg.host);
    assert_eq!(
        json_digest(&skopeo(&["inspect", "--tls-verify=false", &loc])),
        p.manifest.to_string()
    );
    let r: skiff_image::ImageRef = format!("{}/{repo}:1", reg.host).parse().unwrap();
    let rs = skiff_image::registry::RegistrySource::new(&r, &Default::default()).unwrap();
    assert_eq!(
        skiff_image::validate::validate_image(&rs).unwrap().layers,
        3
    );
}

#[test]
fn kill_9_in_a_push_then_rerun() {
    let reg = Registry::start(RegistryConfig::default());
    let seed = Registry::start(RegistryConfig::default());
    let t = Tmp::new("kill9-push");
    let root = t.join("root");
    let p = push_multi(&root, &t.join("src"), &seed.host, "k/multi", 16 << 20);
    ok(
        &root,
        &[
            "copy",
            "-q",
            &format!("oci:{}:multi", p.layout.dir().display()),
            "skiff:k/multi:1",
        ],
    );
    let before = store_snapshot(&root);
    let proxy = FlakyProxy::throttled(reg.port, 8 << 20);
    let via = format!("docker://127.0.0.1:{}/k/multi:1", proxy.port);
    kill_halfway_up(&root, &["push", "k/multi:1", &via], &reg.data(), p.big_size);
    nothing_visible(&reg, "k/multi", &p);
    assert_eq!(store_snapshot(&root), before, "a push changed the store");
    ok(&root, &["push", "-q", "k/multi:1", &via]);
    complete(&reg, "k/multi", &p);
}

#[test]
fn kill_9_in_a_registry_to_registry_copy_then_rerun() {
    let src = Registry::start(RegistryConfig::default());
    let dst = Registry::start(RegistryConfig::default());
    let t = Tmp::new("kill9-copy");
    let root = t.join("root");
    let p = push_multi(&root, &t.join("src"), &src.host, "k/multi", 16 << 20);
    let from = format!("docker://{}", p.name);
    let proxy = FlakyProxy::throttled(dst.port, 8 << 20);
    let to = format!("docker://127.0.0.1:{}/m/multi:1", proxy.port);
    kill_halfway_up(&root, &["copy", &from, &to], &dst.data(), p.big_size);
    nothing_visible(&dst, "m/multi", &p);
    ok(&root, &["copy", "-q", &from, &to]);
    complete(&dst, "m/multi", &p);
    let tags = ok(
        &root,
        &["list-tags", &format!("docker://{}/m/multi", dst.host)],
    );
    assert!(tags.contains("\"1\""), "{tags}");
}
