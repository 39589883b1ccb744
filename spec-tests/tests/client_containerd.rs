//! containerd with its own runc shim driving skiff as the runc binary
//! (`ctr run --runc-binary`), as crun and youki are deployed: run to
//! completion, detached run, exec with and without a tty, pause/resume,
//! metrics, kill, delete, and an OOM event from a memory limit.

use std::time::Duration;

use spec_tests::clients::{busybox_archive, require, run, Containerd};
use spec_tests::{Runtime, TempDir};

const IMAGE: &str = "docker.io/skiff-test/bb:1";

#[test]
fn containerd_runc_shim_drives_skiff() {
    require("containerd", "containerd");
    require("ctr", "containerd");
    let rt = Runtime::new();
    let work = TempDir::new("skt-ctr-img");
    let archive = busybox_archive(work.path(), "skiff-test/bb:1");
    let cd = Containerd::start();
    run(
        &rt,
        cd.ctr(&["images", "import", archive.to_str().unwrap()]),
        120,
    )
    .expect_ok();
    let skiff = rt.bin().to_string_lossy().into_owned();
    let id = |tag: &str| format!("skt-{tag}-{}", std::process::id());

    // Run to completion: output and exit code come back through the shim.
    let one = id("once");
    let out = run(
        &rt,
        cd.ctr(&[
            "run",
            "--rm",
            "--runc-binary",
            &skiff,
            IMAGE,
            &one,
            "sh",
            "-c",
            "echo hi; exit 3",
        ]),
        120,
    );
    assert_eq!(out.code, 3, "{out}");
    assert_eq!(out.stdout, "hi\n", "{out}");

    // Detached, then exec, exec -t, pause/resume, metrics, kill, delete.
    let bg = id("bg");
    run(
        &rt,
        cd.ctr(&[
            "run",
            "-d",
            "--runc-binary",
            &skiff,
            IMAGE,
            &bg,
            "sleep",
            "100",
        ]),
        120,
    )
    .expect_ok();
    let out = run(
        &rt,
        cd.ctr(&[
            "task",
            "exec",
            "--exec-id",
            "e1",
            &bg,
            "sh",
            "-c",
            "echo exec-ok; exit 4",
        ]),
        60,
    );
    assert_eq!(out.code, 4, "{out}");
    assert_eq!(out.stdout, "exec-ok\n", "{out}");
    let tty_cmd = cd.ctr(&["task", "exec", "-t", "--exec-id", "e2", &bg, "tty"]);
    let line = spec_tests::console::shell_line(&tty_cmd);
    let out = spec_tests::console::under_script(&line, Duration::from_secs(60));
    assert!(out.stdout.contains("/dev/pts/"), "exec -t: {out}");
    run(&rt, cd.ctr(&["task", "pause", &bg]), 30).expect_ok();
    let ls = run(&rt, cd.ctr(&["task", "ls"]), 30);
    assert!(
        ls.stdout
            .lines()
            .any(|l| l.contains(&bg) && l.contains("PAUSED")),
        "{ls}"
    );
    run(&rt, cd.ctr(&["task", "resume", &bg]), 30).expect_ok();
    let ls = run(&rt, cd.ctr(&["task", "ls"]), 30);
    assert!(
        ls.stdout
            .lines()
            .any(|l| l.contains(&bg) && l.contains("RUNNING")),
        "{ls}"
    );
    let metrics = run(&rt, cd.ctr(&["task", "metrics", &bg]), 30);
    metrics.expect_ok();
    assert!(metrics.stdout.contains("memory"), "{metrics}");
    run(&rt, cd.ctr(&["task", "kill", "-s", "SIGKILL", &bg]), 30).expect_ok();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let ls = run(&rt, cd.ctr(&["task", "ls"]), 30);
        if ls
            .stdout
            .lines()
            .any(|l| l.contains(&bg) && l.contains("STOPPED"))
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not stopped: {ls}");
        std::thread::sleep(Duration::from_millis(100));
    }
    run(&rt, cd.ctr(&["task", "delete", &bg]), 30).expect_ok();
    run(&rt, cd.ctr(&["container", "delete", &bg]), 30).expect_ok();

    // A memory limit the process exceeds: the shim reports the OOM.
    let events_out = work.path().join("events");
    let mut events = cd
        .ctr(&["events"])
        .stdout(std::fs::File::create(&events_out).expect("events file"))
        .spawn()
        .expect("ctr events");
    let oom = id("oom");
    let out = run(
        &rt,
        cd.ctr(&[
            "run",
            "--rm",
            "--runc-binary",
            &skiff,
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
    std::thread::sleep(Duration::from_millis(500));
    let _ = events.kill();
    let _ = events.wait();
    let seen = std::fs::read_to_string(&events_out).unwrap_or_default();
    assert!(!out.stdout.contains("survived"), "{out}");
    assert!(seen.contains("/tasks/oom"), "no OOM event: {seen}\n{out}");
}
