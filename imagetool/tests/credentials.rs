//! Credentials and TLS settings as users have them, without `--authfile`: the default
//! search order (`$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
//! `~/.docker/config.json`, with HOME overridden), `credsStore` and `credHelpers` helpers
//! (a `docker-credential-test` script on PATH), where `login` writes by default and
//! `login --password-stdin`; copy's per-side flags as skopeo names them (`--src-creds`,
//! `--dest-creds`, `--src-authfile`, `--dest-authfile`, `--src-tls-verify`,
//! `--dest-tls-verify`, `--src-cert-dir`, `--dest-cert-dir`); and the certs.d directories
//! read by default (`~/.config/containers/certs.d` with HOME overridden; the system ones
//! in a private mount namespace).

mod common;

use base64::Engine as _;
use common::*;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The credential environment of a test: HOME overridden, no auth file variables unless
/// set here, PATH with `bin` first.
struct Env {
    home: PathBuf,
    bin: PathBuf,
    vars: Vec<(&'static str, String)>,
}

impl Env {
    fn new(t: &Tmp, tag: &str) -> Env {
        let home = t.join(&format!("home-{tag}"));
        let bin = t.join("bin");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&bin).unwrap();
        Env {
            home,
            bin,
            vars: Vec::new(),
        }
    }

    fn set(mut self, k: &'static str, v: &Path) -> Env {
        self.vars.push((k, v.display().to_string()));
        self
    }

    fn run(&self, root: &Path, args: &[&str], stdin: Option<&str>) -> Output {
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new(bin());
        cmd.arg("--root")
            .arg(root)
            .args(args)
            .env_remove("SKIFF_ROOT")
            .env_remove("REGISTRY_AUTH_FILE")
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("DOCKER_CONFIG")
            .env("HOME", &self.home)
            .env("PATH", path)
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("run skiff-image");
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
        drop(input);
        child.wait_with_output().unwrap()
    }

    fn ok(&self, root: &Path, args: &[&str]) -> String {
        let out = self.run(root, args, None);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    fn fails(&self, root: &Path, args: &[&str]) -> String {
        let out = self.run(root, args, None);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(1), "{args:?} should fail: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        err
    }
}

/// An auth.json giving `user:password` for `host`.
fn auth_file(path: &Path, host: &str, user: &str, password: &str) {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        path,
        format!(r#"{{"auths":{{"{host}":{{"auth":"{auth}"}}}}}}"#),
    )
    .unwrap();
}

/// A registry with basic auth holding `a/bb:1`.
fn auth_registry(root: &Path, t: &Tmp) -> Registry {
    let reg = Registry::start(RegistryConfig {
        basic: Some(("tester".into(), "s3cret".into())),
        ..Default::default()
    });
    import_busybox_cmd(root, t.path(), "bb:1", "sh");
    ok(
        root,
        &[
            "push",
            "bb:1",
            &format!("docker://{}/a/bb:1", reg.host),
            "--creds",
            "tester:s3cret",
            "--authfile",
            t.join("none.json").to_str().unwrap(),
        ],
    );
    reg
}

#[test]
fn auth_files_are_searched_in_the_default_order() {
    let t = Tmp::new("cred-order");
    let root = t.join("root");
    let reg = auth_registry(&root, &t);
    let h = reg.host.as_str();
    let image = format!("docker://{h}/a/bb:1");
    let inspect = ["inspect", "--no-tags", image.as_str()];
    // Nothing anywhere: 401.
    let env = Env::new(&t, "none");
    assert!(env.fails(&root, &inspect).contains("401"));
    // ~/.docker/config.json alone.
    let env = Env::new(&t, "docker");
    auth_file(&env.home.join(".docker/config.json"), h, "tester", "s3cret");
    env.ok(&root, &inspect);
    // $XDG_RUNTIME_DIR/containers/auth.json is read before it: wrong there wins...
    let xdg = t.join("xdg");
    auth_file(&xdg.join("containers/auth.json"), h, "tester", "wrong");
    let env = env.set("XDG_RUNTIME_DIR", &xdg);
    assert!(env.fails(&root, &inspect).contains("401"));
    // ...but a file without this host falls through to the next one.
    auth_file(&xdg.join("containers/auth.json"), "other.example", "x", "y");
    env.ok(&root, &inspect);
    auth_file(&xdg.join("containers/auth.json"), h, "tester", "wrong");
    // $REGISTRY_AUTH_FILE comes first of all.
    let first = t.join("first.json");
    auth_file(&first, h, "tester", "s3cret");
    let env = env.set("REGISTRY_AUTH_FILE", &first);
    env.ok(&root, &inspect);
    // --authfile replaces the search.
    let wrong = t.join("wrong.json");
    auth_file(&wrong, h, "tester", "wrong");
    let mut args = inspect.to_vec();
    args.extend(["--authfile", wrong.to_str().unwrap()]);
    assert!(env.fails(&root, &args).contains("401"));
}

/// `docker-credential-test` in `bin`: answers `get` for `host` with the right password,
/// "credentials not found" for others, and logs each call.
fn credential_helper(bin: &Path, host: &str, log: &Path) {
    let script = format!(
        "#!/bin/sh\nread server\necho \"$1 $server\" >> {log}\n\
         if [ \"$server\" = \"{host}\" ]; then\n\
           echo '{{\"ServerURL\":\"{host}\",\"Username\":\"tester\",\"Secret\":\"s3cret\"}}'\n\
         else\n  echo 'credentials not found in native keychain'\n  exit 1\nfi\n",
        log = log.display()
    );
    let p = bin.join("docker-credential-test");
    std::fs::write(&p, script).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn creds_store_and_cred_helpers_supply_passwords() {
    let t = Tmp::new("cred-helper");
    let root = t.join("root");
    let reg = auth_registry(&root, &t);
    let h = reg.host.as_str();
    let log = t.join("helper.log");
    let image = format!("docker://{h}/a/bb:1");
    let inspect = ["inspect", "--no-tags", image.as_str()];
    // credsStore: the helper for every registry.
    let env = Env::new(&t, "store");
    credential_helper(&env.bin, h, &log);
    std::fs::create_dir_all(env.home.join(".docker")).unwrap();
    std::fs::write(
        env.home.join(".docker/config.json"),
        r#"{"auths":{},"credsStore":"test"}"#,
    )
    .unwrap();
    env.ok(&root, &inspect);
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains(&format!("get {h}")),
        "helper not asked"
    );
    // A helper without credentials for the host means anonymous (here: 401).
    let other = Registry::start(RegistryConfig {
        basic: Some(("tester".into(), "s3cret".into())),
        ..Default::default()
    });
    let err = env.fails(
        &root,
        &[
            "inspect",
            "--no-tags",
            &format!("docker://{}/a/bb:1", other.host),
        ],
    );
    assert!(err.contains("401"), "{err}");
    // credHelpers: the host's own helper wins over a wrong auths entry.
    let env = Env::new(&t, "helpers");
    auth_file(&env.home.join(".docker/config.json"), h, "tester", "wrong");
    env.fails(&root, &inspect);
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.home.join(".docker/config.json")).unwrap())
            .unwrap();
    v["credHelpers"] = serde_json::json!({ h: "test" });
    std::fs::write(env.home.join(".docker/config.json"), v.to_string()).unwrap();
    env.ok(&root, &inspect);
    // A helper that is not installed: one line naming it.
    v["credHelpers"] = serde_json::json!({ h: "missing" });
    std::fs::write(env.home.join(".docker/config.json"), v.to_string()).unwrap();
    let err = env.fails(&root, &inspect);
    assert!(err.contains("docker-credential-missing"), "{err}");
}

#[test]
fn login_writes_the_first_file_of_the_search_and_reads_password_stdin() {
    let t = Tmp::new("cred-login");
    let root = t.join("root");
    let reg = auth_registry(&root, &t);
    let h = reg.host.as_str();
    let login = ["login", h, "-u", "tester", "-p", "s3cret"];
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    // No XDG_RUNTIME_DIR: ~/.docker/config.json, as docker writes.
    let env = Env::new(&t, "docker");
    assert!(env.ok(&root, &login).contains("Login Succeeded"));
    let docker = env.home.join(".docker/config.json");
    assert_eq!(mode(&docker), 0o600);
    assert!(std::fs::read_to_string(&docker).unwrap().contains(h));
    // With XDG_RUNTIME_DIR: $XDG_RUNTIME_DIR/containers/auth.json, as podman writes.
    let xdg = t.join("xdg");
    std::fs::create_dir_all(&xdg).unwrap();
    let env = Env::new(&t, "xdg").set("XDG_RUNTIME_DIR", &xdg);
    env.ok(&root, &login);
    let podman = xdg.join("containers/auth.json");
    assert_eq!(mode(&podman), 0o600);
    assert!(!env.home.join(".docker/config.json").exists());
    env.ok(
        &root,
        &["inspect", "--no-tags", &format!("docker://{h}/a/bb:1")],
    );
    // $REGISTRY_AUTH_FILE wins over both; the password from stdin.
    let file = t.join("registry-auth.json");
    let env = Env::new(&t, "raf")
        .set("XDG_RUNTIME_DIR", &xdg)
        .set("REGISTRY_AUTH_FILE", &file);
    let stdin_login = ["login", h, "-u", "tester", "--password-stdin"];
    let out = env.run(&root, &stdin_login, Some("wrong\n"));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));
    assert!(!file.exists(), "a failed login wrote credentials");
    let out = env.run(&root, &stdin_login, Some("s3cret\n"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&file), 0o600);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let auth = v["auths"][h]["auth"].as_str().unwrap();
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(auth)
            .unwrap(),
        b"tester:s3cret"
    );
    let err = env.fails(
        &root,
        &["login", h, "-u", "tester", "-p", "x", "--password-stdin"],
    );
    assert!(err.contains("exclusive"), "{err}");
    // logout removes it from the same file.
    env.ok(&root, &["logout", h]);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert!(v["auths"].get(h).is_none(), "{v}");
}

/// A registry with basic auth and TLS from the private CA in `pki`, holding `a/bb:1`.
fn tls_auth_registry(root: &Path, pki: &Path, user: &str) -> Registry {
    test_pki(pki);
    let reg = Registry::start(RegistryConfig {
        basic: Some((user.into(), "pw".into())),
        tls: Some((pki.join("srv.crt"), pki.join("srv.key"))),
        ..Default::default()
    });
    ok(
        root,
        &[
            "push",
            "bb:1",
            &format!("docker://{}/a/bb:1", reg.host),
            "--creds",
            &format!("{user}:pw"),
            "--tls-verify=false",
        ],
    );
    reg
}

#[test]
fn copy_takes_each_sides_credentials_and_tls_settings() {
    let t = Tmp::new("cred-sides");
    let root = t.join("root");
    import_busybox_cmd(&root, t.path(), "bb:1", "sh");
    let src = tls_auth_registry(&root, &t.join("pki-src"), "alice");
    let dst = tls_auth_registry(&root, &t.join("pki-dst"), "bob");
    let (sca, dca) = (ca_dir(&t.join("pki-src")), ca_dir(&t.join("pki-dst")));
    let (sca, dca) = (sca.to_str().unwrap(), dca.to_str().unwrap());
    let from = format!("docker://{}/a/bb:1", src.host);
    let to = |tag: &str| format!("docker://{}/b/bb:{tag}", dst.host);
    let none = t.join("none.json");
    let none = none.to_str().unwrap();
    let copy = |extra: &[&str], tag: &str| -> Output {
        let mut args = vec!["copy", "-q", "--authfile", none];
        args.extend_from_slice(extra);
        let dest = to(tag);
        args.extend([from.as_str(), dest.as_str()]);
        skiff(&root, &args)
    };
    let creds = ["--src-creds", "alice:pw", "--dest-creds", "bob:pw"];
    let certs = ["--src-cert-dir", sca, "--dest-cert-dir", dca];
    let both: Vec<&str> = creds.iter().chain(certs.iter()).copied().collect();
    let out = copy(&both, "1");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Each side's setting goes to that side only: swapped, they fail.
    let swapped_creds = ["--src-creds", "bob:pw", "--dest-creds", "alice:pw"];
    let args: Vec<&str> = swapped_creds.iter().chain(certs.iter()).copied().collect();
    let out = copy(&args, "2");
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));
    let swapped_certs = ["--src-cert-dir", dca, "--dest-cert-dir", sca];
    let args: Vec<&str> = creds.iter().chain(swapped_certs.iter()).copied().collect();
    let out = copy(&args, "3");
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(
        !out.status.success() && err.contains("certificate"),
        "{err}"
    );
    // --dest-tls-verify=false instead of the destination's CA; --src-tls-verify=false too.
    let args: Vec<&str> = creds
        .iter()
        .copied()
        .chain(["--src-cert-dir", sca, "--dest-tls-verify=false"])
        .collect();
    let out = copy(&args, "4");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let args: Vec<&str> = creds
        .iter()
        .copied()
        .chain(["--src-tls-verify=false", "--dest-cert-dir", dca])
        .collect();
    assert!(copy(&args, "5").status.success());
    let args: Vec<&str> = creds
        .iter()
        .copied()
        .chain(["--src-tls-verify=false", "--dest-cert-dir", sca])
        .collect();
    assert!(
        !copy(&args, "6").status.success(),
        "dest verified with the wrong CA"
    );
    // --src-authfile / --dest-authfile, each with only its side's password.
    let (fa, fb) = (t.join("src-auth.json"), t.join("dst-auth.json"));
    auth_file(&fa, &src.host, "alice", "pw");
    auth_file(&fb, &dst.host, "bob", "pw");
    let (fa, fb) = (fa.to_str().unwrap(), fb.to_str().unwrap());
    let files = ["--src-authfile", fa, "--dest-authfile", fb];
    let args: Vec<&str> = files.iter().chain(certs.iter()).copied().collect();
    let out = copy(&args, "7");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files = ["--src-authfile", fb, "--dest-authfile", fa];
    let args: Vec<&str> = files.iter().chain(certs.iter()).copied().collect();
    assert!(String::from_utf8_lossy(&copy(&args, "8").stderr).contains("401"));
    for tag in ["1", "4", "5", "7"] {
        skopeo(&["inspect", "--cert-dir", dca, "--creds", "bob:pw", &to(tag)]);
    }
}

#[test]
fn certs_d_directories_are_read_by_default() {
    let t = Tmp::new("cred-certsd");
    let root = t.join("root");
    import_busybox_cmd(&root, t.path(), "bb:1", "sh");
    let pki = t.join("pki");
    test_pki(&pki);
    let reg = Registry::start(RegistryConfig {
        tls: Some((pki.join("srv.crt"), pki.join("srv.key"))),
        ..Default::default()
    });
    let h = reg.host.clone();
    let image = format!("docker://{h}/a/bb:1");
    ok(&root, &["push", "bb:1", &image, "--tls-verify=false"]);
    let inspect = ["inspect", "--no-tags", image.as_str()];
    let env = Env::new(&t, "none");
    let err = env.fails(&root, &inspect);
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    // ~/.config/containers/certs.d/HOST:PORT/ca.crt (read for root too, as
    // containers/image does).
    let env = Env::new(&t, "user");
    let user_dir = env.home.join(".config/containers/certs.d").join(&h);
    std::fs::create_dir_all(&user_dir).unwrap();
    std::fs::copy(pki.join("ca.crt"), user_dir.join("ca.crt")).unwrap();
    env.ok(&root, &inspect);
    // The system directories, each on a tmpfs of a private mount namespace so the
    // host's /etc is never written.
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped the /etc/*/certs.d half: needs root for a mount namespace");
        return;
    }
    for etc in ["/etc/containers", "/etc/docker"] {
        if !Path::new(etc).is_dir() {
            // Not created here: that would write to the host's /etc.
            eprintln!("skipped {etc}/certs.d: no {etc} to mount over");
            continue;
        }
        let script = format!(
            "set -e; mount -t tmpfs skiff-test {etc}; \
             mkdir -p {etc}/certs.d/{h}; cp {ca} {etc}/certs.d/{h}/ca.crt; \
             exec {bin} --root {root} inspect --no-tags {image}",
            ca = pki.join("ca.crt").display(),
            bin = bin(),
            root = root.display(),
        );
        let out = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", &script])
            .env("HOME", Env::new(&t, "sys").home)
            .env_remove("SKIFF_ROOT")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{etc}/certs.d: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !Path::new(etc).join("certs.d").join(&h).exists(),
            "leaked into the host"
        );
    }
}
