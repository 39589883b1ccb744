//! Transfers against a real docker-registry: progress lines on a terminal (over a pty from
//! `script`) and none on pipes, `--platform` from a two-platform index, recompression with
//! `--dest-compress-format zstd|gzip` (diff IDs kept, read back by skopeo), and `kill -9`
//! in the middle of a large blob followed by a rerun that completes.

mod common;

use common::*;
use skiff_image::digest::Digest;
use skiff_image::manifest::{self, Index, Manifest};
use skiff_image::transport::layout::Layout;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Run skiff-image on a pseudo-terminal (`script`); returns what the terminal received.
fn on_tty(root: &Path, args: &[&str]) -> String {
    let cmd = std::iter::once(bin().to_string())
        .chain(["--root".into(), root.display().to_string()])
        .chain(args.iter().map(|a| a.to_string()))
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let out = Command::new("script")
        .args(["-qefc", &cmd, "/dev/null"])
        .env_remove("SKIFF_ROOT")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run script (util-linux)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{args:?} on a tty: {text}");
    text
}

fn big_layer(layout: &Layout, name: &str) -> (Manifest, Digest) {
    let d = layout.find(Some(name)).unwrap();
    let m: Manifest = serde_json::from_slice(&layout.read_blob(&d.digest).unwrap()).unwrap();
    let big = m
        .layers
        .iter()
        .max_by_key(|l| l.size)
        .unwrap()
        .digest
        .clone();
    (m, big)
}

#[test]
fn progress_lines_on_a_terminal_and_none_on_pipes() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("progress");
    let root = t.join("root");
    let src = build_layout(&t.join("src"), 4 << 20);
    let multi = format!("oci:{}:multi", src.dir().display());
    ok(
        &root,
        &[
            "copy",
            "-q",
            &multi,
            &format!("docker://{}/p/multi:1", reg.host),
        ],
    );
    let (m, big) = big_layer(&src, "multi");
    let size = m.layers.iter().find(|l| l.digest == big).unwrap().size;
    let id = &big.hex()[..12];
    // About half a second for the big layer: several redraws happen on the way.
    let proxy = FlakyProxy::throttled(reg.port, 8 << 20);
    let name = format!("127.0.0.1:{}/p/multi:1", proxy.port);
    let tty = on_tty(&root, &["pull", &name]);
    assert!(
        tty.contains("\x1b[2K") && tty.contains("A\x1b[2K"),
        "no in-place redraw: {tty:?}"
    );
    let downloading = format!("{id}: Downloading [");
    let counts: std::collections::BTreeSet<&str> = tty
        .split("\x1b[2K")
        .filter(|l| l.starts_with(&downloading))
        .filter_map(|l| l.split("] ").nth(1)?.split('/').next())
        .collect();
    assert!(
        counts.len() >= 2,
        "expected the byte count to move: {counts:?} in {tty:?}"
    );
    let total = skiff_image::progress::human_size(size);
    assert!(tty.contains(&format!("/{total}")), "{tty:?}");
    assert!(
        tty.contains(&format!("{id}: Pull complete {total}")),
        "{tty:?}"
    );
    assert!(tty.contains(&format!("{name}: sha256:")), "{tty:?}");
    // The same pull into a pipe: one result line, no escape codes.
    let root2 = t.join("root2");
    let out = skiff(&root2, &["pull", &name]);
    assert!(out.status.success());
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        !stdout.contains('\x1b') && !stderr.contains('\x1b'),
        "{stdout:?} {stderr:?}"
    );
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    assert!(stderr.is_empty(), "{stderr:?}");
    // --quiet on a terminal: nothing at all.
    let quiet = on_tty(&t.join("root3"), &["pull", "-q", &name]);
    assert!(
        !quiet.contains('\x1b') && quiet.trim().is_empty(),
        "{quiet:?}"
    );
    // Push shows its own words; blobs the registry has are "Already exists".
    let tty = on_tty(
        &root,
        &["push", &name, &format!("docker://{}/p/copy:1", reg.host)],
    );
    assert!(tty.contains(&format!("{id}: Pushed {total}")), "{tty:?}");
    let tty = on_tty(
        &root,
        &["push", &name, &format!("docker://{}/p/copy:1", reg.host)],
    );
    assert!(tty.contains(&format!("{id}: Already exists")), "{tty:?}");
}

fn child_for(layout: &Layout, arch: &str) -> Digest {
    let top = layout.find(Some("multiarch")).unwrap();
    let idx: Index = serde_json::from_slice(&layout.read_blob(&top.digest).unwrap()).unwrap();
    idx.manifests
        .iter()
        .find(|d| d.platform.as_ref().unwrap().architecture == arch)
        .unwrap()
        .digest
        .clone()
}

fn architecture(root: &Path, name: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(&ok(root, &["inspect", name])).unwrap();
    v["Architecture"].as_str().unwrap().to_string()
}

#[test]
fn platform_choice_from_a_two_platform_index() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("platform");
    let root = t.join("root");
    let src = build_layout(&t.join("src"), 1024);
    let (amd, arm) = (child_for(&src, "amd64"), child_for(&src, "arm64"));
    let ma = format!("{}/plat/ma:1", reg.host);
    let from = format!("oci:{}:multiarch", src.dir().display());
    ok(
        &root,
        &["copy", "-q", "--all", &from, &format!("docker://{ma}")],
    );
    ok(&root, &["pull", "-q", "--platform", "linux/arm64", &ma]);
    assert_eq!(json_digest(&ok(&root, &["inspect", &ma])), arm.to_string());
    assert_eq!(architecture(&root, &ma), "arm64");
    // An entry without a variant is arm64/v8; x86_64 is amd64.
    let root2 = t.join("root2");
    ok(&root2, &["pull", "-q", "--platform", "linux/arm64/v8", &ma]);
    assert_eq!(json_digest(&ok(&root2, &["inspect", &ma])), arm.to_string());
    ok(&root2, &["pull", "-q", "--platform", "linux/x86_64", &ma]);
    assert_eq!(json_digest(&ok(&root2, &["inspect", &ma])), amd.to_string());
    assert_eq!(architecture(&root2, &ma), "amd64");
    let out = t.join("oci");
    let dst = format!("oci:{}:arm", out.display());
    ok(
        &root,
        &[
            "copy",
            "-q",
            "--platform",
            "linux/arm64",
            &format!("docker://{ma}"),
            &dst,
        ],
    );
    assert_eq!(json_digest(&ok(&root, &["inspect", &dst])), arm.to_string());
    let v: serde_json::Value = serde_json::from_str(&ok(
        &root,
        &[
            "inspect",
            "--platform",
            "linux/arm64",
            &format!("docker://{ma}"),
        ],
    ))
    .unwrap();
    assert_eq!(v["Architecture"], "arm64");
    let err = fails(&root, &["pull", "-q", "--platform", "linux/s390x", &ma]);
    assert!(err.contains("no entry for platform linux/s390x"), "{err}");
    let err = fails(&root, &["pull", "-q", "--platform", "linux/arm64/v9", &ma]);
    assert!(err.contains("linux/arm64/v9"), "{err}");
}

fn layer_types(raw: &str) -> Vec<String> {
    let m: Manifest = serde_json::from_str(raw).unwrap();
    m.layers.into_iter().map(|l| l.media_type).collect()
}

fn raw_manifest(reference: &str) -> (String, Manifest) {
    let raw = skopeo(&["inspect", "--raw", "--tls-verify=false", reference]);
    let m = serde_json::from_str(&raw).unwrap();
    (raw, m)
}

#[test]
fn zstd_recompression_keeps_diff_ids_and_round_trips_through_skopeo() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("zstd");
    let root = t.join("root");
    let src = build_layout(&t.join("src"), 256 * 1024);
    let (orig, _) = big_layer(&src, "multi");
    let h = &reg.host;
    let multi = format!("oci:{}:multi", src.dir().display());
    let z = format!("docker://{h}/z/multi:1");
    ok(
        &root,
        &["copy", "-q", "--dest-compress-format", "zstd", &multi, &z],
    );
    let (raw, m) = raw_manifest(&z);
    assert_eq!(layer_types(&raw), vec![manifest::OCI_LAYER_ZSTD; 3]);
    assert_eq!(
        m.config.digest, orig.config.digest,
        "the config (diff IDs) changed"
    );
    let sk: serde_json::Value =
        serde_json::from_str(&skopeo(&["inspect", "--tls-verify=false", &z])).unwrap();
    let sk_layers: Vec<String> = serde_json::from_value(sk["Layers"].clone()).unwrap();
    let ours: Vec<String> = m.layers.iter().map(|l| l.digest.to_string()).collect();
    assert_eq!(sk_layers, ours, "{sk}");
    // Diff IDs are recomputed through zstd decompression, from the registry and from
    // skopeo's copy of it.
    let r: skiff_image::ImageRef = format!("{h}/z/multi:1").parse().unwrap();
    let rs = skiff_image::registry::RegistrySource::new(&r, &Default::default()).unwrap();
    assert_eq!(
        skiff_image::validate::validate_image(&rs).unwrap().layers,
        3
    );
    let sk_dir = t.join("sk");
    skopeo(&[
        "copy",
        "-q",
        "--src-tls-verify=false",
        &z,
        &format!("oci:{}:z", sk_dir.display()),
    ]);
    let sko = skiff_image::transport::oci::OciSource::open(&sk_dir, Some("z")).unwrap();
    assert_eq!(
        skiff_image::validate::validate_image(&sko).unwrap().layers,
        3
    );
    // And back to gzip: same diff IDs, gzip media types.
    let back = format!("oci:{}:g", t.join("back").display());
    ok(
        &root,
        &["copy", "-q", "--dest-compress-format", "gzip", &z, &back],
    );
    let raw = ok(&root, &["inspect", "--raw", &back]);
    assert_eq!(layer_types(&raw), vec![manifest::OCI_LAYER_GZIP; 3]);
    let bo = skiff_image::transport::oci::OciSource::open(&t.join("back"), Some("g")).unwrap();
    assert_eq!(
        skiff_image::validate::validate_image(&bo).unwrap().layers,
        3
    );
    // A Docker v2s2 image has no zstd layer type: it becomes an OCI manifest.
    let d = format!("docker://{h}/d/multi:1");
    skopeo(&[
        "copy",
        "-q",
        "--format",
        "v2s2",
        "--dest-tls-verify=false",
        &multi,
        &d,
    ]);
    let dz = format!("docker://{h}/d/multi:z");
    ok(
        &root,
        &["copy", "-q", "--dest-compress-format", "zstd", &d, &dz],
    );
    let (_, m) = raw_manifest(&dz);
    assert_eq!(m.media_type.as_deref(), Some(manifest::OCI_MANIFEST));
    assert_eq!(m.config.media_type, manifest::OCI_CONFIG);
    // An index: every child recompressed, a new index naming them.
    let ma = format!("docker://{h}/z/ma:1");
    let from = format!("oci:{}:multiarch", src.dir().display());
    ok(
        &root,
        &[
            "copy",
            "-q",
            "--all",
            "--dest-compress-format",
            "zstd",
            &from,
            &ma,
        ],
    );
    let idx: Index =
        serde_json::from_str(&skopeo(&["inspect", "--raw", "--tls-verify=false", &ma])).unwrap();
    assert_eq!(idx.manifests.len(), 2);
    assert!(idx
        .manifests
        .iter()
        .all(|d| d.digest != child_for(&src, "amd64") && d.digest != child_for(&src, "arm64")));
    let r: skiff_image::ImageRef = format!("{h}/z/ma:1").parse().unwrap();
    let rs = skiff_image::registry::RegistrySource::new(&r, &Default::default()).unwrap();
    let v = skiff_image::validate::validate_image(&rs).unwrap();
    assert_eq!((v.images, v.layers), (2, 3));
    // The zstd image pulled into the store validates there too.
    let root2 = t.join("root2");
    ok(&root2, &["pull", "-q", &format!("{h}/z/multi:1")]);
    let store = skiff_image::Store::open(&root2).unwrap();
    let ss = store.source(&format!("{h}/z/multi:1")).unwrap();
    assert_eq!(
        skiff_image::validate::validate_image(&ss).unwrap().layers,
        3
    );
    // podman's push flag: back to gzip on the way out.
    let pushed = format!("docker://{h}/z/pushed:gz");
    let stored = format!("{h}/z/multi:1");
    ok(
        &root2,
        &[
            "push",
            "-q",
            "--compression-format",
            "gzip",
            &stored,
            &pushed,
        ],
    );
    let (raw, m) = raw_manifest(&pushed);
    assert_eq!(layer_types(&raw), vec![manifest::OCI_LAYER_GZIP; 3]);
    assert_eq!(m.config.digest, orig.config.digest);
}

/// Size of the largest blob being written under `dir` (staged or a resumable ingest).
fn largest_partial(dir: &Path) -> u64 {
    tree(dir)
        .iter()
        .filter(|p| {
            p.starts_with("ingest/")
                || p.rsplit('/')
                    .next()
                    .is_some_and(|n| n.starts_with(".blob-"))
        })
        .filter_map(|p| std::fs::metadata(dir.join(p)).ok())
        .map(|m| m.len())
        .max()
        .unwrap_or(0)
}

/// Start `args`, wait until a blob of `size` bytes is half written under `watch`, SIGKILL.
fn kill_halfway(root: &Path, args: &[&str], watch: &Path, size: u64) {
    let mut child = Command::new(bin())
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("SKIFF_ROOT")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while largest_partial(watch) < size / 2 {
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!("{args:?} never got halfway through the big blob");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

fn debris(dir: &Path) -> Vec<String> {
    tree(dir)
        .into_iter()
        .filter(|p| p.contains(".skiff-stage-") || p.contains(".blob-") || p.contains(".tmp-"))
        .collect()
}

#[test]
fn kill_9_halfway_through_a_large_blob_then_rerun() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("kill9");
    let root = t.join("root");
    let src = build_layout(&t.join("src"), 16 << 20);
    let multi = format!("oci:{}:multi", src.dir().display());
    ok(
        &root,
        &[
            "copy",
            "-q",
            &multi,
            &format!("docker://{}/k/multi:1", reg.host),
        ],
    );
    let (m, big) = big_layer(&src, "multi");
    let size = m.layers.iter().find(|l| l.digest == big).unwrap().size;
    let proxy = FlakyProxy::throttled(reg.port, 16 << 20);
    let name = format!("127.0.0.1:{}/k/multi:1", proxy.port);
    import_busybox_cmd(&root, t.path(), "bb:1", "sh");
    let oci_before = tree(&root.join("oci"));
    let index_before = std::fs::read(root.join("oci/index.json")).unwrap();

    kill_halfway(&root, &["pull", &name], &root.join("tmp"), size);
    // Nothing half-visible: oci/ exactly as before, the killed run's debris only in tmp/.
    assert_eq!(tree(&root.join("oci")), oci_before);
    assert_eq!(
        std::fs::read(root.join("oci/index.json")).unwrap(),
        index_before
    );
    assert!(!debris(&root.join("tmp")).is_empty());
    let kept = largest_partial(&root.join("tmp"));
    let bb = skiff_image::Store::open(&root)
        .unwrap()
        .source("bb:1")
        .unwrap();
    skiff_image::validate::validate_image(&bb).unwrap();
    // The same command again completes, fetching only the rest of the big blob, and
    // leaves no temp files.
    ok(&root, &["pull", "-q", &name]);
    let files: Vec<String> = tree(&root.join("tmp"))
        .into_iter()
        .filter(|p| root.join("tmp").join(p).is_file())
        .collect();
    assert!(files.is_empty(), "{files:?}");
    let log = proxy.requests.lock().unwrap().clone();
    let big_gets: Vec<&String> = log
        .iter()
        .filter(|l| l.contains(&big.to_string()))
        .collect();
    let resumed_at: Vec<u64> = big_gets
        .iter()
        .filter_map(|l| {
            let l = l.to_ascii_lowercase();
            l.split("range: bytes=")
                .nth(1)?
                .split('-')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert!(
        resumed_at.iter().any(|&n| n > 0 && n <= kept),
        "the rerun did not resume within the kept {kept} bytes: {big_gets:?}"
    );
    assert!(debris(&root.join("oci")).is_empty());
    let store = skiff_image::Store::open(&root).unwrap();
    let v = skiff_image::validate::validate_image(&store.source(&name).unwrap()).unwrap();
    assert_eq!(v.layers, 3);
    let images = ok(&root, &["images", "--format", "json"]);
    assert!(
        images.contains("bb:1") && images.contains("k/multi"),
        "{images}"
    );

    // kill -9 in a copy into an oci: layout, then the same copy again.
    let out = t.join("out");
    let dst = format!("oci:{}:m", out.display());
    kill_halfway(
        &root,
        &["copy", &format!("docker://{name}"), &dst],
        &out,
        size,
    );
    assert!(!debris(&out).is_empty());
    let index = Layout::open(&out).unwrap().read_index().unwrap();
    assert!(index.manifests.is_empty(), "a killed copy named an image");
    ok(&root, &["copy", "-q", &format!("docker://{name}"), &dst]);
    assert!(debris(&out).is_empty(), "{:?}", debris(&out));
    skopeo(&["inspect", &dst]);
    let oo = skiff_image::transport::oci::OciSource::open(&out, Some("m")).unwrap();
    assert_eq!(
        skiff_image::validate::validate_image(&oo).unwrap().layers,
        3
    );
}
