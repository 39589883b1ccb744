//! Tests for `hooks` with real hooks: /bin/sh and small sh scripts that
//! record what they were given into a private temp dir.

use super::*;
use oci_spec::runtime::HookBuilder;
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("skiff-hooks-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn script(&self, name: &str, body: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn hook(path: &Path, args: &[&str], env: &[&str], timeout: Option<i64>) -> Hook {
    let mut b = HookBuilder::default().path(path);
    if !args.is_empty() {
        b = b.args(args.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    }
    if !env.is_empty() {
        b = b.env(env.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    }
    if let Some(t) = timeout {
        b = b.timeout(t);
    }
    b.build().unwrap()
}

#[test]
fn passes_argv0_args_exact_env_and_state() {
    let dir = TempDir::new("args");
    let out = dir.0.join("out");
    // /proc/$$/cmdline and /proc/$$/environ are exactly what execve got.
    let cmd = format!(
        "tr '\\0' ' ' < /proc/$$/cmdline > {o}.argv; tr '\\0' ' ' < /proc/$$/environ > {o}.env; cat > {o}.state",
        o = out.display()
    );
    let h = hook(
        Path::new("/bin/sh"),
        &["my-argv0", "-c", &cmd, "x"],
        &["A=1", "B=two words"],
        None,
    );
    let state = br#"{"ociVersion":"1.2.1","id":"c1","status":"creating","pid":42,"bundle":"/b"}"#;
    run_hooks("prestart", &[h], state).unwrap();
    let read = |ext: &str| std::fs::read_to_string(format!("{}.{ext}", out.display())).unwrap();
    assert_eq!(read("argv"), format!("my-argv0 -c {cmd} x "));
    assert_eq!(read("env"), "A=1 B=two words ");
    assert_eq!(read("state").as_bytes(), state);
}

#[test]
fn no_args_means_argv0_is_path() {
    let dir = TempDir::new("noargs");
    let script = dir.script("h", &format!("echo \"$0\" > {}/argv0", dir.0.display()));
    run_hooks("poststop", &[hook(&script, &[], &[], None)], b"{}").unwrap();
    let argv0 = std::fs::read_to_string(dir.0.join("argv0")).unwrap();
    assert_eq!(argv0.trim(), script.display().to_string());
}

#[test]
fn first_failure_stops_the_list_and_is_named() {
    let dir = TempDir::new("fail");
    let ok = dir.script("ok", &format!("touch {}/ran-ok", dir.0.display()));
    let bad = dir.script("bad", "exit 3");
    let never = dir.script("never", &format!("touch {}/ran-never", dir.0.display()));
    let hooks = [
        hook(&ok, &[], &[], None),
        hook(&bad, &[], &[], None),
        hook(&never, &[], &[], None),
    ];
    let err = format!(
        "{:#}",
        run_hooks("createRuntime", &hooks, b"{}").unwrap_err()
    );
    assert_eq!(
        err,
        format!(
            "run createRuntime hook #1 {:?}: exit status 3",
            bad.display().to_string()
        )
    );
    assert!(dir.0.join("ran-ok").exists());
    assert!(!dir.0.join("ran-never").exists());
}

#[test]
fn timeout_kills_the_hook_and_its_children() {
    let dir = TempDir::new("timeout");
    let pidfile = dir.0.join("sleep.pid");
    let slow = dir.script(
        "slow",
        &format!("sleep 30 & echo $! > {}; wait", pidfile.display()),
    );
    let start = Instant::now();
    let err = format!(
        "{:#}",
        run_hooks("poststart", &[hook(&slow, &[], &[], Some(1))], b"{}").unwrap_err()
    );
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert!(err.ends_with("timed out after 1s, killed"), "{err}");
    assert!(err.starts_with("run poststart hook #0"), "{err}");
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The background sleep was in the hook's process group: it dies too
    // (SIGKILL takes effect when it is next scheduled, so allow a moment;
    // a zombie awaiting its reaper counts as dead).
    let dead = || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        stat.is_empty() || stat.contains(") Z ") || stat.contains(") X ")
    };
    let until = Instant::now() + Duration::from_secs(5);
    while !dead() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(dead(), "sleep {pid} survived the hook's timeout");
}

#[test]
fn hook_that_ignores_a_large_state_still_finishes() {
    let dir = TempDir::new("ignore");
    let quick = dir.script("quick", "exit 0");
    let state = vec![b'x'; 4 << 20];
    run_hooks("startContainer", &[hook(&quick, &[], &[], Some(5))], &state).unwrap();
}

#[test]
fn missing_hook_and_bad_timeout_are_errors() {
    let err = format!(
        "{:#}",
        run_hooks(
            "prestart",
            &[hook(Path::new("/nonexistent/hook"), &[], &[], None)],
            b"{}"
        )
        .unwrap_err()
    );
    assert!(
        err.starts_with("run prestart hook #0 \"/nonexistent/hook\": start: "),
        "{err}"
    );
    let err = format!(
        "{:#}",
        run_hooks(
            "prestart",
            &[hook(Path::new("/bin/true"), &[], &[], Some(0))],
            b"{}"
        )
        .unwrap_err()
    );
    assert!(err.contains("invalid timeout 0"), "{err}");
    let err = format!(
        "{:#}",
        run_hooks(
            "prestart",
            &[hook(Path::new("true"), &[], &[], None)],
            b"{}"
        )
        .unwrap_err()
    );
    assert_eq!(err, "run prestart hook #0 \"true\": path is not absolute");
}

#[test]
fn hook_output_goes_to_the_runtimes_stderr() {
    let code = crate::sys::process::run_in_child(|| {
        let (out_r, out_w) = nix::unistd::pipe().unwrap();
        let (err_r, err_w) = nix::unistd::pipe().unwrap();
        nix::unistd::dup2_stdout(&out_w).unwrap();
        nix::unistd::dup2_stderr(&err_w).unwrap();
        drop((out_w, err_w));
        let h = hook(
            Path::new("/bin/sh"),
            &["sh", "-c", "echo to-out; echo to-err >&2"],
            &[],
            None,
        );
        let ok = run_hooks("prestart", &[h], b"{}").is_ok();
        // Close our own write ends (fds 1 and 2) so the reads see EOF.
        let null = std::fs::File::options()
            .write(true)
            .open("/dev/null")
            .unwrap();
        nix::unistd::dup2_stdout(&null).unwrap();
        nix::unistd::dup2_stderr(&null).unwrap();
        let read = |fd: OwnedFd| {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::fs::File::from(fd), &mut s).unwrap();
            s
        };
        let (out, err) = (read(out_r), read(err_r));
        let checks = [ok, out.is_empty(), err == "to-out\nto-err\n"];
        checks
            .iter()
            .position(|ok| !ok)
            .map_or(0, |i| 10 + i as i32)
    })
    .unwrap();
    assert_eq!(code, 0, "check #{} failed", code - 10);
}
