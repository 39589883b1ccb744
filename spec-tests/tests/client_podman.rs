//! podman with skiff as its OCI runtime (`--runtime PATH`), private storage,
//! cgroupfs: the everyday commands, and podman's default seccomp profile
//! active in the container.

use spec_tests::clients::{busybox_archive, require, run, Podman};
use spec_tests::{Runtime, TempDir};

// This machine's hard limits are below podman's default rlimits.
const ULIMITS: [&str; 4] = [
    "--ulimit",
    "nofile=20000:20000",
    "--ulimit",
    "nproc=32768:32768",
];

#[test]
fn podman_runs_containers_on_skiff() {
    require("podman", "podman");
    let rt = Runtime::new();
    let work = TempDir::new("skt-podman-img");
    let archive = busybox_archive(work.path(), "skiff-test/bb:1");
    let pm = Podman::new(rt.bin());
    run(&rt, pm.cmd(&["load", "-i", archive.to_str().unwrap()]), 120).expect_ok();
    let image = "docker.io/skiff-test/bb:1";
    let podman = |args: &[&str]| {
        let mut full: Vec<&str> = Vec::new();
        full.extend_from_slice(args);
        pm.cmd(&full)
    };

    // run --rm: output, exit code, and the default seccomp filter in force.
    let mut args = vec!["run", "--rm", "--net", "none"];
    args.extend(ULIMITS);
    args.extend([
        image,
        "sh",
        "-c",
        "echo hi; grep ^Seccomp: /proc/self/status; exit 3",
    ]);
    let out = run(&rt, podman(&args), 120);
    assert_eq!(out.code, 3, "{out}");
    assert!(out.stdout.contains("hi\n"), "{out}");
    assert!(
        out.stdout.contains("Seccomp:\t2"),
        "podman's profile: {out}"
    );

    // run -d with limits, exec, stop, rm.
    let name = format!("skt-podman-{}", std::process::id());
    let mut args = vec!["run", "-d", "--name", &name, "--net", "none"];
    args.extend(ULIMITS);
    args.extend([
        "--memory",
        "64m",
        "--pids-limit",
        "50",
        image,
        "sleep",
        "100",
    ]);
    run(&rt, podman(&args), 120).expect_ok();
    let out = run(
        &rt,
        podman(&[
            "exec",
            &name,
            "sh",
            "-c",
            "echo exec-ok; cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max",
        ]),
        60,
    );
    out.expect_ok();
    assert_eq!(out.stdout, "exec-ok\n67108864\n50\n", "{out}");
    run(&rt, podman(&["stop", "-t", "1", &name]), 60).expect_ok();
    run(&rt, podman(&["rm", &name]), 60).expect_ok();

    // run -it under a pty.
    let mut args = vec!["run", "-it", "--rm", "--net", "none"];
    args.extend(ULIMITS);
    args.extend([image, "sh", "-c", "tty; exit 7"]);
    let line = spec_tests::console::shell_line(&podman(&args));
    let out = spec_tests::console::under_script(&line, std::time::Duration::from_secs(120));
    assert_eq!(out.code, 7, "{out}");
    assert!(out.stdout.contains("/dev/pts/"), "{out}");
}
