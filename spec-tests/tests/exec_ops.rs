//! The operations containerd-shim-runc-v2 drives on a running container,
//! beyond the OCI lifecycle: `exec` (args, --env, --cwd, --user, --process,
//! -d --pid-file), `ps`, `pause`/`resume`, `events --stats`, `update`.

use std::time::Duration;

use serde_json::json;
use spec_tests::leaks::pid_alive;
use spec_tests::{Bundle, Runtime};

/// A running `sleep` container with hostname `exechost`.
fn running(rt: &Runtime, b: &mut Bundle, tag: &str) -> String {
    b.set("/hostname", json!("exechost"));
    let id = rt.id(tag);
    rt.run_detached(b, &id).expect_ok();
    assert_eq!(rt.state(&id)["status"], "running");
    id
}

#[test]
fn exec_joins_the_container() {
    let mut b = Bundle::new(&["sleep", "100"]);
    let rt = Runtime::new();
    let id = running(&rt, &mut b, "exec");
    let out = rt.exec(&[
        "exec",
        &id,
        "sh",
        "-c",
        "hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$",
    ]);
    let lines: Vec<&str> = out.expect_ok().stdout.lines().collect();
    assert_eq!(lines[0], "exechost", "{out}");
    assert_eq!(lines[1].trim(), "sleep 100", "pid 1 is the init: {out}");
    assert_ne!(lines[2], "1", "{out}");
    let code = rt.exec(&["exec", &id, "sh", "-c", "exit 5"]);
    assert_eq!(code.code, 5, "exec returns the process's exit code: {code}");
    rt.delete_force(&id).expect_ok();
}

#[test]
fn exec_env_cwd_user() {
    let mut b = Bundle::new(&["sleep", "100"]);
    let rt = Runtime::new();
    let id = running(&rt, &mut b, "execopts");
    let out = rt.exec(&[
        "exec",
        "--env",
        "FOO=bar baz",
        "--cwd",
        "/tmp",
        "--user",
        "1000:1001",
        &id,
        "sh",
        "-c",
        "echo $FOO; pwd; id -u; id -g",
    ]);
    assert_eq!(out.expect_ok().stdout, "bar baz\n/tmp\n1000\n1001\n");
    rt.delete_force(&id).expect_ok();
}

#[test]
fn exec_process_json() {
    let mut b = Bundle::new(&["sleep", "100"]);
    let rt = Runtime::new();
    let id = running(&rt, &mut b, "execp");
    let p = b.host_dir("exec").join("process.json");
    let process = json!({
        "terminal": false, "user": {"uid": 0, "gid": 0}, "cwd": "/",
        "args": ["sh", "-c", "echo from-process-json $X"], "env": ["PATH=/bin", "X=42"]
    });
    std::fs::write(&p, process.to_string()).expect("write process.json");
    let out = rt.exec(&["exec", "--process", &p.to_string_lossy(), &id]);
    assert_eq!(out.expect_ok().stdout, "from-process-json 42\n");
    rt.delete_force(&id).expect_ok();
}

#[test]
fn exec_detached_with_pid_file() {
    let mut b = Bundle::new(&["sleep", "100"]);
    let rt = Runtime::new();
    let id = running(&rt, &mut b, "execd");
    let pid_file = b.host_dir("exec").join("pid");
    rt.exec(&[
        "exec",
        "-d",
        "--pid-file",
        &pid_file.to_string_lossy(),
        &id,
        "sleep",
        "77",
    ])
    .expect_ok();
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap_or_default()
        .trim()
        .parse()
        .unwrap_or(0);
    assert!(pid > 0 && pid_alive(pid), "exec -d pid {pid} alive");
    rt.track_pid(pid);
    let init = rt.state(&id)["pid"].as_i64().unwrap_or(0);
    let ns = |p: i64| std::fs::read_link(format!("/proc/{p}/ns/pid")).ok();
    assert_eq!(
        ns(pid as i64),
        ns(init),
        "exec'd process is in the container's pid namespace"
    );
    rt.delete_force(&id).expect_ok();
    assert!(
        spec_tests::leaks::wait_pid_gone(pid, Duration::from_secs(5)),
        "delete --force kills exec'd processes"
    );
}

#[test]
fn exec_into_a_stopped_container_fails() {
    let b = Bundle::new(&["true"]);
    let rt = Runtime::new();
    let id = rt.id("execstopped");
    rt.run_detached(&b, &id).expect_ok();
    assert!(rt.wait_status(&id, "stopped", Duration::from_secs(10)));
    rt.exec(&["exec", &id, "true"]).expect_fail();
    rt.delete(&id).expect_ok();
}

#[test]
fn ps_lists_host_pids() {
    let mut b = Bundle::new(&["sleep", "100"]);
    let rt = Runtime::new();
    let id = running(&rt, &mut b, "ps");
    let init = rt.state(&id)["pid"].as_i64().unwrap_or(0);
    let pids = rt.exec(&["ps", "--format", "json", &id]).expect_ok().json();
    let pids: Vec<i64> = pids
        .as_array()
        .map(|a| a.iter().filter_map(|p| p.as_i64()).collect())
        .unwrap_or_default();
    assert_eq!(pids, [init]);
    rt.delete_force(&id).expect_ok();
}

#[test]
fn pause_and_resume() {
    let mut b = Bundle::new(&["sleep", "100"]);
    let rt = Runtime::new();
    let id = running(&rt, &mut b, "pause");
    let init = rt.state(&id)["pid"].as_i64().unwrap_or(0);
    rt.exec(&["pause", &id]).expect_ok();
    assert_eq!(rt.state(&id)["status"], "paused");
    let stat = std::fs::read_to_string(format!("/proc/{init}/stat")).unwrap_or_default();
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, r)| r.trim_start().chars().next());
    assert!(
        matches!(state, Some('D') | Some('S') | Some('T')),
        "frozen init state {state:?}"
    );
    rt.exec(&["resume", &id]).expect_ok();
    assert_eq!(rt.state(&id)["status"], "running");
    rt.delete_force(&id).expect_ok();
}

#[test]
fn events_stats_once() {
    let mut b = Bundle::new(&["sleep", "100"]);
    let rt = Runtime::new();
    let id = running(&rt, &mut b, "events");
    let ev = rt.exec(&["events", "--stats", &id]).expect_ok().json();
    assert_eq!(ev["type"], "stats", "{ev}");
    assert_eq!(ev["id"], id.as_str(), "{ev}");
    assert!(
        ev["data"]["pids"]["current"]
            .as_u64()
            .is_some_and(|n| n >= 1),
        "{ev}"
    );
    assert!(ev["data"]["memory"]["usage"].is_object(), "{ev}");
    rt.delete_force(&id).expect_ok();
}

#[test]
fn update_changes_limits_in_place() {
    if !std::path::Path::new("/sys/fs/cgroup/pids").exists() {
        eprintln!("skip: no cgroup v1 pids controller");
        return;
    }
    let mut b = Bundle::new(&["sleep", "100"]);
    b.set("/linux/resources/pids", json!({"limit": 100}));
    let rt = Runtime::new();
    let id = running(&rt, &mut b, "update");
    rt.exec(&["update", "--pids-limit", "55", &id]).expect_ok();
    let out = rt.exec(&["exec", &id, "cat", "/sys/fs/cgroup/pids/pids.max"]);
    assert_eq!(out.expect_ok().stdout, "55\n");
    let res = b.host_dir("update").join("resources.json");
    std::fs::write(&res, json!({"pids": {"limit": 66}}).to_string()).expect("write");
    rt.exec(&["update", "--resources", &res.to_string_lossy(), &id])
        .expect_ok();
    let out = rt.exec(&["exec", &id, "cat", "/sys/fs/cgroup/pids/pids.max"]);
    assert_eq!(out.expect_ok().stdout, "66\n");
    rt.delete_force(&id).expect_ok();
}

/// The whole day of one container, as a client drives it: memory, pids and
/// cpu limits plus a seccomp profile; exec, pause, resume, update, events
/// --stats, delete; no cgroup left behind.
#[test]
fn limited_container_through_every_operation() {
    let mut b = Bundle::new(&["sleep", "100"]);
    b.set(
        "/linux/resources",
        json!({
            "memory": {"limit": 64 << 20},
            "pids": {"limit": 40},
            "cpu": {"shares": 256, "quota": 20000, "period": 100000}
        }),
    )
    .set(
        "/linux/seccomp",
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
        }),
    );
    let rt = Runtime::new();
    let id = running(&rt, &mut b, "day");
    // exec: inside the limits and under the filter.
    let out = rt.exec(&[
        "exec",
        &id,
        "sh",
        "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; \
         grep ^Seccomp: /proc/self/status; mkdir /tmp/x 2>&1 || true",
    ]);
    let text = out.expect_ok().stdout.clone();
    assert!(text.starts_with("67108864\n40\nSeccomp:\t2\n"), "{text}");
    assert!(text.contains("Operation not permitted"), "{text}");
    rt.exec(&["pause", &id]).expect_ok();
    assert_eq!(rt.state(&id)["status"], "paused");
    assert_ne!(
        rt.exec(&["exec", &id, "true"]).code,
        0,
        "exec into a paused container"
    );
    rt.exec(&["resume", &id]).expect_ok();
    rt.exec(&["update", "--memory", "128m", "--pids-limit", "60", &id])
        .expect_ok();
    let out = rt.exec(&[
        "exec",
        &id,
        "cat",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        "/sys/fs/cgroup/pids/pids.max",
    ]);
    assert_eq!(out.expect_ok().stdout, "134217728\n60\n");
    let ev = rt.exec(&["events", "--stats", &id]).expect_ok().json();
    assert_eq!(ev["data"]["memory"]["usage"]["limit"], 134217728u64, "{ev}");
    assert_eq!(ev["data"]["pids"]["limit"], 60, "{ev}");
    rt.delete_force(&id).expect_ok();
    assert!(
        spec_tests::leaks::cgroups_named(&id).is_empty(),
        "cgroups left: {:?}",
        spec_tests::leaks::cgroups_named(&id)
    );
}
