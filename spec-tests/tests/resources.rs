//! config-linux "Control groups" and "cgroupsPath": limits read back from
//! inside the container (its own cgroup mount) and from the host hierarchy,
//! and the cgroup removed on delete. This machine is cgroup v1 (hybrid);
//! on a pure v2 host the v1 files are absent and the test says so.

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use spec_tests::{tempdir::unique_name, Bundle, Runtime};

const V1: &str = "/sys/fs/cgroup/memory/memory.limit_in_bytes";

fn v1() -> bool {
    Path::new(V1).exists()
}

#[test]
fn limits_apply_and_cgroup_goes_away_on_delete() {
    if !v1() {
        eprintln!("skip: no cgroup v1 memory controller");
        return;
    }
    let cg = format!("/{}", unique_name("skt-cg"));
    let mut b = Bundle::gated(
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.shares",
    );
    b.set("/linux/cgroupsPath", json!(cg));
    b.set(
        "/linux/resources/memory",
        json!({"limit": 67108864, "swap": 67108864}),
    );
    b.set("/linux/resources/pids", json!({"limit": 40}));
    b.set("/linux/resources/cpu", json!({"shares": 512}));
    let rt = Runtime::new();
    let id = rt.id("cg");
    rt.run_detached(&b, &id).expect_ok();
    let pid = rt.state(&id)["pid"].as_i64().unwrap_or(0);
    for (ctrl, file, want) in [
        ("memory", "memory.limit_in_bytes", "67108864"),
        ("pids", "pids.max", "40"),
        ("cpu", "cpu.shares", "512"),
    ] {
        let dir = Path::new("/sys/fs/cgroup")
            .join(ctrl)
            .join(cg.trim_start_matches('/'));
        let got = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        assert_eq!(got.trim(), want, "{}/{file}", dir.display());
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        assert!(
            procs.lines().any(|l| l == pid.to_string()),
            "init {pid} in {}: {procs}",
            dir.display()
        );
    }
    b.release();
    assert!(rt.wait_status(&id, "stopped", Duration::from_secs(10)));
    let log = b.path().join("out");
    let _ = log;
    rt.delete(&id).expect_ok();
    for ctrl in [
        "memory", "pids", "cpu", "devices", "freezer", "blkio", "cpuset", "cpuacct",
    ] {
        let dir = Path::new("/sys/fs/cgroup")
            .join(ctrl)
            .join(cg.trim_start_matches('/'));
        assert!(!dir.exists(), "cgroup {} left behind", dir.display());
    }
}

#[test]
fn limits_are_visible_inside() {
    if !v1() {
        eprintln!("skip: no cgroup v1 memory controller");
        return;
    }
    let mut b = Bundle::sh(
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.shares",
    );
    b.set("/linux/resources/memory", json!({"limit": 33554432}));
    b.set("/linux/resources/pids", json!({"limit": 17}));
    b.set("/linux/resources/cpu", json!({"shares": 256}));
    let rt = Runtime::new();
    assert_eq!(rt.run_ok(&b), "33554432\n17\n256\n");
}

#[test]
fn pids_limit_is_enforced() {
    if !Path::new("/sys/fs/cgroup/pids").exists() {
        eprintln!("skip: no cgroup v1 pids controller");
        return;
    }
    let mut b = Bundle::sh("for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; echo all-forked");
    let rt = Runtime::new();
    assert_eq!(
        rt.run_ok(&b),
        "all-forked\n",
        "8 forks work without a limit"
    );
    b.set("/linux/resources/pids", json!({"limit": 4}));
    let id = rt.id("pids");
    let out = rt.run(&b, &id);
    assert!(
        out.code != 0 && out.stderr.contains("can't fork"),
        "fork past pids.max 4 must fail: {out}"
    );
}

/// Where the runtime puts a container with the default cgroupsPath (the id)
/// in the unified hierarchy, as /proc/PID/cgroup's `0::` line names it:
/// under the caller's cgroup on a hybrid host, under its parent on a pure
/// v2 host (see runtime/src/cgroups/path.rs); None on a v1-only host.
fn unified_cgroup_for(id: &str) -> Option<String> {
    let own = std::fs::read_to_string("/proc/self/cgroup")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("0::").map(String::from))?;
    let base = if Path::new("/sys/fs/cgroup/unified/cgroup.procs").exists() {
        own
    } else if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        Path::new(&own)
            .parent()
            .map_or("/".to_string(), |p| p.to_string_lossy().into_owned())
    } else {
        return None;
    };
    Some(format!("{}/{id}", base.trim_end_matches('/')))
}

/// runtime issue 2: the container is in its cgroups before the user process
/// runs; its cgroup2 membership is set at birth (clone3 CLONE_INTO_CGROUP),
/// which the debug log records, and the program's first action already
/// sees it.
#[test]
fn init_is_born_in_its_unified_cgroup() {
    let rt = Runtime::new();
    let id = rt.id("birth");
    let Some(want) = unified_cgroup_for(&id) else {
        eprintln!("skip: no cgroup2 hierarchy");
        return;
    };
    let mut b = Bundle::new(&["cat", "/proc/self/cgroup"]);
    // In a cgroup namespace the line would read "0::/": the host's view is
    // the one that names the cgroup.
    b.remove_namespace("cgroup");
    b.save();
    let log = b.path().join("skiff-log.json");
    let out = rt.output(
        rt.cmd(&[
            "--debug",
            "--log",
            &log.to_string_lossy(),
            "run",
            "--bundle",
            &b.path().to_string_lossy(),
            &id,
        ]),
        spec_tests::runtime::TIMEOUT,
    );
    out.expect_ok();
    let line = out.stdout.lines().find_map(|l| l.strip_prefix("0::"));
    assert_eq!(line, Some(want.as_str()), "the 0:: line of {out}");
    if spec_tests::is_skiff() {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let dir = format!("/sys/fs/cgroup/unified{want}");
        let dir = if Path::new("/sys/fs/cgroup/unified").exists() {
            dir
        } else {
            format!("/sys/fs/cgroup{want}")
        };
        assert!(
            text.lines().any(|l| l.contains("CLONE_INTO_CGROUP")
                && l.contains(&format!("born in cgroup \\\"{dir}\\\""))),
            "the debug log records the birth in {dir}: {text}"
        );
    }
}
