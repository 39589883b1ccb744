//! `sync` against real docker-registry servers on loopback: YAML tag regexes, whole
//! registries through the catalog, `dir:` trees as source, `--dry-run`, `--keep-going`,
//! per-registry credentials and CA directories, `--src-no-creds`, digests in image lists
//! and digest-pinned sources, and the one-line errors of a bad file.

mod common;

use common::*;
use skiff_image::transport::layout::Layout;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// `bb:1` in the store of `root`, from the host's busybox.
fn busybox(root: &Path, t: &Tmp) {
    import_busybox_cmd(root, t.path(), "bb:1", "sh");
}

fn push(root: &Path, dst: &str) {
    ok(root, &["push", "bb:1", &format!("docker://{dst}")]);
}

/// The tags of `repo` (`host/path`), sorted; none when the repository does not exist.
fn tags(root: &Path, repo: &str) -> Vec<String> {
    let out = skiff(
        root,
        &[
            "list-tags",
            &format!("docker://{repo}"),
            "--tls-verify=false",
        ],
    );
    if !out.status.success() {
        return Vec::new();
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut t: Vec<String> = v["Tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    t.sort();
    t
}

fn catalog(root: &Path, host: &str) -> Vec<String> {
    let out = ok(root, &["catalog", host, "--tls-verify=false"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut r: Vec<String> = v["Repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    r.sort();
    r
}

fn write(t: &Tmp, name: &str, text: &str) -> PathBuf {
    let p = t.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Run `sync ARGS` with no credentials file of the host's in the way.
fn sync_args<'a>(t: &'a Tmp, args: &[&'a str]) -> Vec<String> {
    let mut v: Vec<String> = vec!["sync".into()];
    v.extend(args.iter().map(|s| s.to_string()));
    v.push("--authfile".into());
    v.push(t.join("no-auth.json").display().to_string());
    v
}

fn ok_sync(root: &Path, t: &Tmp, args: &[&str]) -> String {
    let v = sync_args(t, args);
    ok(root, &v.iter().map(String::as_str).collect::<Vec<_>>())
}

fn fails_sync(root: &Path, t: &Tmp, args: &[&str]) -> String {
    let v = sync_args(t, args);
    fails(root, &v.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn tag_regex_selects_exactly_the_matching_tags() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("sync-regex");
    let root = t.join("root");
    busybox(&root, &t);
    let h = &reg.host;
    for tag in ["1.0", "1.1", "1.10", "2.0", "1.0-rc1", "v1.0"] {
        push(&root, &format!("{h}/src/app:{tag}"));
    }
    for tag in ["x-rc1", "rc", "release"] {
        push(&root, &format!("{h}/src/other:{tag}"));
    }
    // Anchored where the pattern says; unanchored otherwise, as Go's MatchString.
    let yaml = write(
        &t,
        "regex.yml",
        &format!(
            "{h}:\n  tls-verify: false\n  images-by-tag-regex:\n    src/app: '^1\\.[0-9]$'\n    src/other: 'rc'\n"
        ),
    );
    let out = ok_sync(
        &root,
        &t,
        &[
            "--src",
            "yaml",
            "--dest",
            "docker",
            "--dest-tls-verify=false",
            yaml.to_str().unwrap(),
            &format!("{h}/mirror"),
        ],
    );
    assert!(out.contains("synced 4 images, 0 already"), "{out}");
    assert_eq!(tags(&root, &format!("{h}/mirror/app")), ["1.0", "1.1"]);
    assert_eq!(tags(&root, &format!("{h}/mirror/other")), ["rc", "x-rc1"]);
}

#[test]
fn whole_registry_through_the_catalog_then_every_image_skipped() {
    let src = Registry::start(RegistryConfig::default());
    let dst = Registry::start(RegistryConfig::default());
    let t = Tmp::new("sync-catalog");
    let root = t.join("root");
    busybox(&root, &t);
    let (s, d) = (&src.host, &dst.host);
    push(&root, &format!("{s}/a/bb:1"));
    push(&root, &format!("{s}/a/bb:2"));
    push(&root, &format!("{s}/b/bb:1"));
    push(&root, &format!("{s}/top:latest"));
    let args = [
        "--src",
        "docker",
        "--dest",
        "docker",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        s.as_str(),
        &format!("{d}/mirror"),
    ];
    let out = ok_sync(&root, &t, &args);
    assert!(out.contains("synced 4 images, 0 already"), "{out}");
    // Paths are kept: `a/bb` and `b/bb` would collide as base names.
    assert_eq!(
        catalog(&root, d),
        ["mirror/a/bb", "mirror/b/bb", "mirror/top"]
    );
    assert_eq!(tags(&root, &format!("{d}/mirror/a/bb")), ["1", "2"]);
    let out = ok_sync(&root, &t, &args);
    assert!(out.contains("synced 0 images, 4 already"), "{out}");
    // `docker://` and a trailing slash name the registry too.
    let scheme = format!("docker://{s}/");
    let mut args2 = args;
    args2[6] = scheme.as_str();
    let out = ok_sync(&root, &t, &args2);
    assert!(out.contains("synced 0 images, 4 already"), "{out}");
}

#[test]
fn dry_run_copies_nothing() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("sync-dry");
    let root = t.join("root");
    busybox(&root, &t);
    let h = &reg.host;
    push(&root, &format!("{h}/src/bb:1"));
    push(&root, &format!("{h}/src/bb:2"));
    push(&root, &format!("{h}/mirror/bb:2"));
    let out = ok_sync(
        &root,
        &t,
        &[
            "--src",
            "docker",
            "--dest",
            "docker",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "--dry-run",
            &format!("{h}/src/bb"),
            &format!("{h}/mirror"),
        ],
    );
    assert!(
        out.contains(&format!(
            "would copy docker://{h}/src/bb:1 to docker://{h}/mirror/bb:1"
        )),
        "{out}"
    );
    assert!(!out.contains("src/bb:2 to"), "{out}");
    assert!(out.contains("would sync 1 images, 1 already"), "{out}");
    assert_eq!(tags(&root, &format!("{h}/mirror/bb")), ["2"]);
    let dirs = t.join("dirs");
    let out = ok_sync(
        &root,
        &t,
        &[
            "--src",
            "docker",
            "--dest",
            "dir",
            "--src-tls-verify=false",
            "--dry-run",
            &format!("{h}/src/bb"),
            dirs.to_str().unwrap(),
        ],
    );
    assert!(out.contains("would sync 2 images, 0 already"), "{out}");
    assert!(!dirs.exists(), "dry run created {dirs:?}");
}

#[test]
fn keep_going_continues_past_a_missing_tag_and_repository() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("sync-keep");
    let root = t.join("root");
    busybox(&root, &t);
    let h = &reg.host;
    push(&root, &format!("{h}/src/bb:1"));
    push(&root, &format!("{h}/src/zz:1"));
    let yaml = write(
        &t,
        "keep.yml",
        &format!(
            "{h}:\n  tls-verify: false\n  images:\n    src/bb: ['nope', '1']\n    src/missing: []\n    src/zz: []\n"
        ),
    );
    let args = [
        "--src",
        "yaml",
        "--dest",
        "docker",
        "--dest-tls-verify=false",
        "--jobs",
        "1",
        yaml.to_str().unwrap(),
        &format!("{h}/mirror"),
    ];
    let err = fails_sync(&root, &t, &args);
    assert!(tags(&root, &format!("{h}/mirror/zz")).is_empty(), "{err}");
    let mut keep = args.to_vec();
    keep.push("--keep-going");
    let err = fails_sync(&root, &t, &keep);
    assert!(err.contains("2 images or repositories failed"), "{err}");
    assert!(err.contains(&format!("{h}/src/bb:nope")), "{err}");
    assert!(err.contains(&format!("{h}/src/missing")), "{err}");
    assert_eq!(tags(&root, &format!("{h}/mirror/bb")), ["1"]);
    assert_eq!(tags(&root, &format!("{h}/mirror/zz")), ["1"]);
}

#[test]
fn bad_files_fail_on_one_line_naming_file_and_field() {
    let t = Tmp::new("sync-bad");
    let root = t.join("root");
    let cases = [
        (
            "regex.yml",
            "h.example:\n  images-by-tag-regex:\n    app: '(v1'\n",
            "h.example.images-by-tag-regex.app",
        ),
        ("broken.yml", "h.example:\n  images: [\n", "broken.yml"),
        (
            "unknown.yml",
            "h.example:\n  image:\n    app: []\n",
            "unknown field `image`",
        ),
        (
            "empty.yml",
            "h.example:\n  tls-verify: false\n",
            "no images",
        ),
        (
            "tag.yml",
            "h.example:\n  images:\n    app: ['bad tag']\n",
            "h.example.images.app",
        ),
    ];
    for (name, text, want) in cases {
        let yaml = write(&t, name, text);
        let err = fails_sync(
            &root,
            &t,
            &[
                "--src",
                "yaml",
                "--dest",
                "dir",
                yaml.to_str().unwrap(),
                t.join("out").to_str().unwrap(),
            ],
        );
        assert!(err.contains(want), "{name}: {err}");
        assert!(err.contains(name), "{name}: {err}");
    }
    let err = fails_sync(
        &root,
        &t,
        &[
            "--src",
            "yaml",
            "--dest",
            "dir",
            t.join("absent.yml").to_str().unwrap(),
            t.join("out").to_str().unwrap(),
        ],
    );
    assert!(err.contains("absent.yml"), "{err}");
}

/// Digests in a YAML image list and a digest-pinned source, synced as skopeo syncs them:
/// `name@sha256:…` below the destination, pushed by digest and left untagged; an index
/// pinned without `--all` is refused, since one platform's manifest cannot be stored
/// under the index's digest.
#[test]
fn digests_in_yaml_and_a_pinned_source_go_by_digest() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("sync-digest");
    let root = t.join("root");
    busybox(&root, &t);
    let h = &reg.host;
    push(&root, &format!("{h}/src/app:1"));
    let image = json_digest(&ok(
        &root,
        &[
            "inspect",
            &format!("docker://{h}/src/app:1"),
            "--tls-verify=false",
        ],
    ));
    let layout = Layout::create(&t.join("lists")).unwrap();
    let (list, _) = common::write_docker_list(&layout, "list");
    ok(
        &root,
        &[
            "copy",
            "-q",
            "--all",
            &format!("oci:{}:list", layout.dir().display()),
            &format!("docker://{h}/src/multi:1"),
        ],
    );
    let yaml = write(
        &t,
        "digests.yml",
        &format!("{h}:\n  tls-verify: false\n  images:\n    src/app: [\"{image}\", \"1\"]\n"),
    );
    let out = ok_sync(
        &root,
        &t,
        &[
            "--src",
            "yaml",
            "--dest",
            "docker",
            "--dest-tls-verify=false",
            yaml.to_str().unwrap(),
            &format!("{h}/mirror"),
        ],
    );
    assert!(out.contains("synced 2 images, 0 already"), "{out}");
    // By digest: there, and no tag made for it.
    assert_eq!(tags(&root, &format!("{h}/mirror/app")), ["1"]);
    let pinned = json_digest(&ok(
        &root,
        &[
            "inspect",
            &format!("docker://{h}/mirror/app@{image}"),
            "--tls-verify=false",
        ],
    ));
    assert_eq!(pinned, image);

    // Into directories, named as skopeo names them.
    let ours = t.join("ours");
    let theirs = t.join("theirs");
    ok_sync(
        &root,
        &t,
        &[
            "--src",
            "yaml",
            "--dest",
            "dir",
            yaml.to_str().unwrap(),
            ours.to_str().unwrap(),
        ],
    );
    skopeo(&[
        "--insecure-policy",
        "sync",
        "--src",
        "yaml",
        "--dest",
        "dir",
        yaml.to_str().unwrap(),
        theirs.to_str().unwrap(),
    ]);
    let names = |d: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(&ours), ["app:1".to_string(), format!("app@{image}")]);
    assert_eq!(names(&ours), names(&theirs));

    // A pinned source: the image by digest, a second run finds it up to date.
    let src = format!("{h}/src/app@{image}");
    let args = [
        "--src",
        "docker",
        "--dest",
        "docker",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        src.as_str(),
        &format!("{h}/pinned"),
    ];
    assert!(ok_sync(&root, &t, &args).contains("synced 1 images"));
    assert!(ok_sync(&root, &t, &args).contains("synced 0 images, 1 already"));
    assert_eq!(
        tags(&root, &format!("{h}/pinned/app")),
        Vec::<String>::new()
    );

    // An index by digest: refused without --all, kept whole with it.
    let src = format!("{h}/src/multi@{}", list.digest);
    let mut args = vec![
        "--src",
        "docker",
        "--dest",
        "docker",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        src.as_str(),
    ];
    let dest = format!("{h}/lists");
    args.push(&dest);
    let err = fails_sync(&root, &t, &args);
    assert!(
        err.contains("is an index") && err.contains("--all"),
        "{err}"
    );
    args.push("--all");
    ok_sync(&root, &t, &args);
    let raw = ok(
        &root,
        &[
            "inspect",
            "--raw",
            &format!("docker://{h}/lists/multi@{}", list.digest),
            "--tls-verify=false",
        ],
    );
    assert_eq!(skiff_image::digest::Digest::of(raw.as_bytes()), list.digest);
}

#[test]
fn yaml_credentials_and_cert_dir_per_registry() {
    let t = Tmp::new("sync-creds");
    let root = t.join("root");
    busybox(&root, &t);
    let pki = t.join("pki");
    test_pki(&pki);
    let reg = Registry::start(RegistryConfig {
        basic: Some(("tester".into(), "s3cret".into())),
        tls: Some((pki.join("srv.crt"), pki.join("srv.key"))),
        ..Default::default()
    });
    let h = &reg.host;
    ok(
        &root,
        &[
            "push",
            "bb:1",
            &format!("docker://{h}/a/bb:1"),
            "--creds",
            "tester:s3cret",
            "--tls-verify=false",
        ],
    );
    let cadir = t.join("cadir");
    std::fs::create_dir_all(&cadir).unwrap();
    std::fs::copy(pki.join("ca.crt"), cadir.join("ca.crt")).unwrap();
    let run = |yaml: &Path, out: &str| {
        sync_args(
            &t,
            &[
                "--src",
                "yaml",
                "--dest",
                "dir",
                yaml.to_str().unwrap(),
                t.join(out).to_str().unwrap(),
            ],
        )
    };
    let as_strs = |v: &[String]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let good = write(
        &t,
        "good.yml",
        &format!(
            "{h}:\n  cert-dir: {}\n  credentials:\n    username: tester\n    password: s3cret\n  images:\n    a/bb: []\n",
            cadir.display()
        ),
    );
    let v = as_strs(&run(&good, "good"));
    let out = ok(&root, &v.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.contains("synced 1 images"), "{out}");
    skopeo(&["inspect", &format!("dir:{}", t.join("good/bb:1").display())]);
    // No credentials: the registry refuses.
    let anon = write(
        &t,
        "anon.yml",
        &format!(
            "{h}:\n  cert-dir: {}\n  images:\n    a/bb: ['1']\n",
            cadir.display()
        ),
    );
    let v = as_strs(&run(&anon, "anon"));
    let err = fails(&root, &v.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(err.contains("401"), "{err}");
    // No CA: the certificate is not trusted.
    let no_ca = write(
        &t,
        "noca.yml",
        &format!(
            "{h}:\n  credentials:\n    username: tester\n    password: s3cret\n  images:\n    a/bb: ['1']\n"
        ),
    );
    let v = as_strs(&run(&no_ca, "noca"));
    let err = fails(&root, &v.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    // The same through the flags.
    let out = ok_sync(
        &root,
        &t,
        &[
            "--src",
            "docker",
            "--dest",
            "dir",
            "--src-creds",
            "tester:s3cret",
            "--src-cert-dir",
            cadir.to_str().unwrap(),
            &format!("{h}/a/bb"),
            t.join("flags").to_str().unwrap(),
        ],
    );
    assert!(out.contains("synced 1 images"), "{out}");
    // Stored credentials are used, unless --src-no-creds says anonymous.
    let stored = t.join("stored-auth.json");
    ok(
        &root,
        &[
            "login",
            h,
            "-u",
            "tester",
            "-p",
            "s3cret",
            "--authfile",
            stored.to_str().unwrap(),
            "--cert-dir",
            cadir.to_str().unwrap(),
        ],
    );
    let from_stored = |extra: &[&str], out: &str| {
        let mut v = vec![
            "sync".to_string(),
            "--src".into(),
            "docker".into(),
            "--dest".into(),
            "dir".into(),
            "--src-authfile".into(),
            stored.display().to_string(),
            "--src-cert-dir".into(),
            cadir.display().to_string(),
        ];
        v.extend(extra.iter().map(|s| s.to_string()));
        v.push(format!("{h}/a/bb"));
        v.push(t.join(out).display().to_string());
        v
    };
    let v = from_stored(&[], "stored");
    let out = ok(&root, &v.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.contains("synced 1 images"), "{out}");
    let v = from_stored(&["--src-no-creds"], "nocreds");
    let err = fails(&root, &v.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(err.contains("401"), "{err}");
    let v = from_stored(&["--src-no-creds", "--src-creds", "tester:s3cret"], "both");
    let err = fails(&root, &v.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        err.contains("--src-creds and --src-no-creds exclude each other"),
        "{err}"
    );
}

#[test]
fn dir_tree_source_to_registry_and_back_skips_up_to_date() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("sync-dir");
    let root = t.join("root");
    busybox(&root, &t);
    let h = &reg.host;
    push(&root, &format!("{h}/src/bb:1"));
    push(&root, &format!("{h}/src/bb:2"));
    let dirs = t.join("dirs");
    let out = ok_sync(
        &root,
        &t,
        &[
            "--src",
            "docker",
            "--dest",
            "dir",
            "--src-tls-verify=false",
            &format!("{h}/src/bb"),
            dirs.to_str().unwrap(),
        ],
    );
    assert!(out.contains("synced 2 images"), "{out}");
    // `--scoped` before the positionals is a flag, not their value.
    let scoped = t.join("scoped");
    let out = ok_sync(
        &root,
        &t,
        &[
            "--src",
            "docker",
            "--dest",
            "dir",
            "--src-tls-verify=false",
            "--scoped",
            &format!("{h}/src/bb:1"),
            scoped.to_str().unwrap(),
        ],
    );
    assert!(out.contains("synced 1 images"), "{out}");
    assert!(scoped.join(format!("{h}/src/bb:1/manifest.json")).is_file());
    // Each dir: image is named by its path below the source directory.
    std::fs::create_dir_all(dirs.join("nested")).unwrap();
    std::fs::rename(dirs.join("bb:2"), dirs.join("nested/bb:2")).unwrap();
    let args = [
        "--src",
        "dir",
        "--dest",
        "docker",
        "--dest-tls-verify=false",
        dirs.to_str().unwrap(),
        &format!("{h}/fromdir"),
    ];
    let out = ok_sync(&root, &t, &args);
    assert!(out.contains("synced 2 images, 0 already"), "{out}");
    assert_eq!(tags(&root, &format!("{h}/fromdir/bb")), ["1"]);
    assert_eq!(tags(&root, &format!("{h}/fromdir/nested/bb")), ["2"]);
    let out = ok_sync(&root, &t, &args);
    assert!(out.contains("synced 0 images, 2 already"), "{out}");
}

#[test]
fn whole_registry_follows_catalog_pages() {
    // docker-registry answers /v2/_catalog 100 repositories at a time, with a `Link` to the
    // next page; 101 repositories make two pages.
    let src = Registry::start(RegistryConfig::default());
    let dst = Registry::start(RegistryConfig::default());
    let t = Tmp::new("sync-pages");
    let root = t.join("root");
    let layout = Layout::create(&t.join("tiny")).unwrap();
    let (l, d) = layer(&[("etc/tiny", b"tiny\n")]);
    let m = write_image(&layout, host_arch(), &[l], &[d]);
    name_in_index(&layout, m, "tiny");
    let tiny = format!("oci:{}:tiny", t.join("tiny").display());
    let (s, d) = (&src.host, &dst.host);
    for i in 0..101 {
        ok(
            &root,
            &["copy", "-q", &tiny, &format!("docker://{s}/r{i:03}:1")],
        );
    }
    // The registry does page: the first answer links to the next.
    let mut conn = std::net::TcpStream::connect(s.as_str()).unwrap();
    write!(conn, "GET /v2/_catalog HTTP/1.0\r\nHost: {s}\r\n\r\n").unwrap();
    let mut head = String::new();
    conn.read_to_string(&mut head).unwrap();
    assert!(
        head.to_lowercase().contains("\nlink: </v2/_catalog?"),
        "{head}"
    );
    let out = ok_sync(
        &root,
        &t,
        &[
            "--src",
            "docker",
            "--dest",
            "docker",
            "--jobs",
            "8",
            s.as_str(),
            &format!("{d}/m"),
        ],
    );
    assert!(out.contains("synced 101 images, 0 already"), "{out}");
    let got = catalog(&root, d);
    assert_eq!(got.len(), 101, "{got:?}");
    assert_eq!(got[100], "m/r100");
}
