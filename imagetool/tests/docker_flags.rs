//! docker's flags on the docker-like commands: `pull -a/--all-tags` (and `--all`, long
//! only, for every platform), `images -a`, `--digests`, `--no-trunc`, `--filter
//! reference=...`, `rmi -f`, `inspect --format` (the documented Go-template subset),
//! `load -q`, and `save` to standard output without `-o` (refused on a terminal).

mod common;

use common::*;
use skiff_image::digest::Digest;
use std::path::Path;
use std::process::{Command, Stdio};

fn raw_digest(root: &Path, name: &str) -> Digest {
    Digest::of(ok(root, &["inspect", "--raw", name]).as_bytes())
}

#[test]
fn pull_all_tags_is_dockers_a_and_all_is_every_platform() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("df-pull");
    let seed = t.join("seed");
    let h = &reg.host;
    let one = import_busybox_cmd(&seed, t.path(), "bb:1", "one");
    let two = import_busybox_cmd(&seed, t.path(), "bb:2", "two");
    ok(&seed, &["push", "bb:1", &format!("docker://{h}/p/bb:1")]);
    ok(&seed, &["push", "bb:2", &format!("docker://{h}/p/bb:2")]);
    let src = build_layout(&t.join("src"), 1024);
    let top = src.find(Some("multiarch")).unwrap().digest;
    ok(
        &seed,
        &[
            "copy",
            "-q",
            "--all",
            &format!("oci:{}:multiarch", src.dir().display()),
            &format!("docker://{h}/p/ma:1"),
        ],
    );

    let root = t.join("root");
    let out = ok(&root, &["pull", "-a", &format!("{h}/p/bb")]);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert_eq!(raw_digest(&root, &format!("{h}/p/bb:1")).to_string(), one);
    assert_eq!(raw_digest(&root, &format!("{h}/p/bb:2")).to_string(), two);
    let err = fails(&root, &["pull", "--all-tags", &format!("{h}/p/bb:1")]);
    assert!(err.contains("without a tag or digest"), "{err}");
    let err = fails(&root, &["pull", "-a", &format!("{h}/p/nothing")]);
    assert!(err.contains("list tags"), "{err}");
    // -a is not "every platform": the host's image of the index is stored...
    ok(&root, &["pull", "-q", "-a", &format!("{h}/p/ma")]);
    assert_ne!(raw_digest(&root, &format!("{h}/p/ma:1")), top);
    // ...while --all stores the index itself.
    let root2 = t.join("root2");
    ok(&root2, &["pull", "-q", "--all", &format!("{h}/p/ma:1")]);
    assert_eq!(raw_digest(&root2, &format!("{h}/p/ma:1")), top);
}

#[test]
fn images_all_digests_no_trunc_and_reference_filters() {
    let t = Tmp::new("df-images");
    let root = t.join("root");
    let bb = import_busybox_cmd(&root, t.path(), "bb:1", "sh");
    let app = import_busybox_cmd(&root, t.path(), "example.com/team/app:1", "app");
    ok(
        &root,
        &["tag", "example.com/team/app:1", "example.com/team/app:2"],
    );
    let plain = ok(&root, &["images"]);
    assert_eq!(ok(&root, &["images", "-a"]), plain, "-a: nothing is hidden");
    let digests = ok(&root, &["images", "--digests"]);
    assert!(
        digests.lines().next().unwrap().contains("DIGEST"),
        "{digests}"
    );
    assert!(digests.contains(&bb) && digests.contains(&app), "{digests}");
    assert!(!plain.contains(&bb), "{plain}");
    let full: Vec<String> = ok(&root, &["images", "-q", "--no-trunc"])
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(full, [bb.clone(), app.clone(), app.clone()]);
    assert!(ok(&root, &["images", "--no-trunc"]).contains(&app));
    let names = |filters: &[&str]| -> Vec<String> {
        let mut args = vec!["images", "--format", "json"];
        for f in filters {
            args.extend(["--filter", f]);
        }
        let v: serde_json::Value = serde_json::from_str(&ok(&root, &args)).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&["reference=bb"]), ["docker.io/library/bb:1"]);
    assert_eq!(names(&["reference=b?:1"]), ["docker.io/library/bb:1"]);
    assert_eq!(names(&["reference=example.com/team/*"]).len(), 2);
    assert_eq!(
        names(&["reference=example.com/*/app:2"]),
        ["example.com/team/app:2"]
    );
    assert!(names(&["reference=*/app:*"]).is_empty(), "* stops at /");
    assert_eq!(
        names(&["reference=bb", "reference=*/*/app:[1]"]),
        ["docker.io/library/bb:1", "example.com/team/app:1"]
    );
    let q = ok(
        &root,
        &["images", "-q", "--filter", "reference=example.com/team/app"],
    );
    assert_eq!(q.lines().count(), 2, "{q}");
    let err = fails(&root, &["images", "--filter", "dangling=true"]);
    assert!(err.contains("only \"reference\""), "{err}");
    let err = fails(&root, &["images", "--filter", "reference=[bad"]);
    assert!(err.contains("bad pattern"), "{err}");
}

#[test]
fn rmi_f_removes_every_name_of_an_image_id() {
    let t = Tmp::new("df-rmi");
    let root = t.join("root");
    let id = import_busybox_cmd(&root, t.path(), "bb:1", "sh");
    ok(&root, &["tag", "bb:1", "bb:2"]);
    let short = &id["sha256:".len().."sha256:".len() + 12];
    let before = store_snapshot(&root);
    let err = fails(&root, &["rmi", short]);
    assert!(err.contains("has 2 names") && err.contains("-f"), "{err}");
    assert_eq!(store_snapshot(&root), before);
    let out = ok(&root, &["rmi", "-f", short]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "Untagged: docker.io/library/bb:1",
            "Untagged: docker.io/library/bb:2"
        ]
    );
    assert!(tree(&root.join("oci/blobs/sha256")).is_empty());
    fails(&root, &["rmi", "-f", "bb:1"]);
    // By name, -f or not, only that name goes.
    import_busybox_cmd(&root, t.path(), "bb:1", "sh");
    ok(&root, &["tag", "bb:1", "bb:2"]);
    ok(&root, &["rmi", "-f", "bb:1"]);
    assert_eq!(ok(&root, &["images", "-q"]).lines().count(), 1);
}

#[test]
fn inspect_format_prints_the_go_template_subset() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("df-inspect");
    let root = t.join("root");
    let tar = busybox_rootfs(t.path());
    let id = ok(
        &root,
        &[
            "import",
            tar.to_str().unwrap(),
            "bb:1",
            "--change",
            "ENV A=1",
            "--change",
            "ENV B=two words",
            "--change",
            r#"CMD ["sh", "-c", "true"]"#,
        ],
    )
    .trim()
    .to_string();
    let f = |name: &str, template: &str| ok(&root, &["inspect", "--format", template, name]);
    assert_eq!(f("bb:1", "{{.Id}}"), format!("{id}\n"));
    let no_trunc = ok(&root, &["images", "-q", "--no-trunc"]);
    assert_eq!(f("bb:1", "{{.Id}}"), no_trunc, "the ID images shows");
    let env = f("bb:1", "{{.Config.Env}}");
    assert!(
        env.starts_with('[') && env.contains("A=1 B=two words]"),
        "{env}"
    );
    let cfg: serde_json::Value = serde_json::from_str(&f("bb:1", "{{json .Config}}")).unwrap();
    let raw: serde_json::Value =
        serde_json::from_str(&ok(&root, &["inspect", "--config", "--raw", "bb:1"])).unwrap();
    assert_eq!(cfg, raw["config"]);
    assert_eq!(
        f("bb:1", "{{json .Config.Cmd}} {{.Os}}/{{.Architecture}}"),
        format!("[\"sh\",\"-c\",\"true\"] linux/{}\n", host_arch())
    );
    assert_eq!(f("bb:1", "{{.RepoDigests}}"), format!("[bb@{id}]\n"));
    // Remote images too.
    let remote = format!("docker://{}/f/bb:1", reg.host);
    ok(&root, &["push", "bb:1", &remote]);
    assert_eq!(
        ok(
            &root,
            &[
                "inspect",
                "--format",
                "{{.Digest}} {{.Name}}",
                "--no-tags",
                &remote
            ]
        ),
        format!("{id} {}/f/bb\n", reg.host)
    );
    // Mistakes: one line each.
    let err = fails(&root, &["inspect", "--format", "{{.Nope}}", "bb:1"]);
    assert!(err.contains("no entry for key \"Nope\""), "{err}");
    let err = fails(
        &root,
        &["inspect", "--format", "{{range .Layers}}x{{end}}", "bb:1"],
    );
    assert!(err.contains("parse template"), "{err}");
    let out = skiff(&root, &["inspect", "--format", "{{.Id}}", "--raw", "bb:1"]);
    assert_eq!(out.status.code(), Some(2), "--format excludes --raw");
}

#[test]
fn load_quiet_and_save_to_standard_output() {
    let t = Tmp::new("df-save");
    let root = t.join("root");
    let id = import_busybox_cmd(&root, t.path(), "bb:1", "sh");
    let archive = t.join("out.tar");
    let status = Command::new(bin())
        .arg("--root")
        .arg(&root)
        .args(["save", "bb:1"])
        .env_remove("SKIFF_ROOT")
        .stdout(std::fs::File::create(&archive).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    let sk = skopeo(&[
        "inspect",
        &format!("docker-archive:{}:bb:1", archive.display()),
    ]);
    assert!(sk.contains("\"Layers\""), "{sk}");
    let root2 = t.join("root2");
    assert_eq!(
        ok(&root2, &["load", "-q", "-i", archive.to_str().unwrap()]),
        ""
    );
    assert_eq!(raw_digest(&root2, "bb:1").to_string(), id);
    let loud = ok(&t.join("root3"), &["load", "-i", archive.to_str().unwrap()]);
    assert!(
        loud.contains("Loaded image: docker.io/library/bb:1"),
        "{loud}"
    );
    // Through a pipe as well (nothing seekable).
    let piped = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{} --root {} save bb:1 | tar -t",
            bin(),
            root.display()
        ))
        .env_remove("SKIFF_ROOT")
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(piped.status.success());
    assert!(String::from_utf8_lossy(&piped.stdout).contains("manifest.json"));
    // On a terminal it refuses, as docker does.
    let cmd = format!("{} --root {} save bb:1", bin(), root.display());
    let tty = Command::new("script")
        .args(["-qefc", &cmd, "/dev/null"])
        .env_remove("SKIFF_ROOT")
        .stdin(Stdio::null())
        .output()
        .expect("run script (util-linux)");
    let text = String::from_utf8_lossy(&tty.stdout);
    assert!(!tty.status.success(), "{text}");
    assert!(
        text.contains("refusing to write an archive to a terminal"),
        "{text}"
    );
}

#[test]
fn push_to_a_bare_registry_reference() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("df-push");
    let root = t.join("root");
    let id = import_busybox_cmd(&root, t.path(), "bb:1", "sh");
    // As the README shows it: DEST without docker:// is a registry reference.
    ok(&root, &["push", "bb:1", &format!("{}/my/bb:1", reg.host)]);
    let sk = skopeo(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{}/my/bb:1", reg.host),
    ]);
    assert_eq!(json_digest(&sk), id);
    // skiff: still names the store.
    ok(&root, &["push", "bb:1", "skiff:other/bb:2"]);
    assert_eq!(raw_digest(&root, "other/bb:2").to_string(), id);
}
