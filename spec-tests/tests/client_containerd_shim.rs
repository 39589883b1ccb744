//! containerd with skiff's own shim: `ctr run --runtime
//! io.containerd.skiff.v2`, the shim found on containerd's PATH and told
//! which skiff to run by a runtime config file (`--runtime-config-path`,
//! what the CRI plugin sends too). The scenarios of the runc-shim test,
//! plus stdin and CloseIO, events in order, the runtime's error text, a
//! runtime that crashes mid-create, a shim killed with SIGKILL, and
//! `-info`, and the Update RPC (sent over the shim's ttrpc socket, as ctr
//! 1.6 has no command for it, beside containerd's runc shim); every one
//! checks that nothing is left behind.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use spec_tests::clients::{busybox_archive, require, run, shim_bin, shim_pids, Containerd};
use spec_tests::leaks::{cgroups_named, mounts_under, wait_pid_gone};
use spec_tests::{Out, Runtime, TempDir};

const IMAGE: &str = "docker.io/skiff-test/bb:1";
const RUNTIME: &str = "io.containerd.skiff.v2";

struct Setup {
    rt: Runtime,
    work: TempDir,
    cd: Containerd,
    config: PathBuf,
}

fn setup() -> Setup {
    require("containerd", "containerd");
    require("ctr", "containerd");
    assert!(shim_bin().exists(), "build the shim: cargo build --release");
    let rt = Runtime::new();
    let work = TempDir::new("skt-shim");
    let archive = busybox_archive(work.path(), "skiff-test/bb:1");
    let cd = Containerd::start();
    run(
        &rt,
        cd.ctr(&["images", "import", archive.to_str().unwrap()]),
        120,
    )
    .expect_ok();
    let config = work.path().join("skiff.toml");
    std::fs::write(&config, format!("BinaryName = {:?}\n", rt.bin()))
        .expect("write the runtime config");
    Setup {
        rt,
        work,
        cd,
        config,
    }
}

impl Setup {
    fn id(&self, tag: &str) -> String {
        spec_tests::tempdir::unique_name(&format!("skt-{tag}"))
    }

    /// `ctr run --runtime skiff's shim ARGS` (ARGS: flags, then image, id, command).
    fn ctr_run(&self, args: &[&str]) -> Command {
        let config = self.config.to_string_lossy().into_owned();
        let mut all = vec![
            "run",
            "--runtime",
            RUNTIME,
            "--runtime-config-path",
            &config,
        ];
        all.extend_from_slice(args);
        self.cd.ctr(&all)
    }

    fn ctr(&self, args: &[&str], secs: u64) -> Out {
        run(&self.rt, self.cd.ctr(args), secs)
    }

    fn task_status(&self, id: &str) -> Option<String> {
        let ls = self.ctr(&["task", "ls"], 30);
        ls.stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .and_then(|l| l.split_whitespace().nth(2).map(str::to_owned))
    }

    fn wait_status(&self, id: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.task_status(id).as_deref() != Some(want) {
            assert!(
                Instant::now() < deadline,
                "task {id} never became {want}: {:?}",
                self.task_status(id)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn remove(&self, id: &str) {
        self.ctr(&["task", "kill", "-s", "SIGKILL", id], 30);
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.task_status(id).is_some_and(|s| s != "STOPPED") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.ctr(&["task", "delete", id], 30);
        self.ctr(&["container", "delete", id], 30).expect_ok();
        self.assert_gone(id);
    }

    /// Nothing of task `id` is left: its skiff state, a mount of its
    /// rootfs, its cgroups, its shim.
    #[track_caller]
    fn assert_gone(&self, id: &str) {
        let state = Path::new("/run/containerd/skiff")
            .join(&self.cd.namespace)
            .join(id);
        assert!(
            !state.exists(),
            "skiff state {} is left behind",
            state.display()
        );
        let mounts: Vec<String> = mounts_under(self.cd.dir.path())
            .into_iter()
            .filter(|m| m.contains(id))
            .collect();
        assert!(
            mounts.is_empty(),
            "mounts of {id} are left behind: {mounts:?}"
        );
        let cgroups = cgroups_named(id);
        assert!(
            cgroups.is_empty(),
            "cgroups of {id} are left behind: {cgroups:?}"
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while !shim_pids(id).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            shim_pids(id).is_empty(),
            "the shim of {id} is still running"
        );
    }
}

#[test]
fn skiff_shim_runs_tasks() {
    let s = setup();
    // Run to completion: output and exit code come back through the shim.
    let once = s.id("once");
    let out = run(
        &s.rt,
        s.ctr_run(&[
            "--rm",
            IMAGE,
            &once,
            "sh",
            "-c",
            "echo hi; echo err >&2; exit 3",
        ]),
        120,
    );
    assert_eq!(out.code, 3, "{out}");
    assert_eq!(out.stdout, "hi\n", "{out}");
    assert!(out.stderr.contains("err"), "{out}");
    s.assert_gone(&once);

    // stdin through the shim, and EOF (CloseIO) when the client's ends.
    let cat = s.id("cat");
    let line = format!(
        "printf 'line one\\nline two\\n' | {}",
        spec_tests::console::shell_line(&s.ctr_run(&["--rm", IMAGE, &cat, "cat"]))
    );
    let mut piped = Command::new("sh");
    piped.args(["-c", &line]);
    let out = run(&s.rt, piped, 60);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.stdout, "line one\nline two\n", "{out}");
    s.assert_gone(&cat);

    // Detached, then exec, exec -t, ps, pause/resume, metrics, kill, delete.
    let bg = s.id("bg");
    run(&s.rt, s.ctr_run(&["-d", IMAGE, &bg, "sleep", "100"]), 120).expect_ok();
    s.wait_status(&bg, "RUNNING");
    let out = s.ctr(
        &[
            "task",
            "exec",
            "--exec-id",
            "e1",
            &bg,
            "sh",
            "-c",
            "echo exec-ok; exit 4",
        ],
        60,
    );
    assert_eq!(out.code, 4, "{out}");
    assert_eq!(out.stdout, "exec-ok\n", "{out}");
    let tty_cmd =
        s.cd.ctr(&["task", "exec", "-t", "--exec-id", "e2", &bg, "tty"]);
    let line = spec_tests::console::shell_line(&tty_cmd);
    let out = spec_tests::console::under_script(&line, Duration::from_secs(60));
    assert!(out.stdout.contains("/dev/pts/"), "exec -t: {out}");
    let ps = s.ctr(&["task", "ps", &bg], 30);
    ps.expect_ok();
    let init_pid = s
        .ctr(&["task", "ls"], 30)
        .stdout
        .lines()
        .find(|l| l.starts_with(&bg))
        .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        .expect("init pid in task ls");
    assert!(ps.stdout.lines().any(|l| l.starts_with(&init_pid)), "{ps}");
    s.ctr(&["task", "pause", &bg], 30).expect_ok();
    s.wait_status(&bg, "PAUSED");
    let frozen = s.ctr(&["task", "exec", "--exec-id", "e3", &bg, "true"], 30);
    assert_ne!(
        frozen.code, 0,
        "exec into a paused task must fail: {frozen}"
    );
    s.ctr(&["task", "resume", &bg], 30).expect_ok();
    s.wait_status(&bg, "RUNNING");
    let metrics = s.ctr(&["task", "metrics", &bg], 30);
    metrics.expect_ok();
    assert!(
        metrics.stdout.contains("memory.usage_in_bytes"),
        "{metrics}"
    );
    assert!(metrics.stdout.contains("pids.current"), "{metrics}");
    s.ctr(&["task", "kill", "-s", "SIGKILL", &bg], 30)
        .expect_ok();
    s.wait_status(&bg, "STOPPED");
    s.ctr(&["task", "delete", &bg], 30).expect_ok();
    s.ctr(&["container", "delete", &bg], 30).expect_ok();
    s.assert_gone(&bg);
    assert!(wait_pid_gone(
        init_pid.parse().unwrap(),
        Duration::from_secs(5)
    ));
}

/// The topics `ctr events` printed for task `id`, in order.
fn topics_of(events: &str, id: &str) -> Vec<String> {
    events
        .lines()
        .filter(|l| l.contains(&format!("\"container_id\":\"{id}\"")))
        .filter_map(|l| {
            l.split_whitespace()
                .find(|w| w.starts_with("/tasks/"))
                .map(str::to_owned)
        })
        .collect()
}

#[test]
fn events_come_in_order_and_oom_is_reported() {
    let s = setup();
    let events_out = s.work.path().join("events");
    let mut events =
        s.cd.ctr(&["events"])
            .stdout(std::fs::File::create(&events_out).expect("events file"))
            .spawn()
            .expect("ctr events");
    std::thread::sleep(Duration::from_millis(300));
    let ev = s.id("ev");
    run(&s.rt, s.ctr_run(&["-d", IMAGE, &ev, "sleep", "100"]), 120).expect_ok();
    s.wait_status(&ev, "RUNNING");
    let out = s.ctr(&["task", "exec", "--exec-id", "x1", &ev, "true"], 60);
    out.expect_ok();
    s.remove(&ev);

    let oom = s.id("oom");
    let out = run(
        &s.rt,
        s.ctr_run(&[
            "--rm",
            "--memory-limit",
            "16777216",
            IMAGE,
            &oom,
            "sh",
            "-c",
            "x=$(head -c 64000000 /dev/zero | tr '\\0' x); echo survived",
        ]),
        120,
    );
    assert!(!out.stdout.contains("survived"), "{out}");
    std::thread::sleep(Duration::from_millis(500));
    let _ = events.kill();
    let _ = events.wait();
    let seen = std::fs::read_to_string(&events_out).unwrap_or_default();
    assert_eq!(
        topics_of(&seen, &ev),
        [
            "/tasks/create",
            "/tasks/start",
            "/tasks/exec-added",
            "/tasks/exec-started",
            "/tasks/exit",
            "/tasks/exit",
            "/tasks/delete"
        ],
        "{seen}"
    );
    let oom_topics = topics_of(&seen, &oom);
    assert!(
        oom_topics.iter().any(|t| t == "/tasks/oom"),
        "no OOM event: {seen}"
    );
    let oom_at = oom_topics
        .iter()
        .position(|t| t == "/tasks/oom")
        .unwrap_or(0);
    let exit_at = oom_topics
        .iter()
        .position(|t| t == "/tasks/exit")
        .unwrap_or(0);
    assert!(oom_at < exit_at, "OOM after exit: {oom_topics:?}");
    s.assert_gone(&oom);
}

#[test]
fn a_bad_bundle_fails_with_skiffs_own_error() {
    let s = setup();
    let bad = s.id("bad");
    let missing = s.work.path().join("no-such-source");
    let mount = format!("type=bind,src={},dst=/x,options=rbind", missing.display());
    let out = run(
        &s.rt,
        s.ctr_run(&["--rm", "--mount", &mount, IMAGE, &bad, "true"]),
        120,
    );
    out.expect_fail();
    let err = out.last_err_line();
    assert!(err.contains("skiff create failed"), "{out}");
    assert!(
        err.contains("no-such-source"),
        "the error names the mount: {out}"
    );
    assert!(!err.contains("exit status 1"), "{out}");
    s.ctr(&["container", "delete", &bad], 30);
    s.assert_gone(&bad);
}

#[test]
fn a_runtime_crash_mid_create_leaves_nothing() {
    let s = setup();
    // A runtime that makes the container, then dies before it can answer.
    let wrapper = s.work.path().join("crashing-skiff");
    let script = format!(
        "#!/bin/sh\ncase \" $* \" in *\" create \"*) {skiff:?} \"$@\"; kill -9 $$;; esac\nexec {skiff:?} \"$@\"\n",
        skiff = s.rt.bin()
    );
    std::fs::write(&wrapper, script).expect("write the wrapper");
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let config = s.work.path().join("crashing.toml");
    std::fs::write(&config, format!("BinaryName = {wrapper:?}\n")).expect("write the config");
    let id = s.id("crash");
    let config = config.to_string_lossy().into_owned();
    let out = run(
        &s.rt,
        s.cd.ctr(&[
            "run",
            "--rm",
            "--runtime",
            RUNTIME,
            "--runtime-config-path",
            &config,
            IMAGE,
            &id,
            "sleep",
            "100",
        ]),
        120,
    );
    out.expect_fail();
    assert!(
        out.last_err_line()
            .contains("skiff create failed: killed by signal 9"),
        "{out}"
    );
    s.ctr(&["container", "delete", &id], 30);
    s.assert_gone(&id);
    let procs = Command::new("pgrep")
        .args(["-f", "^sleep 100$"])
        .output()
        .expect("pgrep");
    let left: Vec<i32> = String::from_utf8_lossy(&procs.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .filter(|&pid| {
            std::fs::read_to_string(format!("/proc/{pid}/cgroup")).is_ok_and(|c| c.contains(&id))
        })
        .collect();
    assert!(
        left.is_empty(),
        "the container's process survived: {left:?}"
    );
}

#[test]
fn a_killed_shim_is_cleaned_up_by_containerd() {
    let s = setup();
    let id = s.id("k9");
    run(&s.rt, s.ctr_run(&["-d", IMAGE, &id, "sleep", "100"]), 120).expect_ok();
    s.wait_status(&id, "RUNNING");
    let shims = shim_pids(&id);
    assert_eq!(shims.len(), 1, "one shim per container: {shims:?}");
    let init: i32 = s
        .ctr(&["task", "ls"], 30)
        .stdout
        .lines()
        .find(|l| l.starts_with(&id))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .expect("init pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(shims[0]),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the shim");
    // containerd sees the shim go and runs `containerd-shim-skiff-v2 delete`.
    assert!(
        wait_pid_gone(init, Duration::from_secs(20)),
        "the container outlived its shim's cleanup"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.task_status(&id).is_some() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    s.ctr(&["task", "delete", &id], 30);
    s.ctr(&["container", "delete", &id], 30).expect_ok();
    s.assert_gone(&id);
}

#[test]
fn a_rootfs_of_more_layers_than_one_mount_page_holds() {
    let s = setup();
    // 70 snapshot paths of ~90 bytes each overflow mount(2)'s one page.
    let archive = spec_tests::clients::many_layer_archive(s.work.path(), "skiff-test/many:1", 70);
    s.ctr(&["images", "import", archive.to_str().unwrap()], 300)
        .expect_ok();
    let id = s.id("many");
    let out = run(
        &s.rt,
        s.ctr_run(&[
            "--rm",
            "docker.io/skiff-test/many:1",
            &id,
            "sh",
            "-c",
            "ls /layers | wc -l; cat /layers/1 /layers/69",
        ]),
        120,
    );
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.stdout, "69\n1\n69\n", "{out}");
    s.ctr(&["images", "rm", "docker.io/skiff-test/many:1"], 60);
    s.assert_gone(&id);
}

#[test]
fn info_reports_skiffs_features() {
    // containerd 2 asks `-info` before it starts any shim.
    let out = Command::new(shim_bin())
        .arg("-info")
        .env(
            "PATH",
            format!(
                "{}:/usr/bin:/bin",
                Runtime::new().bin().parent().unwrap().display()
            ),
        )
        .output()
        .expect("run the shim");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(RUNTIME), "{text}");
    assert!(
        text.contains("ociVersionMin"),
        "the features JSON is carried: {text}"
    );
    let version = Command::new(shim_bin())
        .arg("-v")
        .output()
        .expect("run the shim");
    assert!(String::from_utf8_lossy(&version.stdout).contains("Version:"));
}

/// A logger speaking containerd's logging-binary protocol: it records its
/// arguments and environment (what `env` lists, which is all the shim
/// passed, and the PWD the shell adds), copies fd 3 and 4 to files, and says it is
/// ready by closing fd 5. Files land under `out` with the prefix `tag`.
fn logging_binary(dir: &Path) -> PathBuf {
    let script = dir.join("logger.sh");
    let text = r#"#!/bin/sh
out="$(dirname "$0")/logged-$2"
{ echo "args=$*"; /usr/bin/env | /usr/bin/sort; } > "$out.env"
/bin/cat <&3 > "$out.stdout" 5>&- &
/bin/cat <&4 > "$out.stderr" 5>&- &
exec 5>&-
wait
"#;
    std::fs::write(&script, text).expect("write the logger");
    let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(&script, mode).expect("chmod the logger");
    script
}

/// What the logger of `tag` recorded, once both outputs reached it (the
/// logger may be stopped at the task's delete, before it sees EOF).
fn logged(dir: &Path, tag: &str) -> (String, String, String) {
    let file = |ext: &str| dir.join(format!("logged-{tag}.{ext}"));
    let read = |ext: &str| std::fs::read_to_string(file(ext)).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(read("stdout").ends_with('\n') && read("stderr").ends_with('\n')) {
        assert!(
            Instant::now() < deadline,
            "the logger of {tag} got no output"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (read("env"), read("stdout"), read("stderr"))
}

#[test]
fn binary_logging_uris_work_as_with_containerds_runc_shim() {
    let s = setup();
    let logger = logging_binary(s.work.path());
    let uri = |tag: &str| format!("binary://{}?tag={tag}", logger.display());
    let command = ["sh", "-c", "echo to-stdout; echo to-stderr >&2"];
    let ours = s.id("log");
    let mut args = vec!["--rm", "--log-uri"];
    let our_uri = uri("skiff");
    args.push(&our_uri);
    args.extend([IMAGE, ours.as_str()]);
    args.extend(command);
    run(&s.rt, s.ctr_run(&args), 120).expect_ok();
    let (env, stdout, stderr) = logged(s.work.path(), "skiff");
    assert_eq!(stdout, "to-stdout\n");
    assert_eq!(stderr, "to-stderr\n");
    assert!(env.starts_with("args=tag skiff\n"), "{env}");
    assert!(env.contains(&format!("\nCONTAINER_ID={ours}\n")), "{env}");
    let ns = format!("\nCONTAINER_NAMESPACE={}\n", s.cd.namespace);
    assert!(env.contains(&ns), "{env}");
    s.assert_gone(&ours);

    // The reference: containerd's own runc shim with the same logger.
    let theirs = s.id("logref");
    let their_uri = uri("runc");
    let mut args = vec![
        "run",
        "--runtime",
        "io.containerd.runc.v2",
        "--rm",
        "--log-uri",
        &their_uri,
        IMAGE,
        theirs.as_str(),
    ];
    args.extend(command);
    s.ctr(&args, 120).expect_ok();
    let (ref_env, ref_stdout, ref_stderr) = logged(s.work.path(), "runc");
    assert_eq!((stdout, stderr), (ref_stdout, ref_stderr));
    assert_eq!(
        env.replace(&ours, "ID").replace("skiff", "TAG"),
        ref_env.replace(&theirs, "ID").replace("runc", "TAG")
    );

    // A logger that never says it is ready fails the create, naming it,
    // and leaves nothing behind.
    let stuck = s.work.path().join("stuck.sh");
    let stuck_pid = s.work.path().join("stuck.pid");
    let text = format!(
        "#!/bin/sh\necho $$ > {}\nexec /bin/sleep 1000\n",
        stuck_pid.display()
    );
    std::fs::write(&stuck, text).expect("write");
    let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(&stuck, mode).expect("chmod");
    let bad = s.id("logstuck");
    let stuck_uri = format!("binary://{}", stuck.display());
    let out = run(
        &s.rt,
        s.ctr_run(&["--rm", "--log-uri", &stuck_uri, IMAGE, &bad, "true"]),
        120,
    );
    out.expect_fail();
    assert!(out.stderr.contains("did not signal ready"), "{out}");
    s.ctr(&["container", "delete", &bad], 30);
    s.assert_gone(&bad);
    let pid: i32 = std::fs::read_to_string(&stuck_pid)
        .expect("the stuck logger ran")
        .trim()
        .parse()
        .expect("a pid");
    assert!(
        wait_pid_gone(pid, Duration::from_secs(20)),
        "the stuck logger {pid} is left running"
    );
}

/// The parent pid of `pid`.
fn parent_of(pid: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The pid `ctr task ls` shows for task `id`.
fn task_pid(s: &Setup, id: &str) -> String {
    let ls = s.ctr(&["task", "ls"], 30);
    ls.stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(id))
        .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        .unwrap_or_default()
}

#[test]
fn a_pods_containers_share_one_shim_until_the_last_is_deleted() {
    let s = setup();
    let pod = s.id("pod");
    let annotation = format!("io.kubernetes.cri.sandbox-id={pod}");
    let (a, b) = (s.id("pod-a"), s.id("pod-b"));
    for id in [&a, &b] {
        let args = ["-d", "--annotation", &annotation, IMAGE, id, "sleep", "100"];
        run(&s.rt, s.ctr_run(&args), 120).expect_ok();
        s.wait_status(id, "RUNNING");
    }
    // One shim, started for the first, is the parent of both inits.
    let shims = shim_pids(&a);
    assert_eq!(shims.len(), 1, "shims of {a}: {shims:?}");
    assert!(shim_pids(&b).is_empty(), "{b} got a shim of its own");
    let shim = shims[0].to_string();
    assert_eq!(parent_of(&task_pid(&s, &a)), shim);
    assert_eq!(parent_of(&task_pid(&s, &b)), shim);
    s.ctr(&["task", "exec", "--exec-id", "x", &b, "true"], 60)
        .expect_ok();

    // The first container goes; the shim stays for the second.
    s.ctr(&["task", "kill", "-s", "SIGKILL", &a], 30);
    s.wait_status(&a, "STOPPED");
    s.ctr(&["task", "delete", &a], 30).expect_ok();
    s.ctr(&["container", "delete", &a], 30).expect_ok();
    assert_eq!(
        shim_pids(&a),
        shims,
        "the shim left with the first container"
    );
    assert_eq!(s.task_status(&b).as_deref(), Some("RUNNING"));

    // With the last one deleted, the shim exits and nothing is left.
    s.remove(&b);
    s.assert_gone(&a);
}

/// A v1 cgroup file of the task whose init is `pid`, in controller `controller`.
fn cgroup_file(pid: &str, controller: &str, file: &str) -> String {
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let path = cgroups
        .lines()
        .find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, names, path) = (f.next()?, f.next()?, f.next()?);
            names.split(',').any(|n| n == controller).then_some(path)
        })
        .unwrap_or_else(|| panic!("{pid} has no {controller} cgroup: {cgroups}"));
    let mount = Path::new("/sys/fs/cgroup").join(controller);
    let file = mount.join(path.trim_start_matches('/')).join(file);
    std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("read {}: {e}", file.display()))
        .trim()
        .to_string()
}

/// Send containerd's Update RPC (what the CRI plugin sends for
/// UpdateContainerResources) to task `id`'s shim over its ttrpc socket.
fn shim_update(s: &Setup, id: &str, resources: &serde_json::Value) -> Result<(), String> {
    use containerd_shim::protos::api::UpdateTaskRequest;
    use containerd_shim::protos::protobuf::well_known_types::any::Any;
    use containerd_shim::protos::protobuf::MessageField;
    use containerd_shim::protos::shim_sync::{Client, TaskClient};
    use containerd_shim::protos::ttrpc::context;
    let address_file =
        s.cd.dir
            .path()
            .join("state/io.containerd.runtime.v2.task")
            .join(&s.cd.namespace)
            .join(id)
            .join("address");
    let address = std::fs::read_to_string(&address_file)
        .unwrap_or_else(|e| panic!("read {}: {e}", address_file.display()));
    let client = Client::connect(address.trim()).map_err(|e| format!("connect {address}: {e}"))?;
    let req = UpdateTaskRequest {
        id: id.to_string(),
        resources: MessageField::some(Any {
            type_url: "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources".into(),
            value: serde_json::to_vec(resources).unwrap(),
            ..Default::default()
        }),
        ..Default::default()
    };
    TaskClient::new(client)
        .update(
            context::with_timeout(Duration::from_secs(30).as_nanos() as i64),
            &req,
        )
        .map(drop)
        .map_err(|e| e.to_string())
}

#[test]
fn update_changes_limits_as_containerds_runc_shim_does() {
    let s = setup();
    let limits = serde_json::json!({
        "memory": {"limit": 96 << 20},
        "pids": {"limit": 42},
        "cpu": {"shares": 512}
    });
    let mut seen = Vec::new();
    for (runtime, tag) in [(RUNTIME, "upd"), ("io.containerd.runc.v2", "updref")] {
        let id = s.id(tag);
        let config = s.config.to_string_lossy().into_owned();
        let mut args = vec!["run", "--runtime", runtime, "-d"];
        if runtime == RUNTIME {
            args.extend(["--runtime-config-path", &config]);
        }
        args.extend([IMAGE, id.as_str(), "sleep", "100"]);
        s.ctr(&args, 120).expect_ok();
        s.wait_status(&id, "RUNNING");
        let pid = task_pid(&s, &id);
        shim_update(&s, &id, &limits).unwrap_or_else(|e| panic!("{runtime}: {e}"));
        let values = [
            cgroup_file(&pid, "memory", "memory.limit_in_bytes"),
            cgroup_file(&pid, "pids", "pids.max"),
            cgroup_file(&pid, "cpu", "cpu.shares"),
        ];
        assert_eq!(
            values,
            [(96u64 << 20).to_string(), "42".into(), "512".into()],
            "{runtime}"
        );
        // A limit the kernel refuses fails the RPC and leaves the old one.
        let refused = serde_json::json!({"memory": {"limit": 4096}});
        let err = shim_update(&s, &id, &refused).expect_err("a 4 KiB memory limit");
        assert_eq!(
            cgroup_file(&pid, "memory", "memory.limit_in_bytes"),
            (96u64 << 20).to_string(),
            "{runtime}: {err}"
        );
        seen.push((runtime, err));
        if runtime == RUNTIME {
            s.remove(&id);
        } else {
            s.ctr(&["task", "kill", "-s", "SIGKILL", &id], 30);
            s.wait_status(&id, "STOPPED");
            s.ctr(&["task", "delete", &id], 30).expect_ok();
            s.ctr(&["container", "delete", &id], 30).expect_ok();
        }
    }
    // skiff's error names the file it could not write and, as runc's does, the
    // usage that made the kernel refuse.
    let (_, ours) = &seen[0];
    assert!(
        ours.contains("memory.limit_in_bytes") && ours.contains("the cgroup uses "),
        "{seen:?}"
    );
}
