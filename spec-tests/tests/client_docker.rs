//! dockerd with skiff registered as a runtime (`--add-runtime skiff=PATH`):
//! `docker load` of a `skiff-image save` archive, then `docker run --rm
//! --runtime skiff`, `docker exec`, `docker stats --no-stream`, `docker stop`.

use spec_tests::clients::{busybox_archive, require, run, Dockerd};
use spec_tests::{Runtime, TempDir};

#[test]
fn dockerd_runs_containers_on_skiff() {
    require("dockerd", "docker.io");
    require("docker", "docker.io");
    let rt = Runtime::new();
    let work = TempDir::new("skt-docker-img");
    let archive = busybox_archive(work.path(), "skiff-test/bb:1");
    let dd = Dockerd::start(rt.bin());
    run(
        &rt,
        dd.docker(&["load", "-i", archive.to_str().unwrap()]),
        120,
    )
    .expect_ok();
    let image = "skiff-test/bb:1";

    let out = run(
        &rt,
        dd.docker(&[
            "run",
            "--rm",
            "--runtime",
            "skiff",
            "--network",
            "none",
            image,
            "sh",
            "-c",
            "echo hi; grep ^Seccomp: /proc/self/status; exit 3",
        ]),
        120,
    );
    assert_eq!(out.code, 3, "{out}");
    assert!(out.stdout.contains("hi\n"), "{out}");
    assert!(
        out.stdout.contains("Seccomp:\t2"),
        "docker's profile: {out}"
    );

    let name = "skt-docker-bg";
    run(
        &rt,
        dd.docker(&[
            "run",
            "-d",
            "--runtime",
            "skiff",
            "--network",
            "none",
            "--name",
            name,
            "--memory",
            "64m",
            image,
            "sleep",
            "100",
        ]),
        120,
    )
    .expect_ok();
    let out = run(
        &rt,
        dd.docker(&["exec", name, "sh", "-c", "echo exec-ok"]),
        60,
    );
    out.expect_ok();
    assert_eq!(out.stdout, "exec-ok\n", "{out}");
    let stats = run(
        &rt,
        dd.docker(&[
            "stats",
            "--no-stream",
            "--format",
            "{{.Name}} {{.MemUsage}}",
            name,
        ]),
        60,
    );
    stats.expect_ok();
    assert!(
        stats.stdout.contains(name) && stats.stdout.contains("64MiB"),
        "{stats}"
    );
    run(&rt, dd.docker(&["stop", "-t", "1", name]), 60).expect_ok();
    run(&rt, dd.docker(&["rm", name]), 60).expect_ok();
}
