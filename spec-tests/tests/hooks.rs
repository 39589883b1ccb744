//! runtime-spec config "POSIX-platform Hooks" and the lifecycle steps that
//! run them: prestart, createRuntime, createContainer, startContainer,
//! poststart, poststop — each leaves a marker with the state it read on
//! stdin, its env and argv[0]; failing and hanging hooks fail the operation
//! and leave nothing behind.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use spec_tests::leaks::assert_clean;
use spec_tests::{is_runc, Bundle, Runtime};

const ALL: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// A hook that records stdin, env and argv[0] under `markers` (host path),
/// or under /markers when that path is not visible (inside the container).
fn marker_hook(name: &str, markers: &Path) -> Value {
    let script = format!(
        "d={m}; [ -d $d ] || d=/markers; cat > $d/{name}.json; echo {name} >> $d/order; echo \"$HOOKVAR $0\" > $d/{name}.env",
        m = markers.display()
    );
    json!({"path": "/bin/sh", "args": ["sh", "-c", script, format!("argv0-{name}")], "env": [format!("HOOKVAR=var-{name}")]})
}

fn failing_hook() -> Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", "echo hook-failed >&2; exit 3"]})
}

fn hooked_bundle(script: &str) -> (Bundle, std::path::PathBuf) {
    let mut b = Bundle::sh(script);
    let m = b.host_dir("markers");
    b.mount(json!({"destination": "/markers", "type": "bind", "source": m.to_string_lossy(), "options": ["bind"]}));
    (b, m)
}

fn read_json(p: &Path) -> Value {
    let text =
        std::fs::read_to_string(p).unwrap_or_else(|e| panic!("hook marker {}: {e}", p.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("hook stdin {} is not state JSON ({e}): {text}", p.display()))
}

fn order(m: &Path) -> Vec<String> {
    std::fs::read_to_string(m.join("order"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn every_hook_runs_in_order_with_state_on_stdin() {
    let (mut b, m) = hooked_bundle("echo ran > /markers/process");
    for h in ALL {
        b.push(&format!("/hooks/{h}"), marker_hook(h, &m));
    }
    let rt = Runtime::new();
    let id = rt.id("hooks");
    rt.create(&b, &id).expect_ok();
    // runc 1.1 runs poststart hooks during create (fixed in runc 1.2); the
    // spec and skiff run them after the user process starts.
    let (after_create, after_start): (&[&str], &[&str]) = if is_runc() {
        (&ALL[..3], &["poststart", "startContainer"])
    } else {
        (&ALL[..3], &ALL[3..5])
    };
    let mut want: Vec<&str> = after_create.to_vec();
    if is_runc() {
        want.push("poststart");
    }
    assert_eq!(order(&m), want, "hooks run by create");
    let pid = rt.state(&id)["pid"].clone();
    rt.start(&id).expect_ok();
    assert!(rt.wait_status(&id, "stopped", Duration::from_secs(10)));
    let mut want: Vec<&str> = after_create.to_vec();
    want.extend(after_start);
    assert_eq!(order(&m), want, "hooks run by start");
    rt.delete(&id).expect_ok();
    want.push("poststop");
    assert_eq!(order(&m), want, "hooks run by delete");
    assert!(m.join("process").exists(), "the container process ran");

    for h in ALL {
        let st = read_json(&m.join(format!("{h}.json")));
        assert_eq!(st["id"], id.as_str(), "{h}: {st}");
        assert_eq!(
            st["bundle"],
            b.path().to_string_lossy().as_ref(),
            "{h}: {st}"
        );
        assert!(
            st["ociVersion"]
                .as_str()
                .is_some_and(|v| v.starts_with("1.")),
            "{h}: {st}"
        );
        match h {
            // Run in the container's pid namespace (runc passes its view).
            "createContainer" | "startContainer" => {
                assert!(st["pid"].as_i64().is_some_and(|p| p > 0), "{h}: {st}")
            }
            "poststop" => {}
            _ => assert_eq!(st["pid"], pid, "{h} sees the init pid: {st}"),
        }
        let env = std::fs::read_to_string(m.join(format!("{h}.env"))).unwrap_or_default();
        assert_eq!(
            env.trim(),
            format!("var-{h} argv0-{h}"),
            "{h}: env and argv[0]"
        );
    }
    let status = |h: &str| {
        read_json(&m.join(format!("{h}.json")))["status"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(status("createRuntime"), "creating");
    assert_eq!(status("createContainer"), "creating");
    assert_eq!(status("startContainer"), "created");
    assert_eq!(status("poststop"), "stopped");
    assert_clean(&rt, &id, &b, None);
}

#[test]
fn failing_create_phase_hooks_fail_create_and_leave_nothing() {
    for h in ["prestart", "createRuntime", "createContainer"] {
        let (mut b, m) = hooked_bundle("sleep 100");
        b.push(&format!("/hooks/{h}"), failing_hook());
        b.push("/hooks/poststop", marker_hook("poststop", &m));
        let rt = Runtime::new();
        let id = rt.id("hookfail");
        let out = rt.create(&b, &id);
        out.expect_fail();
        assert!(
            out.stderr.contains("hook") || out.stderr.contains("exit status 3"),
            "{h}: {out}"
        );
        assert_clean(&rt, &id, &b, None);
        assert!(!m.join("process").exists());
    }
}

#[test]
fn failing_start_container_hook_fails_start() {
    let (mut b, m) = hooked_bundle("echo ran > /markers/process");
    b.push("/hooks/startContainer", failing_hook());
    let rt = Runtime::new();
    let id = rt.id("startfail");
    rt.create(&b, &id).expect_ok();
    let pid = rt.state(&id)["pid"].as_i64().unwrap_or(0) as i32;
    let out = rt.start(&id);
    if is_runc() {
        // runc 1.1 runs startContainer in `runc init` after `start` has
        // already returned 0; the failure only stops the container.
        assert!(
            rt.wait_status(&id, "stopped", Duration::from_secs(10)),
            "{out}"
        );
    } else {
        out.expect_fail();
    }
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !m.join("process").exists(),
        "the user process must not run after a failed startContainer hook"
    );
    rt.delete_force(&id).expect_ok();
    assert_clean(&rt, &id, &b, Some(pid));
}

#[test]
fn failing_poststop_hook_does_not_fail_delete() {
    let (mut b, _m) = hooked_bundle("true");
    b.push("/hooks/poststop", failing_hook());
    let rt = Runtime::new();
    let id = rt.id("poststopfail");
    rt.create(&b, &id).expect_ok();
    rt.start(&id).expect_ok();
    assert!(rt.wait_status(&id, "stopped", Duration::from_secs(10)));
    rt.delete(&id).expect_ok();
    assert_clean(&rt, &id, &b, None);
}

#[test]
fn hook_timeout_fails_create() {
    let (mut b, _m) = hooked_bundle("sleep 100");
    b.push(
        "/hooks/createRuntime",
        json!({"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}),
    );
    let rt = Runtime::new();
    let id = rt.id("hooktimeout");
    let start = Instant::now();
    let out = rt.create(&b, &id);
    out.expect_fail();
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "timeout 1 s took {:?}",
        start.elapsed()
    );
    assert!(
        out.last_err_line().contains("timed out") || out.last_err_line().contains("timeout"),
        "{out}"
    );
    assert_clean(&rt, &id, &b, None);
}
